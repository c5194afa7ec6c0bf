package rpc

import (
	"strings"
	"testing"

	adminv1 "github.com/arcgate/arcgate/gen/go/arcgate/admin/v1"
)

func TestNewAPIKey(t *testing.T) {
	seen := map[string]bool{}
	for range 20 {
		k, err := NewAPIKey()
		if err != nil {
			t.Fatal(err)
		}
		rest, ok := strings.CutPrefix(k, APIKeyPrefix)
		if !ok || len(rest) != 43 || strings.Trim(rest, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") != "" {
			t.Fatalf("key %q is not %s and 43 base64url characters", k, APIKeyPrefix)
		}
		if seen[k] {
			t.Fatalf("key %q made twice", k)
		}
		seen[k] = true
	}
}

func TestCallersLine(t *testing.T) {
	const key = "arcgate_test-key"
	for _, tc := range []struct {
		identity, scope, key string
		want                 adminv1.Scope
		wantErr              string
	}{
		{identity: "deployer", scope: "admin", key: key, want: adminv1.Scope_SCOPE_ADMIN},
		{identity: "ci.reader@example", scope: "read", key: key, want: adminv1.Scope_SCOPE_READ},
		{identity: "w", scope: "write", key: key, want: adminv1.Scope_SCOPE_WRITE},
		{identity: "", scope: "read", key: key, wantErr: "identity"},
		{identity: "two words", scope: "read", key: key, wantErr: "identity"},
		{identity: strings.Repeat("a", 65), scope: "read", key: key, wantErr: "identity"},
		{identity: "x", scope: "root", key: key, wantErr: "scope"},
		{identity: "x", scope: "", key: key, wantErr: "scope"},
		{identity: "x", scope: "read", key: "", wantErr: "API key"},
		{identity: "x", scope: "read", key: strings.Repeat("k", maxAPIKeyLen+1), wantErr: "API key"},
	} {
		line, err := CallersLine(tc.identity, tc.scope, tc.key)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("CallersLine(%q, %q): err %v, want one naming %q", tc.identity, tc.scope, err, tc.wantErr)
			}
			if err != nil && tc.key != "" && strings.Contains(err.Error(), tc.key) {
				t.Errorf("error quotes the key: %v", err)
			}
			continue
		}
		if err != nil {
			t.Errorf("CallersLine(%q, %q): %v", tc.identity, tc.scope, err)
			continue
		}
		if strings.Contains(line, tc.key) {
			t.Errorf("line %q holds the key itself", line)
		}
		// The line, as a callers file, lets the key in with the scope.
		creds, err := ParseCredentials(strings.NewReader(line + "\n"))
		if err != nil {
			t.Fatalf("ParseCredentials(%q): %v", line, err)
		}
		e, ok := creds.lookupKey(tc.key)
		if !ok || e.id != tc.identity || e.scope != tc.want {
			t.Errorf("line %q: lookup gives %+v, %v", line, e, ok)
		}
	}
}
