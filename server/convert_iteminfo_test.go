package server

import (
	"encoding/json"
	"math"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/testing/protocmp"

	"google.golang.org/genproto/googleapis/rpc/errdetails"

	adminv1 "github.com/arcgate/arcgate/gen/go/arcgate/admin/v1"
	"github.com/arcgate/arcgate/upstream"
)

// The recorded item info variants of docs/upstream.md#recorded-payloads.
const (
	// OLD:editIteminfo, the 10.1 example.
	itemInfo101JSON = `{
  "Culture": "en-US", "name": "usa", "thumbnail": "thumbnail/image.jpg",
  "guid": "FD09F5FF-4031-49D4-8BD3-B310728C8FF7", "catalogpath": "", "snippet": "", "description": "",
  "summary": "", "title": "usa.mxd", "tags": "", "type": "Service Definition", "Text": "",
  "typekeywords": ["Shapefile Feature Class", "ArcGIS", "Service Definition", ".sd"],
  "documentation": "", "url": "", "datalastmodifiedtime": "",
  "extent": {"xmin": -178.217598362366, "ymin": 18.9247817993163, "xmax": -66.9692710360024, "ymax": 71.4071353542713},
  "spatialreference": "Unknown", "accessinformation": "", "licenseinfo": ""
}`
	// D:edititeminfo, with the comma its published extent lacks restored
	// (as published it is not JSON; see upstream's TestItemInfo_BrokenDocExample).
	itemInfoDocJSON = `{"culture": "en-US", "name": "testService", "guid": "FD09F5FF-4031-49D4-88D3-B310728C8FF7", "catalogPath": "",
 "snippet": "Test service", "description": "A test service", "summary": "Test service", "title": "Test Map Service",
 "tags": ["Map Service"], "type": "Map Service", "typeKeywords": ["Data", "Service", "Map Service", "ArcGIS Server"],
 "thumbnail": "thumbnail/thumbnail.png", "url": "",
 "extent": [[-178.217598362366, 18.9247817993162], [-66.9692710360024, 71.4071353542713]],
 "minScale": 0, "maxScale": 1.7976931348623157E308, "spatialReference": "WGS_1984_Web_Mercator_Auxiliary_Sphere", "acc...": "(truncated in source)"}`
	// The REST services-directory variant.
	itemInfoDirectoryJSON = `{"culture": "en-US", "name": "sanfrancisco_museums", "guid": "2D4D1E57-3613-4288-9221-90C97FB2803B", "catalogpath": "",
 "snippet": "Sample Map containing San Francisco Museum data", "description": "Sample Map containing point of interests in San Francisco (museums)",
 "Summary": "Sample Map containing San Francisco Museum data", "title": "Clustering", "tags": ["San Francisco"], "type": "Map Service",
 "typekeywords": ["Map Service", "ArcGIS Server"], "thumbnail": "thumbnail/thumbnail.png", "url": "http://server/arcgis/services/sanfrancisco_museums/",
 "extent": {"xmin": "-122.515048", "ymin": "37.632528", "xmax": "-122.293731", "ymax": "37.863433"},
 "spatialreference": "GCS_WGS_1984", "accessinformation": "esri", "licenseinfo": "This is a test service."}`
)

func decodeItemInfo(t *testing.T, s string) *upstream.ItemInfo {
	t.Helper()
	var info upstream.ItemInfo
	if err := json.Unmarshal([]byte(s), &info); err != nil {
		t.Fatalf("decode: %v", err)
	}
	return &info
}

func TestItemInfoFromUpstream(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		ref  serviceRef
		in   string
		want *adminv1.ItemInfo
	}{
		{"10.1 example", serviceRef{"Maps", "Parcels", "MapServer"}, itemInfo101JSON, &adminv1.ItemInfo{
			Name:             "folders/Maps/services/Parcels.MapServer/itemInfo",
			Title:            "usa.mxd",
			TypeKeywords:     []string{"Shapefile Feature Class", "ArcGIS", "Service Definition", ".sd"},
			Culture:          "en-US",
			Guid:             "FD09F5FF-4031-49D4-8BD3-B310728C8FF7",
			Extent:           &adminv1.Envelope{Xmin: -178.217598362366, Ymin: 18.9247817993163, Xmax: -66.9692710360024, Ymax: 71.4071353542713},
			SpatialReference: "Unknown",
			Thumbnail:        "thumbnail/image.jpg",
		}},
		{"current docs example", serviceRef{"", "SampleWorldCities", "MapServer"}, itemInfoDocJSON, &adminv1.ItemInfo{
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
		}},
		{"services directory", serviceRef{"Maps", "Roads", "MapServer"}, itemInfoDirectoryJSON, &adminv1.ItemInfo{
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
		}},
		{"empty", serviceRef{"", "A", "GPServer"}, `{}`, &adminv1.ItemInfo{Name: "services/A.GPServer/itemInfo"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := itemInfoFromUpstream(tc.ref, decodeItemInfo(t, tc.in))
			if diff := cmp.Diff(tc.want, got, protocmp.Transform(), ignoreEtags); diff != "" {
				t.Errorf("itemInfoFromUpstream (-want +got):\n%s", diff)
			}
		})
	}
}

// TestItemInfoShapesNormalize: one item written in every recorded shape
// (key case, tags as string or list, extent as object of numbers or
// strings or as corner pairs) gives one proto.
func TestItemInfoShapesNormalize(t *testing.T) {
	t.Parallel()
	ref := serviceRef{"Maps", "Roads", "MapServer"}
	var first *adminv1.ItemInfo
	for _, body := range []string{
		`{"Culture":"en-US","title":"Roads","tags":"a, b","typekeywords":["Map Service"],"extent":{"xmin":1,"ymin":2,"xmax":3,"ymax":4},"spatialreference":"Unknown","accessinformation":"c","licenseinfo":"l"}`,
		`{"culture":"en-US","title":"Roads","tags":["a","b"],"typeKeywords":["Map Service"],"extent":[[1,2],[3,4]],"spatialReference":"Unknown","accessInformation":"c","licenseInfo":"l"}`,
		`{"culture":"en-US","title":"Roads","tags":["a","b"],"typekeywords":["Map Service"],"extent":{"xmin":"1","ymin":"2","xmax":"3","ymax":"4"},"spatialreference":"Unknown","accessinformation":"c","licenseinfo":"l"}`,
	} {
		got := itemInfoFromUpstream(ref, decodeItemInfo(t, body))
		if first == nil {
			first = got
			if got.GetCulture() != "en-US" || len(got.GetTags()) != 2 || got.GetExtent().GetYmax() != 4 || got.GetLicenseInfo() != "l" {
				t.Fatalf("first shape decoded to %v", got)
			}
			continue
		}
		if diff := cmp.Diff(first, got, protocmp.Transform(), ignoreEtags); diff != "" {
			t.Errorf("%s differs from the first shape (-want +got):\n%s", body, diff)
		}
	}
}

// wantFieldError asserts an INVALID_ARGUMENT naming field.
func wantFieldError(t *testing.T, err error, field string) {
	t.Helper()
	st, ok := status.FromError(err)
	if !ok || st.Code() != codes.InvalidArgument {
		t.Fatalf("got %v, want INVALID_ARGUMENT", err)
	}
	for _, d := range st.Details() {
		if br, ok := d.(*errdetails.BadRequest); ok && len(br.GetFieldViolations()) == 1 && br.GetFieldViolations()[0].GetField() == field {
			return
		}
	}
	t.Fatalf("error %v does not name field %q", err, field)
}

func TestParseItemInfoNames(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in        string
		thumbnail bool
		want      serviceRef
		ok        bool
	}{
		{"services/SampleWorldCities.MapServer/itemInfo", false, serviceRef{"", "SampleWorldCities", "MapServer"}, true},
		{"folders/Maps/services/Roads.MapServer/itemInfo", false, serviceRef{"Maps", "Roads", "MapServer"}, true},
		{"services/A.GPServer/itemInfo/thumbnail", true, serviceRef{"", "A", "GPServer"}, true},
		{"folders/Maps/services/Roads.MapServer/itemInfo/thumbnail", true, serviceRef{"Maps", "Roads", "MapServer"}, true},
		{"services/A.GPServer/itemInfo/thumbnail", false, serviceRef{}, false},
		{"services/A.GPServer/itemInfo", true, serviceRef{}, false},
		{"services/A.GPServer/iteminfo", false, serviceRef{}, false},
		{"services/A.GPServer", false, serviceRef{}, false},
		{"services/../x/itemInfo", false, serviceRef{}, false},
		{"services/A.Nope/itemInfo", false, serviceRef{}, false},
		{"folders/-/services/A.MapServer/itemInfo", false, serviceRef{}, false},
		{"/itemInfo", false, serviceRef{}, false},
		{"", false, serviceRef{}, false},
	} {
		parse, field := parseItemInfoName, "name"
		if tc.thumbnail {
			parse = parseThumbnailName
		}
		got, err := parse(field, tc.in)
		if (err == nil) != tc.ok || tc.ok && got != tc.want {
			t.Errorf("parse(%q, thumbnail=%v) = %v, %v", tc.in, tc.thumbnail, got, err)
		}
		if err != nil {
			wantFieldError(t, err, field)
		}
		if tc.ok {
			round := itemInfoName(got)
			if tc.thumbnail {
				round = thumbnailName(got)
			}
			if round != tc.in {
				t.Errorf("round trip of %q gave %q", tc.in, round)
			}
		}
	}
}

func TestItemInfoMask(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   []string
		want []string
		ok   bool
	}{
		{[]string{"title"}, []string{"title"}, true},
		{[]string{"typeKeywords,spatialReference", "accessInformation"}, []string{"type_keywords", "spatial_reference", "access_information"}, true},
		{[]string{"license_info", "licenseInfo"}, []string{"license_info"}, true},
		{[]string{"name", "guid", "thumbnail", "tags"}, []string{"tags"}, true},
		{[]string{"*"}, itemInfoSettable, true},
		{[]string{"name"}, nil, true}, // only output-only fields: nothing to write
		{nil, nil, false},
		{[]string{""}, nil, false},
		{[]string{"extent.xmin", "extent.ymax"}, []string{"extent.xmin", "extent.ymax"}, true},
		{[]string{"extent.xmax", "extent"}, []string{"extent"}, true},
		{[]string{"extent.zmin"}, nil, false},
		{[]string{"extent."}, nil, false},
		{[]string{"title.x"}, nil, false},
		{[]string{"type"}, nil, false},
		{[]string{"catalogPath"}, nil, false},
	} {
		got, err := itemInfoMask(tc.in)
		if (err == nil) != tc.ok || strings.Join(got, ",") != strings.Join(tc.want, ",") {
			t.Errorf("itemInfoMask(%q) = %q, %v", tc.in, got, err)
		}
		if err != nil {
			wantFieldError(t, err, "update_mask")
		}
	}
}

func TestItemInfoFieldValidation(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		path  string
		in    *adminv1.ItemInfo
		field string // "" when valid
	}{
		{"tags", &adminv1.ItemInfo{Tags: []string{"a", "b c"}}, ""},
		{"tags", &adminv1.ItemInfo{}, ""},
		{"tags", &adminv1.ItemInfo{Tags: []string{"a", "b,c"}}, "item_info.tags[1]"},
		{"tags", &adminv1.ItemInfo{Tags: []string{""}}, "item_info.tags[0]"},
		{"tags", &adminv1.ItemInfo{Tags: []string{" a"}}, "item_info.tags[0]"},
		{"type_keywords", &adminv1.ItemInfo{TypeKeywords: []string{"x", "y,"}}, "item_info.type_keywords[1]"},
		{"culture", &adminv1.ItemInfo{Culture: "en-US"}, ""},
		{"culture", &adminv1.ItemInfo{Culture: "zh-Hant-TW"}, ""},
		{"culture", &adminv1.ItemInfo{Culture: "en_GB"}, ""},
		{"culture", &adminv1.ItemInfo{Culture: ""}, ""},
		{"culture", &adminv1.ItemInfo{Culture: "en US"}, "item_info.culture"},
		{"culture", &adminv1.ItemInfo{Culture: "-en"}, "item_info.culture"},
		{"culture", &adminv1.ItemInfo{Culture: "1en"}, "item_info.culture"},
		{"culture", &adminv1.ItemInfo{Culture: "en--US"}, "item_info.culture"},
		{"url", &adminv1.ItemInfo{Url: "https://host/arcgis/rest/services/A/MapServer"}, ""},
		{"url", &adminv1.ItemInfo{Url: "javascript:alert(1)"}, "item_info.url"},
		{"url", &adminv1.ItemInfo{Url: "/relative"}, "item_info.url"},
		{"url", &adminv1.ItemInfo{Url: "https://user:pw@host/"}, "item_info.url"},
		{"url", &adminv1.ItemInfo{Url: "HTTP://Host:6080/arcgis/services/x/?a=b#c"}, ""},
		{"url", &adminv1.ItemInfo{Url: "http://[::1]:8080/x"}, ""},
		{"url", &adminv1.ItemInfo{Url: "http://server/arcgis/services/sanfrancisco_museums/"}, ""},
		{"url", &adminv1.ItemInfo{Url: "http://:80/"}, "item_info.url"},
		{"url", &adminv1.ItemInfo{Url: "http:///x"}, "item_info.url"},
		{"url", &adminv1.ItemInfo{Url: "http://host/a b"}, "item_info.url"},
		{"url", &adminv1.ItemInfo{Url: "ftp://host/"}, "item_info.url"},
		{"url", &adminv1.ItemInfo{Url: "https://"}, "item_info.url"},
		{"extent", &adminv1.ItemInfo{}, ""},
		{"extent", &adminv1.ItemInfo{Extent: &adminv1.Envelope{Xmin: -1, Ymin: -1, Xmax: 1, Ymax: 1}}, ""},
		{"extent", &adminv1.ItemInfo{Extent: &adminv1.Envelope{Xmin: math.NaN()}}, "item_info.extent.xmin"},
		{"extent", &adminv1.ItemInfo{Extent: &adminv1.Envelope{Ymax: math.Inf(1)}}, "item_info.extent.ymax"},
		{"extent", &adminv1.ItemInfo{Extent: &adminv1.Envelope{Xmin: 2, Xmax: 1}}, "item_info.extent.xmin"},
		{"extent", &adminv1.ItemInfo{Extent: &adminv1.Envelope{Ymin: 2, Ymax: 1}}, "item_info.extent.ymin"},
		{"title", &adminv1.ItemInfo{Title: "<b>anything</b>, really"}, ""},
	} {
		var dst upstream.ItemInfo
		err := itemInfoFields[tc.path](&dst, tc.in)
		if tc.field == "" {
			if err != nil {
				t.Errorf("%s %v: %v", tc.path, tc.in, err)
			}
			continue
		}
		wantFieldError(t, err, tc.field)
	}
	// Valid values are copied.
	var dst upstream.ItemInfo
	src := &adminv1.ItemInfo{Tags: []string{"a"}, Extent: &adminv1.Envelope{Xmin: 1, Ymin: 2, Xmax: 3, Ymax: 4}, Url: "http://x/"}
	for _, p := range []string{"tags", "extent", "url"} {
		if err := itemInfoFields[p](&dst, src); err != nil {
			t.Fatal(err)
		}
	}
	if dst.Tags[0] != "a" || *dst.Extent != (upstream.Extent{XMin: 1, YMin: 2, XMax: 3, YMax: 4}) || dst.URL != "http://x/" {
		t.Errorf("copied %+v", dst)
	}
	src.Tags[0] = "changed"
	if dst.Tags[0] != "a" {
		t.Error("tags share the request's slice")
	}
}

func TestItemInfoExtentCoordinates(t *testing.T) {
	t.Parallel()
	src := &adminv1.ItemInfo{Extent: &adminv1.Envelope{Xmin: -5, Ymin: -6, Xmax: 7, Ymax: 8}}
	// Onto an existing extent: only the named coordinate changes.
	dst := upstream.ItemInfo{Extent: &upstream.Extent{XMin: 1, YMin: 2, XMax: 3, YMax: 4}}
	old := dst.Extent
	if err := itemInfoField("extent.xmax")(&dst, src); err != nil {
		t.Fatal(err)
	}
	if *dst.Extent != (upstream.Extent{XMin: 1, YMin: 2, XMax: 7, YMax: 4}) || *old != (upstream.Extent{XMin: 1, YMin: 2, XMax: 3, YMax: 4}) {
		t.Fatalf("extent.xmax gave %+v (old %+v)", *dst.Extent, *old)
	}
	// Onto no extent: the others are zero, and the order check catches a
	// minimum above the implied maximum.
	var none upstream.ItemInfo
	if err := itemInfoField("extent.ymin")(&none, &adminv1.ItemInfo{Extent: &adminv1.Envelope{Ymin: 3}}); err != nil {
		t.Fatal(err)
	}
	wantFieldError(t, checkExtentOrder(none.Extent), "item_info.extent.ymin")
	// A missing extent in the request reads as zero; a non-finite value is refused.
	if err := itemInfoField("extent.xmin")(&dst, &adminv1.ItemInfo{}); err != nil || dst.Extent.XMin != 0 {
		t.Fatalf("extent.xmin from nothing: %+v, %v", dst.Extent, err)
	}
	wantFieldError(t, itemInfoField("extent.ymax")(&dst, &adminv1.ItemInfo{Extent: &adminv1.Envelope{Ymax: math.Inf(-1)}}), "item_info.extent.ymax")
	if itemInfoField("extent.zmin") != nil || itemInfoField("tags.x") != nil {
		t.Fatal("unknown paths have appliers")
	}
}

func TestSniffImage(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		data     string
		ct, ext  string
		download string
	}{
		{"\x89PNG\r\n\x1a\n....", "image/png", "png", "image/png"},
		{"\xff\xd8\xff\xe0....", "image/jpeg", "jpg", "image/jpeg"},
		{"GIF87a....", "image/gif", "gif", "image/gif"},
		{"GIF89a....", "image/gif", "gif", "image/gif"},
		{"RIFF\x00\x00\x00\x00WEBPVP", "", "", "image/webp"},
		{"BM....", "", "", "image/bmp"},
		{"\x00\x00\x01\x00\x01\x00", "", "", "image/x-icon"},
		{"RIFF\x00\x00\x00\x00WAVE", "", "", "application/octet-stream"},
		{"<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>", "", "", "application/octet-stream"},
		{"<html><body>login</body></html>", "", "", "application/octet-stream"},
		{"\x89PNG", "", "", "application/octet-stream"},
		{"", "", "", "application/octet-stream"},
	} {
		ct, ext, ok := sniffImage([]byte(tc.data))
		if ct != tc.ct || ext != tc.ext || ok != (tc.ct != "") {
			t.Errorf("sniffImage(%q) = %q %q %v", tc.data, ct, ext, ok)
		}
		if got := downloadContentType([]byte(tc.data)); got != tc.download {
			t.Errorf("downloadContentType(%q) = %q, want %q", tc.data, got, tc.download)
		}
	}
}

func TestCheckThumbnailType(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		declared, sniffed string
		ok                bool
	}{
		{"", "image/png", true},
		{"image/png", "image/png", true},
		{"IMAGE/PNG; charset=binary", "image/png", true},
		{"image/jpg", "image/jpeg", true},
		{"image/png", "image/gif", false},
		{"text/plain", "image/png", false},
		{"not a type;;", "image/png", false},
	} {
		if why := checkThumbnailType(tc.declared, tc.sniffed); (why == "") != tc.ok {
			t.Errorf("checkThumbnailType(%q, %q) = %q", tc.declared, tc.sniffed, why)
		}
	}
}

func TestTruncateRunes(t *testing.T) {
	t.Parallel()
	if got := truncateRunes("héllo", 2); got != "h..." {
		t.Errorf("truncateRunes = %q", got)
	}
	if got := truncateRunes("abc", 3); got != "abc" {
		t.Errorf("truncateRunes = %q", got)
	}
}

// FuzzItemInfoNames: the name parsers never panic, accept only names that
// format back to themselves, and refuse with INVALID_ARGUMENT naming the
// field.
func FuzzItemInfoNames(f *testing.F) {
	for _, s := range []string{
		"services/SampleWorldCities.MapServer/itemInfo",
		"folders/Maps/services/Roads.MapServer/itemInfo/thumbnail",
		"services/../itemInfo", "folders//services/a.MapServer/itemInfo", "services/a.b.MapServer/itemInfo/thumbnail",
		"services/\xff.MapServer/itemInfo",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		for _, tc := range []struct {
			parse  func(string, string) (serviceRef, error)
			format func(serviceRef) string
		}{{parseItemInfoName, itemInfoName}, {parseThumbnailName, thumbnailName}} {
			ref, err := tc.parse("name", name)
			if err != nil {
				if st, _ := status.FromError(err); st.Code() != codes.InvalidArgument || !strings.HasPrefix(st.Message(), "name: ") {
					t.Fatalf("%q: %v", name, err)
				}
				continue
			}
			if tc.format(ref) != name {
				t.Fatalf("%q parsed to %v which formats as %q", name, ref, tc.format(ref))
			}
		}
	})
}

// FuzzItemInfoFieldChecks: the value validators never panic, refuse with
// INVALID_ARGUMENT and a BadRequest, and what they accept round-trips
// through upstream's item info JSON unchanged, whichever form upstream
// used.
func FuzzItemInfoFieldChecks(f *testing.F) {
	f.Add("en-US", "http://server/arcgis/services/sanfrancisco_museums/", "San Francisco", "Map Service")
	f.Add("zh-Hant-TW", "https://h/", "a,b", " x ")
	f.Add("", "", "", "")
	f.Fuzz(func(t *testing.T, culture, link, tag1, tag2 string) {
		for _, s := range []string{culture, link, tag1, tag2} {
			if !utf8.ValidString(s) {
				return // protobuf refuses such strings before a handler runs
			}
		}
		src := &adminv1.ItemInfo{Culture: culture, Url: link, Tags: []string{tag1, tag2}, TypeKeywords: []string{tag2}}
		var dst upstream.ItemInfo
		for _, p := range []string{"culture", "url", "tags", "type_keywords"} {
			if err := itemInfoFields[p](&dst, src); err != nil {
				st, _ := status.FromError(err)
				if st.Code() != codes.InvalidArgument || !strings.HasPrefix(st.Message(), "item_info."+p) {
					t.Fatalf("%s: %v", p, err)
				}
				return
			}
		}
		for _, raw := range []string{`{}`, `{"tags":"x","typekeywords":"y","Culture":"z","URL":"u"}`, `{"tags":["x"]}`} {
			cur := decodeItemInfo(t, raw)
			cur.Culture, cur.URL, cur.Tags, cur.TypeKeywords = dst.Culture, dst.URL, dst.Tags, dst.TypeKeywords
			b, err := json.Marshal(cur)
			if err != nil {
				t.Fatal(err)
			}
			got := itemInfoFromUpstream(serviceRef{Name: "A", Type: "MapServer"}, decodeItemInfo(t, string(b)))
			want := &adminv1.ItemInfo{Name: got.GetName(), Culture: culture, Url: link, Tags: src.GetTags(), TypeKeywords: src.GetTypeKeywords()}
			if diff := cmp.Diff(want, got, protocmp.Transform(), ignoreEtags); diff != "" {
				t.Fatalf("accepted values do not round-trip through %s (sent %s) (-want +got):\n%s", raw, b, diff)
			}
		}
	})
}
