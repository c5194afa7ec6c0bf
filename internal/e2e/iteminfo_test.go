package e2e

import (
	"bytes"
	"encoding/base64"
	"image"
	"image/color"
	"image/gif"
	"image/png"
	"io"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/genproto/googleapis/api/httpbody"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/testing/protocmp"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	adminv1 "github.com/arcgate/arcgate/gen/go/arcgate/admin/v1"
	"github.com/arcgate/arcgate/simulator"
)

// seededItemInfo is what GetItemInfo must return for the services the
// simulator seeds with the recorded item info variants of
// docs/upstream.md#recorded-payloads.
var seededItemInfo = []*adminv1.ItemInfo{
	{ // D:edititeminfo (camelCase, array tags, corner-pair extent)
		Name:             "services/SampleWorldCities.MapServer/itemInfo",
		Title:            "Test Map Service",
		Summary:          "Test service",
		Snippet:          "Test service",
		Description:      "A test service",
		Tags:             []string{"Map Service"},
		TypeKeywords:     []string{"Data", "Service", "Map Service", "ArcGIS Server"},
		Culture:          "en-US",
		Guid:             "FD09F5FF-4031-49D4-88D3-B310728C8FF7",
		Extent:           &adminv1.Envelope{Xmin: -178.217598362366, Ymin: 18.9247817993162, Xmax: -66.9692710360024, Ymax: 71.4071353542713},
		SpatialReference: "WGS_1984_Web_Mercator_Auxiliary_Sphere",
		Thumbnail:        "thumbnail/thumbnail.png",
	},
	{ // OLD:editIteminfo, 10.1 ("Culture", string tags, object extent)
		Name:             "folders/Maps/services/Parcels.MapServer/itemInfo",
		Title:            "usa.mxd",
		TypeKeywords:     []string{"Shapefile Feature Class", "ArcGIS", "Service Definition", ".sd"},
		Culture:          "en-US",
		Guid:             "FD09F5FF-4031-49D4-8BD3-B310728C8FF7",
		Extent:           &adminv1.Envelope{Xmin: -178.217598362366, Ymin: 18.9247817993163, Xmax: -66.9692710360024, Ymax: 71.4071353542713},
		SpatialReference: "Unknown",
		Thumbnail:        "thumbnail/image.jpg",
	},
	{ // services directory ("Summary", string-valued extent)
		Name:              "folders/Maps/services/Roads.MapServer/itemInfo",
		Title:             "Clustering",
		Summary:           "Sample Map containing San Francisco Museum data",
		Snippet:           "Sample Map containing San Francisco Museum data",
		Description:       "Sample Map containing point of interests in San Francisco (museums)",
		Tags:              []string{"San Francisco"},
		TypeKeywords:      []string{"Map Service", "ArcGIS Server"},
		Culture:           "en-US",
		Guid:              "2D4D1E57-3613-4288-9221-90C97FB2803B",
		AccessInformation: "esri",
		LicenseInfo:       "This is a test service.",
		Url:               "http://server/arcgis/services/sanfrancisco_museums/",
		Extent:            &adminv1.Envelope{Xmin: -122.515048, Ymin: 37.632528, Xmax: -122.293731, Ymax: 37.863433},
		SpatialReference:  "GCS_WGS_1984",
		Thumbnail:         "thumbnail/thumbnail.png",
	},
}

// restProto decodes a successful REST answer into m.
func restProto(t *testing.T, r restResp, m proto.Message) {
	t.Helper()
	if r.Status != http.StatusOK {
		t.Fatalf("HTTP %d: %s", r.Status, r.Raw)
	}
	if err := protojson.Unmarshal([]byte(r.Raw), m); err != nil {
		t.Fatalf("bad JSON %s: %v", r.Raw, err)
	}
}

// simItemInfo reads a service's item info straight from the simulator
// (path below admin/services/), as raw bytes.
func simItemInfo(t *testing.T, e *env, servicePath string) string {
	t.Helper()
	return string(simGet(t, e, "services/"+servicePath+"/iteminfo", "text/plain;charset=UTF-8"))
}

// simGet GETs a path below the simulator's admin root with a fresh token.
func simGet(t *testing.T, e *env, rel, wantType string) []byte {
	t.Helper()
	q := url.Values{"f": {"json"}, "token": {e.sim.IssueToken(time.Hour)}}
	resp, err := e.hc.Get(e.app.UpstreamURL + "/admin/" + rel + "?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if ct := resp.Header.Get("Content-Type"); ct != wantType {
		t.Fatalf("simulator %s: Content-Type %q, want %q: %q", rel, ct, wantType, body)
	}
	return body
}

// simPost POSTs form fields to a path below the simulator's admin root.
func simPost(t *testing.T, e *env, rel string, form url.Values) {
	t.Helper()
	form.Set("f", "json")
	form.Set("token", e.sim.IssueToken(time.Hour))
	resp, err := e.hc.PostForm(e.app.UpstreamURL+"/admin/"+rel, form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if string(body) != `{"status":"success"}` {
		t.Fatalf("simulator %s: %s", rel, body)
	}
}

// editRequests counts item info edits the simulator received.
func editRequests(e *env) int {
	n := 0
	for _, r := range e.sim.Requests() {
		if strings.HasSuffix(r.Path, "/iteminfo/edit") {
			n++
		}
	}
	return n
}

func TestGetItemInfoVariants(t *testing.T) {
	e := start(t, simulator.Config{})
	c := ctx(t)
	client := adminv1.NewItemInfoServiceClient(e.conn)
	for _, want := range seededItemInfo {
		t.Run(want.GetName(), func(t *testing.T) {
			got, err := client.GetItemInfo(c, &adminv1.GetItemInfoRequest{Name: want.GetName()})
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(want, got, protocmp.Transform(), ignoreEtag); diff != "" {
				t.Errorf("gRPC GetItemInfo (-want +got):\n%s", diff)
			}
			rest := new(adminv1.ItemInfo)
			restProto(t, e.do(t, http.MethodGet, "/v1/"+want.GetName(), nil), rest)
			if diff := cmp.Diff(want, rest, protocmp.Transform(), ignoreEtag); diff != "" {
				t.Errorf("REST GetItemInfo (-want +got):\n%s", diff)
			}
		})
	}
	// A service without a recorded variant has the simulator's default.
	got, err := client.GetItemInfo(c, &adminv1.GetItemInfoRequest{Name: "folders/System/services/CachingTools.GPServer/itemInfo"})
	if err != nil || got.GetTitle() != "CachingTools" || got.GetThumbnail() != "" || got.GetExtent() != nil {
		t.Fatalf("default item info %v, %v", got, err)
	}
	_, err = client.GetItemInfo(c, &adminv1.GetItemInfoRequest{Name: "folders/Maps/services/Nope.MapServer/itemInfo"})
	if info := wantCode(t, err, codes.NotFound); info.GetMetadata()["upstreamCode"] != "404" {
		t.Fatalf("ErrorInfo %v", info)
	}
	reason, _ := restError(t, e.do(t, http.MethodGet, "/v1/services/Nope.MapServer/itemInfo", nil), http.StatusNotFound, codes.NotFound)
	if reason != "NOT_FOUND" {
		t.Fatalf("reason %q", reason)
	}
}

func TestUpdateItemInfoGRPC(t *testing.T) {
	e := start(t, simulator.Config{})
	c := ctx(t)
	client := adminv1.NewItemInfoServiceClient(e.conn)

	// The 10.1 variant: the written keys keep upstream's spelling and form.
	const name = "folders/Maps/services/Parcels.MapServer/itemInfo"
	resp, err := client.UpdateItemInfo(c, &adminv1.UpdateItemInfoRequest{
		ItemInfo: &adminv1.ItemInfo{
			Name: name, Title: "Parcels", Culture: "fr-FR", Tags: []string{"parcels", "cadastre"},
			Extent:      &adminv1.Envelope{Xmin: 1, Ymin: 2, Xmax: 3, Ymax: 4},
			Description: "not in the mask", Guid: "output only",
		},
		UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"title", "culture", "tags", "extent", "guid"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := proto.Clone(seededItemInfo[1]).(*adminv1.ItemInfo)
	want.Title, want.Culture, want.Tags = "Parcels", "fr-FR", []string{"parcels", "cadastre"}
	want.Extent = &adminv1.Envelope{Xmin: 1, Ymin: 2, Xmax: 3, Ymax: 4}
	if diff := cmp.Diff(want, resp, protocmp.Transform(), ignoreEtag); diff != "" {
		t.Fatalf("UpdateItemInfo (-want +got):\n%s", diff)
	}
	raw := simItemInfo(t, e, "Maps/Parcels.MapServer")
	for _, s := range []string{
		`"Culture":"fr-FR"`, `"tags":"parcels,cadastre"`, `"Text":""`, `"type":"Service Definition"`,
		`"datalastmodifiedtime":""`, `"catalogpath":""`, `"typekeywords":["Shapefile Feature Class","ArcGIS","Service Definition",".sd"]`,
		`"extent":{"xmax":3,"xmin":1,"ymax":4,"ymin":2}`, `"guid":"FD09F5FF-4031-49D4-8BD3-B310728C8FF7"`, `"description":""`,
	} {
		if !strings.Contains(raw, s) {
			t.Errorf("upstream item info lacks %s:\n%s", s, raw)
		}
	}
	for _, s := range []string{`"culture"`, `"typeKeywords"`, `"Title"`} {
		if strings.Contains(raw, s) {
			t.Errorf("upstream item info gained the key %s:\n%s", s, raw)
		}
	}

	// The current-docs variant: corner pairs stay pairs, unmodelled keys
	// (minScale, maxScale, catalogPath, ...) survive byte for byte.
	before := simItemInfo(t, e, "SampleWorldCities.MapServer")
	_, err = client.UpdateItemInfo(c, &adminv1.UpdateItemInfoRequest{
		ItemInfo:   &adminv1.ItemInfo{Name: "services/SampleWorldCities.MapServer/itemInfo", Extent: &adminv1.Envelope{Xmin: -1, Ymin: -2, Xmax: 1, Ymax: 2}},
		UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"extent"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	after := simItemInfo(t, e, "SampleWorldCities.MapServer")
	for _, s := range []string{`"extent":[[-1,-2],[1,2]]`, `"maxScale":1.7976931348623157E308`, `"minScale":0`, `"acc...":"(truncated in source)"`, `"catalogPath":""`} {
		if !strings.Contains(after, s) {
			t.Errorf("upstream item info lacks %s:\nbefore %s\nafter  %s", s, before, after)
		}
	}

	// A mask of output-only fields changes nothing and sends no edit.
	e.sim.ResetRequests()
	if _, err := client.UpdateItemInfo(c, &adminv1.UpdateItemInfoRequest{
		ItemInfo:   &adminv1.ItemInfo{Name: name, Guid: "x"},
		UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"guid", "name"}},
	}); err != nil || editRequests(e) != 0 {
		t.Fatalf("output-only mask: %v, %d edits", err, editRequests(e))
	}

	_, err = client.UpdateItemInfo(c, &adminv1.UpdateItemInfoRequest{
		ItemInfo: &adminv1.ItemInfo{Name: "services/Nope.MapServer/itemInfo"}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"title"}},
	})
	wantCode(t, err, codes.NotFound)

	// Upstream's own odd values do not block changes to other fields.
	simPost(t, e, "services/Hosted/Stations.MapServer/iteminfo/edit",
		url.Values{"serviceItemInfo": {`{"title":"x","extent":{"xmin":5,"ymin":0,"xmax":1,"ymax":1}}`}})
	resp, err = client.UpdateItemInfo(c, &adminv1.UpdateItemInfoRequest{
		ItemInfo:   &adminv1.ItemInfo{Name: "folders/Hosted/services/Stations.MapServer/itemInfo", Title: "Stations"},
		UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"title"}},
	})
	if err != nil || resp.GetTitle() != "Stations" || resp.GetExtent().GetXmin() != 5 {
		t.Fatalf("title update next to an inverted upstream extent: %v, %v", resp, err)
	}
}

func TestUpdateItemInfoREST(t *testing.T) {
	e := start(t, simulator.Config{})

	// Explicit mask, JSON spelling; the folder binding; "Summary" keeps its case.
	r := e.do(t, http.MethodPatch, "/v1/folders/Maps/services/Roads.MapServer/itemInfo?updateMask=summary,typeKeywords,licenseInfo",
		map[string]any{"summary": "Museums", "typeKeywords": []string{"Map Service"}, "licenseInfo": "CC-BY", "title": "ignored"})
	got := new(adminv1.ItemInfo)
	restProto(t, r, got)
	want := proto.Clone(seededItemInfo[2]).(*adminv1.ItemInfo)
	want.Summary, want.TypeKeywords, want.LicenseInfo = "Museums", []string{"Map Service"}, "CC-BY"
	if diff := cmp.Diff(want, got, protocmp.Transform(), ignoreEtag); diff != "" {
		t.Fatalf("REST UpdateItemInfo (-want +got):\n%s", diff)
	}
	raw := simItemInfo(t, e, "Maps/Roads.MapServer")
	for _, s := range []string{`"Summary":"Museums"`, `"typekeywords":["Map Service"]`, `"licenseinfo":"CC-BY"`,
		`"extent":{"xmin":"-122.515048","ymin":"37.632528","xmax":"-122.293731","ymax":"37.863433"}`} {
		if !strings.Contains(raw, s) {
			t.Errorf("upstream item info lacks %s:\n%s", s, raw)
		}
	}

	// Without updateMask the gateway derives the mask from the body's fields.
	r = e.do(t, http.MethodPatch, "/v1/services/SampleWorldCities.MapServer/itemInfo",
		map[string]any{"title": "World cities", "extent": map[string]any{"xmin": 0, "ymin": 0, "xmax": 10, "ymax": 5}})
	restProto(t, r, got)
	if got.GetTitle() != "World cities" || got.GetExtent().GetXmax() != 10 ||
		got.GetSummary() != "Test service" {
		t.Fatalf("REST UpdateItemInfo without a mask = %v", got)
	}

	// A body holding one coordinate changes that coordinate only.
	r = e.do(t, http.MethodPatch, "/v1/services/SampleWorldCities.MapServer/itemInfo", map[string]any{"extent": map[string]any{"ymax": 6.5}})
	restProto(t, r, got)
	if diff := cmp.Diff(&adminv1.Envelope{Xmin: 0, Ymin: 0, Xmax: 10, Ymax: 6.5}, got.GetExtent(), protocmp.Transform()); diff != "" {
		t.Fatalf("extent after a one-coordinate PATCH (-want +got):\n%s", diff)
	}
	// One that would invert the extent is refused before anything is written.
	e.sim.ResetRequests()
	_, md := restError(t, e.do(t, http.MethodPatch, "/v1/services/SampleWorldCities.MapServer/itemInfo",
		map[string]any{"extent": map[string]any{"xmin": 11}}), http.StatusBadRequest, codes.InvalidArgument)
	if md["field"] != "item_info.extent.xmin" || editRequests(e) != 0 {
		t.Fatalf("inverting PATCH: metadata %v, %d edits", md, editRequests(e))
	}
}

// TestItemInfoCommaListTags: a server that keeps tags as a list holding one
// comma-separated string (["a,b,c"]) gets its tags read as separate tags,
// gets them back from a PATCH of what was read, and keeps its form: only
// the entry's text changes when the tags do.
func TestItemInfoCommaListTags(t *testing.T) {
	e := start(t, simulator.Config{})
	const svc = "Maps/Roads.MapServer"
	simPost(t, e, "services/"+svc+"/iteminfo/edit", url.Values{"serviceItemInfo": {
		`{"title":"Roads","tags":["Local Government,Public Safety,Addresses"],"typeKeywords":["Map Service"]}`}})
	want := []string{"Local Government", "Public Safety", "Addresses"}
	const path = "/v1/folders/Maps/services/Roads.MapServer/itemInfo"

	got := new(adminv1.ItemInfo)
	restProto(t, e.do(t, http.MethodGet, path, nil), got)
	if !slices.Equal(got.GetTags(), want) {
		t.Fatalf("GET tags %q, want %q", got.GetTags(), want)
	}
	// The tags read, sent back: accepted, and upstream unchanged.
	upd := new(adminv1.ItemInfo)
	restProto(t, e.do(t, http.MethodPatch, path+"?updateMask=tags", map[string]any{"tags": got.GetTags()}), upd)
	if !slices.Equal(upd.GetTags(), want) {
		t.Fatalf("PATCH answered tags %q, want %q", upd.GetTags(), want)
	}
	if raw := simItemInfo(t, e, svc); !strings.Contains(raw, `"tags":["Local Government,Public Safety,Addresses"]`) {
		t.Errorf("after writing the same tags back, upstream keeps %s", raw)
	}
	// Other tags keep the form: one comma-separated entry.
	restProto(t, e.do(t, http.MethodPatch, path+"?updateMask=tags", map[string]any{"tags": []string{"Roads", "Public Safety"}}), upd)
	if !slices.Equal(upd.GetTags(), []string{"Roads", "Public Safety"}) {
		t.Fatalf("PATCH answered tags %q", upd.GetTags())
	}
	if raw := simItemInfo(t, e, svc); !strings.Contains(raw, `"tags":["Roads,Public Safety"]`) {
		t.Errorf("after new tags, upstream keeps %s", raw)
	}
}

// TestItemInfoInvalidArguments: every bad request is refused with
// INVALID_ARGUMENT naming the field, before any upstream request.
func TestItemInfoInvalidArguments(t *testing.T) {
	e := start(t, simulator.Config{})
	c := ctx(t)
	client := adminv1.NewItemInfoServiceClient(e.conn)
	png := testPNG(t)
	const svc = "services/SampleWorldCities.MapServer/itemInfo"
	grpcCases := []struct {
		name  string
		field string
		call  func() error
	}{
		{"get: not an item info name", "name", func() error {
			_, err := client.GetItemInfo(c, &adminv1.GetItemInfoRequest{Name: "services/SampleWorldCities.MapServer"})
			return err
		}},
		{"get: traversal", "name", func() error {
			_, err := client.GetItemInfo(c, &adminv1.GetItemInfoRequest{Name: "services/../security.MapServer/itemInfo"})
			return err
		}},
		{"update: no item info", "item_info", func() error {
			_, err := client.UpdateItemInfo(c, &adminv1.UpdateItemInfoRequest{})
			return err
		}},
		{"update: no mask", "update_mask", func() error {
			_, err := client.UpdateItemInfo(c, &adminv1.UpdateItemInfoRequest{ItemInfo: &adminv1.ItemInfo{Name: svc}})
			return err
		}},
		{"update: unknown field", "update_mask", func() error {
			_, err := client.UpdateItemInfo(c, &adminv1.UpdateItemInfoRequest{ItemInfo: &adminv1.ItemInfo{Name: svc},
				UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"catalog_path"}}})
			return err
		}},
		{"update: tag with a comma", "item_info.tags[0]", func() error {
			_, err := client.UpdateItemInfo(c, &adminv1.UpdateItemInfoRequest{ItemInfo: &adminv1.ItemInfo{Name: svc, Tags: []string{"a,b"}},
				UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"tags"}}})
			return err
		}},
		{"update: NaN extent", "item_info.extent.ymin", func() error {
			_, err := client.UpdateItemInfo(c, &adminv1.UpdateItemInfoRequest{
				ItemInfo:   &adminv1.ItemInfo{Name: svc, Extent: &adminv1.Envelope{Ymin: math.NaN()}},
				UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"extent"}}})
			return err
		}},
		{"update: relative url", "item_info.url", func() error {
			_, err := client.UpdateItemInfo(c, &adminv1.UpdateItemInfoRequest{ItemInfo: &adminv1.ItemInfo{Name: svc, Url: "rest/services"},
				UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"url"}}})
			return err
		}},
		{"get thumbnail: item info name", "name", func() error {
			_, err := client.GetThumbnail(c, &adminv1.GetThumbnailRequest{Name: svc})
			return err
		}},
		{"update thumbnail: none", "thumbnail", func() error {
			_, err := client.UpdateThumbnail(c, &adminv1.UpdateThumbnailRequest{Name: svc + "/thumbnail"})
			return err
		}},
		{"update thumbnail: empty", "thumbnail.data", func() error {
			_, err := client.UpdateThumbnail(c, &adminv1.UpdateThumbnailRequest{Name: svc + "/thumbnail", Thumbnail: &httpbody.HttpBody{ContentType: "image/png"}})
			return err
		}},
		{"update thumbnail: not an image", "thumbnail.data", func() error {
			_, err := client.UpdateThumbnail(c, &adminv1.UpdateThumbnailRequest{Name: svc + "/thumbnail",
				Thumbnail: &httpbody.HttpBody{ContentType: "image/png", Data: []byte("<svg xmlns='http://www.w3.org/2000/svg'/>")}})
			return err
		}},
		{"update thumbnail: too large", "thumbnail.data", func() error {
			big := append(append([]byte(nil), png...), make([]byte, 1<<20)...)
			_, err := client.UpdateThumbnail(c, &adminv1.UpdateThumbnailRequest{Name: svc + "/thumbnail", Thumbnail: &httpbody.HttpBody{Data: big}})
			return err
		}},
		{"update thumbnail: wrong content type", "thumbnail.content_type", func() error {
			_, err := client.UpdateThumbnail(c, &adminv1.UpdateThumbnailRequest{Name: svc + "/thumbnail",
				Thumbnail: &httpbody.HttpBody{ContentType: "image/gif", Data: png}})
			return err
		}},
		{"update thumbnail: bad name", "name", func() error {
			_, err := client.UpdateThumbnail(c, &adminv1.UpdateThumbnailRequest{Name: "folders/x y/services/A.MapServer/itemInfo/thumbnail",
				Thumbnail: &httpbody.HttpBody{Data: png}})
			return err
		}},
	}
	for _, tc := range grpcCases {
		t.Run("gRPC "+tc.name, func(t *testing.T) {
			e.sim.ResetRequests()
			info := wantCode(t, tc.call(), codes.InvalidArgument)
			if info.GetMetadata()["field"] != tc.field {
				t.Errorf("ErrorInfo %v, want field %q", info, tc.field)
			}
			if n := e.sim.RequestCount(); n != 0 {
				t.Errorf("%d upstream requests were made", n)
			}
		})
	}
	restCases := []struct {
		name, method, path string
		body               any
		field              string
	}{
		{"update: unknown mask field", http.MethodPatch, "/v1/" + svc + "?updateMask=type", map[string]any{"title": "x"}, "update_mask"},
		{"update: comma in a type keyword", http.MethodPatch, "/v1/" + svc + "?updateMask=typeKeywords",
			map[string]any{"typeKeywords": []string{"ok", "a,b"}}, "item_info.type_keywords[1]"},
		{"update: inverted extent", http.MethodPatch, "/v1/" + svc + "?updateMask=extent",
			map[string]any{"extent": map[string]any{"xmin": 5, "xmax": 1}}, "item_info.extent.xmin"},
		{"update: bad culture", http.MethodPatch, "/v1/" + svc + "?updateMask=culture", map[string]any{"culture": "en US"}, "item_info.culture"},
		{"update thumbnail: not an image", http.MethodPut, "/v1/" + svc + "/thumbnail",
			map[string]any{"contentType": "image/png", "data": base64.StdEncoding.EncodeToString([]byte("GIF8 not quite"))}, "thumbnail.data"},
	}
	for _, tc := range restCases {
		t.Run("REST "+tc.name, func(t *testing.T) {
			e.sim.ResetRequests()
			_, md := restError(t, e.do(t, tc.method, tc.path, tc.body), http.StatusBadRequest, codes.InvalidArgument)
			if md["field"] != tc.field {
				t.Errorf("metadata %v, want field %q", md, tc.field)
			}
			if n := e.sim.RequestCount(); n != 0 {
				t.Errorf("%d upstream requests were made", n)
			}
		})
	}
}

func TestThumbnailGRPC(t *testing.T) {
	e := start(t, simulator.Config{})
	c := ctx(t)
	client := adminv1.NewItemInfoServiceClient(e.conn)

	// Seeded image, root and folder bindings.
	for _, tc := range []struct{ name, sim string }{
		{"services/SampleWorldCities.MapServer/itemInfo/thumbnail", "services/SampleWorldCities.MapServer/iteminfo/thumbnail/thumbnail.png"},
		{"folders/Maps/services/Roads.MapServer/itemInfo/thumbnail", "services/Maps/Roads.MapServer/iteminfo/thumbnail/thumbnail.png"},
	} {
		got, err := client.GetThumbnail(c, &adminv1.GetThumbnailRequest{Name: tc.name})
		if err != nil {
			t.Fatal(err)
		}
		want := simGet(t, e, tc.sim, "image/png")
		if got.GetThumbnail().GetContentType() != "image/png" || !bytes.Equal(got.GetThumbnail().GetData(), want) {
			t.Fatalf("GetThumbnail(%s) = %q %d bytes, want image/png %d bytes", tc.name, got.GetThumbnail().GetContentType(), len(got.GetThumbnail().GetData()), len(want))
		}
	}

	// Parcels names thumbnail/image.jpg, which upstream does not have.
	_, err := client.GetThumbnail(c, &adminv1.GetThumbnailRequest{Name: "folders/Maps/services/Parcels.MapServer/itemInfo/thumbnail"})
	if info := wantCode(t, err, codes.NotFound); info.GetReason() != "NOT_FOUND" || info.GetMetadata()["upstreamCode"] != "404" {
		t.Fatalf("ErrorInfo %v", info)
	}
	// Upload a GIF there: the item info now names it, unmodelled keys and key case kept.
	img := testGIF(t)
	up, err := client.UpdateThumbnail(c, &adminv1.UpdateThumbnailRequest{
		Name:      "folders/Maps/services/Parcels.MapServer/itemInfo/thumbnail",
		Thumbnail: &httpbody.HttpBody{Data: img},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := proto.Clone(seededItemInfo[1]).(*adminv1.ItemInfo)
	want.Thumbnail = "thumbnail/thumbnail.gif"
	if diff := cmp.Diff(want, up, protocmp.Transform(), ignoreEtag); diff != "" {
		t.Fatalf("UpdateThumbnail (-want +got):\n%s", diff)
	}
	if raw := simItemInfo(t, e, "Maps/Parcels.MapServer"); !strings.Contains(raw, `"Culture":"en-US"`) || !strings.Contains(raw, `"thumbnail":"thumbnail/thumbnail.gif"`) {
		t.Fatalf("upstream item info after upload: %s", raw)
	}
	got, err := client.GetThumbnail(c, &adminv1.GetThumbnailRequest{Name: "folders/Maps/services/Parcels.MapServer/itemInfo/thumbnail"})
	if err != nil || got.GetThumbnail().GetContentType() != "image/gif" || !bytes.Equal(got.GetThumbnail().GetData(), img) {
		t.Fatalf("GetThumbnail after upload: %v, %v", got, err)
	}

	// A service whose item info names no thumbnail.
	_, err = client.GetThumbnail(c, &adminv1.GetThumbnailRequest{Name: "folders/System/services/CachingTools.GPServer/itemInfo/thumbnail"})
	if info := wantCode(t, err, codes.NotFound); info.GetReason() != "THUMBNAIL_NOT_SET" {
		t.Fatalf("ErrorInfo %v", info)
	}

	// An item info whose thumbnail path leaves the iteminfo directory is not followed.
	simPost(t, e, "services/Maps/Addresses.GeocodeServer/iteminfo/edit", url.Values{"serviceItemInfo": {`{"thumbnail":"../../../security/users/x.png"}`}})
	e.sim.ResetRequests()
	_, err = client.GetThumbnail(c, &adminv1.GetThumbnailRequest{Name: "folders/Maps/services/Addresses.GeocodeServer/itemInfo/thumbnail"})
	if info := wantCode(t, err, codes.FailedPrecondition); info.GetReason() != "UNSAFE_THUMBNAIL_PATH" || info.GetMetadata()["thumbnail"] != "../../../security/users/x.png" {
		t.Fatalf("ErrorInfo %v", info)
	}
	for _, r := range e.sim.Requests() {
		if !strings.HasSuffix(r.Path, "/iteminfo") && !strings.HasSuffix(r.Path, "/generateToken") {
			t.Errorf("unexpected upstream request %s %s", r.Method, r.Path)
		}
	}
}

func TestThumbnailREST(t *testing.T) {
	e := start(t, simulator.Config{})

	// GET answers the raw image with its content type.
	resp, err := e.hc.Get(e.rest + "/v1/services/SampleWorldCities.MapServer/itemInfo/thumbnail")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	want := simGet(t, e, "services/SampleWorldCities.MapServer/iteminfo/thumbnail/thumbnail.png", "image/png")
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "image/png" || !bytes.Equal(body, want) {
		t.Fatalf("REST GetThumbnail: HTTP %d %q, %d bytes (want %d): %q", resp.StatusCode, resp.Header.Get("Content-Type"), len(body), len(want), body)
	}

	// PUT a PNG (JSON form of google.api.HttpBody) on a service that had none.
	img := testPNG(t)
	r := e.do(t, http.MethodPut, "/v1/folders/System/services/CachingTools.GPServer/itemInfo/thumbnail",
		map[string]any{"contentType": "image/png", "data": base64.StdEncoding.EncodeToString(img)})
	up := new(adminv1.ItemInfo)
	restProto(t, r, up)
	if up.GetThumbnail() != "thumbnail/thumbnail.png" || up.GetTitle() != "CachingTools" {
		t.Fatalf("REST UpdateThumbnail = %v", up)
	}
	resp, err = e.hc.Get(e.rest + "/v1/folders/System/services/CachingTools.GPServer/itemInfo/thumbnail")
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "image/png" || !bytes.Equal(body, img) {
		t.Fatalf("REST GetThumbnail after upload: HTTP %d %q %q", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}

	// Errors stay JSON.
	reason, _ := restError(t, e.do(t, http.MethodGet, "/v1/folders/Utilities/services/Geometry.GeometryServer/itemInfo/thumbnail", nil),
		http.StatusNotFound, codes.NotFound)
	if reason != "THUMBNAIL_NOT_SET" {
		t.Fatalf("reason %q", reason)
	}
}

// testPNG returns a small valid PNG.
func testPNG(t *testing.T) []byte {
	t.Helper()
	img := image.NewNRGBA(image.Rect(0, 0, 3, 2))
	img.Set(1, 1, color.NRGBA{R: 200, A: 255})
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// testGIF returns a small valid GIF.
func testGIF(t *testing.T) []byte {
	t.Helper()
	img := image.NewPaletted(image.Rect(0, 0, 2, 2), color.Palette{color.Black, color.White})
	img.SetColorIndex(0, 0, 1)
	var buf bytes.Buffer
	if err := gif.Encode(&buf, img, nil); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}
