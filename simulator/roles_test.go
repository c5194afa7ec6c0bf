package simulator_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/arcgate/arcgate/simulator"
)

const rolesRel = "security/roles"

// roleNames returns the rolename of each entry of a getRoles or search
// answer.
func roleNames(t *testing.T, m map[string]any) []string {
	t.Helper()
	list, ok := m["roles"].([]any)
	if !ok {
		t.Fatalf("no roles array in %v", m)
	}
	out := []string{}
	for _, x := range list {
		switch v := x.(type) {
		case map[string]any:
			out = append(out, v["rolename"].(string))
		case string:
			out = append(out, v)
		default:
			t.Fatalf("role entry %v", x)
		}
	}
	return out
}

func TestRoleStoreResource(t *testing.T) {
	tests := []struct {
		name string
		cfg  simulator.Config
		want map[string]any
	}{
		{"writable", simulator.Config{}, map[string]any{"isReadOnly": false}},
		{"read-only", simulator.Config{RoleStoreReadOnly: true}, map[string]any{"isReadOnly": true}},
		{"10.1", simulator.Config{LegacyRoleStore: true}, map[string]any{"totalRoles": json.Number("95")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, tt.cfg)
			if got := e.getJSON(rolesRel); !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("GET %s = %v, want %v", rolesRel, got, tt.want)
			}
		})
	}
	e := newEnv(t, simulator.Config{})
	e.sim.SetRoleStoreReadOnly(true)
	if got := e.getJSON(rolesRel); got["isReadOnly"] != true {
		t.Fatalf("after SetRoleStoreReadOnly(true): %v", got)
	}
	if got := e.getJSON("security"); !reflect.DeepEqual(got, map[string]any{"resources": []any{"roles"}}) {
		t.Fatalf("GET security = %v", got)
	}
	wantCode(t, e.getJSON("security/users"), 404)
	wantError(t, e.postJSON(rolesRel+"/nope"), 404, "Could not find resource or operation 'nope' on the system.")
	// Operations are POST only.
	r := e.get(rolesRel+"/getRoles", e.authed())
	wantError(t, r.object(t), 405, "Method not supported.")
	// No token, no roles.
	r = e.post(rolesRel+"/getRoles", url.Values{"f": {"json"}})
	wantCode(t, r.object(t), 499)
}

func TestGetRolesPaging(t *testing.T) {
	e := newEnv(t, simulator.Config{})
	seen := map[string]bool{}
	var order []string
	for start := 0; ; start += 10 {
		m := e.postJSON(rolesRel+"/getRoles", "startIndex", fmt.Sprint(start), "pageSize", "10")
		names := roleNames(t, m)
		for _, n := range names {
			if seen[n] {
				t.Fatalf("role %s returned twice", n)
			}
			seen[n] = true
			order = append(order, n)
		}
		more := m["hasMore"].(bool)
		if wantMore := start+10 < simulator.SeedRoleCount; more != wantMore {
			t.Fatalf("startIndex %d: hasMore %v, want %v", start, more, wantMore)
		}
		if !more {
			break
		}
	}
	if len(seen) != simulator.SeedRoleCount {
		t.Fatalf("%d roles, want %d", len(seen), simulator.SeedRoleCount)
	}
	for _, want := range []string{"administrators", "editors", "GIS Analysts", "quality_analysts", "viewers", "role_001", "role_090"} {
		if !seen[want] {
			t.Errorf("role %s missing", want)
		}
	}
	if order[0] != "administrators" || order[len(order)-1] != "viewers" {
		t.Errorf("order %v: want lower-case name order", order)
	}
	// Entries are role objects with descriptions.
	first := e.postJSON(rolesRel+"/getRoles", "startIndex", "1", "pageSize", "1")
	if got := first["roles"]; !reflect.DeepEqual(got, []any{map[string]any{"rolename": "editors", "description": "Edit and publish data"}}) {
		t.Errorf("getRoles entry %v", got)
	}
	// Defaults: startIndex 0, pageSize 10.
	if names := roleNames(t, e.postJSON(rolesRel+"/getRoles")); len(names) != 10 || names[0] != "administrators" {
		t.Errorf("default page %v", names)
	}
	// Past the end: empty.
	if m := e.postJSON(rolesRel+"/getRoles", "startIndex", "95"); len(roleNames(t, m)) != 0 || m["hasMore"] != false {
		t.Errorf("past the end %v", m)
	}
	// The store caps pageSize at 100.
	for i := range 10 {
		wantSuccess(t, e.postJSON(rolesRel+"/add", "rolename", fmt.Sprintf("zz_%d", i)))
	}
	if m := e.postJSON(rolesRel+"/getRoles", "pageSize", "1000"); len(roleNames(t, m)) != 100 || m["hasMore"] != true {
		t.Errorf("pageSize 1000 gave %d roles, hasMore %v", len(roleNames(t, m)), m["hasMore"])
	}
	for _, bad := range [][]string{{"startIndex", "-1"}, {"startIndex", "x"}, {"pageSize", "-5"}, {"pageSize", "1.5"}} {
		wantCode(t, e.postJSON(rolesRel+"/getRoles", bad...), 400)
	}
}

func TestSearchRoles(t *testing.T) {
	e := newEnv(t, simulator.Config{})
	tests := []struct {
		pairs    []string
		want     []string
		wantMore bool
	}{
		{[]string{"filter", "edit"}, []string{"editors"}, false},
		{[]string{"filter", "ANALYST"}, []string{"GIS Analysts", "quality_analysts"}, false},
		{[]string{"filter", "role_00"}, []string{"role_001", "role_002", "role_003", "role_004", "role_005", "role_006", "role_007", "role_008", "role_009"}, false},
		{[]string{"filter", "role_0", "maxCount", "3"}, []string{"role_001", "role_002", "role_003"}, true},
		{[]string{"filter", "role_0"}, nil, true}, // default maxCount 10
		{[]string{"filter", "nothing"}, []string{}, false},
	}
	for _, tt := range tests {
		m := e.postJSON(rolesRel+"/search", tt.pairs...)
		got := roleNames(t, m)
		if tt.want != nil && !reflect.DeepEqual(got, tt.want) {
			t.Errorf("search %v = %v, want %v", tt.pairs, got, tt.want)
		}
		if tt.want == nil && len(got) != 10 {
			t.Errorf("search %v gave %d roles, want the default 10", tt.pairs, len(got))
		}
		if m["hasMore"] != tt.wantMore {
			t.Errorf("search %v hasMore %v", tt.pairs, m["hasMore"])
		}
	}
	wantCode(t, e.postJSON(rolesRel+"/search", "maxCount", "lots"), 400)
}

func TestRoleCRUD(t *testing.T) {
	e := newEnv(t, simulator.Config{})
	wantSuccess(t, e.postJSON(rolesRel+"/add", "rolename", "planners", "description", "Plan, review & approve"))
	wantError(t, e.postJSON(rolesRel+"/add", "rolename", "PLANNERS"), 500, "Role 'PLANNERS' already exists.")
	wantSuccess(t, e.postJSON(rolesRel+"/add", "role", `{"rolename": "auditors", "description": "From JSON"}`))
	wantError(t, e.postJSON(rolesRel+"/add", "role", `{nope`), 400, "The 'role' parameter is not a valid role JSON object.")
	wantError(t, e.postJSON(rolesRel+"/add"), 400, "Missing required parameter 'rolename'.")

	m := e.postJSON(rolesRel+"/search", "filter", "planners")
	if !reflect.DeepEqual(m["roles"], []any{map[string]any{"rolename": "planners", "description": "Plan, review & approve"}}) {
		t.Fatalf("after add: %v", m)
	}
	if got := e.postJSON(rolesRel+"/getPrivilege", "rolename", "auditors"); got["privilege"] != "ACCESS" {
		t.Fatalf("new role privilege %v", got)
	}
	if got := e.getJSON(rolesRel); got["isReadOnly"] != false {
		t.Fatalf("store %v", got)
	}

	wantSuccess(t, e.postJSON(rolesRel+"/update", "rolename", "Planners", "description", "changed"))
	if m := e.postJSON(rolesRel+"/search", "filter", "planners"); m["roles"].([]any)[0].(map[string]any)["description"] != "changed" {
		t.Fatalf("after update: %v", m)
	}
	wantError(t, e.postJSON(rolesRel+"/update", "rolename", "ghosts", "description", "x"), 404, "Role 'ghosts' does not exist.")
	wantError(t, e.postJSON(rolesRel+"/update", "description", "x"), 400, "Missing required parameter 'rolename'.")

	wantSuccess(t, e.postJSON(rolesRel+"/remove", "rolename", "planners"))
	wantError(t, e.postJSON(rolesRel+"/remove", "rolename", "planners"), 404, "Role 'planners' does not exist.")
	if names := roleNames(t, e.postJSON(rolesRel+"/search", "filter", "planners")); len(names) != 0 {
		t.Fatalf("after remove: %v", names)
	}
	if got := e.getJSON(rolesRel); got["isReadOnly"] != false {
		t.Fatalf("store %v", got)
	}
	legacy := newEnv(t, simulator.Config{LegacyRoleStore: true})
	wantSuccess(t, legacy.postJSON(rolesRel+"/add", "rolename", "one_more"))
	if got := legacy.getJSON(rolesRel); got["totalRoles"] != json.Number("96") {
		t.Fatalf("legacy store after add: %v", got)
	}
}

func TestReadOnlyRoleStore(t *testing.T) {
	for _, cfg := range []simulator.Config{{RoleStoreReadOnly: true}, {RoleStoreReadOnly: true, LegacyRoleStore: true}} {
		t.Run(fmt.Sprintf("legacy=%v", cfg.LegacyRoleStore), func(t *testing.T) {
			e := newEnv(t, cfg)
			const refusal = "The role store is read-only. Roles and role memberships cannot be modified."
			for _, op := range []struct {
				rel   string
				pairs []string
			}{
				{"add", []string{"rolename", "x"}},
				{"update", []string{"rolename", "editors", "description", "x"}},
				{"remove", []string{"rolename", "editors"}},
				{"addUsersToRole", []string{"rolename", "editors", "users", "erin"}},
				{"removeUsersFromRole", []string{"rolename", "editors", "users", "alice"}},
			} {
				wantError(t, e.postJSON(rolesRel+"/"+op.rel, op.pairs...), 400, refusal)
			}
			// Nothing changed; reads and privileges still work.
			if users := e.postJSON(rolesRel+"/getUsersWithinRole", "rolename", "editors")["users"]; !reflect.DeepEqual(users, []any{"alice", "bob"}) {
				t.Fatalf("editors members %v", users)
			}
			wantSuccess(t, e.postJSON(rolesRel+"/assignPrivilege", "rolename", "editors", "privilege", "ADMINISTER"))
			if got := e.postJSON(rolesRel+"/getPrivilege", "rolename", "editors"); got["privilege"] != "ADMINISTER" {
				t.Fatalf("privilege on a read-only store: %v", got)
			}
			e.sim.SetRoleStoreReadOnly(false)
			wantSuccess(t, e.postJSON(rolesRel+"/add", "rolename", "x"))
		})
	}
}

func TestRolePrivileges(t *testing.T) {
	e := newEnv(t, simulator.Config{})
	for role, want := range map[string]string{"administrators": "ADMINISTER", "editors": "PUBLISH", "viewers": "ACCESS", "role_005": "PUBLISH", "role_015": "ADMINISTER", "role_001": "ACCESS"} {
		if got := e.postJSON(rolesRel+"/getPrivilege", "rolename", role); !reflect.DeepEqual(got, map[string]any{"privilege": want}) {
			t.Errorf("getPrivilege %s = %v, want %s", role, got, want)
		}
	}
	wantError(t, e.postJSON(rolesRel+"/getPrivilege", "rolename", "ghosts"), 404, "Role 'ghosts' does not exist.")

	byPriv := e.postJSON(rolesRel+"/getRolesByPrivilege", "privilege", "ADMINISTER")
	want := []any{"administrators", "role_015", "role_030", "role_045", "role_060", "role_075", "role_090"}
	if !reflect.DeepEqual(byPriv, map[string]any{"roles": want}) {
		t.Fatalf("getRolesByPrivilege ADMINISTER = %v (no hasMore key expected)", byPriv)
	}
	wantError(t, e.postJSON(rolesRel+"/getRolesByPrivilege", "privilege", "ACCESS"), 400, "Invalid privilege 'ACCESS'. Valid values are ADMINISTER and PUBLISH.")
	wantError(t, e.postJSON(rolesRel+"/getRolesByPrivilege"), 400, "Missing required parameter 'privilege'.")

	wantSuccess(t, e.postJSON(rolesRel+"/assignPrivilege", "rolename", "viewers", "privilege", "publish"))
	if got := e.postJSON(rolesRel+"/getPrivilege", "rolename", "viewers"); got["privilege"] != "PUBLISH" {
		t.Fatalf("after assign: %v", got)
	}
	wantSuccess(t, e.postJSON(rolesRel+"/assignPrivilege", "rolename", "viewers")) // default ACCESS
	if got := e.postJSON(rolesRel+"/getPrivilege", "rolename", "viewers"); got["privilege"] != "ACCESS" {
		t.Fatalf("after assign without privilege: %v", got)
	}
	wantError(t, e.postJSON(rolesRel+"/assignPrivilege", "rolename", "viewers", "privilege", "ROOT"), 400, "Invalid privilege 'ROOT'. Valid values are ADMINISTER, PUBLISH and ACCESS.")
	wantError(t, e.postJSON(rolesRel+"/assignPrivilege", "rolename", "ghosts", "privilege", "ACCESS"), 404, "Role 'ghosts' does not exist.")
}

func TestRoleMembers(t *testing.T) {
	e := newEnv(t, simulator.Config{})
	users := func(pairs ...string) map[string]any {
		return e.postJSON(rolesRel+"/getUsersWithinRole", pairs...)
	}
	if got := users("rolename", "editors"); !reflect.DeepEqual(got, map[string]any{"users": []any{"alice", "bob"}, "hasMore": false}) {
		t.Fatalf("editors = %v", got)
	}
	if got := users("rolename", "viewers", "maxCount", "2"); !reflect.DeepEqual(got, map[string]any{"users": []any{"alice", "carol"}, "hasMore": true}) {
		t.Fatalf("viewers max 2 = %v", got)
	}
	if got := users("rolename", "viewers", "filter", "ER"); !reflect.DeepEqual(got["users"], []any{"erin"}) {
		t.Fatalf("viewers filter = %v", got)
	}
	wantError(t, users("rolename", "ghosts"), 404, "Role 'ghosts' does not exist.")

	wantSuccess(t, e.postJSON(rolesRel+"/addUsersToRole", "rolename", "editors", "users", "carol, ERIN,alice"))
	if got := users("rolename", "editors")["users"]; !reflect.DeepEqual(got, []any{"alice", "bob", "carol", "erin"}) {
		t.Fatalf("after add: %v", got)
	}
	// An unknown user fails the whole call.
	wantError(t, e.postJSON(rolesRel+"/addUsersToRole", "rolename", "editors", "users", "frank,mallory"), 404, "User 'mallory' does not exist.")
	if got := users("rolename", "editors")["users"]; len(got.([]any)) != 4 {
		t.Fatalf("partial add: %v", got)
	}
	wantError(t, e.postJSON(rolesRel+"/addUsersToRole", "rolename", "editors", "users", " , "), 400, "Missing required parameter 'users'.")
	wantError(t, e.postJSON(rolesRel+"/addUsersToRole", "rolename", "ghosts", "users", "alice"), 404, "Role 'ghosts' does not exist.")

	wantSuccess(t, e.postJSON(rolesRel+"/removeUsersFromRole", "rolename", "editors", "users", "bob,mallory,frank"))
	if got := users("rolename", "editors")["users"]; !reflect.DeepEqual(got, []any{"alice", "carol", "erin"}) {
		t.Fatalf("after remove: %v", got)
	}

	forUser := func(pairs ...string) map[string]any { return e.postJSON(rolesRel+"/getRolesForUser", pairs...) }
	if got := forUser("username", "ALICE"); !reflect.DeepEqual(got, map[string]any{"roles": []any{"editors", "viewers"}, "hasMore": false}) {
		t.Fatalf("alice's roles = %v", got)
	}
	if got := forUser("username", "frank", "maxCount", "2"); !reflect.DeepEqual(got, map[string]any{"roles": []any{"role_001", "role_002"}, "hasMore": true}) {
		t.Fatalf("frank's roles = %v", got)
	}
	if got := forUser("username", "bob", "filter", "gis"); !reflect.DeepEqual(got["roles"], []any{"GIS Analysts"}) {
		t.Fatalf("bob's gis roles = %v", got)
	}
	wantError(t, forUser("username", "mallory"), 404, "User 'mallory' does not exist.")
	wantError(t, forUser(), 400, "Missing required parameter 'username'.")
}

func TestRolesConcurrentUse(t *testing.T) {
	e := newEnv(t, simulator.Config{})
	tok := e.sim.IssueToken(time.Hour)
	var wg sync.WaitGroup
	const workers = 12
	errs := make(chan string, workers*20)
	for w := range workers {
		wg.Go(func() {
			for i := range 20 {
				q := url.Values{"f": {"json"}, "token": {tok}}
				var rel string
				switch (w + i) % 5 {
				case 0:
					rel = "add"
					q.Set("rolename", fmt.Sprintf("c_%d_%d", w, i))
				case 1:
					rel = "getRoles"
					q.Set("pageSize", "100")
				case 2:
					rel = "addUsersToRole"
					q.Set("rolename", "viewers")
					q.Set("users", "frank")
				case 3:
					rel = "removeUsersFromRole"
					q.Set("rolename", "viewers")
					q.Set("users", "frank")
				case 4:
					rel = "assignPrivilege"
					q.Set("rolename", "editors")
					q.Set("privilege", "PUBLISH")
					if w%2 == 0 {
						e.sim.SetRoleStoreReadOnly(false)
					}
				}
				r := e.post(rolesRel+"/"+rel, q)
				if m := r.objectOrNil(); m == nil || m["status"] == "error" {
					errs <- fmt.Sprintf("%s: %s", rel, r.body)
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for msg := range errs {
		t.Error(msg)
	}
	if n := len(roleNames(t, e.postJSON(rolesRel+"/search", "filter", "c_", "maxCount", "1000"))); n != workers*20/5 {
		t.Fatalf("%d roles created concurrently, want %d", n, workers*20/5)
	}
}

// FuzzRoleOperations posts arbitrary parameters to every roles operation:
// the simulator must never panic and must always answer valid JSON in the
// admin conventions.
func FuzzRoleOperations(f *testing.F) {
	for _, seed := range []struct {
		op, name, value, extra string
		readOnly               bool
	}{
		{"getRoles", "startIndex", "90", "pageSize=10", false},
		{"search", "filter", "edit", "maxCount=1", false},
		{"add", "role", `{"rolename":"x","description":"y"}`, "", false},
		{"add", "rolename", "planners", "description=a%2Cb", true},
		{"update", "rolename", "editors", "description=", false},
		{"remove", "rolename", "GIS Analysts", "", false},
		{"getPrivilege", "rolename", "viewers", "", false},
		{"assignPrivilege", "rolename", "viewers", "privilege=publish", true},
		{"getRolesByPrivilege", "privilege", "ACCESS", "", false},
		{"getUsersWithinRole", "rolename", "editors", "filter=a&maxCount=-1", false},
		{"addUsersToRole", "rolename", "editors", "users=carol,,mallory", false},
		{"removeUsersFromRole", "rolename", "editors", "users=%00", false},
		{"getRolesForUser", "username", "ALICE", "maxCount=99999999999999999999", false},
		{"", "", "", "", false},
	} {
		f.Add(seed.op, seed.name, seed.value, seed.extra, seed.readOnly)
	}
	sim := simulator.New(simulator.Config{})
	tok := sim.IssueToken(0)
	f.Fuzz(func(t *testing.T, op, name, value, extra string, readOnly bool) {
		sim.SetRoleStoreReadOnly(readOnly)
		form, _ := url.ParseQuery(extra)
		if form == nil {
			form = url.Values{}
		}
		form.Set(name, value)
		form.Set("f", "json")
		form.Del("token")
		req := httptest.NewRequest(http.MethodPost, sim.AdminPath()+rolesRel+"/"+url.PathEscape(op), strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("X-Esri-Authorization", "Bearer "+tok)
		rec := httptest.NewRecorder()
		sim.ServeHTTP(rec, req)
		body, _ := io.ReadAll(rec.Body)
		if rec.Code != http.StatusOK || rec.Header().Get("Content-Type") != "text/plain;charset=UTF-8" || !json.Valid(body) {
			t.Fatalf("%s %v: HTTP %d %q %q", op, form, rec.Code, rec.Header().Get("Content-Type"), body)
		}
	})
}
