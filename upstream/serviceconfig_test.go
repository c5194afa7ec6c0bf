package upstream_test

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/arcgate/arcgate/upstream"
)

// compactOf returns the compact form of a JSON value.
func compactOf(t *testing.T, raw []byte) string {
	t.Helper()
	var buf bytes.Buffer
	if err := json.Compact(&buf, raw); err != nil {
		t.Fatalf("compact %s: %v", raw, err)
	}
	return buf.String()
}

func TestServiceConfig_RoundTripPreservesEverything(t *testing.T) {
	t.Parallel()
	var cfg upstream.ServiceConfig
	if err := json.Unmarshal([]byte(seattleJSON), &cfg); err != nil {
		t.Fatal(err)
	}
	out, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var in, got map[string]json.RawMessage
	_ = json.Unmarshal([]byte(seattleJSON), &in)
	_ = json.Unmarshal(out, &got)
	if len(in) != len(got) {
		t.Errorf("key count %d, want %d:\n%s", len(got), len(in), out)
	}
	for k, v := range in {
		if k == "extensions" {
			continue // re-encoded element by element; checked below
		}
		if compactOf(t, got[k]) != compactOf(t, v) {
			t.Errorf("%s = %s, want unchanged %s", k, got[k], v)
		}
	}
	// Extensions: same keys and values, possibly reordered.
	var inExt, gotExt []map[string]any
	_ = json.Unmarshal(in["extensions"], &inExt)
	_ = json.Unmarshal(got["extensions"], &gotExt)
	if !reflect.DeepEqual(inExt, gotExt) {
		t.Errorf("extensions = %v, want %v", gotExt, inExt)
	}
	// Pointer and value marshal the same.
	out2, _ := json.Marshal(&cfg)
	if !bytes.Equal(out, out2) {
		t.Errorf("pointer marshal differs")
	}
}

func TestServiceConfig_TolerantDecoding(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   string
		want upstream.ServiceConfig // typed fields only
	}{
		{"numbers as strings", `{"maxWaitTime":"60","minInstancesPerNode":" 2 ","recycleInterval":"24.0","maxIdleTime":1.8e3}`,
			upstream.ServiceConfig{MaxWaitTime: 60, MinInstancesPerNode: 2, RecycleInterval: 24, MaxIdleTime: 1800}},
		{"null and empty", `{"maxWaitTime":null,"maxIdleTime":"","serviceName":null,"private":null,"properties":null}`,
			upstream.ServiceConfig{}},
		{"booleans as strings", `{"private":"true"}`, upstream.ServiceConfig{Private: true}},
		{"booleans as TRUE", `{"private":"TRUE"}`, upstream.ServiceConfig{Private: true}},
		{"unquoted property values", `{"properties":{"maxRecordCount":1000,"isCached":false,"ratio":1.50,"empty":null,"nested":{"a": 1}}}`,
			upstream.ServiceConfig{Properties: map[string]string{"maxRecordCount": "1000", "isCached": "false", "ratio": "1.50", "empty": "", "nested": `{"a":1}`}}},
		{"strings as numbers", `{"id":12345,"serviceName":"A"}`, upstream.ServiceConfig{ID: "12345", ServiceName: "A"}},
		{"unknown keys only", `{"jsonProperties":{},"portalProperties":{"x":1}}`, upstream.ServiceConfig{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var cfg upstream.ServiceConfig
			if err := json.Unmarshal([]byte(tt.in), &cfg); err != nil {
				t.Fatalf("Unmarshal: %v", err)
			}
			if got := typedOnly(cfg); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
			// Unchanged, the config re-encodes to the same JSON.
			out, err := json.Marshal(cfg)
			if err != nil {
				t.Fatal(err)
			}
			var a, b any
			_ = json.Unmarshal([]byte(tt.in), &a)
			_ = json.Unmarshal(out, &b)
			if !reflect.DeepEqual(a, b) {
				t.Errorf("unchanged round trip:\n got %s\nwant %s", out, tt.in)
			}
		})
	}
}

func TestServiceConfig_DecodeErrors(t *testing.T) {
	t.Parallel()
	for _, in := range []string{
		`[]`,
		`"service"`,
		`{"maxWaitTime":"abc"}`,
		`{"maxWaitTime":1.5}`,
		`{"maxWaitTime":true}`,
		`{"maxWaitTime":1e300}`,
		`{"private":"maybe"}`,
		`{"serviceName":{"a":1}}`,
		`{"properties":[]}`,
		`{"properties":"x"}`,
		`{"extensions":{}}`,
		`{"extensions":[1]}`,
		`{"extensions":[{"enabled":"yes"}]}`,
		`{"serviceName":"A"`,
	} {
		var cfg upstream.ServiceConfig
		if err := json.Unmarshal([]byte(in), &cfg); err == nil {
			t.Errorf("Unmarshal(%s) succeeded: %+v", in, cfg)
		}
	}
}

func TestServiceConfig_ChangedFieldsAreCanonical(t *testing.T) {
	t.Parallel()
	in := `{"serviceName":"A","maxWaitTime":"60","private":"false","properties":{"n":1000,"s":"x","b":true},
	        "extensions":[{"typeName":"FeatureServer","enabled":"true","x":1},{"typeName":"WMSServer","enabled":true}]}`
	var cfg upstream.ServiceConfig
	if err := json.Unmarshal([]byte(in), &cfg); err != nil {
		t.Fatal(err)
	}
	cfg.MaxWaitTime = 90
	cfg.Private = true
	cfg.Properties["n"] = "2000"
	cfg.Properties["new"] = "v"
	delete(cfg.Properties, "s")
	cfg.Extensions[0].Enabled = false
	cfg.Extensions[1].Enabled = false
	out, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	_ = json.Unmarshal(out, &got)
	want := map[string]any{
		"serviceName": "A",
		"maxWaitTime": 90.0,
		"private":     "true", // received as a string, kept a string
		"properties":  map[string]any{"n": "2000", "b": true, "new": "v"},
		"extensions": []any{
			map[string]any{"typeName": "FeatureServer", "enabled": "false", "x": 1.0},
			map[string]any{"typeName": "WMSServer", "enabled": false},
		},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got  %v\nwant %v", got, want)
	}
}

func TestServiceConfig_NewFromScratch(t *testing.T) {
	t.Parallel()
	cfg := upstream.ServiceConfig{
		ServiceName: "A", Type: "GPServer",
		Extensions: []upstream.Extension{{TypeName: "WPSServer"}},
	}
	out, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"extensions":[{"enabled":false,"typeName":"WPSServer"}],"serviceName":"A","type":"GPServer"}`
	if string(out) != want {
		t.Errorf("got  %s\nwant %s", out, want)
	}
	if out, _ := json.Marshal(upstream.ServiceConfig{}); string(out) != `{}` {
		t.Errorf("zero config = %s, want {}", out)
	}
}

func TestServiceConfig_RawIsKeptVerbatim(t *testing.T) {
	t.Parallel()
	var cfg upstream.ServiceConfig
	in := `{"serviceName":"A","frameworkProperties":{"k":"v"},"Mixed":1}`
	if err := json.Unmarshal([]byte(in), &cfg); err != nil {
		t.Fatal(err)
	}
	raw := cfg.Raw()
	if len(raw) != 3 || string(raw["frameworkProperties"]) != `{"k":"v"}` || string(raw["Mixed"]) != "1" {
		t.Errorf("Raw = %v", raw)
	}
	if !strings.Contains(string(raw["serviceName"]), `"A"`) {
		t.Errorf("Raw[serviceName] = %s", raw["serviceName"])
	}
	if (&upstream.ServiceConfig{ServiceName: "A"}).Raw() != nil {
		t.Error("Raw of a configuration built in code is not nil")
	}
}

// Keys arriving in another letter case are decoded (as encoding/json
// matches them) and written back in the spelling received, once.
func TestServiceConfig_KeySpellingKeptOnEdit(t *testing.T) {
	t.Parallel()
	in := `{"ServiceName":"A","MAXWAITTIME":"60","maxIdleTime":5,"MaxIdleTime":7,"Extensions":[{"TypeName":"X","Enabled":"true"}]}`
	var cfg upstream.ServiceConfig
	if err := json.Unmarshal([]byte(in), &cfg); err != nil {
		t.Fatal(err)
	}
	if cfg.ServiceName != "A" || cfg.MaxWaitTime != 60 || cfg.MaxIdleTime != 7 || len(cfg.Extensions) != 1 ||
		cfg.Extensions[0].TypeName != "X" || !cfg.Extensions[0].Enabled {
		t.Fatalf("decoded %+v", cfg)
	}
	cfg.MaxWaitTime = 90
	cfg.Extensions[0].Enabled = false
	out, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]json.RawMessage
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"ServiceName": `"A"`,
		"MAXWAITTIME": `90`,
		"maxIdleTime": `7`, // the exact spelling wins; the other is dropped
		"Extensions":  `[{"Enabled":"false","TypeName":"X"}]`,
	}
	if len(got) != len(want) {
		t.Errorf("keys %s, want exactly %v", out, want)
	}
	for k, v := range want {
		if compactOf(t, got[k]) != v {
			t.Errorf("%s = %s, want %s (out %s)", k, got[k], v, out)
		}
	}
}
