package upstream_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"math"
	"mime"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/arcgate/arcgate/upstream"
)

// OLD:editIteminfo — the 10.1 example (docs/upstream.md#recorded-payloads):
// "Culture"/"Text" capitalised, string tags, object extent of numbers.
const itemInfo101JSON = `{
  "Culture": "en-US", "name": "usa", "thumbnail": "thumbnail/image.jpg",
  "guid": "FD09F5FF-4031-49D4-8BD3-B310728C8FF7", "catalogpath": "", "snippet": "", "description": "",
  "summary": "", "title": "usa.mxd", "tags": "", "type": "Service Definition", "Text": "",
  "typekeywords": ["Shapefile Feature Class", "ArcGIS", "Service Definition", ".sd"],
  "documentation": "", "url": "", "datalastmodifiedtime": "",
  "extent": {"xmin": -178.217598362366, "ymin": 18.9247817993163, "xmax": -66.9692710360024, "ymax": 71.4071353542713},
  "spatialreference": "Unknown", "accessinformation": "", "licenseinfo": ""
}`

// D:edititeminfo — the current example (docs/upstream.md#recorded-payloads)
// exactly as published: its extent lacks the comma between the corners, so
// it is not JSON.
const itemInfoDocVerbatimJSON = `{"culture": "en-US", "name": "testService", "guid": "FD09F5FF-4031-49D4-88D3-B310728C8FF7", "catalogPath": "",
 "snippet": "Test service", "description": "A test service", "summary": "Test service", "title": "Test Map Service",
 "tags": ["Map Service"], "type": "Map Service", "typeKeywords": ["Data", "Service", "Map Service", "ArcGIS Server"],
 "thumbnail": "thumbnail/thumbnail.png", "url": "",
 "extent": [[-178.217598362366, 18.9247817993162] [-66.9692710360024, 71.4071353542713]],
 "minScale": 0, "maxScale": 1.7976931348623157E308, "spatialReference": "WGS_1984_Web_Mercator_Auxiliary_Sphere", "acc...": "(truncated in source)"}`

// itemInfoDocJSON is the D:edititeminfo example with the missing comma
// restored: array tags, camelCase keys, extent as a pair of corners.
var itemInfoDocJSON = strings.Replace(itemInfoDocVerbatimJSON, "] [", "], [", 1)

// REST services-directory iteminfo (docs/upstream.md#recorded-payloads):
// "Summary", string-valued extent.
const itemInfoDirectoryJSON = `{"culture": "en-US", "name": "sanfrancisco_museums", "guid": "2D4D1E57-3613-4288-9221-90C97FB2803B", "catalogpath": "",
 "snippet": "Sample Map containing San Francisco Museum data", "description": "Sample Map containing point of interests in San Francisco (museums)",
 "Summary": "Sample Map containing San Francisco Museum data", "title": "Clustering", "tags": ["San Francisco"], "type": "Map Service",
 "typekeywords": ["Map Service", "ArcGIS Server"], "thumbnail": "thumbnail/thumbnail.png", "url": "http://server/arcgis/services/sanfrancisco_museums/",
 "extent": {"xmin": "-122.515048", "ymin": "37.632528", "xmax": "-122.293731", "ymax": "37.863433"},
 "spatialreference": "GCS_WGS_1984", "accessinformation": "esri", "licenseinfo": "This is a test service."}`

// typed returns the modelled fields of i (what Raw returns cleared) for
// comparisons.
func typed(i *upstream.ItemInfo) upstream.ItemInfo { return upstream.WithoutSource(*i) }

// itemInfoVariants are the recorded variants and what each decodes to.
var itemInfoVariants = []struct {
	name string
	body string
	want upstream.ItemInfo
}{
	{"10.1 example", itemInfo101JSON, upstream.ItemInfo{
		Title:            "usa.mxd",
		TypeKeywords:     []string{"Shapefile Feature Class", "ArcGIS", "Service Definition", ".sd"},
		Culture:          "en-US",
		GUID:             "FD09F5FF-4031-49D4-8BD3-B310728C8FF7",
		Extent:           &upstream.Extent{XMin: -178.217598362366, YMin: 18.9247817993163, XMax: -66.9692710360024, YMax: 71.4071353542713},
		SpatialReference: "Unknown",
		Thumbnail:        "thumbnail/image.jpg",
	}},
	{"current docs example, comma restored", itemInfoDocJSON, upstream.ItemInfo{
		Title:            "Test Map Service",
		Summary:          "Test service",
		Snippet:          "Test service",
		Description:      "A test service",
		Tags:             []string{"Map Service"},
		TypeKeywords:     []string{"Data", "Service", "Map Service", "ArcGIS Server"},
		Culture:          "en-US",
		GUID:             "FD09F5FF-4031-49D4-88D3-B310728C8FF7",
		Extent:           &upstream.Extent{XMin: -178.217598362366, YMin: 18.9247817993162, XMax: -66.9692710360024, YMax: 71.4071353542713},
		SpatialReference: "WGS_1984_Web_Mercator_Auxiliary_Sphere",
		Thumbnail:        "thumbnail/thumbnail.png",
	}},
	{"services directory", itemInfoDirectoryJSON, upstream.ItemInfo{
		Title:             "Clustering",
		Summary:           "Sample Map containing San Francisco Museum data",
		Snippet:           "Sample Map containing San Francisco Museum data",
		Description:       "Sample Map containing point of interests in San Francisco (museums)",
		Tags:              []string{"San Francisco"},
		TypeKeywords:      []string{"Map Service", "ArcGIS Server"},
		Culture:           "en-US",
		GUID:              "2D4D1E57-3613-4288-9221-90C97FB2803B",
		AccessInformation: "esri",
		LicenseInfo:       "This is a test service.",
		URL:               "http://server/arcgis/services/sanfrancisco_museums/",
		Extent:            &upstream.Extent{XMin: -122.515048, YMin: 37.632528, XMax: -122.293731, YMax: 37.863433},
		SpatialReference:  "GCS_WGS_1984",
		Thumbnail:         "thumbnail/thumbnail.png",
	}},
}

func TestItemInfo_GetVariants(t *testing.T) {
	t.Parallel()
	for _, tt := range itemInfoVariants {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, mux := setupStatic(t)
			mux.HandleFunc("/services/Maps/Parcels.MapServer/iteminfo", func(w http.ResponseWriter, r *http.Request) {
				testGET(t, r, authed(testToken, nil))
				writeBody(w, tt.body)
			})
			got, err := c.ItemInfo.Get(context.Background(), upstream.ServiceRef{Folder: "Maps", Name: "Parcels", Type: "MapServer"})
			if err != nil {
				t.Fatalf("Get: %v", err)
			}
			if !reflect.DeepEqual(typed(got), tt.want) {
				t.Errorf("Get =\n%+v\nwant\n%+v", typed(got), tt.want)
			}
			var all map[string]json.RawMessage
			if err := json.Unmarshal([]byte(tt.body), &all); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got.Raw(), all) {
				t.Errorf("Raw does not hold every received key:\n%v\nwant\n%v", got.Raw(), all)
			}
		})
	}
}

// TestItemInfo_BrokenDocExample documents the choice made for the published
// D:edititeminfo example: its extent is missing a comma, which makes the
// whole document invalid JSON. A real server (whose JSON library rejects
// it on edit) never serves that, so the client does not repair it: it is a
// decode error like any other body that is not JSON.
func TestItemInfo_BrokenDocExample(t *testing.T) {
	t.Parallel()
	c, mux := setupStatic(t)
	mux.HandleFunc("/services/SampleWorldCities.MapServer/iteminfo", func(w http.ResponseWriter, r *http.Request) {
		writeBody(w, itemInfoDocVerbatimJSON)
	})
	_, err := c.ItemInfo.Get(context.Background(), upstream.ServiceRef{Name: "SampleWorldCities", Type: "MapServer"})
	if e := asError(t, err); e.Kind != upstream.KindDecode {
		t.Fatalf("Kind = %v, want decode: %v", e.Kind, err)
	}
}

// TestItemInfo_Shapes decodes the same item written in every shape
// docs/upstream.md#item-info records (key case, tags and extent forms) and
// expects one result.
func TestItemInfo_Shapes(t *testing.T) {
	t.Parallel()
	want := upstream.ItemInfo{
		Title: "Roads", Summary: "All roads", Tags: []string{"roads", "transport"},
		TypeKeywords: []string{"Map Service"}, Culture: "en-US",
		AccessInformation: "City GIS", LicenseInfo: "Internal use",
		Extent:           &upstream.Extent{XMin: -1.5, YMin: 2, XMax: 3.25, YMax: 4},
		SpatialReference: "GCS_WGS_1984",
	}
	for _, body := range []string{
		// admin schema: lower-case keys, string tags
		`{"title":"Roads","summary":"All roads","tags":"roads, transport","typekeywords":["Map Service"],"culture":"en-US",
		  "accessinformation":"City GIS","licenseinfo":"Internal use","extent":{"xmin":-1.5,"ymin":2,"xmax":3.25,"ymax":4},
		  "spatialreference":"GCS_WGS_1984"}`,
		// 10.1: capitalised Culture, tags string without spaces
		`{"title":"Roads","summary":"All roads","tags":"roads,transport,","typekeywords":["Map Service"],"Culture":"en-US",
		  "accessinformation":"City GIS","licenseinfo":"Internal use","extent":{"xmin":-1.5,"ymin":2.0,"xmax":3.25,"ymax":4},
		  "spatialreference":"GCS_WGS_1984"}`,
		// current docs: camelCase, array tags, corner pairs
		`{"title":"Roads","summary":"All roads","tags":["roads","transport"],"typeKeywords":["Map Service"],"culture":"en-US",
		  "accessInformation":"City GIS","licenseInfo":"Internal use","extent":[[-1.5,2],[3.25,4]],
		  "spatialReference":"GCS_WGS_1984"}`,
		// services directory: "Summary", numeric strings in the extent, upper-case coordinate keys
		`{"title":"Roads","Summary":"All roads","tags":[" roads ","transport",""],"typekeywords":"Map Service","culture":"en-US",
		  "accessinformation":"City GIS","licenseinfo":"Internal use","extent":{"XMIN":"-1.5","ymin":"2","xmax":"3.25","ymax":" 4 "},
		  "spatialreference":"GCS_WGS_1984"}`,
	} {
		var got upstream.ItemInfo
		if err := json.Unmarshal([]byte(body), &got); err != nil {
			t.Fatalf("Unmarshal(%s): %v", body, err)
		}
		if !reflect.DeepEqual(typed(&got), want) {
			t.Errorf("%s\ndecoded to %+v\nwant %+v", body, typed(&got), want)
		}
	}
}

func TestItemInfo_Extents(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		extent string
		want   *upstream.Extent
	}{
		{`{"xmin":1,"ymin":2,"xmax":3,"ymax":4}`, &upstream.Extent{XMin: 1, YMin: 2, XMax: 3, YMax: 4}},
		{`{"xmin":"1","ymin":"2e0","xmax":3,"ymax":"4.0","spatialReference":{"wkid":4326}}`, &upstream.Extent{XMin: 1, YMin: 2, XMax: 3, YMax: 4}},
		{`[[1,2],[3,4]]`, &upstream.Extent{XMin: 1, YMin: 2, XMax: 3, YMax: 4}},
		{`[["1","2"],["3","4"]]`, &upstream.Extent{XMin: 1, YMin: 2, XMax: 3, YMax: 4}},
		{`{"xmin":1,"ymin":2,"xmax":3}`, nil},
		{`{"xmin":1,"ymin":2,"xmax":3,"ymax":null}`, nil},
		{`{"xmin":1,"ymin":2,"xmax":3,"ymax":""}`, nil},
		{`{"xmin":1,"ymin":2,"xmax":3,"ymax":"NaN"}`, nil},
		{`{"xmin":1,"ymin":2,"xmax":3,"ymax":1e999}`, nil},
		{`[[1,2],[3]]`, nil},
		{`[[1,2],[3,4],[5,6]]`, nil},
		{`[1,2,3,4]`, nil},
		{`[[1,null],[3,4]]`, nil},
		{`""`, nil},
		{`null`, nil},
		{`{}`, nil},
		{`"1,2,3,4"`, nil},
	} {
		var got upstream.ItemInfo
		if err := json.Unmarshal([]byte(`{"extent":`+tt.extent+`}`), &got); err != nil {
			t.Fatalf("%s: %v", tt.extent, err)
		}
		if !reflect.DeepEqual(got.Extent, tt.want) {
			t.Errorf("extent %s = %+v, want %+v", tt.extent, got.Extent, tt.want)
		}
	}
}

func TestItemInfo_NotAnObject(t *testing.T) {
	t.Parallel()
	for _, body := range []string{`[]`, `"x"`, `1`, `{`} {
		var got upstream.ItemInfo
		if err := json.Unmarshal([]byte(body), &got); err == nil {
			t.Errorf("Unmarshal(%s) succeeded", body)
		}
	}
	var got upstream.ItemInfo
	if err := json.Unmarshal([]byte(`null`), &got); err != nil || got.Title != "" {
		t.Errorf("Unmarshal(null) = %+v, %v", got, err)
	}
}

// decodeObject decodes a JSON object into raw values.
func decodeObject(t *testing.T, s string) map[string]json.RawMessage {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		t.Fatalf("not a JSON object: %v\n%s", err, s)
	}
	return m
}

// compact returns the compact form of a JSON text.
func compact(t *testing.T, raw []byte) string {
	t.Helper()
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		t.Fatalf("compact %s: %v", raw, err)
	}
	return b.String()
}

func TestItemInfo_MarshalWritesOnlyChanges(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name   string
		in     string
		change func(*upstream.ItemInfo)
		want   map[string]string // key → compact JSON value; "" = key absent
	}{
		{"unchanged keeps every byte", itemInfoDirectoryJSON, func(*upstream.ItemInfo) {}, map[string]string{
			"Summary": `"Sample Map containing San Francisco Museum data"`,
			"extent":  `{"xmin":"-122.515048","ymin":"37.632528","xmax":"-122.293731","ymax":"37.863433"}`,
			"summary": "",
		}},
		{"changed text keeps the received spelling", itemInfoDirectoryJSON, func(i *upstream.ItemInfo) {
			i.Summary, i.Culture = "new summary", "fr-FR"
		}, map[string]string{"Summary": `"new summary"`, "summary": "", "culture": `"fr-FR"`, "title": `"Clustering"`}},
		{"10.1 capitalised Culture", itemInfo101JSON, func(i *upstream.ItemInfo) { i.Culture = "de-DE" },
			map[string]string{"Culture": `"de-DE"`, "culture": "", "Text": `""`}},
		{"string tags stay a string", itemInfo101JSON, func(i *upstream.ItemInfo) { i.Tags = []string{"usa", "states"} },
			map[string]string{"tags": `"usa,states"`}},
		{"array tags stay an array", itemInfoDirectoryJSON, func(i *upstream.ItemInfo) { i.Tags = nil },
			map[string]string{"tags": `[]`}},
		{"absent fields use the current docs' spelling", `{"name":"x"}`, func(i *upstream.ItemInfo) {
			i.TypeKeywords, i.LicenseInfo, i.AccessInformation = []string{"A"}, "lic", "credits"
			i.Tags, i.SpatialReference = []string{"t"}, "Unknown"
			i.Extent = &upstream.Extent{XMin: 1, YMin: 2, XMax: 3, YMax: 4}
		}, map[string]string{
			"name": `"x"`, "typeKeywords": `["A"]`, "licenseInfo": `"lic"`, "accessInformation": `"credits"`,
			"tags": `["t"]`, "spatialReference": `"Unknown"`, "extent": `{"xmax":3,"xmin":1,"ymax":4,"ymin":2}`,
			"title": "", "thumbnail": "",
		}},
		{"corner pairs stay pairs", itemInfoDocJSON, func(i *upstream.ItemInfo) {
			i.Extent = &upstream.Extent{XMin: -1, YMin: -2, XMax: 1, YMax: 2.5}
		}, map[string]string{"extent": `[[-1,-2],[1,2.5]]`, "maxScale": `1.7976931348623157E308`, "acc...": `"(truncated in source)"`}},
		{"string coordinates stay strings, other extent keys kept", `{"extent":{"XMin":"1","ymin":2,"xmax":"3","ymax":4,"spatialReference":{"wkid":4326}}}`,
			func(i *upstream.ItemInfo) { i.Extent.XMin = 0.5 },
			map[string]string{"extent": `{"XMin":"0.5","spatialReference":{"wkid":4326},"xmax":"3","ymax":4,"ymin":2}`}},
		{"cleared extent is removed", itemInfo101JSON, func(i *upstream.ItemInfo) { i.Extent = nil },
			map[string]string{"extent": "", "spatialreference": `"Unknown"`}},
		{"every spelling of a changed key is written", `{"Summary":"a","summary":"a","title":"t"}`,
			func(i *upstream.ItemInfo) { i.Summary = "b" }, map[string]string{"Summary": `"b"`, "summary": `"b"`}},
		{"unreadable extent left alone", `{"extent":"somewhere"}`, func(*upstream.ItemInfo) {},
			map[string]string{"extent": `"somewhere"`}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var info upstream.ItemInfo
			if err := json.Unmarshal([]byte(tt.in), &info); err != nil {
				t.Fatal(err)
			}
			in := decodeObject(t, tt.in)
			tt.change(&info)
			b, err := json.Marshal(info)
			if err != nil {
				t.Fatal(err)
			}
			out := decodeObject(t, string(b))
			for k, want := range tt.want {
				got, ok := out[k]
				switch {
				case want == "" && ok:
					t.Errorf("key %q = %s, want it absent", k, got)
				case want != "" && !ok:
					t.Errorf("key %q absent, want %s", k, want)
				case want != "" && compact(t, got) != want:
					t.Errorf("key %q = %s, want %s", k, compact(t, got), want)
				}
			}
			// Every received key not named in want and not modelled is unchanged.
			for k, v := range in {
				if _, named := tt.want[k]; named {
					continue
				}
				if got, ok := out[k]; ok && !bytes.Equal(got, v) && compact(t, got) != compact(t, v) {
					if _, modelled := modelledKeys[strings.ToLower(k)]; !modelled {
						t.Errorf("unmodelled key %q changed: %s -> %s", k, v, got)
					}
				}
				if _, ok := out[k]; !ok && k != "extent" {
					t.Errorf("key %q lost", k)
				}
			}
		})
	}
}

// TestItemInfo_TagForms round-trips tags in each form servers keep them:
// a comma-separated string, a list, and a list holding one comma-separated
// string. Reading splits each into the same tags; writing them back
// unchanged keeps upstream's bytes; writing other tags keeps upstream's form.
func TestItemInfo_TagForms(t *testing.T) {
	t.Parallel()
	read := []string{"Local Government", "Public Safety", "Addresses"}
	for _, tc := range []struct {
		name    string
		tags    string // as upstream keeps them
		changed string // upstream's form of the tags "Roads", "Bridges"
		cleared string // upstream's form of no tags
	}{
		{"string", `"Local Government, Public Safety,Addresses,"`, `"Roads,Bridges"`, `""`},
		{"list", `["Local Government","Public Safety"," Addresses"]`, `["Roads","Bridges"]`, `[]`},
		{"list of one comma-separated string", `["Local Government,Public Safety,Addresses"]`, `["Roads,Bridges"]`, `[]`},
		{"list of one comma-separated string with spaces", `[" Local Government , Public Safety,,Addresses "]`, `["Roads,Bridges"]`, `[]`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := `{"title":"Streets","tags":` + tc.tags + `,"typeKeywords":["Map Service"]}`
			var info upstream.ItemInfo
			if err := json.Unmarshal([]byte(in), &info); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(info.Tags, read) {
				t.Fatalf("tags %s read as %q, want %q", tc.tags, info.Tags, read)
			}
			for _, step := range []struct {
				name string
				tags []string
				want string
			}{
				{"written back as read", slices.Clone(read), tc.tags},
				{"changed", []string{"Roads", "Bridges"}, tc.changed},
				{"cleared", nil, tc.cleared},
			} {
				info.Tags = step.tags
				b, err := json.Marshal(info)
				if err != nil {
					t.Fatal(err)
				}
				out := decodeObject(t, string(b))
				if got := string(out["tags"]); got != step.want {
					t.Errorf("%s: tags written as %s, want %s", step.name, got, step.want)
				}
				var again upstream.ItemInfo
				if err := json.Unmarshal(b, &again); err != nil || !slices.Equal(again.Tags, step.tags) {
					t.Errorf("%s: %s read back as %q, want %q (%v)", step.name, out["tags"], again.Tags, step.tags, err)
				}
			}
		})
	}
}

var modelledKeys = map[string]bool{
	"title": true, "summary": true, "snippet": true, "description": true, "tags": true, "typekeywords": true,
	"culture": true, "guid": true, "accessinformation": true, "licenseinfo": true, "documentation": true,
	"url": true, "extent": true, "spatialreference": true, "thumbnail": true,
}

func TestItemInfo_EditURLEncoded(t *testing.T) {
	t.Parallel()
	c, mux := setupStatic(t)
	ref := upstream.ServiceRef{Folder: "Maps", Name: "Parcels", Type: "MapServer"}
	mux.HandleFunc("/services/Maps/Parcels.MapServer/iteminfo", func(w http.ResponseWriter, r *http.Request) {
		writeBody(w, itemInfo101JSON)
	})
	var sent string
	mux.HandleFunc("/services/Maps/Parcels.MapServer/iteminfo/edit", func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil {
			t.Fatal(err)
		}
		sent = r.PostForm.Get("serviceItemInfo")
		testPOST(t, r, authed(testToken, url.Values{"serviceItemInfo": {sent}}))
		writeBody(w, `{"status":"success"}`)
	})
	info, err := c.ItemInfo.Get(context.Background(), ref)
	if err != nil {
		t.Fatal(err)
	}
	info.Title = "USA"
	info.Tags = []string{"usa"}
	if err := c.ItemInfo.Edit(context.Background(), ref, info, nil); err != nil {
		t.Fatalf("Edit: %v", err)
	}
	got := decodeObject(t, sent)
	want := decodeObject(t, itemInfo101JSON)
	want["title"] = json.RawMessage(`"USA"`)
	want["tags"] = json.RawMessage(`"usa"`)
	if len(got) != len(want) {
		t.Fatalf("sent %d keys, want %d: %s", len(got), len(want), sent)
	}
	for k, v := range want {
		if compact(t, got[k]) != compact(t, v) {
			t.Errorf("sent %q = %s, want %s", k, got[k], v)
		}
	}
	if info.Thumbnail != "thumbnail/image.jpg" {
		t.Errorf("Edit modified its argument: thumbnail %q", info.Thumbnail)
	}
}

// pngBytes is the start of a PNG file (signature and IHDR chunk header).
var pngBytes = []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89")

func TestItemInfo_EditMultipart(t *testing.T) {
	t.Parallel()
	c, mux := setupStatic(t)
	ref := upstream.ServiceRef{Name: "SampleWorldCities", Type: "MapServer"}
	mux.HandleFunc("/services/SampleWorldCities.MapServer/iteminfo/edit", func(w http.ResponseWriter, r *http.Request) {
		testMethod(t, r, http.MethodPost)
		if r.URL.RawQuery != "" {
			t.Errorf("multipart POST URL has a query string; the token belongs in the body")
		}
		mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
		if err != nil || mt != "multipart/form-data" {
			t.Fatalf("Content-Type %q, want multipart/form-data", r.Header.Get("Content-Type"))
		}
		if err := r.ParseMultipartForm(1 << 20); err != nil {
			t.Fatal(err)
		}
		info := r.MultipartForm.Value["serviceItemInfo"]
		if got := r.MultipartForm.Value["token"]; len(got) != 1 || got[0] != testToken {
			t.Errorf("token field = %v", got)
		}
		if got := r.MultipartForm.Value["f"]; len(got) != 1 || got[0] != "json" {
			t.Errorf("f field = %v", got)
		}
		if len(info) != 1 {
			t.Fatalf("serviceItemInfo = %v", info)
		}
		m := decodeObject(t, info[0])
		if compact(t, m["thumbnail"]) != `"thumbnail/thumb.png"` || compact(t, m["title"]) != `"Test Map Service"` ||
			compact(t, m["maxScale"]) != `1.7976931348623157E308` {
			t.Errorf("serviceItemInfo = %s", info[0])
		}
		files := r.MultipartForm.File["thumbnail"]
		if len(files) != 1 || files[0].Filename != "thumb.png" || files[0].Header.Get("Content-Type") != "image/png" {
			t.Fatalf("thumbnail part = %+v", files)
		}
		f, err := files[0].Open()
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		data, _ := io.ReadAll(f)
		if !bytes.Equal(data, pngBytes) {
			t.Errorf("thumbnail data = %q", data)
		}
		if len(r.MultipartForm.File) != 1 || len(r.MultipartForm.Value) != 3 {
			t.Errorf("unexpected parts: %v %v", r.MultipartForm.Value, r.MultipartForm.File)
		}
		writeBody(w, `{"status":"success"}`)
	})
	var info upstream.ItemInfo
	if err := json.Unmarshal([]byte(itemInfoDocJSON), &info); err != nil {
		t.Fatal(err)
	}
	thumb := &upstream.Thumbnail{Name: "thumb.png", ContentType: "image/png", Data: pngBytes}
	if err := c.ItemInfo.Edit(context.Background(), ref, &info, thumb); err != nil {
		t.Fatalf("Edit: %v", err)
	}
	if info.Thumbnail != "thumbnail/thumbnail.png" {
		t.Errorf("Edit modified its argument: thumbnail %q", info.Thumbnail)
	}
}

func TestItemInfo_EditError(t *testing.T) {
	t.Parallel()
	c, mux := setupStatic(t)
	mux.HandleFunc("/services/Nope.MapServer/iteminfo/edit", func(w http.ResponseWriter, r *http.Request) {
		writeBody(w, `{"status": "error", "messages": ["Could not find resource or operation 'Nope.MapServer' on the system."], "code": 404}`)
	})
	err := c.ItemInfo.Edit(context.Background(), upstream.ServiceRef{Name: "Nope", Type: "MapServer"}, &upstream.ItemInfo{}, nil)
	if !upstream.IsNotFound(err) {
		t.Fatalf("Edit = %v, want not found", err)
	}
}

func TestItemInfo_Thumbnail(t *testing.T) {
	t.Parallel()
	c, mux := setupStatic(t)
	mux.HandleFunc("/services/Maps/Parcels.MapServer/iteminfo/thumbnail/image.jpg", func(w http.ResponseWriter, r *http.Request) {
		testGET(t, r, authed(testToken, nil))
		w.Header().Set("Content-Type", "image/jpeg")
		_, _ = w.Write([]byte("\xff\xd8\xff\xe0jpeg"))
	})
	mux.HandleFunc("/services/Maps/Parcels.MapServer/iteminfo/thumbnail/a%20b.png", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "image/png")
		_, _ = w.Write(pngBytes)
	})
	mux.HandleFunc("/services/Maps/Parcels.MapServer/iteminfo/thumbnail/missing.png", func(w http.ResponseWriter, r *http.Request) {
		writeBody(w, `{"status": "error", "messages": ["Could not find resource or operation 'missing.png' on the system."], "code": 404}`)
	})
	mux.HandleFunc("/services/Maps/Parcels.MapServer/iteminfo/thumbnail/page.png", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html;charset=UTF-8")
		_, _ = io.WriteString(w, "<html><body>Log in</body></html>")
	})
	mux.HandleFunc("/services/Maps/Parcels.MapServer/iteminfo/thumbnail/json.png", func(w http.ResponseWriter, r *http.Request) {
		writeBody(w, `{"resources":[]}`)
	})
	mux.HandleFunc("/services/Maps/Parcels.MapServer/iteminfo/thumbnail/empty.png", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "image/png")
	})
	mux.HandleFunc("/services/Maps/Parcels.MapServer/iteminfo/thumbnail/gone.png", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "gone", http.StatusGone)
	})
	ref := upstream.ServiceRef{Folder: "Maps", Name: "Parcels", Type: "MapServer"}
	got, err := c.ItemInfo.Thumbnail(context.Background(), ref, "thumbnail/image.jpg")
	if err != nil {
		t.Fatalf("Thumbnail: %v", err)
	}
	if want := (&upstream.Thumbnail{Name: "image.jpg", ContentType: "image/jpeg", Data: []byte("\xff\xd8\xff\xe0jpeg")}); !reflect.DeepEqual(got, want) {
		t.Errorf("Thumbnail = %+v, want %+v", got, want)
	}
	if got, err := c.ItemInfo.Thumbnail(context.Background(), ref, "thumbnail/a b.png"); err != nil || !bytes.Equal(got.Data, pngBytes) || got.Name != "a b.png" {
		t.Errorf("escaped path: %+v, %v", got, err)
	}
	for _, tt := range []struct {
		path string
		kind upstream.Kind
		code int
	}{
		{"thumbnail/missing.png", upstream.KindAPI, 404},
		{"thumbnail/page.png", upstream.KindDecode, 0},
		{"thumbnail/json.png", upstream.KindDecode, 0},
		{"thumbnail/empty.png", upstream.KindDecode, 0},
		{"thumbnail/gone.png", upstream.KindHTTP, 0},
		{"../../security/users", upstream.KindInvalid, 0},
		{"/etc/passwd", upstream.KindInvalid, 0},
	} {
		_, err := c.ItemInfo.Thumbnail(context.Background(), ref, tt.path)
		e := asError(t, err)
		if e.Kind != tt.kind || e.Code != tt.code {
			t.Errorf("Thumbnail(%q): kind %v code %d, want %v %d (%v)", tt.path, e.Kind, e.Code, tt.kind, tt.code, err)
		}
	}
}

func TestCheckThumbnailPath(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		path string
		ok   bool
	}{
		{"thumbnail/image.jpg", true},
		{"thumbnail/thumbnail.png", true},
		{"image.png", true},
		{"thumbnail/a b.png", true},
		{"thumbnail/%2e%2e", true}, // escaped on the wire: a file literally named "%2e%2e"
		{"", false},
		{"/thumbnail/x.png", false},
		{"thumbnail/../x.png", false},
		{"../x.png", false},
		{"thumbnail/./x.png", false},
		{"thumbnail//x.png", false},
		{"thumbnail/", false},
		{`thumbnail\x.png`, false},
		{"C:/x.png", false},
		{"http://evil/x.png", false},
		{"x.png?token=1", false},
		{"x.png#a", false},
		{"x\n.png", false},
		{"x\x7f.png", false},
		{strings.Repeat("a", 1025), false},
	} {
		err := upstream.CheckThumbnailPath(tt.path)
		if (err == nil) != tt.ok {
			t.Errorf("CheckThumbnailPath(%q) = %v, want ok=%v", tt.path, err, tt.ok)
		}
		if err != nil {
			if e := asError(t, err); e.Kind != upstream.KindInvalid {
				t.Errorf("CheckThumbnailPath(%q) kind %v", tt.path, e.Kind)
			}
		}
	}
}

// TestItemInfo_InvalidArguments: nothing is sent (setup fails the test on
// any unexpected request).
func TestItemInfo_InvalidArguments(t *testing.T) {
	t.Parallel()
	c, _ := setupStatic(t)
	ctx := context.Background()
	ok := upstream.ServiceRef{Name: "A", Type: "MapServer"}
	for name, call := range map[string]func() error{
		"get bad ref": func() error {
			_, err := c.ItemInfo.Get(ctx, upstream.ServiceRef{Name: "..", Type: "MapServer"})
			return err
		},
		"edit nil info": func() error { return c.ItemInfo.Edit(ctx, ok, nil, nil) },
		"edit bad ref": func() error {
			return c.ItemInfo.Edit(ctx, upstream.ServiceRef{Type: "MapServer"}, &upstream.ItemInfo{}, nil)
		},
		"thumb name with slash": func() error {
			return c.ItemInfo.Edit(ctx, ok, &upstream.ItemInfo{}, &upstream.Thumbnail{Name: "../x.png", Data: pngBytes})
		},
		"thumb name with quote": func() error {
			return c.ItemInfo.Edit(ctx, ok, &upstream.ItemInfo{}, &upstream.Thumbnail{Name: `x".png`, Data: pngBytes})
		},
		"thumb empty": func() error {
			return c.ItemInfo.Edit(ctx, ok, &upstream.ItemInfo{}, &upstream.Thumbnail{Name: "x.png"})
		},
		"thumbnail bad path": func() error { _, err := c.ItemInfo.Thumbnail(ctx, ok, "a/../b"); return err },
		"thumbnail bad ref": func() error {
			_, err := c.ItemInfo.Thumbnail(ctx, upstream.ServiceRef{Name: "A", Type: "."}, "x.png")
			return err
		},
	} {
		if e := asError(t, call()); e.Kind != upstream.KindInvalid {
			t.Errorf("%s: kind %v, want invalid", name, e.Kind)
		}
	}
}

// FuzzItemInfoJSON checks that decoding never fails on a JSON object,
// that it gives what the encoding/json path gives (the one-pass decoder
// must not differ in anything), and that encoding what was decoded and
// decoding again gives the same typed fields and keeps every unmodelled
// key.
func FuzzItemInfoJSON(f *testing.F) {
	for _, s := range []string{
		itemInfo101JSON, itemInfoDocJSON, itemInfoDocVerbatimJSON, itemInfoDirectoryJSON,
		`{}`, `null`, `{"tags":null,"extent":null}`,
		`{"Tags":"a,,b , c","TYPEKEYWORDS":[1,true,null,{"x":1},["y"]],"extent":[["1","2"],[3,"4e0"]]}`,
		`{"title":{"a":1},"summary":["x"],"culture":12,"guid":true,"url":null}`,
		`{"Summary":"a","summary":"b","SUMMARY":"c"}`,
		`{"extent":{"xmin":"1","XMIN":"2","ymin":3,"xmax":4,"ymax":5,"extra":[]}}`,
		`{"extent":{"xmin":1e308,"ymin":-1e308,"xmax":5e-324,"ymax":0}}`,
		`{"\u212aey":"kelvin","tıtle":"dotless"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		if json.Valid(in) {
			var got upstream.ItemInfo
			err := got.UnmarshalJSON(in)
			want, wantErr := upstream.DecodeItemInfoJSON(in)
			if (err == nil) != (wantErr == nil) || err != nil && err.Error() != wantErr.Error() {
				t.Fatalf("%q: error %v, encoding/json path %v", in, err, wantErr)
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("%q: decoded\n%#v\nencoding/json path\n%#v", in, got, want)
			}
		}
		var info upstream.ItemInfo
		if err := json.Unmarshal(in, &info); err != nil {
			var obj map[string]json.RawMessage
			if json.Unmarshal(in, &obj) == nil {
				t.Fatalf("a JSON object was refused: %v", err)
			}
			return
		}
		out, err := json.Marshal(info)
		if err != nil {
			t.Fatalf("Marshal after a successful Unmarshal of %q: %v", in, err)
		}
		var again upstream.ItemInfo
		if err := json.Unmarshal(out, &again); err != nil {
			t.Fatalf("re-decoding %s: %v", out, err)
		}
		if !reflect.DeepEqual(typed(&info), typed(&again)) {
			t.Fatalf("typed fields changed:\n in  %s\n out %s\n%+v\n%+v", in, out, typed(&info), typed(&again))
		}
		againRaw := again.Raw()
		for k, v := range info.Raw() {
			if !modelledKeys[asciiLowerTest(k)] && !sameJSON(v, againRaw[k]) {
				t.Fatalf("unmodelled key %q changed: %s -> %s", k, v, againRaw[k])
			}
		}
		// A changed field survives a round trip.
		info.Title, info.Tags = "changed", []string{"x", "y"}
		if info.Extent != nil && !math.IsInf(info.Extent.XMin/2, 0) {
			info.Extent.XMin /= 2
		}
		out, err = json.Marshal(info)
		if err != nil {
			t.Fatalf("Marshal of a changed item info: %v", err)
		}
		if err := json.Unmarshal(out, &again); err != nil {
			t.Fatal(err)
		}
		if again.Title != "changed" || !reflect.DeepEqual(again.Tags, []string{"x", "y"}) || !reflect.DeepEqual(again.Extent, info.Extent) {
			t.Fatalf("changes lost: %s", out)
		}
	})
}

// sameJSON reports whether a and b are the same JSON value (numbers
// compared by their text).
func sameJSON(a, b []byte) bool {
	decode := func(b []byte) (any, bool) {
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.UseNumber()
		var v any
		return v, dec.Decode(&v) == nil
	}
	va, okA := decode(a)
	vb, okB := decode(b)
	return okA && okB && reflect.DeepEqual(va, vb)
}

func asciiLowerTest(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// TestItemInfo_SpellingRule checks that a key arriving in several
// spellings, or spelled with a non-ASCII letter that encoding/json's key
// matching would fold onto an ASCII one, decodes by ItemInfo's rule (the
// current docs' spelling, then lower case, then byte order; keys compared
// in ASCII), whichever way UnmarshalJSON decodes.
func TestItemInfo_SpellingRule(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		body         string
		title, summ  string
		typeKeywords []string
	}{
		{`{"title":"t","Summary":"a","summary":"b","SUMMARY":"c"}`, "t", "b", nil},
		{`{"SUMMARY":"c","Summary":"a"}`, "", "c", nil},
		{`{"typekeywords":["low"],"typeKeywords":["docs"],"TypeKeywords":["other"]}`, "", "", []string{"docs"}},
		{`{"tıtle":"dotless","ſummary":"long s"}`, "", "", nil},
		{`{"t\u0131tle":"dotless","\u017Fummary":"long s","typeKeyword\u0073":["escaped ASCII"]}`, "", "", []string{"escaped ASCII"}},
		{`{"type\u212aeywords":["kelvin"],"title":"plain"}`, "plain", "", nil},
		{`{"title":"a","title":"b"}`, "b", "", nil},
	} {
		var got upstream.ItemInfo
		if err := json.Unmarshal([]byte(tt.body), &got); err != nil {
			t.Fatalf("%s: %v", tt.body, err)
		}
		if got.Title != tt.title || got.Summary != tt.summ || !slices.Equal(got.TypeKeywords, tt.typeKeywords) {
			t.Errorf("%s: title %q, summary %q, type keywords %q; want %q, %q, %q",
				tt.body, got.Title, got.Summary, got.TypeKeywords, tt.title, tt.summ, tt.typeKeywords)
		}
	}
}
