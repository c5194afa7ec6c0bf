package e2e

import (
	"encoding/json"
	"net/http"
	"slices"
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
			OperationID string      `json:"operationId"`
			Parameters  []parameter `json:"parameters"`
			Produces    []string    `json:"produces"`
			Consumes    []string    `json:"consumes"`
			Responses   map[string]struct {
				Schema struct {
					Ref  string `json:"$ref"`
					Type string `json:"type"`
				} `json:"schema"`
			} `json:"responses"`
		} `json:"paths"`
		SecurityDefinitions map[string]struct {
			Type string `json:"type"`
			In   string `json:"in"`
			Name string `json:"name"`
		} `json:"securityDefinitions"`
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
	for _, p := range []string{"/v1/folders", "/v1/services", "/v1/folders/{folder}/services",
		"/v1/folders/{folder}/services/{service}", "/v1/usageStatisticsSettings", "/healthz", "/openapi.json"} {
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
			if strings.Contains(path, "{name") || strings.Contains(path, "{parent") {
				t.Errorf("%s %s: unexpanded path template", method, path)
			}
			var pathParams []string
			for _, p := range op.Parameters {
				if p.In == "path" {
					pathParams = append(pathParams, p.Name)
					if !strings.Contains(path, "{"+p.Name+"}") {
						t.Errorf("%s %s: path parameter %q is not in the path", method, path, p.Name)
					}
				}
			}
			if method == "patch" && !slices.ContainsFunc(op.Parameters, func(p parameter) bool { return p.Name == "updateMask" && p.In == "query" }) {
				t.Errorf("%s %s: no updateMask query parameter", method, path)
			}
			if strings.HasPrefix(path, "/v1/") && op.Responses["404"].Schema.Ref != "#/definitions/rpcStatus" {
				t.Errorf("%s %s: no 404 response", method, path)
			}
			for _, p := range op.Parameters {
				if p.In != "body" {
					continue
				}
				for _, pp := range pathParams {
					// An output-only field may share the name of a path
					// segment (Service.folder, {folder}): it is not an input.
					if prop, dup := p.Schema.Properties[pp]; dup && !strings.Contains(pp, ".") && !strings.Contains(string(prop), `"readOnly": true`) {
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
	if b, k := doc.SecurityDefinitions["Bearer"], doc.SecurityDefinitions["ApiKey"]; b.Name != "Authorization" || b.In != "header" || k.Name != "X-Api-Key" || k.In != "header" {
		t.Errorf("securityDefinitions = %+v", doc.SecurityDefinitions)
	}
	thumb := "/v1/folders/{folder}/services/{service}/itemInfo/thumbnail"
	if get := doc.Paths[thumb]["get"]; !slices.Contains(get.Produces, "image/png") || get.Responses["200"].Schema.Type != "file" {
		t.Errorf("GET %s: produces %v, 200 schema %+v; want the raw image", thumb, get.Produces, get.Responses["200"].Schema)
	}
	if put := doc.Paths[thumb]["put"]; !slices.Contains(put.Consumes, "image/png") || !slices.Contains(put.Consumes, "application/json") {
		t.Errorf("PUT %s: consumes %v, want the raw image and JSON", thumb, put.Consumes)
	}
	for _, p := range doc.Paths["/v1/services/{service}:start"]["post"].Parameters {
		if p.In == "body" && p.Required {
			t.Errorf("POST /v1/services/{service}:start: the body is required; the gateway takes none")
		}
	}
	if st := doc.Definitions["v1ServiceState"]; len(st.Enum) == 0 || st.Enum[0] != "SERVICE_STATE_UNSPECIFIED" {
		t.Errorf("v1ServiceState = %+v", st)
	}
}

// parameter is an operation's parameter in the OpenAPI v2 document.
type parameter struct {
	Name     string `json:"name"`
	In       string `json:"in"`
	Required bool   `json:"required"`
	Schema   struct {
		Ref        string                     `json:"$ref"`
		Properties map[string]json.RawMessage `json:"properties"`
	} `json:"schema"`
}
