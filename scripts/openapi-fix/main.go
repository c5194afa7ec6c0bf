// Command openapi-fix completes the OpenAPI v2 document that
// protoc-gen-openapiv2 generates (gen/openapiv2/arcgate.swagger.json) with
// what neither the protos nor openapi-config.yaml can say, so that contract
// tools (redocly lint, Prism) accept it and it describes what the server
// does. scripts/gen.sh runs it after buf generate; CI regenerates and fails
// when the committed document differs. It rewrites the file in place:
//
//   - A path parameter whose name is not in its path template is dropped:
//     with expand_slashed_path_patterns a singleton's
//     `/v1/{name=usageStatisticsSettings}` becomes `/v1/usageStatisticsSettings`
//     but keeps its `name` parameter (the gateway fills the name from the path).
//   - The body of a custom method (`…:start`) whose body message has no
//     required field is optional: the gateway reads a missing body as `{}`.
//   - GetThumbnail's 200 response is a file (the raw image), and the body
//     of UpdateThumbnail may be the raw image as well as JSON.
//   - `/healthz` and `/openapi.json`, served by the gateway itself, are
//     documented, without security requirements.
//   - The REST routes of google.longrunning.Operations (`/v1/operations…`,
//     package operations), which are not generated from arcgate's protos,
//     are documented, with ListOperationsResponse.
//
// Usage: go run ./scripts/openapi-fix FILE
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: openapi-fix FILE")
		os.Exit(2)
	}
	if err := run(os.Args[1]); err != nil {
		fmt.Fprintln(os.Stderr, "openapi-fix:", err)
		os.Exit(1)
	}
}

func run(file string) error {
	in, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	out, err := fix(in)
	if err != nil {
		return fmt.Errorf("%s: %w", file, err)
	}
	return os.WriteFile(file, out, 0o644)
}

// fix returns the document doc with the changes listed in the package
// comment. It is idempotent, and keeps the order of the document's keys.
func fix(doc []byte) ([]byte, error) {
	v, err := decode(doc)
	if err != nil {
		return nil, err
	}
	root, ok := v.(*object)
	if !ok {
		return nil, errors.New("the document is not a JSON object")
	}
	paths, _ := root.get("paths").(*object)
	defs, _ := root.get("definitions").(*object)
	if paths == nil || defs == nil {
		return nil, errors.New("the document has no paths or definitions")
	}
	for _, p := range paths.keys {
		item, _ := paths.get(p).(*object)
		if item == nil {
			continue
		}
		for _, method := range item.keys {
			op, _ := item.get(method).(*object)
			if op == nil {
				continue
			}
			dropUnusedPathParams(p, op)
			if method == "post" && customMethod.MatchString(p) {
				optionalBody(op, defs)
			}
			// The second HTTP binding of a method gets the operation id
			// of the first with a digit appended.
			id, _ := op.get("operationId").(string)
			switch strings.TrimRight(id, "0123456789") {
			case "ItemInfoService_GetThumbnail":
				rawImageResponse(op)
			case "ItemInfoService_UpdateThumbnail":
				rawImageBody(op)
			}
		}
	}
	addGatewayPaths(paths)
	addOperationsPaths(paths, defs)
	var buf bytes.Buffer
	if err := encode(&buf, root, ""); err != nil {
		return nil, err
	}
	buf.WriteByte('\n')
	return buf.Bytes(), nil
}

// customMethod matches the path of an AIP-136 custom method, `…:verb`.
var customMethod = regexp.MustCompile(`:[A-Za-z]+$`)

// dropUnusedPathParams removes from op the path parameters that path does
// not name.
func dropUnusedPathParams(path string, op *object) {
	params, _ := op.get("parameters").([]any)
	kept := params[:0]
	for _, p := range params {
		po, _ := p.(*object)
		if po != nil && po.get("in") == "path" {
			if name, _ := po.get("name").(string); !strings.Contains(path, "{"+name+"}") {
				continue
			}
		}
		kept = append(kept, p)
	}
	switch {
	case len(kept) > 0:
		op.set("parameters", kept)
	case len(params) > 0:
		op.del("parameters")
	}
}

// optionalBody marks op's body parameter optional when the message it
// refers to has no required field.
func optionalBody(op *object, defs *object) {
	params, _ := op.get("parameters").([]any)
	for _, p := range params {
		po, _ := p.(*object)
		if po == nil || po.get("in") != "body" {
			continue
		}
		schema, _ := po.get("schema").(*object)
		if schema == nil {
			continue
		}
		ref, _ := schema.get("$ref").(string)
		def, _ := defs.get(strings.TrimPrefix(ref, "#/definitions/")).(*object)
		if def == nil || def.get("required") != nil {
			continue
		}
		po.set("required", false)
	}
}

// rawImageResponse documents GetThumbnail's success as the raw image (the
// operation's `produces`, set in openapi-config.yaml, lists its types).
func rawImageResponse(op *object) {
	responses, _ := op.get("responses").(*object)
	if responses == nil {
		return
	}
	ok, _ := responses.get("200").(*object)
	if ok == nil {
		return
	}
	ok.set("description", "The image, with its type as Content-Type (PNG, JPEG, GIF, WebP, BMP or ICO; anything else is application/octet-stream).")
	ok.set("schema", obj("type", "file"))
}

// rawImageBody lets UpdateThumbnail's body be the raw image: a Swagger 2.0
// body has one schema for all the operation's `consumes`, so the schema
// names no type and its description gives both forms.
func rawImageBody(op *object) {
	params, _ := op.get("parameters").([]any)
	for _, p := range params {
		po, _ := p.(*object)
		if po == nil || po.get("in") != "body" {
			continue
		}
		po.set("description", "The raw image (Content-Type image/png, image/jpeg, image/gif or application/octet-stream), "+
			`or, as application/json, a google.api.HttpBody: {"contentType": "image/png", "data": "<base64>"}. `+
			"PNG, JPEG or GIF, at most 1 MiB.")
		po.set("schema", obj("description", "The raw image, or the JSON form of google.api.HttpBody (see #/definitions/apiHttpBody)."))
	}
}

// addGatewayPaths documents the paths the gateway serves itself.
func addGatewayPaths(paths *object) {
	noSecurity := []any{}
	errorResponse := obj("description", "The service is not serving (UNAVAILABLE, a google.rpc.Status).",
		"schema", obj("$ref", "#/definitions/rpcStatus"))
	paths.set("/healthz", obj("get", obj(
		"summary", "Health of the server, answered by the gRPC health service (grpc.health.v1.Health/Check). Needs no credentials.",
		"operationId", "Healthz",
		"produces", []any{"application/json"},
		"parameters", []any{obj("name", "service", "in", "query", "required", false, "type", "string",
			"description", "The gRPC service to check; empty for the server as a whole.")},
		"responses", obj(
			"200", obj("description", "Serving.", "schema", obj("type", "object",
				"properties", obj("status", obj("type", "string", "enum", []any{"SERVING"})))),
			"404", obj("description", "No such service (NOT_FOUND, a google.rpc.Status).", "schema", obj("$ref", "#/definitions/rpcStatus")),
			"503", errorResponse,
			"default", obj("description", "An error (a google.rpc.Status).", "schema", obj("$ref", "#/definitions/rpcStatus")),
		),
		"security", noSecurity,
		"tags", []any{"Gateway"},
	)))
	paths.set("/openapi.json", obj("get", obj(
		"summary", "This OpenAPI v2 document. Needs no credentials.",
		"operationId", "OpenAPI",
		"produces", []any{"application/json"},
		"responses", obj(
			"200", obj("description", "The document.", "schema", obj("type", "object")),
			"default", obj("description", "An error (a google.rpc.Status).", "schema", obj("$ref", "#/definitions/rpcStatus")),
		),
		"security", noSecurity,
		"tags", []any{"Gateway"},
	)))
}

// addOperationsPaths documents the REST routes of the
// google.longrunning.Operations service (operations.RegisterREST).
func addOperationsPaths(paths, defs *object) {
	status := func(desc string) *object {
		return obj("description", desc+" (a google.rpc.Status).", "schema", obj("$ref", "#/definitions/rpcStatus"))
	}
	responses := func(ok *object) *object {
		return obj("200", ok,
			"400", status("The request is not valid (INVALID_ARGUMENT)"),
			"401", status("No valid credentials (UNAUTHENTICATED)"),
			"403", status("The caller's scope does not allow it (PERMISSION_DENIED)"),
			"404", status("No such operation, or not the caller's (NOT_FOUND)"),
			"default", status("An error"))
	}
	operation := obj("description", "The operation.", "schema", obj("$ref", "#/definitions/longrunningOperation"))
	empty := obj("description", "Done.", "schema", obj("type", "object"))
	name := obj("name", "operation", "in", "path", "required", true, "type", "string",
		"description", "The operation's id: its name is operations/{operation}.")
	tags := []any{"Operations"}
	defs.set("longrunningListOperationsResponse", obj("type", "object",
		"properties", obj(
			"operations", obj("type", "array", "items", obj("$ref", "#/definitions/longrunningOperation"),
				"description", "The caller's operations, newest first."),
			"nextPageToken", obj("type", "string", "description", "The token of the next page; empty on the last."),
		),
		"description", "An answer of ListOperations."))
	paths.set("/v1/operations", obj("get", obj(
		"summary", "Lists the caller's long-running operations, newest first.",
		"operationId", "Operations_ListOperations",
		"parameters", []any{
			obj("name", "filter", "in", "query", "required", false, "type", "string",
				"description", `target="…", verb="…" and done=true|false, joined by AND.`),
			obj("name", "pageSize", "in", "query", "required", false, "type", "integer", "format", "int32",
				"description", "At most this many operations (default 50, at most 500)."),
			obj("name", "pageToken", "in", "query", "required", false, "type", "string",
				"description", "The nextPageToken of the previous page."),
		},
		"responses", responses(obj("description", "A page of operations.",
			"schema", obj("$ref", "#/definitions/longrunningListOperationsResponse"))),
		"tags", tags,
	)))
	paths.set("/v1/operations/{operation}", obj(
		"get", obj(
			"summary", "Returns a long-running operation as it is now.",
			"operationId", "Operations_GetOperation",
			"parameters", []any{name},
			"responses", responses(operation),
			"tags", tags,
		),
		"delete", obj(
			"summary", "Deletes a finished operation's record (FAILED_PRECONDITION while it runs).",
			"operationId", "Operations_DeleteOperation",
			"parameters", []any{name},
			"responses", responses(empty),
			"tags", tags,
		),
	))
	paths.set("/v1/operations/{operation}:wait", obj("post", obj(
		"summary", "Waits until the operation is done or the timeout (or the call's deadline) passes, and returns it as it is then.",
		"operationId", "Operations_WaitOperation",
		"parameters", []any{name, obj("name", "body", "in", "body", "required", false,
			"schema", obj("type", "object", "properties", obj(
				"timeout", obj("type", "string", "description", `How long to wait at most, e.g. "60s".`))))},
		"responses", responses(operation),
		"tags", tags,
	)))
	paths.set("/v1/operations/{operation}:cancel", obj("post", obj(
		"summary", "Asks the operation to stop; FAILED_PRECONDITION when its work cannot be stopped or it is done.",
		"operationId", "Operations_CancelOperation",
		"parameters", []any{name, obj("name", "body", "in", "body", "required", false,
			"schema", obj("type", "object"))},
		"responses", responses(empty),
		"tags", tags,
	)))
}

// object is a JSON object that keeps its keys' order.
type object struct {
	keys []string
	vals map[string]any
}

// obj builds an object from key, value pairs.
func obj(kv ...any) *object {
	o := &object{vals: map[string]any{}}
	for i := 0; i+1 < len(kv); i += 2 {
		o.set(kv[i].(string), kv[i+1])
	}
	return o
}

func (o *object) get(k string) any { return o.vals[k] }

// set sets k, appending it to the keys if it is new.
func (o *object) set(k string, v any) {
	if _, ok := o.vals[k]; !ok {
		o.keys = append(o.keys, k)
	}
	o.vals[k] = v
}

// del removes k.
func (o *object) del(k string) {
	if _, ok := o.vals[k]; !ok {
		return
	}
	delete(o.vals, k)
	for i, key := range o.keys {
		if key == k {
			o.keys = append(o.keys[:i], o.keys[i+1:]...)
			return
		}
	}
}

// decode parses JSON into *object, []any and scalars (numbers as
// json.Number, so that they are written back as they were).
func decode(data []byte) (any, error) {
	d := json.NewDecoder(bytes.NewReader(data))
	d.UseNumber()
	v, err := decodeValue(d)
	if err != nil {
		return nil, err
	}
	if _, err := d.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("trailing data after the document")
	}
	return v, nil
}

func decodeValue(d *json.Decoder) (any, error) {
	t, err := d.Token()
	if err != nil {
		return nil, err
	}
	switch t {
	case json.Delim('{'):
		o := obj()
		for d.More() {
			kt, err := d.Token()
			if err != nil {
				return nil, err
			}
			v, err := decodeValue(d)
			if err != nil {
				return nil, err
			}
			o.set(kt.(string), v)
		}
		_, err := d.Token() // '}'
		return o, err
	case json.Delim('['):
		a := []any{}
		for d.More() {
			v, err := decodeValue(d)
			if err != nil {
				return nil, err
			}
			a = append(a, v)
		}
		_, err := d.Token() // ']'
		return a, err
	}
	return t, nil
}

// encode writes v indented by two spaces, as protoc-gen-openapiv2 does.
func encode(w *bytes.Buffer, v any, indent string) error {
	switch v := v.(type) {
	case *object:
		if len(v.keys) == 0 {
			w.WriteString("{}")
			return nil
		}
		w.WriteString("{\n")
		for i, k := range v.keys {
			w.WriteString(indent + "  ")
			if err := scalar(w, k); err != nil {
				return err
			}
			w.WriteString(": ")
			if err := encode(w, v.vals[k], indent+"  "); err != nil {
				return err
			}
			if i < len(v.keys)-1 {
				w.WriteByte(',')
			}
			w.WriteByte('\n')
		}
		w.WriteString(indent + "}")
	case []any:
		if len(v) == 0 {
			w.WriteString("[]")
			return nil
		}
		w.WriteString("[\n")
		for i, e := range v {
			w.WriteString(indent + "  ")
			if err := encode(w, e, indent+"  "); err != nil {
				return err
			}
			if i < len(v)-1 {
				w.WriteByte(',')
			}
			w.WriteByte('\n')
		}
		w.WriteString(indent + "]")
	default:
		return scalar(w, v)
	}
	return nil
}

// scalar writes a JSON string, number, boolean or null, escaping <, > and
// & as protoc-gen-openapiv2 (encoding/json) does.
func scalar(w *bytes.Buffer, v any) error {
	var b bytes.Buffer
	if err := json.NewEncoder(&b).Encode(v); err != nil {
		return err
	}
	w.Write(bytes.TrimSuffix(b.Bytes(), []byte("\n")))
	return nil
}
