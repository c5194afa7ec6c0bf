package gateway

import "testing"

func TestHeaderMatchers(t *testing.T) {
	in := []struct {
		header, key string
		ok          bool
	}{
		{"X-Request-Id", "x-request-id", true},
		{"Idempotency-Key", "idempotency-key", true},
		{"idempotency-key", "idempotency-key", true},
		{"Grpc-Metadata-Foo", "Foo", true},
		{"X-Other", "", false},
	}
	for _, c := range in {
		if key, ok := incomingHeader(c.header); key != c.key || ok != c.ok {
			t.Errorf("incomingHeader(%q) = %q, %v; want %q, %v", c.header, key, ok, c.key, c.ok)
		}
	}
	out := map[string]string{
		"x-request-id":        "X-Request-Id",
		"x-idempotent-replay": "X-Idempotent-Replay",
		"foo":                 "Grpc-Metadata-foo",
	}
	for key, want := range out {
		if h, ok := outgoingHeader(key); h != want || !ok {
			t.Errorf("outgoingHeader(%q) = %q, %v; want %q, true", key, h, ok, want)
		}
	}
}
