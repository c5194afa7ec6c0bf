package rpc

import (
	"context"
	"strings"
	"testing"

	"google.golang.org/grpc/metadata"
)

func TestValidRequestID(t *testing.T) {
	for _, tc := range []struct {
		id string
		ok bool
	}{
		{"0b5c3f7e-9d1a-4c55-8f0e-2a7d1c9b6e41", true},
		{"req_42.A:b/c", true},
		{"x", true},
		{strings.Repeat("a", 128), true},
		{strings.Repeat("a", 129), false},
		{"", false},
		{"a b", false},
		{"abc\r\nX-Evil: 1", false},
		{"tab\there", false},
		{"r\u00e9q", false},
		{"\x7f", false},
	} {
		if got := validRequestID(tc.id); got != tc.ok {
			t.Errorf("validRequestID(%q) = %v, want %v", tc.id, got, tc.ok)
		}
	}
}

func TestRequestIDFrom(t *testing.T) {
	in := func(ids ...string) context.Context {
		md := metadata.MD{}
		for _, id := range ids {
			md.Append(RequestIDMetadata, id)
		}
		return metadata.NewIncomingContext(context.Background(), md)
	}
	for _, tc := range []struct {
		name string
		ctx  context.Context
		want string // "" means a fresh id
	}{
		{"no metadata", context.Background(), ""},
		{"no id", in(), ""},
		{"caller id", in("abc-123"), "abc-123"},
		{"first of two", in("first", "second"), "first"},
		{"invalid id replaced", in("bad id\n"), ""},
	} {
		got := requestIDFrom(tc.ctx)
		switch {
		case tc.want != "" && got != tc.want:
			t.Errorf("%s: requestIDFrom = %q, want %q", tc.name, got, tc.want)
		case tc.want == "" && (len(got) != 26 || !validRequestID(got)):
			t.Errorf("%s: requestIDFrom = %q, want a fresh 26-character id", tc.name, got)
		}
	}
	if a, b := requestIDFrom(context.Background()), requestIDFrom(context.Background()); a == b {
		t.Errorf("two fresh ids are equal: %q", a)
	}
}

// FuzzRequestIDFrom checks that whatever a caller sends, the id arcgate
// keeps is safe for a log line and an HTTP header, and that a valid
// caller id is kept unchanged.
func FuzzRequestIDFrom(f *testing.F) {
	for _, s := range []string{"0b5c3f7e-9d1a-4c55-8f0e-2a7d1c9b6e41", "abc\r\nX-Evil: 1", "", " ", strings.Repeat("z", 129), "r\u00e9q"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, id string) {
		ctx := metadata.NewIncomingContext(context.Background(), metadata.Pairs(RequestIDMetadata, id))
		got := requestIDFrom(ctx)
		if !validRequestID(got) {
			t.Fatalf("requestIDFrom(%q) = %q, which is not a valid id", id, got)
		}
		if strings.ContainsAny(got, " \r\n\t\x00") || len(got) > maxRequestIDLen {
			t.Fatalf("requestIDFrom(%q) = %q is unsafe", id, got)
		}
		if validRequestID(id) && got != id {
			t.Fatalf("valid id %q replaced by %q", id, got)
		}
	})
}

func TestCallerIdentity(t *testing.T) {
	bare := context.Background()
	if got := callerIdentity(bare); got != "" {
		t.Errorf("no caller: %q", got)
	}
	// The log interceptor's context gets a slot that an inner interceptor
	// fills through its own, derived context.
	outer := withCallLog(bare)
	if got := callerIdentity(outer); got != "" {
		t.Errorf("before authentication: %q", got)
	}
	inner := withCaller(outer, Caller{ID: "ci-bot", Scope: 1, Auth: "api-key"})
	noteCaller(inner, Caller{ID: "ci-bot"})
	if got := callerIdentity(outer); got != "ci-bot" {
		t.Errorf("outer context after noteCaller: %q, want ci-bot", got)
	}
	if got := callerIdentity(inner); got != "ci-bot" {
		t.Errorf("inner context: %q, want ci-bot", got)
	}
	noteCaller(bare, Caller{ID: "nobody"}) // no slot: ignored
	if got := callerIdentity(bare); got != "" {
		t.Errorf("noteCaller without a slot leaked %q", got)
	}
}
