package gateway

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/protobuf/encoding/protojson"

	adminv1 "github.com/arcgate/arcgate/gen/go/arcgate/admin/v1"
)

func decodeInto(body string, v any) error {
	m := checkedJSON{&runtime.JSONPb{}}
	return m.NewDecoder(strings.NewReader(body)).Decode(v)
}

// TestCheckedJSONNamesTheField checks the field path and the problem the
// decoder reports for bodies protojson refuses, nested fields included.
func TestCheckedJSONNamesTheField(t *testing.T) {
	for _, tc := range []struct {
		body, field, desc string
	}{
		{`{"descripton":"x"}`, "descripton", `did you mean "description"?`},
		{`{"maxWaitDuration":90}`, "max_wait_duration", "duration"},
		{`{"extensions":[{"typeName":"x"},{"enabled":"no"}]}`, "extensions[1].enabled", "true or false"},
		{`{"extensions":{"typeName":"x"}}`, "extensions", "JSON array"},
		{`{"capabilities":[1]}`, "capabilities[0]", "expected a string"},
		{`{"minInstancesPerNode":"many"}`, "min_instances_per_node", "integer"},
		{`{"minInstancesPerNode":1e20}`, "min_instances_per_node", "out of range"},
		{`{"extensions":[{"properties":{"a":1}}]}`, "extensions[0].properties[\"a\"]", "expected a string"},
		{`{"properties":{"a":true}}`, "properties[\"a\"]", "expected a string"},
	} {
		svc := &adminv1.Service{}
		if protojson.Unmarshal([]byte(tc.body), svc) == nil {
			t.Errorf("%s: protojson accepts it; the case tests nothing", tc.body)
			continue
		}
		err := decodeInto(tc.body, &svc)
		var re *requestError
		if !errors.As(err, &re) || re.field != tc.field || !strings.Contains(re.desc, tc.desc) {
			t.Errorf("%s: got %v, want field %q with %q", tc.body, err, tc.field, tc.desc)
		}
	}
}

// FuzzCheckedJSON: any body decodes or gives an error, never a panic, and
// the decoder accepts exactly what protojson accepts.
func FuzzCheckedJSON(f *testing.F) {
	for _, s := range []string{`{"description":"x"}`, `{"descripton":1}`, `{"extensions":[{"enabled":"yes"}]}`, `[1]`, `{`, `null`,
		`{"maxWaitDuration":"90s","capabilities":["a"]}`, `{"extensions":[{"properties":{"a":"b"}}]}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		svc := &adminv1.Service{}
		err := decodeInto(body, &svc)
		if !json.Valid([]byte(body)) {
			return // the decoder reads the first JSON value; protojson wants exactly one
		}
		if want := protojson.Unmarshal([]byte(body), &adminv1.Service{}); (err == nil) != (want == nil) {
			t.Errorf("%q: decoder %v, protojson %v", body, err, want)
		}
	})
}
