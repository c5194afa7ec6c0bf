package e2e

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/arcgate/arcgate/simulator"
)

// TestOpenAPIDocument fetches /openapi.json from a running arcgate and
// checks the properties REST clients rely on.
func TestOpenAPIDocument(t *testing.T) {
	e := start(t, simulator.Config{})
	r := e.do(t, http.MethodGet, "/openapi.json", nil)
	if r.Status != 200 {
		t.Fatalf("GET /openapi.json: %d", r.Status)
	}
	var doc struct {
		Swagger string `json:"swagger"`
		Paths   map[string]map[string]struct {
			OperationID string `json:"operationId"`
			Parameters  []struct {
				Name   string `json:"name"`
				In     string `json:"in"`
				Schema struct {
					Ref        string                     `json:"$ref"`
					Properties map[string]json.RawMessage `json:"properties"`
				} `json:"schema"`
			} `json:"parameters"`
			Responses map[string]struct {
				Schema struct {
					Ref string `json:"$ref"`
				} `json:"schema"`
			} `json:"responses"`
		} `json:"paths"`
		Definitions map[string]struct {
			Type string   `json:"type"`
			Enum []string `json:"enum"`
		} `json:"definitions"`
	}
	if err := json.Unmarshal([]byte(r.Raw), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Swagger != "2.0" {
		t.Fatalf("swagger = %q", doc.Swagger)
	}
	for _, p := range []string{"/v1/folders", "/v1/services", "/v1/{parent}/services"} {
		if doc.Paths[p] == nil {
			t.Errorf("no path %s", p)
		}
	}
	ops := 0
	for path, methods := range doc.Paths {
		for method, op := range methods {
			ops++
			if op.Responses["default"].Schema.Ref != "#/definitions/rpcStatus" {
				t.Errorf("%s %s: errors not documented as google.rpc.Status", method, path)
			}
			var pathParams []string
			for _, p := range op.Parameters {
				if p.In == "path" {
					pathParams = append(pathParams, p.Name)
				}
			}
			for _, p := range op.Parameters {
				if p.In != "body" {
					continue
				}
				for _, pp := range pathParams {
					if _, dup := p.Schema.Properties[pp]; dup && !strings.Contains(pp, ".") {
						t.Errorf("%s %s: path parameter %q repeated in the body", method, path, pp)
					}
				}
			}
		}
	}
	if ops < 10 {
		t.Fatalf("only %d operations", ops)
	}
	for name, d := range doc.Definitions {
		if len(d.Enum) > 0 && d.Type != "string" {
			t.Errorf("enum %s is %s, want string", name, d.Type)
		}
	}
	if st := doc.Definitions["v1ServiceState"]; len(st.Enum) == 0 || st.Enum[0] != "SERVICE_STATE_UNSPECIFIED" {
		t.Errorf("v1ServiceState = %+v", st)
	}
}
