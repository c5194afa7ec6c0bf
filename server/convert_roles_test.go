package server

import (
	"strings"
	"testing"
	"unicode/utf8"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	adminv1 "github.com/arcgate/arcgate/gen/go/arcgate/admin/v1"
	"github.com/arcgate/arcgate/upstream"
)

// wantInvalid asserts err is INVALID_ARGUMENT with a BadRequest and an
// ErrorInfo both naming field.
func wantInvalid(t *testing.T, err error, field string) {
	t.Helper()
	st, ok := status.FromError(err)
	if !ok || st.Code() != codes.InvalidArgument {
		t.Fatalf("error %v: want INVALID_ARGUMENT", err)
	}
	var badReq, info bool
	for _, d := range st.Details() {
		switch d := d.(type) {
		case *errdetails.BadRequest:
			badReq = len(d.GetFieldViolations()) == 1 && d.GetFieldViolations()[0].GetField() == field
		case *errdetails.ErrorInfo:
			info = d.GetReason() == ReasonInvalidArgument && d.GetMetadata()["field"] == field
		}
	}
	if !badReq || !info || !strings.HasPrefix(st.Message(), field+": ") {
		t.Fatalf("error %v: want BadRequest and ErrorInfo naming %q", err, field)
	}
}

func TestCheckPrincipalName(t *testing.T) {
	tests := []struct {
		in string
		ok bool
	}{
		{"editors", true},
		{"quality_analysts", true},
		{"GIS Analysts", true},
		{`DOMAIN\jsmith`, true},
		{"j.smith@example.com", true},
		{"a:b", true},
		{"Müller", true},
		{"smith, john", true}, // a comma is refused only in user lists
		{strings.Repeat("a", maxPrincipalLen), true},
		{"", false},
		{strings.Repeat("a", maxPrincipalLen+1), false},
		{"a/b", false},
		{"/", false},
		{".", false},
		{"..", false},
		{" editors", false},
		{"editors ", false},
		{"\teditors", false},
		{"edi\ntors", false},
		{"edi\x00tors", false},
		{"edi\x7ftors", false},
		{"edi\u0085tors", false}, // C1 control
		{"edi\u202etors", false}, // bidirectional override
		{"edi\u2028tors", false}, // line separator
		{"\xff\xfe", false},
	}
	for _, tt := range tests {
		if got := checkPrincipalName(tt.in); (got == "") != tt.ok {
			t.Errorf("checkPrincipalName(%q) = %q, want ok=%v", tt.in, got, tt.ok)
		}
	}
}

func TestParseRoleAndUserNames(t *testing.T) {
	if got, err := parseRoleName("name", "roles/GIS Analysts"); err != nil || got != "GIS Analysts" {
		t.Errorf("parseRoleName = %q, %v", got, err)
	}
	for _, bad := range []string{"", "roles/", "roles", "role/x", "Roles/x", "/roles/x", "roles/a/b", "users/x", "roles/ x", "roles/.."} {
		_, err := parseRoleName("role.name", bad)
		wantInvalid(t, err, "role.name")
	}
	if got, err := parseUserName("user", "users/smith, john", false); err != nil || got != "smith, john" {
		t.Errorf("parseUserName outside a list = %q, %v", got, err)
	}
	_, err := parseUserName("users[0]", "users/smith, john", true)
	wantInvalid(t, err, "users[0]")
	if !strings.Contains(err.Error(), "comma") {
		t.Errorf("error %v does not say why", err)
	}
	for _, bad := range []string{"", "users/", "roles/x", "users/a/b", "users/\x00"} {
		_, err := parseUserName("user", bad, false)
		wantInvalid(t, err, "user")
	}
}

func TestParseUserList(t *testing.T) {
	got, err := parseUserList("users", []string{"users/alice", `users/DOMAIN\bob`, "users/alice"})
	if err != nil || strings.Join(got, "|") != `alice|DOMAIN\bob` {
		t.Fatalf("parseUserList = %q, %v (duplicates must be dropped)", got, err)
	}
	tests := []struct {
		in    []string
		field string
	}{
		{nil, "users"},
		{[]string{}, "users"},
		{make([]string, maxUsersPerCall+1), "users"},
		{[]string{"users/a", "users/b", "users/c,d"}, "users[2]"},
		{[]string{"alice"}, "users[0]"},
		{[]string{"users/a", "users/"}, "users[1]"},
	}
	for _, tt := range tests {
		_, err := parseUserList("users", tt.in)
		wantInvalid(t, err, tt.field)
	}
}

func TestRoleFilterAndDescription(t *testing.T) {
	for _, ok := range []string{"", "edit", "GIS A", `DOMAIN\`, strings.Repeat("x", maxRoleFilterLen)} {
		if err := checkRoleFilter("filter", ok); err != nil {
			t.Errorf("checkRoleFilter(%q) = %v", ok, err)
		}
	}
	for _, bad := range []string{strings.Repeat("x", maxRoleFilterLen+1), "a\nb", "\xff", "a\u200fb"} {
		wantInvalid(t, checkRoleFilter("filter", bad), "filter")
	}
	if err := checkRoleDescription("role.description", "line one\nline two, & more"); err != nil {
		t.Errorf("description with a newline: %v", err)
	}
	wantInvalid(t, checkRoleDescription("role.description", strings.Repeat("d", maxRoleDescriptionLen+1)), "role.description")
}

func TestRolesToken(t *testing.T) {
	for _, tc := range []struct {
		offset int
		last   string
	}{{10, "role_001"}, {1, "GIS Analysts"}, {95, "a\x00b"}} {
		off, last, err := decodeRolesToken(encodeRolesToken(tc.offset, tc.last))
		if err != nil || off != tc.offset || last != tc.last {
			t.Errorf("round trip of (%d, %q) = (%d, %q), %v", tc.offset, tc.last, off, last, err)
		}
	}
	if off, last, err := decodeRolesToken(""); off != 0 || last != "" || err != nil {
		t.Errorf("empty token = %d %q %v", off, last, err)
	}
	for _, bad := range []string{
		"not base64!",
		encodePageToken("services|folders/-|0", "services/x"), // another query's token
		encodePageToken(rolesQuery, "x\x00role"),
		encodePageToken(rolesQuery, "0\x00role"),
		encodePageToken(rolesQuery, "-3\x00role"),
		encodePageToken(rolesQuery, "5\x00"),
		encodePageToken(rolesQuery, "5"),
	} {
		_, _, err := decodeRolesToken(bad)
		wantInvalid(t, err, "page_token")
	}
}

func TestPrivilegeConversion(t *testing.T) {
	for in, want := range map[string]adminv1.Privilege{
		"ADMINISTER": adminv1.Privilege_PRIVILEGE_ADMINISTER,
		"PUBLISH":    adminv1.Privilege_PRIVILEGE_PUBLISH,
		"ACCESS":     adminv1.Privilege_PRIVILEGE_ACCESS,
		" publish ":  adminv1.Privilege_PRIVILEGE_PUBLISH,
		"NONE":       adminv1.Privilege_PRIVILEGE_UNSPECIFIED,
		"":           adminv1.Privilege_PRIVILEGE_UNSPECIFIED,
	} {
		if got := privilegeFromUpstream(in); got != want {
			t.Errorf("privilegeFromUpstream(%q) = %v, want %v", in, got, want)
		}
	}
	// Every API privilege but UNSPECIFIED has an upstream name that maps back.
	for v := range adminv1.Privilege_name {
		p := adminv1.Privilege(v)
		name, ok := privilegeNames[p]
		if ok != (p != adminv1.Privilege_PRIVILEGE_UNSPECIFIED) || ok && privilegeFromUpstream(name) != p {
			t.Errorf("privilege %v: name %q, %v", p, name, ok)
		}
	}
}

func TestRoleStoreFromUpstream(t *testing.T) {
	ro, n, big := true, 12, 1<<40
	got := roleStoreFromUpstream(&upstream.RoleStore{IsReadOnly: &ro})
	if got.GetName() != roleStoreName || got.ReadOnly == nil || !got.GetReadOnly() || got.TotalRoles != nil {
		t.Errorf("current store = %v", got)
	}
	got = roleStoreFromUpstream(&upstream.RoleStore{TotalRoles: &n})
	if got.ReadOnly != nil || got.GetTotalRoles() != 12 {
		t.Errorf("10.1 store = %v", got)
	}
	if got := roleStoreFromUpstream(&upstream.RoleStore{TotalRoles: &big}); got.GetTotalRoles() != 1<<31-1 {
		t.Errorf("huge count = %v", got)
	}
}

func TestPickRole(t *testing.T) {
	roles := []upstream.Role{{Name: "Editors"}, {Name: "editors"}, {Name: "Viewers"}, {Name: "a"}, {Name: "A"}}
	for _, tc := range []struct {
		name, want string
		ok         bool
	}{
		{"editors", "editors", true}, // exact wins over a case variant
		{"Editors", "Editors", true},
		{"EDITORS", "", false}, // two case variants: ambiguous
		{"viewers", "Viewers", true},
		{"nobody", "", false},
	} {
		got, ok := pickRole(roles, tc.name)
		if ok != tc.ok || got.Name != tc.want {
			t.Errorf("pickRole(%q) = %q, %v; want %q, %v", tc.name, got.Name, ok, tc.want, tc.ok)
		}
	}
}

// FuzzParseRoleName checks the role and user name grammar: an accepted name
// round-trips, never holds a '/' or a control character, and a refused one
// is INVALID_ARGUMENT naming the field.
func FuzzParseRoleName(f *testing.F) {
	for _, s := range []string{
		"roles/editors", "roles/quality_analysts", "roles/GIS Analysts", "roles/<role1>",
		`users/DOMAIN\bob`, "users/j.smith@example.com", "users/smith, john",
		"roles/../x", "roles/a/b", "roles/ x", "roles/\u202e", "roles/" + strings.Repeat("é", 200), "",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		role, err := parseRoleName("name", in)
		if err == nil {
			if roleResourceName(role) != in || strings.Contains(role, "/") || !utf8.ValidString(role) || len(role) > maxPrincipalLen {
				t.Fatalf("accepted %q as %q", in, role)
			}
			for _, r := range role {
				if !printableRune(r) {
					t.Fatalf("accepted %q with %U", in, r)
				}
			}
		} else if st, _ := status.FromError(err); st.Code() != codes.InvalidArgument || !strings.HasPrefix(st.Message(), "name: ") || len(st.Message()) > 400 {
			t.Fatalf("refusal of %q: %v", in, err)
		}
		user, err := parseUserName("users[0]", in, true)
		if err == nil && (userResourceName(user) != in || strings.Contains(user, ",")) {
			t.Fatalf("accepted user %q as %q", in, user)
		}
	})
}

// FuzzRolesToken feeds arbitrary page tokens to ListRoles' decoder: it
// must never panic, and what it accepts must be a usable position.
func FuzzRolesToken(f *testing.F) {
	f.Add(encodeRolesToken(10, "role_010"))
	f.Add(encodeRolesToken(1, "a\x00b"))
	f.Add(encodePageToken(rolesQuery, "0\x00x"))
	f.Add("")
	f.Add("cDEAcm9sZXMAMTAA")
	f.Add("cDEAcm9sZXMA") // a forged token holding no position (found by fuzzing)
	f.Fuzz(func(t *testing.T, token string) {
		off, last, err := decodeRolesToken(token)
		if err != nil {
			if st, _ := status.FromError(err); st.Code() != codes.InvalidArgument {
				t.Fatalf("token %q: %v", token, err)
			}
			return
		}
		if token != "" && (off < 1 || last == "") {
			t.Fatalf("token %q accepted as (%d, %q)", token, off, last)
		}
	})
}
