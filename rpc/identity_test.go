package rpc

import (
	"context"
	"strings"
	"testing"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/arcgate/arcgate/upstream"
)

const (
	testDelegatedPassword = "Delegated-pw-5e1b"
	testDelegatedToken    = "delegated-token-8d2c"
)

func TestParseDelegatedAuth(t *testing.T) {
	for _, m := range []DelegatedAuth{DelegatedAuthOff, DelegatedAuthOptional, DelegatedAuthRequired} {
		if got, err := ParseDelegatedAuth(m.String()); err != nil || got != m {
			t.Errorf("ParseDelegatedAuth(%q) = %v, %v", m.String(), got, err)
		}
	}
	for _, bad := range []string{"", "on", "true", "Required"} {
		if _, err := ParseDelegatedAuth(bad); err == nil {
			t.Errorf("ParseDelegatedAuth(%q) accepted", bad)
		}
	}
}

// badRequestField returns the field of an INVALID_ARGUMENT's BadRequest.
func badRequestField(t *testing.T, err error) string {
	t.Helper()
	st, ok := status.FromError(err)
	if !ok || st.Code() != codes.InvalidArgument {
		t.Fatalf("err = %v, want INVALID_ARGUMENT", err)
	}
	for _, d := range st.Details() {
		if br, ok := d.(*errdetails.BadRequest); ok && len(br.FieldViolations) == 1 {
			return br.FieldViolations[0].Field
		}
	}
	t.Fatalf("no BadRequest in %v", err)
	return ""
}

func TestDelegatedIdentity(t *testing.T) {
	for _, tc := range []struct {
		name      string
		md        metadata.MD
		wantUser  string // for credentials
		wantToken bool
		wantField string // for errors
	}{
		{"none", metadata.Pairs(), "", false, ""},
		{"unrelated metadata", metadata.Pairs("authorization", "Bearer x", "x-api-key", "k"), "", false, ""},
		{"token", metadata.Pairs(MetadataArcGISToken, testDelegatedToken), "", true, ""},
		{"credentials", metadata.Pairs(MetadataArcGISUsername, "alice", MetadataArcGISPassword, testDelegatedPassword), "alice", false, ""},
		{"token and username", metadata.Pairs(MetadataArcGISToken, testDelegatedToken, MetadataArcGISUsername, "alice"), "", false, MetadataArcGISToken},
		{"token and password", metadata.Pairs(MetadataArcGISToken, testDelegatedToken, MetadataArcGISPassword, testDelegatedPassword), "", false, MetadataArcGISToken},
		{"username alone", metadata.Pairs(MetadataArcGISUsername, "alice"), "", false, MetadataArcGISPassword},
		{"password alone", metadata.Pairs(MetadataArcGISPassword, testDelegatedPassword), "", false, MetadataArcGISUsername},
		{"token twice", metadata.Pairs(MetadataArcGISToken, testDelegatedToken, MetadataArcGISToken, "other"), "", false, MetadataArcGISToken},
		{"empty token", metadata.Pairs(MetadataArcGISToken, ""), "", false, MetadataArcGISToken},
		{"empty password", metadata.Pairs(MetadataArcGISUsername, "alice", MetadataArcGISPassword, ""), "", false, MetadataArcGISPassword},
		{"long username", metadata.Pairs(MetadataArcGISUsername, strings.Repeat("u", 257), MetadataArcGISPassword, testDelegatedPassword), "", false, MetadataArcGISUsername},
		{"long password", metadata.Pairs(MetadataArcGISUsername, "alice", MetadataArcGISPassword, strings.Repeat("p", 1025)), "", false, MetadataArcGISPassword},
		{"long token", metadata.Pairs(MetadataArcGISToken, strings.Repeat("t", 8193)), "", false, MetadataArcGISToken},
		{"control character", metadata.Pairs(MetadataArcGISUsername, "al\x01ice", MetadataArcGISPassword, testDelegatedPassword), "", false, MetadataArcGISUsername},
		{"non-ASCII password", metadata.Pairs(MetadataArcGISUsername, "alice", MetadataArcGISPassword, testDelegatedPassword+"é"), "", false, MetadataArcGISPassword},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id, _, err := delegatedIdentity(tc.md)
			if tc.wantField != "" {
				if got := badRequestField(t, err); got != tc.wantField {
					t.Errorf("field = %q, want %q", got, tc.wantField)
				}
				if msg := err.Error(); strings.Contains(msg, testDelegatedPassword) || strings.Contains(msg, testDelegatedToken) {
					t.Errorf("error echoes a secret: %v", msg)
				}
				return
			}
			if err != nil {
				t.Fatalf("err = %v", err)
			}
			if id.IsToken() != tc.wantToken || id.Username() != tc.wantUser || id.IsZero() != (tc.wantUser == "" && !tc.wantToken) {
				t.Errorf("identity = %v, want user %q, token %v", id, tc.wantUser, tc.wantToken)
			}
		})
	}
}

func TestDelegationInterceptors(t *testing.T) {
	const method = "/arcgate.admin.v1.ServicesService/ListFolders"
	creds := metadata.Pairs(MetadataArcGISUsername, "alice", MetadataArcGISPassword, testDelegatedPassword)
	for _, tc := range []struct {
		name     string
		mode     DelegatedAuth
		method   string
		md       metadata.MD
		wantUser string // the identity the handler sees; "" for none
		wantCode codes.Code
		reason   string
	}{
		{"off, no credentials", DelegatedAuthOff, method, nil, "", codes.OK, ""},
		{"off, credentials refused", DelegatedAuthOff, method, creds, "", codes.InvalidArgument, reasonInvalidArgument},
		{"optional, no credentials: service identity", DelegatedAuthOptional, method, nil, "", codes.OK, ""},
		{"optional, credentials", DelegatedAuthOptional, method, creds, "alice", codes.OK, ""},
		{"optional, malformed", DelegatedAuthOptional, method, metadata.Pairs(MetadataArcGISUsername, "alice"), "", codes.InvalidArgument, reasonInvalidArgument},
		{"required, no credentials", DelegatedAuthRequired, method, nil, "", codes.Unauthenticated, reasonDelegatedCredsRequired},
		{"required, credentials", DelegatedAuthRequired, method, creds, "alice", codes.OK, ""},
		{"required, health check passes", DelegatedAuthRequired, "/grpc.health.v1.Health/Check", nil, "", codes.OK, ""},
		{"off, reflection with metadata passes", DelegatedAuthOff, "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo", creds, "", codes.OK, ""},
		// Metadata not made by metadata.Pairs keeps its case; it is seen all the same.
		{"off, mixed-case key refused", DelegatedAuthOff, method, metadata.MD{"X-ArcGIS-Token": {"tok"}}, "", codes.InvalidArgument, reasonInvalidArgument},
		{"optional, mixed-case keys", DelegatedAuthOptional, method, metadata.MD{"X-Arcgis-Username": {"alice"}, "X-ARCGIS-PASSWORD": {"pw"}}, "alice", codes.OK, ""},
		{"optional, token sent twice", DelegatedAuthOptional, method, metadata.MD{MetadataArcGISToken: {"a", "b"}}, "", codes.InvalidArgument, reasonInvalidArgument},
	} {
		t.Run(tc.name, func(t *testing.T) {
			unary, stream := DelegatedAuthInterceptors(tc.mode)
			ctx := context.Background()
			if tc.md != nil {
				ctx = metadata.NewIncomingContext(ctx, tc.md)
			}
			var seen *upstream.Identity
			handler := func(ctx context.Context, _ any) (any, error) {
				if id, ok := upstream.IdentityFromContext(ctx); ok {
					seen = &id
				}
				return "ok", nil
			}
			_, err := unary(ctx, nil, &grpc.UnaryServerInfo{FullMethod: tc.method}, handler)
			checkDelegation(t, err, seen, tc.wantCode, tc.reason, tc.wantUser)

			// The stream interceptor behaves the same.
			seen = nil
			ss := &fakeStream{ctx: ctx}
			err = stream(nil, ss, &grpc.StreamServerInfo{FullMethod: tc.method}, func(_ any, s grpc.ServerStream) error {
				if id, ok := upstream.IdentityFromContext(s.Context()); ok {
					seen = &id
				}
				return nil
			})
			checkDelegation(t, err, seen, tc.wantCode, tc.reason, tc.wantUser)
		})
	}
}

func checkDelegation(t *testing.T, err error, seen *upstream.Identity, code codes.Code, reason, user string) {
	t.Helper()
	if got := status.Code(err); got != code {
		t.Fatalf("code = %v, want %v (%v)", got, code, err)
	}
	if err != nil {
		var info *errdetails.ErrorInfo
		for _, d := range status.Convert(err).Details() {
			if i, ok := d.(*errdetails.ErrorInfo); ok {
				info = i
			}
		}
		if info == nil || info.Reason != reason {
			t.Errorf("ErrorInfo = %v, want reason %s", info, reason)
		}
		if seen != nil {
			t.Error("the handler ran despite the refusal")
		}
		return
	}
	switch {
	case user == "" && seen != nil:
		t.Errorf("the handler saw identity %v, want none", *seen)
	case user != "" && (seen == nil || seen.Username() != user):
		t.Errorf("the handler saw identity %v, want %q", seen, user)
	}
}

// fakeStream is a grpc.ServerStream with a context and nothing else.
type fakeStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (s *fakeStream) Context() context.Context { return s.ctx }

// FuzzDelegatedIdentity feeds arbitrary metadata values: no panic, errors
// are INVALID_ARGUMENT naming an x-arcgis-* key and never echo a value.
func FuzzDelegatedIdentity(f *testing.F) {
	f.Add("", "alice", testDelegatedPassword)
	f.Add(testDelegatedToken, "", "")
	f.Add(testDelegatedToken, "alice", "")
	f.Add("", "al\x00ice", "pw\r\n")
	f.Add("", strings.Repeat("u", 300), "pw")
	f.Fuzz(func(t *testing.T, tok, user, pw string) {
		md := metadata.MD{}
		for k, v := range map[string]string{MetadataArcGISToken: tok, MetadataArcGISUsername: user, MetadataArcGISPassword: pw} {
			if v != "" {
				md[k] = []string{v}
			}
		}
		id, key, err := delegatedIdentity(md)
		if err != nil {
			st, _ := status.FromError(err)
			if st.Code() != codes.InvalidArgument {
				t.Fatalf("code %v", st.Code())
			}
			// The message is one of the fixed texts: it cannot echo a value.
			known := false
			for _, k := range []string{MetadataArcGISToken, MetadataArcGISUsername, MetadataArcGISPassword} {
				for _, desc := range []string{
					"send either a token or a username and password, not both",
					"required with " + MetadataArcGISUsername, "required with " + MetadataArcGISPassword,
					"must be sent once", "must not be empty", "must be printable ASCII",
					"must be at most 256 bytes", "must be at most 1024 bytes", "must be at most 8192 bytes",
				} {
					known = known || st.Message() == k+": "+desc
				}
			}
			if !known {
				t.Fatalf("unexpected message %q", st.Message())
			}
			return
		}
		if !id.IsZero() && !strings.HasPrefix(key, "x-arcgis-") {
			t.Fatalf("identity from key %q", key)
		}
		if id.IsZero() != (len(md) == 0) {
			t.Fatalf("identity %v from %d keys", id, len(md))
		}
	})
}
