package e2e

import (
	"bytes"
	"io"
	"net/http"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"

	"github.com/arcgate/arcgate/simulator"
)

// TestThumbnailRawUploadREST puts raw image bytes over REST (no JSON, no
// base64) and reads them back raw.
func TestThumbnailRawUploadREST(t *testing.T) {
	e := start(t, simulator.Config{})
	img := testPNG(t)
	send := func(method, path, contentType string, body []byte) restResp {
		t.Helper()
		req, err := http.NewRequest(method, e.rest+path, bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", contentType)
		resp, err := e.hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		r := restResp{Status: resp.StatusCode, Raw: string(raw)}
		if strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
			r = e.decode(t, r)
		}
		return r
	}
	put := func(path, contentType string, body []byte) restResp {
		t.Helper()
		return send(http.MethodPut, path, contentType, body)
	}
	for _, path := range []string{"/v1/folders/Maps/services/Parcels.MapServer/itemInfo/thumbnail", "/v1/services/SampleWorldCities.MapServer/itemInfo/thumbnail"} {
		r := put(path, "image/png", img)
		if r.Status != 200 || !strings.Contains(r.Raw, `"thumbnail"`) {
			t.Fatalf("PUT raw PNG %s: %d %s", path, r.Status, r.Raw)
		}
		resp, err := e.hc.Get(e.rest + path)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "image/png" || !bytes.Equal(got, img) {
			t.Fatalf("GET %s after raw PUT: %d %q, %d bytes (want the %d bytes put)", path, resp.StatusCode, resp.Header.Get("Content-Type"), len(got), len(img))
		}
	}
	// Bytes that are not an image are refused, whatever the header says.
	e.sim.ResetRequests()
	for _, ct := range []string{"image/png", "application/octet-stream", "image/gif"} {
		r := put("/v1/services/SampleWorldCities.MapServer/itemInfo/thumbnail", ct, []byte("#!/bin/sh\necho not an image\n"))
		restError(t, r, 400, codes.InvalidArgument)
	}
	if n := e.sim.RequestCount(); n != 0 {
		t.Fatalf("%d upstream requests for refused uploads", n)
	}
	// A raw body sent to a JSON method is a clear error, not a crash.
	r := send(http.MethodPatch, "/v1/folders/Maps", "image/png", img)
	if r.Status < 400 || r.Status >= 500 {
		t.Fatalf("raw body to a JSON method: %d %s", r.Status, r.Raw)
	}
}
