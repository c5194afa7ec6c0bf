package e2e

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	adminv1 "github.com/arcgate/arcgate/gen/go/arcgate/admin/v1"
	"github.com/arcgate/arcgate/simulator"
)

// seededRoles lists the simulator's roles in its (lower-case name) order.
func seededRoles() []string {
	out := []string{"roles/administrators", "roles/editors", "roles/GIS Analysts", "roles/quality_analysts"}
	for i := 1; i <= 90; i++ {
		out = append(out, fmt.Sprintf("roles/role_%03d", i))
	}
	return append(out, "roles/viewers")
}

// upstreamWrites returns the requests that reached the simulator's role
// store write operations.
func upstreamWrites(e *env) []string {
	var out []string
	for _, r := range e.sim.Requests() {
		for _, op := range []string{"/add", "/update", "/remove", "/addUsersToRole", "/removeUsersFromRole"} {
			if strings.HasPrefix(r.Path, "/arcgis/admin/security/roles/") && strings.HasSuffix(r.Path, op) {
				out = append(out, r.Method+" "+r.Path)
			}
		}
	}
	return out
}

func TestRolesPagingGRPC(t *testing.T) {
	e := start(t, simulator.Config{})
	roles := adminv1.NewRolesServiceClient(e.conn)
	c := ctx(t)

	var got []string
	seen := map[string]bool{}
	token, pages := "", 0
	for {
		resp, err := roles.ListRoles(c, &adminv1.ListRolesRequest{PageSize: 10, PageToken: token})
		if err != nil {
			t.Fatal(err)
		}
		pages++
		if n := len(resp.GetRoles()); n != 10 && resp.GetNextPageToken() != "" {
			t.Fatalf("page %d has %d roles and a next page", pages, n)
		}
		for _, r := range resp.GetRoles() {
			if seen[r.GetName()] {
				t.Fatalf("page %d: %s returned twice", pages, r.GetName())
			}
			seen[r.GetName()] = true
			got = append(got, r.GetName())
			if r.GetName() != "roles/"+r.GetRoleId() {
				t.Fatalf("role %v: name and role_id disagree", r)
			}
		}
		if token = resp.GetNextPageToken(); token == "" {
			break
		}
	}
	if pages != 10 || len(got) != simulator.SeedRoleCount || !slices.Equal(got, seededRoles()) {
		t.Fatalf("%d pages, %d roles: %v", pages, len(got), got)
	}

	// The default page size is 50.
	first, err := roles.ListRoles(c, &adminv1.ListRolesRequest{})
	if err != nil || len(first.GetRoles()) != 50 || first.GetNextPageToken() == "" {
		t.Fatalf("default page: %d roles, token %q, %v", len(first.GetRoles()), first.GetNextPageToken(), err)
	}
	if r := first.GetRoles()[1]; r.GetName() != "roles/editors" || r.GetDescription() != "Edit and publish data" {
		t.Fatalf("role entry %v", r)
	}
	// A larger page than the store's cap of 100 is cut by upstream: the
	// rest follows on the next page.
	for i := 0; i < 10; i++ {
		if _, err := roles.CreateRole(c, &adminv1.CreateRoleRequest{RoleId: "zz_" + strconv.Itoa(i)}); err != nil {
			t.Fatal(err)
		}
	}
	big, err := roles.ListRoles(c, &adminv1.ListRolesRequest{PageSize: 1000})
	if err != nil || len(big.GetRoles()) != 100 || big.GetNextPageToken() == "" {
		t.Fatalf("page of 1000: %d roles, token %q, %v", len(big.GetRoles()), big.GetNextPageToken(), err)
	}
	rest, err := roles.ListRoles(c, &adminv1.ListRolesRequest{PageSize: 1000, PageToken: big.GetNextPageToken()})
	if err != nil || len(rest.GetRoles()) != 5 || rest.GetNextPageToken() != "" || rest.GetRoles()[4].GetName() != "roles/zz_9" {
		t.Fatalf("rest after the cap: %v, %v", rest, err)
	}
}

func TestRolesPagingREST(t *testing.T) {
	e := start(t, simulator.Config{})
	var got []string
	token := ""
	for pages := 1; ; pages++ {
		path := "/v1/roles?pageSize=10"
		if token != "" {
			path += "&pageToken=" + url.QueryEscape(token)
		}
		r := e.do(t, http.MethodGet, path, nil)
		if r.Status != 200 {
			t.Fatalf("GET %s: %d %s", path, r.Status, r.Raw)
		}
		for _, x := range r.Body["roles"].([]any) {
			got = append(got, x.(map[string]any)["name"].(string))
		}
		token, _ = r.Body["nextPageToken"].(string)
		if token == "" {
			if pages != 10 {
				t.Fatalf("%d pages", pages)
			}
			break
		}
	}
	if !slices.Equal(got, seededRoles()) {
		t.Fatalf("REST paging gave %d roles: %v", len(got), got)
	}
}

// TestRolesListChangesBetweenPages changes the role list between pages: a
// role already returned is deleted and one is created before the anchor,
// and the next pages still neither repeat nor skip a role; when the anchor
// itself is deleted, the listing is ABORTED.
func TestRolesListChangesBetweenPages(t *testing.T) {
	e := start(t, simulator.Config{})
	roles := adminv1.NewRolesServiceClient(e.conn)
	c := ctx(t)
	all := seededRoles()
	names := func(resp *adminv1.ListRolesResponse) []string {
		var out []string
		for _, r := range resp.GetRoles() {
			out = append(out, r.GetName())
		}
		return out
	}

	p1, err := roles.ListRoles(c, &adminv1.ListRolesRequest{PageSize: 10})
	if err != nil || !slices.Equal(names(p1), all[:10]) {
		t.Fatalf("page 1: %v, %v", names(p1), err)
	}
	if _, err := roles.DeleteRole(c, &adminv1.DeleteRoleRequest{Name: "roles/editors"}); err != nil {
		t.Fatal(err)
	}
	p2, err := roles.ListRoles(c, &adminv1.ListRolesRequest{PageSize: 10, PageToken: p1.GetNextPageToken()})
	if err != nil || !slices.Equal(names(p2), all[10:20]) {
		t.Fatalf("page 2 after a deletion on page 1: %v, %v", names(p2), err)
	}
	if _, err := roles.CreateRole(c, &adminv1.CreateRoleRequest{RoleId: "aardvarks"}); err != nil {
		t.Fatal(err)
	}
	p3, err := roles.ListRoles(c, &adminv1.ListRolesRequest{PageSize: 10, PageToken: p2.GetNextPageToken()})
	if err != nil || !slices.Equal(names(p3), all[20:30]) {
		t.Fatalf("page 3 after a creation before the anchor: %v, %v", names(p3), err)
	}
	if _, err := roles.DeleteRole(c, &adminv1.DeleteRoleRequest{Name: all[29]}); err != nil {
		t.Fatal(err)
	}
	_, err = roles.ListRoles(c, &adminv1.ListRolesRequest{PageSize: 10, PageToken: p3.GetNextPageToken()})
	if info := wantCode(t, err, codes.Aborted); info.GetReason() != "ROLE_LIST_CHANGED" {
		t.Fatalf("ErrorInfo %v", info)
	}
}

func TestRolesGRPC(t *testing.T) {
	e := start(t, simulator.Config{})
	roles := adminv1.NewRolesServiceClient(e.conn)
	c := ctx(t)

	st, err := roles.GetRoleStore(c, &adminv1.GetRoleStoreRequest{})
	if err != nil || st.GetName() != "roleStore" || st.ReadOnly == nil || st.GetReadOnly() || st.TotalRoles != nil {
		t.Fatalf("GetRoleStore = %v, %v", st, err)
	}

	// Create, get (any case), search, update, delete.
	cr, err := roles.CreateRole(c, &adminv1.CreateRoleRequest{RoleId: "Field Crews", Role: &adminv1.Role{Description: "Crews, in the field"}})
	if err != nil {
		t.Fatal(err)
	}
	if r := cr; r.GetName() != "roles/Field Crews" || r.GetRoleId() != "Field Crews" || r.GetDescription() != "Crews, in the field" {
		t.Fatalf("created %v", r)
	}
	_, err = roles.CreateRole(c, &adminv1.CreateRoleRequest{RoleId: "field crews"})
	if info := wantCode(t, err, codes.AlreadyExists); info.GetReason() != "ALREADY_EXISTS" {
		t.Fatalf("duplicate: %v", info)
	}
	g, err := roles.GetRole(c, &adminv1.GetRoleRequest{Name: "roles/FIELD CREWS"})
	if err != nil || g.GetName() != "roles/Field Crews" {
		t.Fatalf("GetRole in another case = %v, %v", g, err)
	}
	g, err = roles.GetRole(c, &adminv1.GetRoleRequest{Name: "roles/role_010"})
	if err != nil || g.GetDescription() != "Generated role 10" {
		t.Fatalf("GetRole role_010 = %v, %v", g, err)
	}
	_, err = roles.GetRole(c, &adminv1.GetRoleRequest{Name: "roles/nobody"})
	if info := wantCode(t, err, codes.NotFound); info.GetMetadata()["resource"] != "roles/nobody" {
		t.Fatalf("ErrorInfo %v", info)
	}
	sr, err := roles.SearchRoles(c, &adminv1.SearchRolesRequest{Filter: "role_0", PageSize: 5})
	if err != nil || len(sr.GetRoles()) != 5 || sr.GetNextPageToken() == "" || sr.GetRoles()[0].GetName() != "roles/role_001" {
		t.Fatalf("SearchRoles = %v, %v", sr, err)
	}
	sr, err = roles.SearchRoles(c, &adminv1.SearchRolesRequest{Filter: "crew"})
	if err != nil || len(sr.GetRoles()) != 1 || sr.GetNextPageToken() != "" || sr.GetRoles()[0].GetDescription() != "Crews, in the field" {
		t.Fatalf("SearchRoles crew = %v, %v", sr, err)
	}
	up, err := roles.UpdateRole(c, &adminv1.UpdateRoleRequest{
		Role:       &adminv1.Role{Name: "roles/field crews", Description: "Out there"},
		UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"description"}},
	})
	if err != nil || up.GetName() != "roles/Field Crews" || up.GetDescription() != "Out there" {
		t.Fatalf("UpdateRole = %v, %v", up, err)
	}
	_, err = roles.UpdateRole(c, &adminv1.UpdateRoleRequest{Role: &adminv1.Role{Name: "roles/ghosts", Description: "x"},
		UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"description"}}})
	wantCode(t, err, codes.NotFound)
	if _, err := roles.DeleteRole(c, &adminv1.DeleteRoleRequest{Name: "roles/Field Crews"}); err != nil {
		t.Fatal(err)
	}
	_, err = roles.DeleteRole(c, &adminv1.DeleteRoleRequest{Name: "roles/Field Crews"})
	if info := wantCode(t, err, codes.NotFound); info.GetMetadata()["upstreamCode"] != "404" {
		t.Fatalf("second delete: %v", info)
	}

	// Privileges.
	gp, err := roles.GetRolePrivilege(c, &adminv1.GetRolePrivilegeRequest{Name: "roles/editors/privilege"})
	if err != nil || gp.GetPrivilege() != adminv1.Privilege_PRIVILEGE_PUBLISH || gp.GetPrivilegeName() != "PUBLISH" || gp.GetName() != "roles/editors/privilege" {
		t.Fatalf("GetRolePrivilege = %v, %v", gp, err)
	}
	sp, err := roles.SetRolePrivilege(c, &adminv1.SetRolePrivilegeRequest{Name: "roles/GIS Analysts/privilege", Privilege: adminv1.Privilege_PRIVILEGE_ADMINISTER})
	if err != nil || sp.GetPrivilege() != adminv1.Privilege_PRIVILEGE_ADMINISTER {
		t.Fatalf("SetRolePrivilege = %v, %v", sp, err)
	}
	_, err = roles.GetRolePrivilege(c, &adminv1.GetRolePrivilegeRequest{Name: "roles/ghosts/privilege"})
	wantCode(t, err, codes.NotFound)
	bp, err := roles.ListRolesByPrivilege(c, &adminv1.ListRolesByPrivilegeRequest{Privilege: adminv1.Privilege_PRIVILEGE_ADMINISTER})
	want := []string{"roles/GIS Analysts", "roles/administrators", "roles/role_015", "roles/role_030", "roles/role_045", "roles/role_060", "roles/role_075", "roles/role_090"}
	if err != nil || !slices.Equal(bp.GetRoles(), want) {
		t.Fatalf("ListRolesByPrivilege = %v, %v", bp, err)
	}

	// Members.
	lu, err := roles.ListRoleUsers(c, &adminv1.ListRoleUsersRequest{Role: "roles/viewers", PageSize: 2})
	if err != nil || !slices.Equal(lu.GetUsers(), []string{"users/alice", "users/carol"}) || lu.GetNextPageToken() == "" {
		t.Fatalf("ListRoleUsers = %v, %v", lu, err)
	}
	if _, err := roles.AddRoleUsers(c, &adminv1.AddRoleUsersRequest{Role: "roles/editors", Users: []string{"users/carol", "users/j.smith@example.com", "users/carol"}}); err != nil {
		t.Fatal(err)
	}
	lu, err = roles.ListRoleUsers(c, &adminv1.ListRoleUsersRequest{Role: "roles/editors"})
	if err != nil || !slices.Equal(lu.GetUsers(), []string{"users/alice", "users/bob", "users/carol", "users/j.smith@example.com"}) || lu.GetNextPageToken() != "" {
		t.Fatalf("editors after add = %v, %v", lu, err)
	}
	_, err = roles.AddRoleUsers(c, &adminv1.AddRoleUsersRequest{Role: "roles/editors", Users: []string{"users/mallory"}})
	wantCode(t, err, codes.NotFound)
	if _, err := roles.RemoveRoleUsers(c, &adminv1.RemoveRoleUsersRequest{Role: "roles/editors", Users: []string{"users/bob", "users/carol"}}); err != nil {
		t.Fatal(err)
	}
	lu, err = roles.ListRoleUsers(c, &adminv1.ListRoleUsersRequest{Role: "roles/editors", Filter: "i"})
	if err != nil || !slices.Equal(lu.GetUsers(), []string{"users/alice", "users/j.smith@example.com"}) {
		t.Fatalf("editors after remove, filter i = %v, %v", lu, err)
	}
	_, err = roles.ListRoleUsers(c, &adminv1.ListRoleUsersRequest{Role: "roles/ghosts"})
	wantCode(t, err, codes.NotFound)
	ur, err := roles.ListUserRoles(c, &adminv1.ListUserRolesRequest{User: "users/alice"})
	if err != nil || !slices.Equal(ur.GetRoles(), []string{"roles/editors", "roles/viewers"}) || ur.GetNextPageToken() != "" {
		t.Fatalf("ListUserRoles = %v, %v", ur, err)
	}
	ur, err = roles.ListUserRoles(c, &adminv1.ListUserRolesRequest{User: "users/frank", PageSize: 1})
	if err != nil || !slices.Equal(ur.GetRoles(), []string{"roles/role_001"}) || ur.GetNextPageToken() == "" {
		t.Fatalf("ListUserRoles frank = %v, %v", ur, err)
	}
	_, err = roles.ListUserRoles(c, &adminv1.ListUserRolesRequest{User: "users/mallory"})
	wantCode(t, err, codes.NotFound)
}

func TestRolesREST(t *testing.T) {
	e := start(t, simulator.Config{})
	get := func(path string) restResp {
		t.Helper()
		r := e.do(t, http.MethodGet, path, nil)
		if r.Status != 200 {
			t.Fatalf("GET %s: %d %s", path, r.Status, r.Raw)
		}
		return r
	}

	if r := get("/v1/roleStore"); r.Body["readOnly"] != false {
		t.Fatalf("roleStore %s", r.Raw)
	}
	if r := get("/v1/roles?pageSize=3"); len(r.Body["roles"].([]any)) != 3 || r.Body["nextPageToken"] == "" {
		t.Fatalf("roles page %s", r.Raw)
	}
	if r := get("/v1/roles:search?filter=ANALYST&pageSize=5"); !strings.Contains(r.Raw, `"name":"roles/GIS Analysts"`) ||
		!strings.Contains(r.Raw, `"name":"roles/quality_analysts"`) || r.Body["nextPageToken"] != nil { // last page: omitted
		t.Fatalf("search %s", r.Raw)
	}
	if r := get("/v1/roles/GIS%20Analysts"); r.Body["roleId"] != "GIS Analysts" {
		t.Fatalf("get role %s", r.Raw)
	}
	r := e.do(t, http.MethodGet, "/v1/roles/nobody", nil)
	if reason, md := restError(t, r, 404, codes.NotFound); reason != "NOT_FOUND" || md["resource"] != "roles/nobody" {
		t.Fatalf("missing role: %s %v", reason, md)
	}

	r = e.do(t, http.MethodPost, "/v1/roles?roleId=planners", map[string]any{"description": "plans"})
	if r.Status != 200 || r.Body["name"] != "roles/planners" {
		t.Fatalf("POST role: %d %s", r.Status, r.Raw)
	}
	r = e.do(t, http.MethodPost, "/v1/roles?roleId=planners", map[string]any{})
	if reason, _ := restError(t, r, 409, codes.AlreadyExists); reason != "ALREADY_EXISTS" {
		t.Fatalf("duplicate: %s", reason)
	}
	r = e.do(t, http.MethodPatch, "/v1/roles/planners", map[string]any{"description": "new plans"})
	if r.Status != 200 || r.Body["description"] != "new plans" {
		t.Fatalf("PATCH role: %d %s", r.Status, r.Raw)
	}
	r = e.do(t, http.MethodPatch, "/v1/roles/planners?updateMask=roleId", map[string]any{"roleId": "x"})
	restError(t, r, 400, codes.InvalidArgument)

	r = get("/v1/roles/editors/privilege")
	if r.Body["privilege"] != "PRIVILEGE_PUBLISH" || r.Body["privilegeName"] != "PUBLISH" || r.Body["name"] != "roles/editors/privilege" {
		t.Fatalf("privilege %s", r.Raw)
	}
	r = e.do(t, http.MethodPost, "/v1/roles/planners/privilege:set", map[string]any{"privilege": "PRIVILEGE_PUBLISH"})
	if r.Status != 200 || r.Body["privilege"] != "PRIVILEGE_PUBLISH" {
		t.Fatalf("POST privilege:set: %d %s", r.Status, r.Raw)
	}
	if r := get("/v1/roles:byPrivilege?privilege=PRIVILEGE_PUBLISH"); !strings.Contains(r.Raw, `"roles/planners"`) || !strings.Contains(r.Raw, `"roles/editors"`) {
		t.Fatalf("byPrivilege %s", r.Raw)
	}
	r = e.do(t, http.MethodGet, "/v1/roles:byPrivilege?privilege=PRIVILEGE_ACCESS", nil)
	restError(t, r, 400, codes.InvalidArgument)

	r = e.do(t, http.MethodPost, "/v1/roles/planners/users:add", map[string]any{"users": []string{"users/erin", `users/j.smith@example.com`}})
	if r.Status != 200 {
		t.Fatalf("users:add: %d %s", r.Status, r.Raw)
	}
	if r := get("/v1/roles/planners/users?pageSize=1"); r.Body["nextPageToken"] == nil || len(r.Body["users"].([]any)) != 1 || r.Body["users"].([]any)[0] != "users/erin" {
		t.Fatalf("users %s", r.Raw)
	}
	if r := get("/v1/users/j.smith@example.com/roles?filter=plan"); !slices.Equal(anyStrings(r.Body["roles"]), []string{"roles/planners"}) {
		t.Fatalf("user roles %s", r.Raw)
	}
	r = e.do(t, http.MethodPost, "/v1/roles/planners/users:remove", map[string]any{"users": []string{"users/erin"}})
	if r.Status != 200 {
		t.Fatalf("users:remove: %d %s", r.Status, r.Raw)
	}
	if r := get("/v1/roles/planners/users"); !slices.Equal(anyStrings(r.Body["users"]), []string{"users/j.smith@example.com"}) {
		t.Fatalf("users after remove %s", r.Raw)
	}
	r = e.do(t, http.MethodPost, "/v1/roles/planners/users:add", map[string]any{"users": []string{"users/smith, john"}})
	if reason, md := restError(t, r, 400, codes.InvalidArgument); reason != "INVALID_ARGUMENT" || md["field"] != "users[0]" {
		t.Fatalf("comma: %s %v", reason, md)
	}
	r = e.do(t, http.MethodGet, "/v1/users/mallory/roles", nil)
	restError(t, r, 404, codes.NotFound)

	if r := e.do(t, http.MethodDelete, "/v1/roles/planners", nil); r.Status != 200 {
		t.Fatalf("DELETE role: %d %s", r.Status, r.Raw)
	}
	r = e.do(t, http.MethodDelete, "/v1/roles/planners", nil)
	restError(t, r, 404, codes.NotFound)
}

func anyStrings(v any) []string {
	var out []string
	for _, x := range v.([]any) {
		out = append(out, x.(string))
	}
	return out
}

// TestRolesReadOnlyStore checks that writes to a read-only store are
// refused with FAILED_PRECONDITION (ROLE_STORE_READ_ONLY) without sending
// the doomed write, while privileges still change.
func TestRolesReadOnlyStore(t *testing.T) {
	e := start(t, simulator.Config{RoleStoreReadOnly: true})
	roles := adminv1.NewRolesServiceClient(e.conn)
	c := ctx(t)

	writes := []struct {
		name string
		call func() error
	}{
		{"CreateRole", func() error {
			_, err := roles.CreateRole(c, &adminv1.CreateRoleRequest{RoleId: "planners"})
			return err
		}},
		{"UpdateRole", func() error {
			_, err := roles.UpdateRole(c, &adminv1.UpdateRoleRequest{Role: &adminv1.Role{Name: "roles/editors", Description: "x"},
				UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"description"}}})
			return err
		}},
		{"DeleteRole", func() error {
			_, err := roles.DeleteRole(c, &adminv1.DeleteRoleRequest{Name: "roles/editors"})
			return err
		}},
		{"AddRoleUsers", func() error {
			_, err := roles.AddRoleUsers(c, &adminv1.AddRoleUsersRequest{Role: "roles/editors", Users: []string{"users/erin"}})
			return err
		}},
		{"RemoveRoleUsers", func() error {
			_, err := roles.RemoveRoleUsers(c, &adminv1.RemoveRoleUsersRequest{Role: "roles/editors", Users: []string{"users/alice"}})
			return err
		}},
	}
	for _, w := range writes {
		info := wantCode(t, w.call(), codes.FailedPrecondition)
		if info.GetReason() != "ROLE_STORE_READ_ONLY" || info.GetMetadata()["resource"] == "" {
			t.Fatalf("%s: ErrorInfo %v", w.name, info)
		}
	}
	if sent := upstreamWrites(e); len(sent) != 0 {
		t.Fatalf("doomed writes reached upstream: %v", sent)
	}
	r := e.do(t, http.MethodPost, "/v1/roles?roleId=planners", map[string]any{})
	if reason, _ := restError(t, r, 400, codes.FailedPrecondition); reason != "ROLE_STORE_READ_ONLY" {
		t.Fatalf("REST reason %s", reason)
	}
	r = e.do(t, http.MethodPost, "/v1/roles/editors/users:add", map[string]any{"users": []string{"users/erin"}})
	if reason, _ := restError(t, r, 400, codes.FailedPrecondition); reason != "ROLE_STORE_READ_ONLY" {
		t.Fatalf("REST reason %s", reason)
	}
	if sent := upstreamWrites(e); len(sent) != 0 {
		t.Fatalf("doomed writes reached upstream over REST: %v", sent)
	}

	// Reads and privileges work; the store says it is read-only.
	st, err := roles.GetRoleStore(c, &adminv1.GetRoleStoreRequest{})
	if err != nil || !st.GetReadOnly() {
		t.Fatalf("GetRoleStore = %v, %v", st, err)
	}
	if r := e.do(t, http.MethodGet, "/v1/roleStore", nil); r.Status != 200 || r.Body["readOnly"] != true {
		t.Fatalf("REST roleStore %d %s", r.Status, r.Raw)
	}
	sp, err := roles.SetRolePrivilege(c, &adminv1.SetRolePrivilegeRequest{Name: "roles/viewers/privilege", Privilege: adminv1.Privilege_PRIVILEGE_PUBLISH})
	if err != nil || sp.GetPrivilege() != adminv1.Privilege_PRIVILEGE_PUBLISH {
		t.Fatalf("SetRolePrivilege on a read-only store = %v, %v", sp, err)
	}
	if lu, err := roles.ListRoleUsers(c, &adminv1.ListRoleUsersRequest{Role: "roles/editors"}); err != nil || len(lu.GetUsers()) != 2 {
		t.Fatalf("members after refused writes = %v, %v", lu, err)
	}
}

// TestRolesLegacyReadOnlyStore: a 10.1-style store does not say whether it
// is read-only, so the first write is sent and its refusal mapped; the
// gateway then knows, and the next write is not sent at all.
func TestRolesLegacyReadOnlyStore(t *testing.T) {
	e := start(t, simulator.Config{RoleStoreReadOnly: true, LegacyRoleStore: true})
	roles := adminv1.NewRolesServiceClient(e.conn)
	c := ctx(t)

	st, err := roles.GetRoleStore(c, &adminv1.GetRoleStoreRequest{})
	if err != nil || st.ReadOnly != nil || st.GetTotalRoles() != simulator.SeedRoleCount {
		t.Fatalf("GetRoleStore = %v, %v", st, err)
	}
	if r := e.do(t, http.MethodGet, "/v1/roleStore", nil); r.Status != 200 || strings.Contains(r.Raw, "readOnly") || !strings.Contains(r.Raw, `"totalRoles":95`) {
		t.Fatalf("REST roleStore %d %s", r.Status, r.Raw)
	}
	_, err = roles.CreateRole(c, &adminv1.CreateRoleRequest{RoleId: "planners"})
	if info := wantCode(t, err, codes.FailedPrecondition); info.GetReason() != "ROLE_STORE_READ_ONLY" || info.GetMetadata()["upstreamCode"] != "400" {
		t.Fatalf("first write: %v", info)
	}
	if sent := upstreamWrites(e); len(sent) != 1 {
		t.Fatalf("writes sent: %v, want the one add", sent)
	}
	e.sim.ResetRequests()
	_, err = roles.DeleteRole(c, &adminv1.DeleteRoleRequest{Name: "roles/editors"})
	if info := wantCode(t, err, codes.FailedPrecondition); info.GetReason() != "ROLE_STORE_READ_ONLY" {
		t.Fatalf("second write: %v", info)
	}
	if n := e.sim.RequestCount(); n != 0 {
		t.Fatalf("%d requests for a write known to be refused: %v", n, e.sim.Requests())
	}
}

// TestRolesBadInputNeverReachUpstream sends every kind of invalid input
// over gRPC and REST: each is INVALID_ARGUMENT naming the field, and no
// request reaches the upstream.
func TestRolesBadInputNeverReachUpstream(t *testing.T) {
	e := start(t, simulator.Config{})
	roles := adminv1.NewRolesServiceClient(e.conn)
	c := ctx(t)
	long := strings.Repeat("r", 257)
	badRoles := []string{"", "roles/", "roles", "role/editors", "roles/a/b", "roles/..", "roles/ editors", "roles/editors\n", "roles/a\x00b", "roles/" + long, "users/alice"}
	e.sim.ResetRequests()

	type tc struct {
		field string
		call  func() error
	}
	var cases []tc
	for _, b := range badRoles {
		cases = append(cases,
			tc{"name", func() error { _, err := roles.GetRole(c, &adminv1.GetRoleRequest{Name: b}); return err }},
			tc{"name", func() error { _, err := roles.DeleteRole(c, &adminv1.DeleteRoleRequest{Name: b}); return err }},
			tc{"role.name", func() error {
				_, err := roles.UpdateRole(c, &adminv1.UpdateRoleRequest{Role: &adminv1.Role{Name: b}})
				return err
			}},
			tc{"name", func() error {
				_, err := roles.GetRolePrivilege(c, &adminv1.GetRolePrivilegeRequest{Name: b + "/privilege"})
				return err
			}},
			tc{"name", func() error {
				_, err := roles.SetRolePrivilege(c, &adminv1.SetRolePrivilegeRequest{Name: b + "/privilege", Privilege: adminv1.Privilege_PRIVILEGE_ACCESS})
				return err
			}},
			tc{"role", func() error {
				_, err := roles.ListRoleUsers(c, &adminv1.ListRoleUsersRequest{Role: b})
				return err
			}},
			tc{"role", func() error {
				_, err := roles.AddRoleUsers(c, &adminv1.AddRoleUsersRequest{Role: b, Users: []string{"users/alice"}})
				return err
			}},
			tc{"role", func() error {
				_, err := roles.RemoveRoleUsers(c, &adminv1.RemoveRoleUsersRequest{Role: b, Users: []string{"users/alice"}})
				return err
			}},
		)
		if id, ok := strings.CutPrefix(b, "roles/"); ok {
			cases = append(cases, tc{"role_id", func() error {
				_, err := roles.CreateRole(c, &adminv1.CreateRoleRequest{RoleId: id})
				return err
			}})
		}
	}
	tooMany := make([]string, 1001)
	for i := range tooMany {
		tooMany[i] = "users/u" + strconv.Itoa(i)
	}
	cases = append(cases,
		tc{"page_size", func() error { _, err := roles.ListRoles(c, &adminv1.ListRolesRequest{PageSize: -1}); return err }},
		tc{"page_token", func() error { _, err := roles.ListRoles(c, &adminv1.ListRolesRequest{PageToken: "bogus!"}); return err }},
		tc{"filter", func() error { _, err := roles.SearchRoles(c, &adminv1.SearchRolesRequest{Filter: "a\tb"}); return err }},
		tc{"filter", func() error { _, err := roles.SearchRoles(c, &adminv1.SearchRolesRequest{Filter: long}); return err }},
		tc{"page_size", func() error { _, err := roles.SearchRoles(c, &adminv1.SearchRolesRequest{PageSize: -1}); return err }},
		tc{"role.description", func() error {
			_, err := roles.CreateRole(c, &adminv1.CreateRoleRequest{RoleId: "ok", Role: &adminv1.Role{Description: strings.Repeat("d", 4097)}})
			return err
		}},
		tc{"role", func() error { _, err := roles.UpdateRole(c, &adminv1.UpdateRoleRequest{}); return err }},
		tc{"update_mask", func() error {
			_, err := roles.UpdateRole(c, &adminv1.UpdateRoleRequest{Role: &adminv1.Role{Name: "roles/editors"}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"role_id"}}})
			return err
		}},
		tc{"privilege", func() error {
			_, err := roles.SetRolePrivilege(c, &adminv1.SetRolePrivilegeRequest{Name: "roles/editors/privilege"})
			return err
		}},
		tc{"privilege", func() error {
			_, err := roles.SetRolePrivilege(c, &adminv1.SetRolePrivilegeRequest{Name: "roles/editors/privilege", Privilege: 42})
			return err
		}},
		tc{"privilege", func() error {
			_, err := roles.ListRolesByPrivilege(c, &adminv1.ListRolesByPrivilegeRequest{Privilege: adminv1.Privilege_PRIVILEGE_ACCESS})
			return err
		}},
		tc{"privilege", func() error {
			_, err := roles.ListRolesByPrivilege(c, &adminv1.ListRolesByPrivilegeRequest{})
			return err
		}},
		tc{"filter", func() error {
			_, err := roles.ListRoleUsers(c, &adminv1.ListRoleUsersRequest{Role: "roles/editors", Filter: "\x00"})
			return err
		}},
		tc{"page_size", func() error {
			_, err := roles.ListRoleUsers(c, &adminv1.ListRoleUsersRequest{Role: "roles/editors", PageSize: -3})
			return err
		}},
		tc{"users", func() error {
			_, err := roles.AddRoleUsers(c, &adminv1.AddRoleUsersRequest{Role: "roles/editors"})
			return err
		}},
		tc{"users", func() error {
			_, err := roles.AddRoleUsers(c, &adminv1.AddRoleUsersRequest{Role: "roles/editors", Users: tooMany})
			return err
		}},
		tc{"users[1]", func() error {
			_, err := roles.AddRoleUsers(c, &adminv1.AddRoleUsersRequest{Role: "roles/editors", Users: []string{"users/alice", "users/smith, john"}})
			return err
		}},
		tc{"users[0]", func() error {
			_, err := roles.AddRoleUsers(c, &adminv1.AddRoleUsersRequest{Role: "roles/editors", Users: []string{"alice"}})
			return err
		}},
		tc{"users[2]", func() error {
			_, err := roles.RemoveRoleUsers(c, &adminv1.RemoveRoleUsersRequest{Role: "roles/editors", Users: []string{"users/a", "users/b", "users/c,d"}})
			return err
		}},
		tc{"users[0]", func() error {
			_, err := roles.RemoveRoleUsers(c, &adminv1.RemoveRoleUsersRequest{Role: "roles/editors", Users: []string{"users/a/b"}})
			return err
		}},
		tc{"user", func() error {
			_, err := roles.ListUserRoles(c, &adminv1.ListUserRolesRequest{User: "users/"})
			return err
		}},
		tc{"user", func() error {
			_, err := roles.ListUserRoles(c, &adminv1.ListUserRolesRequest{User: "roles/editors"})
			return err
		}},
		tc{"filter", func() error {
			_, err := roles.ListUserRoles(c, &adminv1.ListUserRolesRequest{User: "users/alice", Filter: "\u202e"})
			return err
		}},
		tc{"page_size", func() error {
			_, err := roles.ListUserRoles(c, &adminv1.ListUserRolesRequest{User: "users/alice", PageSize: -1})
			return err
		}},
	)
	for i, tt := range cases {
		err := tt.call()
		if err == nil {
			t.Fatalf("case %d (field %s): no error", i, tt.field)
		}
		info := wantCode(t, err, codes.InvalidArgument)
		if info.GetMetadata()["field"] != tt.field {
			t.Errorf("case %d: field %q, want %q (%v)", i, info.GetMetadata()["field"], tt.field, err)
		}
		if len(err.Error()) > 400 {
			t.Errorf("case %d: error message is %d bytes long", i, len(err.Error()))
		}
	}

	for _, rc := range []struct {
		method, path string
		body         any
		field        string
	}{
		{http.MethodGet, "/v1/roles/%20editors", nil, "name"},
		{http.MethodGet, "/v1/roles/editors%09", nil, "name"},
		{http.MethodDelete, "/v1/roles/..", nil, "name"},
		{http.MethodGet, "/v1/roles?pageSize=-1", nil, "page_size"},
		{http.MethodGet, "/v1/roles:search?filter=%0A", nil, "filter"},
		{http.MethodGet, "/v1/roles:byPrivilege?privilege=PRIVILEGE_ACCESS", nil, "privilege"},
		{http.MethodPost, "/v1/roles/editors/privilege:set", map[string]any{}, "privilege"},
		{http.MethodGet, "/v1/roles/editors/users?pageSize=-1", nil, "page_size"},
		{http.MethodPost, "/v1/roles/editors/users:add", map[string]any{"users": []string{"users/a,b"}}, "users[0]"},
		{http.MethodPost, "/v1/roles/editors/users:remove", map[string]any{"users": []string{}}, "users"},
		{http.MethodGet, "/v1/users/%20alice/roles", nil, "user"},
		{http.MethodPost, "/v1/roles?roleId=a%2Fb", map[string]any{}, "role_id"},
		{http.MethodPatch, "/v1/roles/editors?updateMask=name", map[string]any{"description": "x"}, "update_mask"},
	} {
		r := e.do(t, rc.method, rc.path, rc.body)
		if reason, md := restError(t, r, 400, codes.InvalidArgument); reason != "INVALID_ARGUMENT" || md["field"] != rc.field {
			t.Errorf("%s %s: reason %s, field %v, want %s", rc.method, rc.path, reason, md["field"], rc.field)
		}
	}
	if n := e.sim.RequestCount(); n != 0 {
		t.Fatalf("%d requests reached the upstream for bad input: %v", n, e.sim.Requests())
	}
}
