// Package arcgate holds artefacts of the API that ship inside the binary:
// the OpenAPI v2 document generated from proto/ (gen/openapiv2).
package arcgate

import _ "embed"

// OpenAPI is the OpenAPI v2 (Swagger) document of arcgate's REST API, as
// protoc-gen-openapiv2 generates it from the protos.
//
//go:embed gen/openapiv2/arcgate.swagger.json
var OpenAPI []byte
