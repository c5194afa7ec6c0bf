package server

import (
	"bytes"
	"fmt"
	"math"
	"mime"
	"slices"
	"strings"

	adminv1 "github.com/arcgate/arcgate/gen/go/arcgate/admin/v1"
	"github.com/arcgate/arcgate/upstream"
)

// Resource name suffixes of a service's item info and its thumbnail.
const (
	itemInfoSuffix  = "/itemInfo"
	thumbnailSuffix = "/itemInfo/thumbnail"
)

// Thumbnail size limits. Uploads are kept small (upstream stores them with
// the service); downloads stay below gRPC's default 4 MiB message limit.
const (
	maxThumbnailBytes         = 1 << 20
	maxThumbnailDownloadBytes = 3 << 20
)

// itemInfoName is the resource name of ref's item info (one allocation).
func itemInfoName(ref serviceRef) string {
	if ref.Folder == "" {
		return "services/" + ref.Name + "." + ref.Type + itemInfoSuffix
	}
	return "folders/" + ref.Folder + "/services/" + ref.Name + "." + ref.Type + itemInfoSuffix
}

// thumbnailName is the resource name of ref's thumbnail.
func thumbnailName(ref serviceRef) string { return ref.resourceName() + thumbnailSuffix }

// parseItemInfoName parses `services/{service}/itemInfo` or
// `folders/{folder}/services/{service}/itemInfo`.
func parseItemInfoName(field, name string) (serviceRef, error) {
	return parseServiceChild(field, name, itemInfoSuffix)
}

// parseThumbnailName parses `services/{service}/itemInfo/thumbnail` or
// `folders/{folder}/services/{service}/itemInfo/thumbnail`.
func parseThumbnailName(field, name string) (serviceRef, error) {
	return parseServiceChild(field, name, thumbnailSuffix)
}

// parseServiceChild parses a service's resource name followed by suffix.
func parseServiceChild(field, name, suffix string) (serviceRef, error) {
	svc, ok := strings.CutSuffix(name, suffix)
	if !ok {
		return serviceRef{}, invalidArgument(field, fmt.Sprintf(
			"must have the form services/{Name.Type}%s or folders/{folder}/services/{Name.Type}%s, got %s", suffix, suffix, quoteName(name)))
	}
	return parseServiceName(field, svc)
}

// itemInfoFromUpstream converts upstream item info.
func itemInfoFromUpstream(ref serviceRef, in *upstream.ItemInfo) *adminv1.ItemInfo {
	out := &adminv1.ItemInfo{
		Name:              itemInfoName(ref),
		Title:             in.Title,
		Summary:           in.Summary,
		Snippet:           in.Snippet,
		Description:       in.Description,
		Tags:              in.Tags,
		TypeKeywords:      in.TypeKeywords,
		Culture:           in.Culture,
		Guid:              in.GUID,
		AccessInformation: in.AccessInformation,
		LicenseInfo:       in.LicenseInfo,
		Documentation:     in.Documentation,
		Url:               in.URL,
		SpatialReference:  in.SpatialReference,
		Thumbnail:         in.Thumbnail,
		Etag:              etagOf(in),
	}
	if e := in.Extent; e != nil {
		out.Extent = &adminv1.Envelope{Xmin: e.XMin, Ymin: e.YMin, Xmax: e.XMax, Ymax: e.YMax}
	}
	return out
}

// itemInfoOutputOnly are the item info fields an update mask may name but
// which are never written (AIP-203: ignored, not an error).
var itemInfoOutputOnly = map[string]bool{"name": true, "guid": true, "thumbnail": true}

// itemInfoFields are the update_mask paths UpdateItemInfo accepts, each with
// the function that validates the field of the request and copies it into
// the upstream item info. Errors name the request field.
var itemInfoFields = map[string]func(dst *upstream.ItemInfo, src *adminv1.ItemInfo) error{
	"title":       func(d *upstream.ItemInfo, s *adminv1.ItemInfo) error { d.Title = s.GetTitle(); return nil },
	"summary":     func(d *upstream.ItemInfo, s *adminv1.ItemInfo) error { d.Summary = s.GetSummary(); return nil },
	"snippet":     func(d *upstream.ItemInfo, s *adminv1.ItemInfo) error { d.Snippet = s.GetSnippet(); return nil },
	"description": func(d *upstream.ItemInfo, s *adminv1.ItemInfo) error { d.Description = s.GetDescription(); return nil },
	"tags": func(d *upstream.ItemInfo, s *adminv1.ItemInfo) error {
		if err := checkItemList("item_info.tags", s.GetTags()); err != nil {
			return err
		}
		d.Tags = cloneList(s.GetTags())
		return nil
	},
	"type_keywords": func(d *upstream.ItemInfo, s *adminv1.ItemInfo) error {
		if err := checkItemList("item_info.type_keywords", s.GetTypeKeywords()); err != nil {
			return err
		}
		d.TypeKeywords = cloneList(s.GetTypeKeywords())
		return nil
	},
	"culture": func(d *upstream.ItemInfo, s *adminv1.ItemInfo) error {
		if why := checkCulture(s.GetCulture()); why != "" {
			return invalidArgument("item_info.culture", why)
		}
		d.Culture = s.GetCulture()
		return nil
	},
	"access_information": func(d *upstream.ItemInfo, s *adminv1.ItemInfo) error {
		d.AccessInformation = s.GetAccessInformation()
		return nil
	},
	"license_info": func(d *upstream.ItemInfo, s *adminv1.ItemInfo) error {
		d.LicenseInfo = s.GetLicenseInfo()
		return nil
	},
	"documentation": func(d *upstream.ItemInfo, s *adminv1.ItemInfo) error {
		d.Documentation = s.GetDocumentation()
		return nil
	},
	"url": func(d *upstream.ItemInfo, s *adminv1.ItemInfo) error {
		if why := checkItemURL(s.GetUrl()); why != "" {
			return invalidArgument("item_info.url", why)
		}
		d.URL = s.GetUrl()
		return nil
	},
	"extent": func(d *upstream.ItemInfo, s *adminv1.ItemInfo) error {
		e := s.GetExtent()
		if e == nil {
			d.Extent = nil
			return nil
		}
		ext := &upstream.Extent{}
		for _, c := range extentCoordinates {
			if err := c.copy(ext, e); err != nil {
				return err
			}
		}
		if err := checkExtentOrder(ext); err != nil {
			return err
		}
		d.Extent = ext
		return nil
	},
	"spatial_reference": func(d *upstream.ItemInfo, s *adminv1.ItemInfo) error {
		d.SpatialReference = s.GetSpatialReference()
		return nil
	},
}

// extentCoordinates are the fields of an Envelope; `extent.<name>` mask
// paths (which grpc-gateway derives from a PATCH body holding an extent)
// change one coordinate and keep the others.
var extentCoordinates = []extentCoordinate{
	{"xmin", (*adminv1.Envelope).GetXmin, func(e *upstream.Extent) *float64 { return &e.XMin }},
	{"ymin", (*adminv1.Envelope).GetYmin, func(e *upstream.Extent) *float64 { return &e.YMin }},
	{"xmax", (*adminv1.Envelope).GetXmax, func(e *upstream.Extent) *float64 { return &e.XMax }},
	{"ymax", (*adminv1.Envelope).GetYmax, func(e *upstream.Extent) *float64 { return &e.YMax }},
}

// extentCoordinate is one coordinate of an extent.
type extentCoordinate struct {
	name string
	get  func(*adminv1.Envelope) float64
	ref  func(*upstream.Extent) *float64
}

// copy validates the coordinate of src and stores it in dst.
func (c extentCoordinate) copy(dst *upstream.Extent, src *adminv1.Envelope) error {
	v := c.get(src)
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return invalidArgument("item_info.extent."+c.name, "must be a finite number")
	}
	*c.ref(dst) = v
	return nil
}

// itemInfoField returns the function applying mask path p (a key of
// itemInfoFields or `extent.<coordinate>`), or nil. A coordinate path
// creates an all-zero extent when there was none; checkExtentOrder must run
// on the result.
func itemInfoField(p string) func(dst *upstream.ItemInfo, src *adminv1.ItemInfo) error {
	if f := itemInfoFields[p]; f != nil {
		return f
	}
	name, ok := strings.CutPrefix(p, "extent.")
	if !ok {
		return nil
	}
	for _, c := range extentCoordinates {
		if c.name == name {
			return func(d *upstream.ItemInfo, s *adminv1.ItemInfo) error {
				ext := &upstream.Extent{}
				if d.Extent != nil {
					*ext = *d.Extent
				}
				if err := c.copy(ext, s.GetExtent()); err != nil {
					return err
				}
				d.Extent = ext
				return nil
			}
		}
	}
	return nil
}

// checkExtentOrder refuses an extent whose minimum exceeds its maximum.
func checkExtentOrder(e *upstream.Extent) error {
	switch {
	case e == nil:
		return nil
	case e.XMin > e.XMax:
		return invalidArgument("item_info.extent.xmin", "must not be greater than xmax")
	case e.YMin > e.YMax:
		return invalidArgument("item_info.extent.ymin", "must not be greater than ymax")
	}
	return nil
}

// itemInfoMask returns the settable fields an update mask names, in proto
// spelling and without duplicates: `*` names them all and an empty mask is
// INVALID_ARGUMENT (updatePaths), output-only fields are dropped,
// `extent.<coordinate>` paths are kept unless `extent` is named too, and an
// unknown path is INVALID_ARGUMENT.
func itemInfoMask(paths []string) ([]string, error) {
	paths, err := updatePaths(paths, itemInfoSettable)
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	var out []string
	add := func(p string) {
		if !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	for _, p := range paths {
		switch {
		case itemInfoOutputOnly[p]:
		case itemInfoField(p) != nil:
			add(p)
		default:
			return nil, invalidArgument("update_mask", "unknown field "+quoteName(p)+" (settable: "+strings.Join(itemInfoSettable, ", ")+")")
		}
	}
	if seen["extent"] { // the whole extent overrides its coordinates
		out = slices.DeleteFunc(out, func(p string) bool { return strings.HasPrefix(p, "extent.") })
	}
	return out, nil
}

// itemInfoSettable lists the settable fields in proto order.
var itemInfoSettable = []string{
	"title", "summary", "snippet", "description", "tags", "type_keywords", "culture",
	"access_information", "license_info", "documentation", "url", "extent", "spatial_reference",
}

// checkItemList validates tags or type keywords: upstream may keep them as
// one comma-separated string and trims entries, so an entry must be
// non-empty, without a comma and without surrounding spaces.
func checkItemList(field string, list []string) error {
	for i, s := range list {
		f := fmt.Sprintf("%s[%d]", field, i)
		switch {
		case s == "":
			return invalidArgument(f, "must not be empty")
		case strings.Contains(s, ","):
			return invalidArgument(f, "must not contain a comma (upstream may keep the list as one comma-separated string)")
		case strings.TrimSpace(s) != s:
			return invalidArgument(f, "must not start or end with white space")
		}
	}
	return nil
}

func cloneList(in []string) []string {
	if len(in) == 0 {
		return nil
	}
	return append([]string(nil), in...)
}

// checkCulture reports why s is not a culture name such as `en-US` (empty is
// allowed), or "".
func checkCulture(s string) string {
	if s == "" {
		return ""
	}
	if len(s) > 35 {
		return "must be at most 35 characters"
	}
	for i, part := range strings.FieldsFunc(s, func(r rune) bool { return r == '-' || r == '_' }) {
		if part == "" || len(part) > 8 {
			return "must look like en-US"
		}
		for _, c := range part {
			isLetter := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
			if !isLetter && !(i > 0 && c >= '0' && c <= '9') {
				return "must look like en-US"
			}
		}
	}
	if strings.HasPrefix(s, "-") || strings.HasPrefix(s, "_") || strings.HasSuffix(s, "-") || strings.HasSuffix(s, "_") ||
		strings.Contains(s, "--") || strings.Contains(s, "__") || strings.Contains(s, "-_") || strings.Contains(s, "_-") {
		return "must look like en-US"
	}
	return ""
}

// checkItemURL reports why s is not an absolute http(s) URL (empty is
// allowed), or "": it must start with http:// or https:// and a host, and
// hold no user info, white space or control characters.
func checkItemURL(s string) string {
	if s == "" {
		return ""
	}
	const why = "must be an absolute http or https URL"
	lower := strings.ToLower(s)
	rest, ok := strings.CutPrefix(lower, "https://")
	if !ok {
		if rest, ok = strings.CutPrefix(lower, "http://"); !ok {
			return why
		}
	}
	authority, _, _ := strings.Cut(rest, "/")
	authority, _, _ = strings.Cut(authority, "?")
	authority, _, _ = strings.Cut(authority, "#")
	host := authority
	if i := strings.LastIndexByte(host, ':'); i >= 0 && !strings.HasSuffix(host, "]") {
		host = host[:i]
	}
	switch {
	case strings.Contains(authority, "@"):
		return "must not contain user info"
	case host == "" || host == "[]":
		return why
	}
	for _, c := range s {
		if c <= ' ' || c == 0x7f {
			return why
		}
	}
	return ""
}

// sniffImage recognises a PNG, JPEG or GIF image by its magic bytes and
// returns its content type and file extension.
func sniffImage(data []byte) (contentType, ext string, ok bool) {
	switch {
	case bytes.HasPrefix(data, []byte("\x89PNG\r\n\x1a\n")):
		return "image/png", "png", true
	case bytes.HasPrefix(data, []byte("\xff\xd8\xff")):
		return "image/jpeg", "jpg", true
	case bytes.HasPrefix(data, []byte("GIF87a")), bytes.HasPrefix(data, []byte("GIF89a")):
		return "image/gif", "gif", true
	}
	return "", "", false
}

// checkThumbnailType reports why a declared content type contradicts the
// sniffed one, or "". Parameters and case are ignored; image/jpg is taken
// for image/jpeg.
func checkThumbnailType(declared, sniffed string) string {
	if declared == "" {
		return ""
	}
	mt, _, err := mime.ParseMediaType(declared)
	if err != nil {
		return "is not a media type"
	}
	if mt == "image/jpg" || mt == "image/pjpeg" {
		mt = "image/jpeg"
	}
	if mt != sniffed {
		return fmt.Sprintf("is %s but the data is %s", quoteName(mt), sniffed)
	}
	return ""
}

// downloadContentType is the content type served for a thumbnail: what the
// data is, never what upstream claims (an HTML or SVG page must not reach a
// browser as an image of the gateway's origin). PNG, JPEG, GIF, WebP, BMP
// and ICO images keep their type; anything else is
// application/octet-stream.
func downloadContentType(data []byte) string {
	if ct, _, ok := sniffImage(data); ok {
		return ct
	}
	switch {
	case len(data) >= 14 && bytes.HasPrefix(data, []byte("RIFF")) && string(data[8:14]) == "WEBPVP":
		return "image/webp"
	case bytes.HasPrefix(data, []byte("BM")):
		return "image/bmp"
	case bytes.HasPrefix(data, []byte("\x00\x00\x01\x00")):
		return "image/x-icon"
	}
	return "application/octet-stream"
}
