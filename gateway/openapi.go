package gateway

import (
	"net/http"
	"strconv"

	"github.com/arcgate/arcgate"
)

// serveOpenAPI serves the generated OpenAPI v2 document.
func serveOpenAPI(w http.ResponseWriter, _ *http.Request, _ map[string]string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(arcgate.OpenAPI)))
	w.Header().Set("Cache-Control", "public, max-age=300")
	_, _ = w.Write(arcgate.OpenAPI)
}
