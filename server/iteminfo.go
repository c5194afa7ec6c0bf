package server

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"google.golang.org/genproto/googleapis/api/httpbody"
	"google.golang.org/grpc/codes"

	adminv1 "github.com/arcgate/arcgate/gen/go/arcgate/admin/v1"
	"github.com/arcgate/arcgate/statestore"
	"github.com/arcgate/arcgate/upstream"
)

// itemInfoServer implements adminv1.ItemInfoServiceServer.
type itemInfoServer struct {
	adminv1.UnimplementedItemInfoServiceServer
	itemInfo itemInfoAPI
	locks    statestore.Locker
}

var _ adminv1.ItemInfoServiceServer = (*itemInfoServer)(nil)

// getItemInfo reads a service's item info; errors are statuses about
// resource.
func (s *itemInfoServer) getItemInfo(ctx context.Context, ref serviceRef, resource string) (*upstream.ItemInfo, error) {
	info, err := s.itemInfo.Get(ctx, ref.upstream())
	if err != nil {
		return nil, Status(err, resource)
	}
	return info, nil
}

// GetItemInfo implements adminv1.ItemInfoServiceServer.
func (s *itemInfoServer) GetItemInfo(ctx context.Context, req *adminv1.GetItemInfoRequest) (*adminv1.ItemInfo, error) {
	ref, err := parseItemInfoName("name", req.GetName())
	if err != nil {
		return nil, err
	}
	info, err := s.getItemInfo(ctx, ref, itemInfoName(ref))
	if err != nil {
		return nil, err
	}
	return itemInfoFromUpstream(ref, info), nil
}

// UpdateItemInfo implements adminv1.ItemInfoServiceServer: a
// read-modify-write of the upstream item info in which only the masked
// fields change.
func (s *itemInfoServer) UpdateItemInfo(ctx context.Context, req *adminv1.UpdateItemInfoRequest) (_ *adminv1.ItemInfo, err error) {
	if req.GetItemInfo() == nil {
		return nil, invalidArgument("item_info", "is required")
	}
	ref, err := parseItemInfoName("item_info.name", req.GetItemInfo().GetName())
	if err != nil {
		return nil, err
	}
	paths, err := itemInfoMask(req.GetUpdateMask().GetPaths())
	if err != nil {
		return nil, err
	}
	// Validate every field before the first upstream call.
	var scratch upstream.ItemInfo
	for _, p := range paths {
		if err := itemInfoField(p)(&scratch, req.GetItemInfo()); err != nil {
			return nil, err
		}
	}
	name := itemInfoName(ref)
	ctx, unlock, err := lockResource(ctx, s.locks, itemInfoLockKey(ref), name)
	if err != nil {
		return nil, err
	}
	defer unlock(&err)
	cur, err := s.getItemInfo(ctx, ref, name)
	if err != nil {
		return nil, err
	}
	if err := checkEtagOf(req.GetItemInfo().GetEtag(), cur, name); err != nil {
		return nil, err
	}
	if len(paths) == 0 { // the mask named only output-only fields
		return itemInfoFromUpstream(ref, cur), nil
	}
	extentChanged := false
	for _, p := range paths {
		_ = itemInfoField(p)(cur, req.GetItemInfo()) // validated above
		extentChanged = extentChanged || strings.HasPrefix(p, "extent")
	}
	// Coordinate paths merge with the current extent: only now can its
	// order be checked (still before anything is written).
	if extentChanged {
		if err := checkExtentOrder(cur.Extent); err != nil {
			return nil, err
		}
	}
	if err := s.itemInfo.Edit(ctx, ref.upstream(), cur, nil); err != nil {
		return nil, Status(err, name)
	}
	after, err := s.getItemInfo(ctx, ref, name)
	if err != nil {
		return nil, readBackFailed(err, name)
	}
	return itemInfoFromUpstream(ref, after), nil
}

// GetThumbnail implements adminv1.ItemInfoServiceServer: it reads the item
// info for the thumbnail's path, then the image.
func (s *itemInfoServer) GetThumbnail(ctx context.Context, req *adminv1.GetThumbnailRequest) (*adminv1.GetThumbnailResponse, error) {
	ref, err := parseThumbnailName("name", req.GetName())
	if err != nil {
		return nil, err
	}
	name := thumbnailName(ref)
	info, err := s.getItemInfo(ctx, ref, name)
	if err != nil {
		return nil, err
	}
	if info.Thumbnail == "" {
		return nil, newStatus(codes.NotFound, ReasonThumbnailNotSet, name+": the item info names no thumbnail",
			map[string]string{"resource": name})
	}
	if err := upstream.CheckThumbnailPath(info.Thumbnail); err != nil {
		why := "the item info's thumbnail path is not a plain relative path"
		var ue *upstream.Error
		if errors.As(err, &ue) && len(ue.Messages) > 0 {
			why = ue.Messages[0]
		}
		return nil, failedPrecondition(ReasonUnsafeThumbnailPath, name+": "+why+"; it is not followed",
			map[string]string{"resource": name, "thumbnail": truncateRunes(info.Thumbnail, 256)})
	}
	th, err := s.itemInfo.Thumbnail(ctx, ref.upstream(), info.Thumbnail)
	if err != nil {
		return nil, Status(err, name)
	}
	if len(th.Data) > maxThumbnailDownloadBytes {
		return nil, newStatus(codes.ResourceExhausted, ReasonResponseTooLarge,
			fmt.Sprintf("%s: the image is %d bytes, more than the %d this API returns", name, len(th.Data), maxThumbnailDownloadBytes),
			map[string]string{"resource": name, "size": strconv.Itoa(len(th.Data))})
	}
	return &adminv1.GetThumbnailResponse{Thumbnail: &httpbody.HttpBody{ContentType: downloadContentType(th.Data), Data: th.Data}}, nil
}

// UpdateThumbnail implements adminv1.ItemInfoServiceServer: a
// read-modify-write of the item info, sent with the image as a multipart
// edit.
func (s *itemInfoServer) UpdateThumbnail(ctx context.Context, req *adminv1.UpdateThumbnailRequest) (_ *adminv1.ItemInfo, err error) {
	ref, err := parseThumbnailName("name", req.GetName())
	if err != nil {
		return nil, err
	}
	body := req.GetThumbnail()
	if body == nil {
		return nil, invalidArgument("thumbnail", "is required")
	}
	data := body.GetData()
	switch {
	case len(data) == 0:
		return nil, invalidArgument("thumbnail.data", "is empty")
	case len(data) > maxThumbnailBytes:
		return nil, invalidArgument("thumbnail.data", fmt.Sprintf("is %d bytes; at most %d (1 MiB) are accepted", len(data), maxThumbnailBytes))
	}
	ct, ext, ok := sniffImage(data)
	if !ok {
		return nil, invalidArgument("thumbnail.data", "is not a PNG, JPEG or GIF image")
	}
	if why := checkThumbnailType(body.GetContentType(), ct); why != "" {
		return nil, invalidArgument("thumbnail.content_type", why)
	}
	name := thumbnailName(ref)
	ctx, unlock, err := lockResource(ctx, s.locks, itemInfoLockKey(ref), name)
	if err != nil {
		return nil, err
	}
	defer unlock(&err)
	cur, err := s.getItemInfo(ctx, ref, name)
	if err != nil {
		return nil, err
	}
	thumb := &upstream.Thumbnail{Name: "thumbnail." + ext, ContentType: ct, Data: data}
	if err := s.itemInfo.Edit(ctx, ref.upstream(), cur, thumb); err != nil {
		return nil, Status(err, name)
	}
	after, err := s.getItemInfo(ctx, ref, name)
	if err != nil {
		return nil, readBackFailed(err, name)
	}
	return itemInfoFromUpstream(ref, after), nil
}

// truncateRunes cuts s to at most n bytes on a rune boundary, marking the
// cut with "...".
func truncateRunes(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "..."
}
