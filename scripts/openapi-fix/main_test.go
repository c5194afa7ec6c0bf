package main

import (
	"encoding/json"
	"os"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestFix runs fix on a small document with each case it handles.
func TestFix(t *testing.T) {
	in := `{
  "swagger": "2.0",
  "paths": {
    "/v1/usageStatisticsSettings": {
      "get": {"operationId": "S_Get", "parameters": [{"name": "name", "in": "path", "required": true, "type": "string"}]},
      "patch": {"operationId": "S_Update", "parameters": [
        {"name": "usageStatisticsSettings.name", "in": "path", "required": true, "type": "string"},
        {"name": "updateMask", "in": "query", "type": "string"}]}
    },
    "/v1/services/{service}:start": {
      "post": {"operationId": "S_Start", "parameters": [
        {"name": "service", "in": "path", "required": true, "type": "string"},
        {"name": "body", "in": "body", "required": true, "schema": {"$ref": "#/definitions/StartBody"}}]}
    },
    "/v1/roles/{role}/users:add": {
      "post": {"operationId": "R_Add", "parameters": [
        {"name": "body", "in": "body", "required": true, "schema": {"$ref": "#/definitions/AddBody"}}]}
    },
    "/v1/services/{service}/itemInfo/thumbnail": {
      "get": {"operationId": "ItemInfoService_GetThumbnail2", "responses": {"200": {"schema": {"$ref": "#/definitions/apiHttpBody"}}}},
      "put": {"operationId": "ItemInfoService_UpdateThumbnail", "parameters": [
        {"name": "thumbnail", "in": "body", "required": true, "schema": {"$ref": "#/definitions/apiHttpBody"}}]}
    }
  },
  "definitions": {"StartBody": {"type": "object"}, "AddBody": {"type": "object", "required": ["users"]}, "apiHttpBody": {"type": "object"}}
}`
	out, err := fix([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	again, err := fix(out)
	if err != nil {
		t.Fatal(err)
	}
	if string(again) != string(out) {
		t.Errorf("fix is not idempotent:\n%s\n---\n%s", out, again)
	}
	var doc struct {
		Paths map[string]map[string]struct {
			Parameters []struct {
				Name     string
				In       string
				Required bool
				Schema   map[string]any
			}
			Responses map[string]struct{ Schema map[string]any }
			Security  *[]any
		}
	}
	if err := json.Unmarshal(out, &doc); err != nil {
		t.Fatal(err)
	}
	if ps := doc.Paths["/v1/usageStatisticsSettings"]["get"].Parameters; len(ps) != 0 {
		t.Errorf("singleton GET keeps parameters %+v", ps)
	}
	if ps := doc.Paths["/v1/usageStatisticsSettings"]["patch"].Parameters; len(ps) != 1 || ps[0].Name != "updateMask" {
		t.Errorf("singleton PATCH parameters %+v, want updateMask alone", ps)
	}
	if ps := doc.Paths["/v1/services/{service}:start"]["post"].Parameters; len(ps) != 2 || ps[0].Name != "service" || ps[1].Required {
		t.Errorf(":start parameters %+v, want the path parameter and an optional body", ps)
	}
	if ps := doc.Paths["/v1/roles/{role}/users:add"]["post"].Parameters; !ps[0].Required {
		t.Errorf(":add body made optional although its message has a required field")
	}
	thumb := doc.Paths["/v1/services/{service}/itemInfo/thumbnail"]
	if s := thumb["get"].Responses["200"].Schema; s["type"] != "file" {
		t.Errorf("GetThumbnail 200 schema %v, want a file", s)
	}
	if s := thumb["put"].Parameters[0].Schema; s["$ref"] != nil || s["type"] != nil {
		t.Errorf("UpdateThumbnail body schema %v, want one that also takes the raw image", s)
	}
	for _, p := range []string{"/healthz", "/openapi.json"} {
		if sec := doc.Paths[p]["get"].Security; sec == nil || len(*sec) != 0 {
			t.Errorf("%s: security %v, want none (empty list)", p, sec)
		}
	}
	// The Operations routes, with the caller's credentials (the document's).
	for p, methods := range map[string][]string{
		"/v1/operations":                    {"get"},
		"/v1/operations/{operation}":        {"get", "delete"},
		"/v1/operations/{operation}:wait":   {"post"},
		"/v1/operations/{operation}:cancel": {"post"},
	} {
		for _, m := range methods {
			op, ok := doc.Paths[p][m]
			if !ok {
				t.Errorf("%s %s is not documented", m, p)
				continue
			}
			if op.Security != nil {
				t.Errorf("%s %s: security %v, want the document's", m, p, *op.Security)
			}
		}
	}
	if s := doc.Paths["/v1/operations/{operation}"]["get"].Responses["200"].Schema; s["$ref"] != "#/definitions/longrunningOperation" {
		t.Errorf("GetOperation answers %v, want a longrunningOperation", s)
	}
}

// TestCommittedDocumentIsFixed fails when the committed document was
// generated without this step (run ./scripts/gen.sh).
func TestCommittedDocumentIsFixed(t *testing.T) {
	doc, err := os.ReadFile("../../gen/openapiv2/arcgate.swagger.json")
	if err != nil {
		t.Fatal(err)
	}
	out, err := fix(doc)
	if err != nil {
		t.Fatal(err)
	}
	if string(out) != string(doc) {
		t.Error("gen/openapiv2/arcgate.swagger.json changes under openapi-fix: run ./scripts/gen.sh")
	}
}
