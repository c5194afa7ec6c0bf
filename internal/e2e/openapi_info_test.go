package e2e

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/arcgate/arcgate/simulator"
)

// TestOpenAPIInfo checks the document metadata set in openapi-config.yaml:
// it is lost if a proto file sorting before errors.proto is added (the
// merged document takes its info from the first file).
func TestOpenAPIInfo(t *testing.T) {
	e := start(t, simulator.Config{})
	r := e.do(t, http.MethodGet, "/openapi.json", nil)
	if r.Status != 200 {
		t.Fatalf("GET /openapi.json: %d", r.Status)
	}
	var doc struct {
		Info struct {
			Title, Version, Description string
		}
	}
	if err := json.Unmarshal([]byte(r.Raw), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Info.Title != "arcgate" || doc.Info.Version != "v1" || !strings.Contains(doc.Info.Description, "ArcGIS Server Administrator") {
		t.Errorf("info = %+v, want the title, version and description of openapi-config.yaml", doc.Info)
	}
}
