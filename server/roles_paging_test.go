package server

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"

	"google.golang.org/grpc/codes"

	adminv1 "github.com/arcgate/arcgate/gen/go/arcgate/admin/v1"
	"github.com/arcgate/arcgate/upstream"
)

// nameListUpstream answers the four role listings over a fixed list of
// names (in reverse order, as upstream's order is not the API's) and records
// the maxCount it was asked for. more makes every answer say hasMore.
type nameListUpstream struct {
	names []string
	more  bool

	mu       sync.Mutex
	maxCount []string
}

func (u *nameListUpstream) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	u.mu.Lock()
	u.maxCount = append(u.maxCount, r.PostForm.Get("maxCount"))
	u.mu.Unlock()
	names := slices.Clone(u.names)
	slices.Reverse(names)
	body := map[string]any{}
	switch r.URL.Path {
	case "/arcgis/admin/security/roles/search":
		var roles []map[string]string
		for _, n := range names {
			roles = append(roles, map[string]string{"rolename": n, "description": "d-" + n})
		}
		body["roles"] = roles
	case "/arcgis/admin/security/roles/getUsersWithinRole":
		body["users"] = names
	case "/arcgis/admin/security/roles/getRolesForUser", "/arcgis/admin/security/roles/getRolesByPrivilege":
		body["roles"] = names
	default:
		http.NotFound(w, r)
		return
	}
	body["hasMore"] = u.more
	w.Header().Set("Content-Type", "text/plain;charset=UTF-8")
	_ = json.NewEncoder(w).Encode(body)
}

// newUpstreamServer is an upstream client of h served by httptest.
func newUpstreamServer(t *testing.T, h http.Handler) *upstream.Client {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	up, err := upstream.New(srv.URL+"/arcgis", upstream.WithHTTPClient(srv.Client()), upstream.WithTokenSource(upstream.StaticToken("t")))
	if err != nil {
		t.Fatal(err)
	}
	return up
}

// Every role listing is paged (AIP-158): pages in name order, every name
// once, a token valid only for its own query, a negative page size refused.
func TestRoleListingsArePaged(t *testing.T) {
	u := &nameListUpstream{}
	for i := range 7 {
		u.names = append(u.names, fmt.Sprintf("n%d", i))
	}
	s := newRolesServer(newUpstreamServer(t, u))
	ctx := context.Background()
	// list returns one page's names and the next token.
	type list func(size int32, token string) ([]string, string, error)
	cases := map[string]struct {
		list   list
		prefix string
	}{
		"SearchRoles": {func(size int32, token string) ([]string, string, error) {
			r, err := s.SearchRoles(ctx, &adminv1.SearchRolesRequest{Filter: "n", PageSize: size, PageToken: token})
			var names []string
			for _, role := range r.GetRoles() {
				names = append(names, role.GetName())
			}
			return names, r.GetNextPageToken(), err
		}, "roles/"},
		"ListRoleUsers": {func(size int32, token string) ([]string, string, error) {
			r, err := s.ListRoleUsers(ctx, &adminv1.ListRoleUsersRequest{Role: "roles/editors", PageSize: size, PageToken: token})
			return r.GetUsers(), r.GetNextPageToken(), err
		}, "users/"},
		"ListUserRoles": {func(size int32, token string) ([]string, string, error) {
			r, err := s.ListUserRoles(ctx, &adminv1.ListUserRolesRequest{User: "users/alice", PageSize: size, PageToken: token})
			return r.GetRoles(), r.GetNextPageToken(), err
		}, "roles/"},
		"ListRolesByPrivilege": {func(size int32, token string) ([]string, string, error) {
			r, err := s.ListRolesByPrivilege(ctx, &adminv1.ListRolesByPrivilegeRequest{Privilege: adminv1.Privilege_PRIVILEGE_PUBLISH, PageSize: size, PageToken: token})
			return r.GetRoles(), r.GetNextPageToken(), err
		}, "roles/"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			var got []string
			token, pages := "", 0
			for {
				names, next, err := c.list(3, token)
				if err != nil {
					t.Fatalf("page %d: %v", pages, err)
				}
				if len(names) > 3 {
					t.Fatalf("page %d has %d names, page size 3", pages, len(names))
				}
				got = append(got, names...)
				pages++
				if next == "" {
					break
				}
				if pages > 10 {
					t.Fatal("no last page")
				}
				token = next
			}
			var want []string
			for _, n := range u.names {
				want = append(want, c.prefix+n)
			}
			if !slices.Equal(got, want) || pages != 3 {
				t.Errorf("got %v in %d pages, want %v in 3", got, pages, want)
			}
			_, _, err := c.list(-1, "")
			wantInvalid(t, err, "page_size")
			_, _, err = c.list(0, "not-a-token")
			wantInvalid(t, err, "page_token")
		})
	}
	// A token of one listing is not valid for another.
	_, tok, err := cases["ListRoleUsers"].list(3, "")
	if err != nil || tok == "" {
		t.Fatalf("ListRoleUsers: token %q, %v", tok, err)
	}
	_, err = s.ListRoleUsers(ctx, &adminv1.ListRoleUsersRequest{Role: "roles/other", PageToken: tok})
	wantInvalid(t, err, "page_token")
	// Upstream is asked for the most one call reads, not for one page.
	u.mu.Lock()
	defer u.mu.Unlock()
	for _, mc := range u.maxCount {
		if mc != "" && mc != fmt.Sprint(maxRoleMaxCount) {
			t.Errorf("upstream asked for maxCount %s, want %d", mc, maxRoleMaxCount)
		}
	}
}

// A listing upstream cut short is refused, not returned as if complete.
func TestRoleListingCutShortIsRefused(t *testing.T) {
	u := &nameListUpstream{names: []string{"a", "b"}, more: true}
	s := newRolesServer(newUpstreamServer(t, u))
	ctx := context.Background()
	_, err := s.SearchRoles(ctx, &adminv1.SearchRolesRequest{})
	wantReason(t, err, codes.FailedPrecondition, ReasonRoleQueryTooLarge)
	_, err = s.ListRoleUsers(ctx, &adminv1.ListRoleUsersRequest{Role: "roles/editors"})
	wantReason(t, err, codes.FailedPrecondition, ReasonRoleQueryTooLarge)
	_, err = s.ListUserRoles(ctx, &adminv1.ListUserRolesRequest{User: "users/alice"})
	wantReason(t, err, codes.FailedPrecondition, ReasonRoleQueryTooLarge)
}

// The privilege is the singleton roles/{role}/privilege: other names are
// INVALID_ARGUMENT naming the field.
func TestRolePrivilegeNames(t *testing.T) {
	for _, bad := range []string{"", "roles/editors", "roles//privilege", "users/alice/privilege", "roles/editors/privilege/x"} {
		if _, _, err := parseRolePrivilegeName("name", bad); err == nil {
			t.Errorf("parseRolePrivilegeName(%q) accepted", bad)
		} else {
			wantInvalid(t, err, "name")
		}
	}
	role, name, err := parseRolePrivilegeName("name", "roles/editors/privilege")
	if err != nil || role != "roles/editors" || name != "editors" {
		t.Errorf("parseRolePrivilegeName = %q, %q, %v", role, name, err)
	}
}
