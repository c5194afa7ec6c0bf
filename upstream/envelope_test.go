package upstream

import (
	"encoding/json"
	"testing"
)

func TestMayBeEnvelope(t *testing.T) {
	t.Parallel()
	tests := []struct {
		body string
		want bool
	}{
		{`{"status":"error","messages":["x"],"code":498}`, true},
		{`{"error":{"code":498,"message":"Invalid token."}}`, true},
		{` { "a" : 1 , "status" : "success" }`, true},
		{`{"Status":"error"}`, true},                          // any case: the decoder would match it
		{`{"st\u0061tus":"error"}`, true},                     // escaped keys are looked at
		{`{"ſtatus":"error"}`, true},                          // Unicode folding, as encoding/json does
		{`{"a":{"status":"error"},"b":[{"error":1}]}`, false}, // nested keys are not the envelope
		{`{"a":"status","b":"\"error\"","c":[1,"]",{"}":2}]}`, false},
		{`{"serviceName":"A","type":"MapServer","n":-1.5e3,"ok":true,"x":null}`, false},
		{`{}`, false},
		{`[{"status":"error"}]`, false}, // not an object
		{`"status"`, false},
		{``, false},
		{`{"a":`, true}, // truncated: decoded to find out
		{`{"a" 1}`, true},
		{`{1:2}`, true},
	}
	for _, tt := range tests {
		if got := mayBeEnvelope([]byte(tt.body)); got != tt.want {
			t.Errorf("mayBeEnvelope(%s) = %v, want %v", tt.body, got, tt.want)
		}
	}
}

// FuzzMayBeEnvelope checks the fast walk against encoding/json: whenever
// the decoder finds a top-level "status" or "error" key in a valid body,
// the walk must have said it may be there.
func FuzzMayBeEnvelope(f *testing.F) {
	for _, s := range []string{
		`{"status":"error","code":500}`, `{"a":{"b":[1,2,{"c":"d"}]},"error":{}}`, `{"x":"\\\"","Error":1}`,
		`{"a":[]}`, `{"a":"}","b":"{"}`, `  {"status" :1}`, `{"a":1,"b":[true,false,null]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		got := mayBeEnvelope(body)
		var probe struct {
			Status json.RawMessage `json:"status"`
			Error  json.RawMessage `json:"error"`
		}
		if json.Unmarshal(body, &probe) == nil && (probe.Status != nil || probe.Error != nil) && !got {
			t.Fatalf("mayBeEnvelope(%q) = false, but the decoder finds an envelope key", body)
		}
	})
}
