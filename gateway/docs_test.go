package gateway

import (
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"runtime"
	"strings"
	"testing"
)

// TestDocsPage checks /docs and its files: served from the binary with
// their content types, a CSP allowing only the same origin, links that
// carry the file's version (cached for good) and nothing from elsewhere.
func TestDocsPage(t *testing.T) {
	srv := newTestGateway(t)
	get := func(path string, hdr ...string) (*http.Response, string) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, srv.URL+path, nil)
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	resp, page := get("/docs")
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/html; charset=utf-8" {
		t.Fatalf("/docs: HTTP %d, Content-Type %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	csp := resp.Header.Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'none'", "script-src 'self'", "connect-src 'self'", "frame-ancestors 'none'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("CSP %q lacks %q", csp, want)
		}
	}
	if strings.Contains(page, "//") || strings.Contains(page, "<script>") {
		t.Errorf("page links elsewhere or has an inline script:\n%s", page)
	}
	if !strings.Contains(page, `data-spec-url="openapi.json"`) {
		t.Errorf("page does not load openapi.json:\n%s", page)
	}
	links := regexp.MustCompile(`(?:src|href)="(docs/[^"?]+)\?v=([0-9a-f]+)"`).FindAllStringSubmatch(page, -1)
	wantTypes := map[string]string{
		"docs/swagger-ui-bundle.js": "text/javascript; charset=utf-8",
		"docs/docs.js":              "text/javascript; charset=utf-8",
		"docs/swagger-ui.css":       "text/css; charset=utf-8",
		"docs/docs.css":             "text/css; charset=utf-8",
		"docs/favicon-32x32.png":    "image/png",
	}
	if len(links) != len(wantTypes) {
		t.Fatalf("page links %d files, want %d: %q", len(links), len(wantTypes), links)
	}
	for _, l := range links {
		resp, body := get("/" + l[1] + "?v=" + l[2])
		if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != wantTypes[l[1]] || len(body) == 0 {
			t.Errorf("%s: HTTP %d, Content-Type %q, %d bytes", l[1], resp.StatusCode, resp.Header.Get("Content-Type"), len(body))
		}
		if cc := resp.Header.Get("Cache-Control"); !strings.Contains(cc, "immutable") {
			t.Errorf("%s: Cache-Control %q", l[1], cc)
		}
		if resp.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%s: no nosniff", l[1])
		}
		if again, _ := get("/"+l[1], "If-None-Match", resp.Header.Get("ETag")); again.StatusCode != http.StatusNotModified ||
			again.Header.Get("Cache-Control") != "no-cache" {
			t.Errorf("%s without ?v and with its ETag: HTTP %d, Cache-Control %q", l[1], again.StatusCode, again.Header.Get("Cache-Control"))
		}
	}
	if resp, body := get("/docs/LICENSE"); resp.StatusCode != http.StatusOK || !strings.Contains(body, "Apache License") {
		t.Errorf("/docs/LICENSE: HTTP %d", resp.StatusCode)
	}
}

// discardResponse is a ResponseWriter that keeps nothing of the body.
type discardResponse struct{ h http.Header }

func (d *discardResponse) Header() http.Header         { return d.h }
func (d *discardResponse) Write(p []byte) (int, error) { return len(p), nil }
func (d *discardResponse) WriteHeader(int)             {}

// TestDocsFilesNotCopied checks that the docs files are served from the
// binary's embedded bytes: building the docs state (hashing every file)
// and serving Swagger UI's 1.7 MB bundle allocate a small fraction of it.
// They were copied into the heap when the package was initialised, kept
// by every arcgate process (scenario (c) of arcgate-bench: peak RSS).
func TestDocsFilesNotCopied(t *testing.T) {
	const bundle = "swagger-ui-bundle.js"
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	d := loadDocs()
	a := d.assets[bundle]
	req := httptest.NewRequest(http.MethodGet, "/docs/"+bundle, nil)
	serveDocsAsset(&discardResponse{h: http.Header{}}, req, map[string]string{"file": bundle})
	runtime.ReadMemStats(&after)
	f, err := docsFiles.Open(a.file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	if got := after.TotalAlloc - before.TotalAlloc; got > uint64(fi.Size())/8 {
		t.Errorf("loading the docs and serving %s (%d bytes) allocated %d bytes: a copy of the file", bundle, fi.Size(), got)
	}
}
