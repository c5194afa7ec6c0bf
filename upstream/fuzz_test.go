package upstream_test

import (
	"encoding/json"
	"errors"
	"reflect"
	"testing"

	"github.com/arcgate/arcgate/upstream"
)

func FuzzDecodeEnvelope(f *testing.F) {
	for _, tt := range envelopeCases {
		f.Add(tt.status, []byte(tt.body))
	}
	for _, s := range []string{
		seattleJSON, rootWithIDsJSON, siteRootJSON,
		`{"status":"error","messages":[1,{"a":2},null,"x"],"code":"4e2"}`,
		`{"status":"error","code":1e400}`,
		`{"error":{"code":-1,"message":null,"details":{"x":[1]}}}`,
		`{"error":{"code":"abc","details":"x"}}`,
		`{"error":"plain string"}`,
		`{"status":["error"]}`,
		`null`, `[]`, `"x"`, `0`, "\xff\xfe", `{"a":"\ud800"}`,
	} {
		f.Add(200, []byte(s))
		f.Add(500, []byte(s))
	}
	f.Fuzz(func(t *testing.T, status int, body []byte) {
		var v map[string]any
		err := upstream.DecodeResponse(status, "text/plain", body, &v)
		if err == nil {
			if status < 200 || status > 299 {
				t.Fatalf("status %d accepted", status)
			}
			return
		}
		var e *upstream.Error
		if !errors.As(err, &e) {
			t.Fatalf("error %T is not *upstream.Error", err)
		}
		_ = e.Error()
		if e.Kind == upstream.KindAPI && e.Code == 0 {
			t.Fatalf("API error without a code: %#v", e)
		}
		_ = upstream.DecodeResponse(status, "", body, nil)
	})
}

func FuzzServiceConfigJSON(f *testing.F) {
	for _, s := range []string{
		seattleJSON,
		`{}`, `null`,
		`{"maxWaitTime":"60","private":"true","properties":{"a":1,"b":null,"c":{"d":[1]}}}`,
		`{"extensions":[{"enabled":"false","typeName":"X","properties":{"k":true}},null]}`,
		`{"serviceName":"\u00e9\ud800","id":12e3,"recycleInterval":"2.0e1"}`,
		`{"extensions":null,"properties":{}}`,
		`{"a":1,"a":2,"maxWaitTime":1,"maxWaitTime":"2"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		var cfg upstream.ServiceConfig
		if err := json.Unmarshal(in, &cfg); err != nil {
			return
		}
		out, err := json.Marshal(cfg)
		if err != nil {
			t.Fatalf("Marshal after a successful Unmarshal of %q: %v", in, err)
		}
		var again upstream.ServiceConfig
		if err := json.Unmarshal(out, &again); err != nil {
			t.Fatalf("re-decoding %s: %v", out, err)
		}
		if !reflect.DeepEqual(typedFields(cfg), typedFields(again)) {
			t.Fatalf("typed fields changed:\n in  %s\n out %s\n%+v\n%+v", in, out, typedFields(cfg), typedFields(again))
		}
	})
}

// typedFields is a ServiceConfig without the Raw maps (its own and its
// extensions').
func typedFields(c upstream.ServiceConfig) upstream.ServiceConfig {
	c = exportedOnly(c)
	if c.Extensions != nil {
		exts := make([]upstream.Extension, len(c.Extensions))
		for i, x := range c.Extensions {
			exts[i] = exportedOnly(x)
		}
		c.Extensions = exts
	}
	return c
}
