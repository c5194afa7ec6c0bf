package upstream_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"reflect"
	"strconv"
	"testing"

	"github.com/arcgate/arcgate/upstream"
)

// Role payloads (docs/upstream.md#roles,
// docs/upstream.md#recorded-payloads): the documented examples, the invalid
// search example, and the guessed object shape of a role entry.
const (
	rolesStoreJSON       = `{"isReadOnly": true}`
	rolesLegacyStoreJSON = `{"totalRoles": 12}`
	searchRolesDocJSON   = `{"roles": [editors], "hasMore": false}` // as published: invalid JSON
	rolesByPrivilegeJSON = `{"roles": ["editors", "quality_analysts"]}`
	privilegeJSON        = `{"privilege": "PUBLISH"}`
	getRolesJSON         = `{"roles": [{"rolename": "editors", "description": "Edit data"}, {"rolename": "quality_analysts", "description": ""}], "hasMore": true}`
)

func ptrBool(b bool) *bool { return &b }
func ptrInt(n int) *int    { return &n }

func TestRoles_Store(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		body string
		want upstream.RoleStore
	}{
		{"current", rolesStoreJSON, upstream.RoleStore{IsReadOnly: ptrBool(true)}},
		{"writable as string", `{"isReadOnly": "false"}`, upstream.RoleStore{IsReadOnly: ptrBool(false)}},
		{"10.1", rolesLegacyStoreJSON, upstream.RoleStore{TotalRoles: ptrInt(12)}},
		{"10.1 count as string", `{"totalRoles": "95"}`, upstream.RoleStore{TotalRoles: ptrInt(95)}},
		{"neither", `{"acceptLanguage": null}`, upstream.RoleStore{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, mux := setupStatic(t)
			mux.HandleFunc("/security/roles", func(w http.ResponseWriter, r *http.Request) {
				testGET(t, r, authed(testToken, nil))
				writeBody(w, tt.body)
			})
			got, err := c.Roles.Store(context.Background())
			if err != nil {
				t.Fatalf("Store: %v", err)
			}
			if !reflect.DeepEqual(*got, tt.want) {
				t.Errorf("Store = %s, want %s", fmtStore(*got), fmtStore(tt.want))
			}
		})
	}
}

// fmtStore prints a RoleStore's values rather than its pointers.
func fmtStore(s upstream.RoleStore) string {
	out := "{"
	if s.IsReadOnly != nil {
		out += fmt.Sprintf("IsReadOnly:%v ", *s.IsReadOnly)
	}
	if s.TotalRoles != nil {
		out += fmt.Sprintf("TotalRoles:%d", *s.TotalRoles)
	}
	return out + "}"
}

func TestRoles_List(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		start int
		size  int
		body  string
		want  *upstream.RolePage
	}{
		{"objects", 0, 2, getRolesJSON, &upstream.RolePage{
			Roles:   []upstream.Role{{Name: "editors", Description: "Edit data"}, {Name: "quality_analysts"}},
			HasMore: true,
		}},
		{"plain names and odd keys", 10, 5, `{"roles": ["a", 17, {"roleName": "b", "Description": "x"}, {"name": "c"}], "hasMore": "false"}`, &upstream.RolePage{
			Roles: []upstream.Role{{Name: "a"}, {Name: "17"}, {Name: "b", Description: "x"}, {Name: "c"}},
		}},
		{"empty", 95, 10, `{"roles": [], "hasMore": false}`, &upstream.RolePage{Roles: []upstream.Role{}}},
		{"no roles key", 0, 10, `{"hasMore": false}`, &upstream.RolePage{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, mux := setupStatic(t)
			mux.HandleFunc("/security/roles/getRoles", func(w http.ResponseWriter, r *http.Request) {
				testPOST(t, r, authed(testToken, url.Values{"startIndex": {strconv.Itoa(tt.start)}, "pageSize": {strconv.Itoa(tt.size)}}))
				writeBody(w, tt.body)
			})
			got, err := c.Roles.List(context.Background(), tt.start, tt.size)
			if err != nil {
				t.Fatalf("List: %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("List = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestRoles_Search(t *testing.T) {
	t.Parallel()
	c, mux := setupStatic(t)
	mux.HandleFunc("/security/roles/search", func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil {
			t.Fatal(err)
		}
		switch r.PostForm.Get("filter") {
		case "edit":
			testPOST(t, r, authed(testToken, url.Values{"filter": {"edit"}, "maxCount": {"5"}}))
			writeBody(w, `{"roles": [{"rolename": "editors", "description": "Edit data"}], "hasMore": true}`)
		case "doc":
			testPOST(t, r, authed(testToken, url.Values{"filter": {"doc"}}))
			writeBody(w, searchRolesDocJSON)
		default:
			t.Errorf("unexpected filter %q", r.PostForm.Get("filter"))
		}
	})
	got, err := c.Roles.Search(context.Background(), "edit", 5)
	if err != nil {
		t.Fatalf("Search: %v", err)
	}
	want := &upstream.RolePage{Roles: []upstream.Role{{Name: "editors", Description: "Edit data"}}, HasMore: true}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Search = %+v, want %+v", got, want)
	}
	// The documented example is not JSON: a decode error, not a guess.
	_, err = c.Roles.Search(context.Background(), "doc", 0)
	if e := asError(t, err); e.Kind != upstream.KindDecode || e.Op != "roles.search" {
		t.Errorf("doc example: Kind %v Op %q, want KindDecode roles.search (err %v)", e.Kind, e.Op, err)
	}
}

func TestRoles_Operations(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tests := []struct {
		name string
		path string
		form url.Values
		call func(s *upstream.RolesService) error
	}{
		{"Add", "/security/roles/add", url.Values{"rolename": {"GIS Analysts"}, "description": {"a, b & c"}},
			func(s *upstream.RolesService) error { return s.Add(ctx, "GIS Analysts", "a, b & c") }},
		{"Update", "/security/roles/update", url.Values{"rolename": {"editors"}, "description": {""}},
			func(s *upstream.RolesService) error { return s.Update(ctx, "editors", "") }},
		{"Remove", "/security/roles/remove", url.Values{"rolename": {"a/b?c"}},
			func(s *upstream.RolesService) error { return s.Remove(ctx, "a/b?c") }},
		{"AssignPrivilege", "/security/roles/assignPrivilege", url.Values{"rolename": {"editors"}, "privilege": {"PUBLISH"}},
			func(s *upstream.RolesService) error {
				return s.AssignPrivilege(ctx, "editors", upstream.PrivilegePublish)
			}},
		{"AddUsers", "/security/roles/addUsersToRole", url.Values{"rolename": {"editors"}, "users": {`alice,DOMAIN\bob,j.smith@example.com`}},
			func(s *upstream.RolesService) error {
				return s.AddUsers(ctx, "editors", []string{"alice", `DOMAIN\bob`, "j.smith@example.com"})
			}},
		{"RemoveUsers", "/security/roles/removeUsersFromRole", url.Values{"rolename": {"editors"}, "users": {"alice"}},
			func(s *upstream.RolesService) error { return s.RemoveUsers(ctx, "editors", []string{"alice"}) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, mux := setupStatic(t)
			var calls counter
			mux.HandleFunc(tt.path, func(w http.ResponseWriter, r *http.Request) {
				calls.inc()
				testPOST(t, r, authed(testToken, tt.form))
				writeBody(w, `{"status": "success"}`)
			})
			if err := tt.call(c.Roles); err != nil {
				t.Fatalf("%s: %v", tt.name, err)
			}
			if calls.get() != 1 {
				t.Errorf("calls = %d, want 1", calls.get())
			}
		})
	}
}

func TestRoles_Privilege(t *testing.T) {
	t.Parallel()
	tests := []struct {
		body    string
		want    string
		wantErr upstream.Kind
	}{
		{privilegeJSON, "PUBLISH", 0},
		{`{"privilege": "NONE"}`, "NONE", 0},
		{`{"status": "success"}`, "", upstream.KindDecode},
		{`{"status": "error", "messages": ["Role 'x' does not exist."], "code": 404}`, "", upstream.KindAPI},
	}
	for _, tt := range tests {
		t.Run(tt.body, func(t *testing.T) {
			t.Parallel()
			c, mux := setupStatic(t)
			mux.HandleFunc("/security/roles/getPrivilege", func(w http.ResponseWriter, r *http.Request) {
				testPOST(t, r, authed(testToken, url.Values{"rolename": {"editors"}}))
				writeBody(w, tt.body)
			})
			got, err := c.Roles.Privilege(context.Background(), "editors")
			if tt.wantErr != 0 {
				if e := asError(t, err); e.Kind != tt.wantErr {
					t.Fatalf("Kind = %v, want %v (%v)", e.Kind, tt.wantErr, err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("Privilege = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

func TestRoles_NameLists(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c, mux := setupStatic(t)
	mux.HandleFunc("/security/roles/getRolesByPrivilege", func(w http.ResponseWriter, r *http.Request) {
		testPOST(t, r, authed(testToken, url.Values{"privilege": {"PUBLISH"}}))
		writeBody(w, rolesByPrivilegeJSON)
	})
	mux.HandleFunc("/security/roles/getUsersWithinRole", func(w http.ResponseWriter, r *http.Request) {
		testPOST(t, r, authed(testToken, url.Values{"rolename": {"editors"}, "filter": {"a"}, "maxCount": {"2"}}))
		writeBody(w, `{"users": ["alice", "carla"], "hasMore": true}`)
	})
	mux.HandleFunc("/security/roles/getRolesForUser", func(w http.ResponseWriter, r *http.Request) {
		testPOST(t, r, authed(testToken, url.Values{"username": {`DOMAIN\bob`}, "filter": {""}}))
		writeBody(w, `{"roles": ["<role1>", "<role2>"], "hasMore": false}`)
	})

	roles, err := c.Roles.RolesByPrivilege(ctx, upstream.PrivilegePublish)
	if err != nil || !reflect.DeepEqual(roles, []string{"editors", "quality_analysts"}) {
		t.Errorf("RolesByPrivilege = %q, %v", roles, err)
	}
	users, err := c.Roles.UsersInRole(ctx, "editors", "a", 2)
	if want := (&upstream.NameList{Names: []string{"alice", "carla"}, HasMore: true}); err != nil || !reflect.DeepEqual(users, want) {
		t.Errorf("UsersInRole = %+v, %v", users, err)
	}
	ur, err := c.Roles.RolesForUser(ctx, `DOMAIN\bob`, "", 0)
	if want := (&upstream.NameList{Names: []string{"<role1>", "<role2>"}}); err != nil || !reflect.DeepEqual(ur, want) {
		t.Errorf("RolesForUser = %+v, %v", ur, err)
	}
}

func TestRoles_NotFound(t *testing.T) {
	t.Parallel()
	c, mux := setupStatic(t)
	mux.HandleFunc("/security/roles/remove", func(w http.ResponseWriter, r *http.Request) {
		writeBody(w, `{"status": "error", "messages": ["Role 'nope' does not exist."], "code": 404}`)
	})
	err := c.Roles.Remove(context.Background(), "nope")
	if !upstream.IsNotFound(err) {
		t.Fatalf("err = %v, want not found", err)
	}
	if e := asError(t, err); e.Op != "roles.remove" || e.Method != "POST" || e.Path != "security/roles/remove" {
		t.Errorf("Op/Method/Path = %q %q %q", e.Op, e.Method, e.Path)
	}
}

func TestRoles_InvalidArguments(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c, _ := setupStatic(t) // no handlers: nothing may be sent
	s := c.Roles
	tests := []struct {
		name string
		call func() error
	}{
		{"List negative start", func() error { _, err := s.List(ctx, -1, 10); return err }},
		{"List zero size", func() error { _, err := s.List(ctx, 0, 0); return err }},
		{"Search negative count", func() error { _, err := s.Search(ctx, "", -1); return err }},
		{"Add empty", func() error { return s.Add(ctx, "", "d") }},
		{"Update empty", func() error { return s.Update(ctx, "", "d") }},
		{"Remove empty", func() error { return s.Remove(ctx, "") }},
		{"Privilege empty", func() error { _, err := s.Privilege(ctx, ""); return err }},
		{"AssignPrivilege empty role", func() error { return s.AssignPrivilege(ctx, "", "ACCESS") }},
		{"AssignPrivilege empty privilege", func() error { return s.AssignPrivilege(ctx, "r", "") }},
		{"RolesByPrivilege empty", func() error { _, err := s.RolesByPrivilege(ctx, ""); return err }},
		{"UsersInRole empty", func() error { _, err := s.UsersInRole(ctx, "", "", 0); return err }},
		{"UsersInRole negative", func() error { _, err := s.UsersInRole(ctx, "r", "", -5); return err }},
		{"RolesForUser empty", func() error { _, err := s.RolesForUser(ctx, "", "", 0); return err }},
		{"AddUsers none", func() error { return s.AddUsers(ctx, "r", nil) }},
		{"AddUsers comma", func() error { return s.AddUsers(ctx, "r", []string{"alice", "smith, john"}) }},
		{"AddUsers empty user", func() error { return s.AddUsers(ctx, "r", []string{""}) }},
		{"AddUsers empty role", func() error { return s.AddUsers(ctx, "", []string{"alice"}) }},
		{"RemoveUsers comma", func() error { return s.RemoveUsers(ctx, "r", []string{"a,b"}) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := tt.call()
			if e := asError(t, err); e.Kind != upstream.KindInvalid {
				t.Errorf("Kind = %v, want KindInvalid (err %v)", e.Kind, err)
			}
		})
	}
}

// FuzzRolesJSON decodes arbitrary bodies as every roles answer shape: the
// decoders must never panic, and what they accept must be usable (every
// role has a name).
func FuzzRolesJSON(f *testing.F) {
	for _, s := range []string{
		rolesStoreJSON, rolesLegacyStoreJSON, searchRolesDocJSON, rolesByPrivilegeJSON, privilegeJSON, getRolesJSON,
		`{"roles": ["<role1>", "<role2>"], "hasMore": true}`,
		`{"users": ["<user1>", "<user2>"], "hasMore": false}`,
		`{"roles": [{"rolename": "", "name": "x"}, 1e3, true], "hasMore": "1"}`,
		`{"roles": [null], "users": {"a": 1}}`,
		`{"isReadOnly": "maybe", "totalRoles": 1.5}`,
		`{"roles": [{"ROLENAME": "a", "description": {"x": [1]}}]}`,
		`null`, `[]`, `{}`, `"x"`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var page upstream.RolePage
		if json.Unmarshal(b, &page) == nil {
			for i, r := range page.Roles {
				if r.Name == "" {
					t.Fatalf("role %d of %q has no name", i, b)
				}
			}
		}
		var store upstream.RoleStore
		_ = json.Unmarshal(b, &store)
		for _, key := range []string{"roles", "users"} {
			if l, err := upstream.DecodeNameList(key, b); err == nil {
				for i, n := range l.Names {
					if n == "" {
						t.Fatalf("%s %d of %q is empty", key, i, b)
					}
				}
			}
		}
	})
}
