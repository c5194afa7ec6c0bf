package simulator_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/textproto"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/arcgate/arcgate/simulator"
)

// compactJSON compacts a JSON text or fails the test.
func compactJSON(t *testing.T, s string) string {
	t.Helper()
	var b bytes.Buffer
	if err := json.Compact(&b, []byte(s)); err != nil {
		t.Fatalf("compact: %v\n%s", err, s)
	}
	return b.String()
}

// gifBytes is a 1x1 GIF.
var gifBytes = []byte("GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;")

// postItemInfo sends a multipart edit with text fields and optional files
// (field → file name → content type, data).
func (e *env) postItemInfo(rel string, fields url.Values, files ...itemUpload) response {
	e.t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for k, vs := range fields {
		for _, v := range vs {
			if err := mw.WriteField(k, v); err != nil {
				e.t.Fatal(err)
			}
		}
	}
	for _, f := range files {
		h := textproto.MIMEHeader{}
		h.Set("Content-Disposition", fmt.Sprintf(`form-data; name=%q; filename=%q`, f.field, f.name))
		h.Set("Content-Type", f.contentType)
		pw, err := mw.CreatePart(h)
		if err != nil {
			e.t.Fatal(err)
		}
		_, _ = pw.Write(f.data)
	}
	if err := mw.Close(); err != nil {
		e.t.Fatal(err)
	}
	req, err := http.NewRequest(http.MethodPost, e.adminURL(rel), &buf)
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Content-Type", mw.FormDataContentType())
	return e.do(req)
}

type itemUpload struct {
	field, name, contentType string
	data                     []byte
}

func TestItemInfoSeededVariants(t *testing.T) {
	e := newEnv(t, simulator.Config{})
	for _, tc := range []struct {
		path   string
		want   map[string]any // a few keys, exactly as recorded
		absent []string       // spellings the variant does not use
	}{
		{"services/SampleWorldCities.MapServer/iteminfo", map[string]any{
			"typeKeywords": []any{"Data", "Service", "Map Service", "ArcGIS Server"}, "catalogPath": "",
			"maxScale": json.Number("1.7976931348623157E308"), "acc...": "(truncated in source)",
			"extent": []any{[]any{json.Number("-178.217598362366"), json.Number("18.9247817993162")},
				[]any{json.Number("-66.9692710360024"), json.Number("71.4071353542713")}},
		}, []string{"typekeywords", "catalogpath"}},
		{"services/Maps/Parcels.MapServer/iteminfo", map[string]any{
			"Culture": "en-US", "Text": "", "tags": "", "typekeywords": []any{"Shapefile Feature Class", "ArcGIS", "Service Definition", ".sd"},
			"thumbnail": "thumbnail/image.jpg",
		}, []string{"culture", "text", "typeKeywords"}},
		{"services/maps/roads.MapServer/itemInfo", map[string]any{ // case-insensitive names, both segment spellings
			"Summary": "Sample Map containing San Francisco Museum data",
			"extent":  map[string]any{"xmin": "-122.515048", "ymin": "37.632528", "xmax": "-122.293731", "ymax": "37.863433"},
		}, []string{"summary"}},
	} {
		t.Run(tc.path, func(t *testing.T) {
			m := e.getJSON(tc.path)
			for k, want := range tc.want {
				if got := m[k]; fmt.Sprint(got) != fmt.Sprint(want) {
					t.Errorf("%s = %#v, want %#v", k, got, want)
				}
			}
			for _, k := range tc.absent {
				if v, ok := m[k]; ok {
					t.Errorf("key %q = %v appeared", k, v)
				}
			}
		})
	}
	// Every seeded document is served byte for byte as recorded (compact).
	r := e.get("services/Maps/Parcels.MapServer/iteminfo", e.authed())
	checkJSONWire(t, r)
	if !strings.HasPrefix(string(r.body), `{"Culture":"en-US","name":"usa","thumbnail":"thumbnail/image.jpg"`) {
		t.Errorf("key order or case not kept: %s", r.body)
	}
}

func TestItemInfoDefault(t *testing.T) {
	e := newEnv(t, simulator.Config{})
	m := e.getJSON("services/System/CachingTools.GPServer/iteminfo")
	if m["title"] != "CachingTools" || m["type"] != "Geoprocessing Service" || m["thumbnail"] != "" ||
		len(m["guid"].(string)) != 36 || m["culture"] != "en-US" {
		t.Fatalf("default item info %v", m)
	}
	again := newEnv(t, simulator.Config{}).getJSON("services/System/CachingTools.GPServer/iteminfo")
	if fmt.Sprint(m) != fmt.Sprint(again) {
		t.Fatalf("default item info differs between instances:\n%v\n%v", m, again)
	}
}

func TestItemInfoThumbnailServed(t *testing.T) {
	e := newEnv(t, simulator.Config{})
	r := e.get("services/SampleWorldCities.MapServer/iteminfo/thumbnail/thumbnail.png", e.authed())
	if r.status != http.StatusOK || r.contentType() != "image/png" || !bytes.HasPrefix(r.body, []byte("\x89PNG\r\n\x1a\n")) {
		t.Fatalf("thumbnail: HTTP %d %q %q", r.status, r.contentType(), r.body)
	}
	// Parcels names thumbnail/image.jpg, which was never uploaded.
	wantError(t, e.getJSON("services/Maps/Parcels.MapServer/iteminfo/thumbnail/image.jpg"), 404,
		"Could not find resource or operation 'image.jpg' on the system.")
	wantCode(t, e.getJSON("services/Maps/Parcels.MapServer/iteminfo/thumbnail"), 404)
	wantCode(t, e.getJSON("services/Maps/Parcels.MapServer/iteminfo/manifest"), 404)
	wantError(t, e.getJSON("services/Maps/Nope.MapServer/iteminfo"), 404,
		"Could not find resource or operation 'Nope.MapServer' on the system.")
	// A token is required.
	r = e.get("services/SampleWorldCities.MapServer/iteminfo/thumbnail/thumbnail.png", url.Values{"f": {"json"}})
	wantCode(t, r.object(t), 499)
}

func TestItemInfoEdit(t *testing.T) {
	e := newEnv(t, simulator.Config{})
	const path = "services/Maps/Parcels.MapServer/iteminfo"
	written := `{"Culture": "fr-FR", "Title": "Parcelles", "tags": "a, b", "extent": [["1", "2"], ["3", "4"]], "Extra": {"k": [1, 2.50]}, "desc": "<b>x</b> & y"}`
	wantSuccess(t, e.postJSON(path+"/edit", "serviceItemInfo", written))
	r := e.get(path, e.authed())
	checkJSONWire(t, r)
	if got, want := string(r.body), compactJSON(t, written); got != want {
		t.Fatalf("stored item info\n%s\nwant exactly what was written\n%s", got, want)
	}
	// The docs' table name for the parameter works too; edit replaces the whole document.
	wantSuccess(t, e.postJSON(path+"/edit", "iteminfo", `{"title":"t"}`))
	if m := e.getJSON(path); len(m) != 1 || m["title"] != "t" {
		t.Fatalf("after second edit %v", m)
	}
	// Multipart without a file, as the Python API does not; with a file in
	// "thumbnail" (current docs) and in "thumbnailFile" (10.1 docs).
	for _, tc := range []struct{ field, name string }{{"thumbnail", "thumb.gif"}, {"thumbnailFile", "old style.gif"}} {
		info := `{"title":"with thumb","thumbnail":"thumbnail/` + tc.name + `"}`
		r := e.postItemInfo(path+"/edit", e.authed("serviceItemInfo", info),
			itemUpload{tc.field, tc.name, "application/octet-stream", gifBytes})
		checkJSONWire(t, r)
		wantSuccess(t, r.object(t))
		if got := e.getJSON(path); got["thumbnail"] != "thumbnail/"+tc.name {
			t.Fatalf("item info after upload %v", got)
		}
		img := e.get(path+"/thumbnail/"+url.PathEscape(tc.name), e.authed())
		if img.status != http.StatusOK || img.contentType() != "image/gif" || !bytes.Equal(img.body, gifBytes) {
			t.Fatalf("uploaded thumbnail: HTTP %d %q %q", img.status, img.contentType(), img.body)
		}
	}
	// The seeded thumbnail of another service is untouched.
	if r := e.get("services/SampleWorldCities.MapServer/iteminfo/thumbnail/thumbnail.png", e.authed()); r.status != http.StatusOK {
		t.Fatalf("other service's thumbnail: %d", r.status)
	}
}

func TestItemInfoEditErrors(t *testing.T) {
	e := newEnv(t, simulator.Config{})
	const edit = "services/Maps/Roads.MapServer/iteminfo/edit"
	before := e.get("services/Maps/Roads.MapServer/iteminfo", e.authed()).body
	for _, tc := range []struct {
		name  string
		value string
		code  int
		msg   string
	}{
		{"missing", "", 500, "java.lang.NullPointerException"},
		{"array", `["a"]`, 500, "A JSONObject text must begin with '{' at character 1"},
		{"truncated", `{"title":`, 500, ""},
		{"trailing", `{"title":"x"} {}`, 500, ""},
		{"doc example as published", `{"extent": [[1, 2] [3, 4]]}`, 500, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var m map[string]any
			if tc.value == "" {
				m = e.postJSON(edit)
			} else {
				m = e.postJSON(edit, "serviceItemInfo", tc.value)
			}
			if tc.msg != "" {
				wantError(t, m, tc.code, tc.msg)
			} else {
				wantCode(t, m, tc.code)
			}
		})
	}
	r := e.postItemInfo(edit, e.authed("serviceItemInfo", `{}`), itemUpload{"thumbnail", "bad\"name.png", "image/png", gifBytes})
	wantError(t, r.object(t), 400, "The thumbnail file name is not valid.")
	wantCode(t, e.getJSON(edit, "serviceItemInfo", `{}`), 405)
	if after := e.get("services/Maps/Roads.MapServer/iteminfo", e.authed()).body; !bytes.Equal(before, after) {
		t.Fatalf("a refused edit changed the item info:\n%s\n%s", before, after)
	}
}

// TestItemInfoLifetime: a service deleted and created again starts with a
// fresh item info, not the old one.
func TestItemInfoLifetime(t *testing.T) {
	e := newEnv(t, simulator.Config{})
	const path = "services/Maps/Addresses.GeocodeServer/iteminfo"
	wantSuccess(t, e.postJSON(path+"/edit", "serviceItemInfo", `{"title":"edited"}`))
	wantSuccess(t, e.postJSON("services/Maps/Addresses.GeocodeServer/delete"))
	wantCode(t, e.getJSON(path), 404)
	wantSuccess(t, e.postJSON("services/Maps/createService", "service", `{"serviceName":"Addresses","type":"GeocodeServer"}`))
	if m := e.getJSON(path); m["title"] != "Addresses" {
		t.Fatalf("recreated service's item info %v", m)
	}
}

func TestItemInfoConcurrent(t *testing.T) {
	e := newEnv(t, simulator.Config{})
	tok := e.sim.IssueToken(0)
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range 20 {
				form := url.Values{"f": {"json"}, "token": {tok}, "serviceItemInfo": {fmt.Sprintf(`{"title":"%d-%d"}`, i, j)}}
				req := httptest.NewRequest(http.MethodPost, e.sim.AdminPath()+"services/Maps/Parcels.MapServer/iteminfo/edit", strings.NewReader(form.Encode()))
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				e.sim.ServeHTTP(httptest.NewRecorder(), req)
				get := httptest.NewRequest(http.MethodGet, e.sim.AdminPath()+"services/Maps/Parcels.MapServer/iteminfo?f=json&token="+tok, nil)
				rec := httptest.NewRecorder()
				e.sim.ServeHTTP(rec, get)
				if !json.Valid(rec.Body.Bytes()) {
					t.Errorf("invalid JSON %q", rec.Body.String())
				}
			}
		}()
	}
	wg.Wait()
}

// FuzzSimItemInfoEdit: whatever serviceItemInfo holds, the answer is an
// admin JSON envelope, and an accepted document is served back exactly
// (compacted).
func FuzzSimItemInfoEdit(f *testing.F) {
	for _, s := range []string{
		`{"Culture":"en-US","tags":"","extent":{"xmin":1}}`,
		`{"extent": [[-178.217598362366, 18.9247817993162] [-66.9692710360024, 71.4071353542713]]}`,
		`{"maxScale": 1.7976931348623157E308, "x": "\u00e9\ud800"}`,
		`[]`, ``, `{`, `{} x`, "{\"a\":\"\xff\"}", `  {"a" : [ 1 , 2 ] }  `,
	} {
		f.Add(s)
	}
	sim := simulator.New(simulator.Config{})
	tok := sim.IssueToken(0)
	f.Fuzz(func(t *testing.T, info string) {
		form := url.Values{"f": {"json"}, "token": {tok}, "serviceItemInfo": {info}}
		req := httptest.NewRequest(http.MethodPost, sim.AdminPath()+"services/Maps/Parcels.MapServer/iteminfo/edit", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		rec := httptest.NewRecorder()
		sim.ServeHTTP(rec, req)
		var answer map[string]any
		if err := json.Unmarshal(rec.Body.Bytes(), &answer); err != nil {
			t.Fatalf("answer is not a JSON object: %q", rec.Body.String())
		}
		if answer["status"] != "success" {
			return
		}
		get := httptest.NewRequest(http.MethodGet, sim.AdminPath()+"services/Maps/Parcels.MapServer/iteminfo?f=json&token="+tok, nil)
		rec = httptest.NewRecorder()
		sim.ServeHTTP(rec, get)
		var want bytes.Buffer
		if err := json.Compact(&want, []byte(strings.TrimSpace(info))); err != nil {
			t.Fatalf("accepted invalid JSON %q", info)
		}
		if rec.Body.String() != want.String() {
			t.Fatalf("stored %q, want %q", rec.Body.String(), want.String())
		}
	})
}
