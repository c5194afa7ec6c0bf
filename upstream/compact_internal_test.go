package upstream

import (
	"encoding/json"
	"testing"
)

// TestCompactJSONIgnoresMarshalEscapes: the text kept of a non-string
// value does not change when json.Marshal has escaped it once (an item
// info written back and read again), and other escapes are kept.
func TestCompactJSONIgnoresMarshalEscapes(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{`["&"]`, `["&"]`},
		{`["\u0026"]`, `["&"]`},
		{`{"a": "<b>\u003Cc\u003e"}`, `{"a":"<b><c>"}`},
		{`["\\u0026"]`, `["\\u0026"]`}, // an escaped backslash, then text
		{`["\\\u0026"]`, `["\\&"]`},    // an escaped backslash, then an escape
		{`["\u2028\u2029"]`, "[\"\u2028\u2029\"]"},
		{`["\u00e9\n\"\/"]`, `["\u00e9\n\"\/"]`}, // other escapes as sent
		{`[1, 2.50, true, null]`, `[1,2.50,true,null]`},
	} {
		got := compactJSON([]byte(c.in))
		if got != c.want {
			t.Errorf("compactJSON(%s) = %s, want %s", c.in, got, c.want)
		}
		if !json.Valid([]byte(got)) {
			t.Errorf("compactJSON(%s) = %s: not JSON", c.in, got)
		}
		out, err := json.Marshal(json.RawMessage(got))
		if err != nil {
			t.Fatal(err)
		}
		if again := compactJSON(out); again != got {
			t.Errorf("after json.Marshal: %s, want %s", again, got)
		}
	}
}
