package gateway

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io"
	"net/http"
	"path"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// docsFiles are the /docs page, its script and style, and the Swagger UI
// files scripts/docsui.sh vendors from the swagger-ui-dist npm package
// (pinned in docsui/package-lock.json) into docsui/dist.
//
//go:embed docsui/docs.html docsui/docs.js docsui/docs.css docsui/dist
var docsFiles embed.FS

// docsAsset is one file served under /docs/: read from the binary's
// embedded files on each request, never copied (Swagger UI is 1.9 MB).
type docsAsset struct {
	file        string // in docsFiles
	contentType string
	version     string // a hash of the file, the ?v= of the page's links
}

// docsState is the /docs page with its links' versions, and its files.
type docsState struct {
	page   []byte
	assets map[string]docsAsset
}

// docs builds the docs state on the first /docs request, not when the
// package is initialised: hashing the files reads them, and a gateway
// whose reference nobody opens keeps neither them nor their pages in
// memory.
var docs = sync.OnceValue(loadDocs)

func loadDocs() *docsState {
	d := &docsState{assets: map[string]docsAsset{}}
	buf := make([]byte, 8<<10)
	add := func(name, file, contentType string) {
		f, err := docsFiles.Open(file)
		if err != nil {
			panic("gateway: embedded docs file missing: " + err.Error())
		}
		defer f.Close()
		h := sha256.New()
		if _, err := io.CopyBuffer(h, f, buf); err != nil {
			panic("gateway: reading embedded docs file: " + err.Error())
		}
		d.assets[name] = docsAsset{file: file, contentType: contentType, version: hex.EncodeToString(h.Sum(nil)[:8])}
	}
	add("docs.js", "docsui/docs.js", "text/javascript; charset=utf-8")
	add("docs.css", "docsui/docs.css", "text/css; charset=utf-8")
	add("swagger-ui-bundle.js", "docsui/dist/swagger-ui-bundle.js", "text/javascript; charset=utf-8")
	add("swagger-ui.css", "docsui/dist/swagger-ui.css", "text/css; charset=utf-8")
	add("favicon-32x32.png", "docsui/dist/favicon-32x32.png", "image/png")
	for _, f := range []string{"LICENSE", "NOTICE", "swagger-ui-bundle.js.LICENSE.txt"} {
		add(f, path.Join("docsui/dist", f), "text/plain; charset=utf-8")
	}
	page, err := docsFiles.ReadFile("docsui/docs.html")
	if err != nil {
		panic("gateway: embedded docs page missing: " + err.Error())
	}
	for name, a := range d.assets {
		page = bytes.ReplaceAll(page, []byte("{{"+name+"}}"), []byte(a.version))
	}
	d.page = page
	return d
}

// docsCSP allows the page only its own origin: scripts and styles from
// /docs/, the OpenAPI document and "try it out" calls to the same origin.
// Swagger UI sets style attributes on elements it renders (and its CSS has
// data: images), hence 'unsafe-inline' for styles and data: for images;
// scripts are never inline.
const docsCSP = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; " +
	"connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

func setDocsHeaders(w http.ResponseWriter, contentType string) {
	h := w.Header()
	h.Set("Content-Type", contentType)
	h.Set("Content-Security-Policy", docsCSP)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
}

// serveDocsPage serves the API reference page at /docs.
func serveDocsPage(w http.ResponseWriter, r *http.Request, _ map[string]string) {
	setDocsHeaders(w, "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-cache")
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(docs().page))
}

// serveDocsAsset serves a file of the page. A link with the file's
// current version (?v=, as the page writes it) may be cached for good;
// anything else is revalidated by ETag.
func serveDocsAsset(w http.ResponseWriter, r *http.Request, p map[string]string) {
	a, ok := docs().assets[p["file"]]
	if !ok {
		writeStatus(w, http.StatusNotFound, withInfo(statusNotFound("no file "+r.URL.Path+"; the API reference is at "+docsPath), reasonUnknownPath,
			map[string]string{"path": r.URL.Path}))
		return
	}
	setDocsHeaders(w, a.contentType)
	w.Header().Set("ETag", `"`+a.version+`"`)
	if strings.TrimSpace(r.URL.Query().Get("v")) == a.version {
		w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		w.Header().Set("Cache-Control", "no-cache")
	}
	f, err := docsFiles.Open(a.file)
	if err != nil {
		writeStatus(w, http.StatusInternalServerError, status.New(codes.Internal, "embedded docs file "+a.file+" missing"))
		return
	}
	defer f.Close()
	// embed's files are io.ReadSeekers over the binary's own bytes.
	http.ServeContent(w, r, "", time.Time{}, f.(io.ReadSeeker))
}
