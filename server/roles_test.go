package server

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	adminv1 "github.com/arcgate/arcgate/gen/go/arcgate/admin/v1"
	"github.com/arcgate/arcgate/upstream"
)

// roleStoreUpstream is an httptest upstream for the role store's state
// cache: security/roles answers store (a JSON body) and add answers addBody;
// it counts the requests per path.
type roleStoreUpstream struct {
	mu      sync.Mutex
	store   string
	addBody string
	calls   map[string]int
}

func (u *roleStoreUpstream) set(store, addBody string) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.store, u.addBody = store, addBody
}

func (u *roleStoreUpstream) count(path string) int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.calls[path]
}

func (u *roleStoreUpstream) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	u.mu.Lock()
	u.calls[r.URL.Path]++
	store, add := u.store, u.addBody
	u.mu.Unlock()
	w.Header().Set("Content-Type", "text/plain;charset=UTF-8")
	switch r.URL.Path {
	case "/arcgis/admin/security/roles":
		_, _ = io.WriteString(w, store)
	case "/arcgis/admin/security/roles/add":
		_, _ = io.WriteString(w, add)
	case "/arcgis/admin/security/roles/search":
		_, _ = io.WriteString(w, `{"roles":[{"rolename":"planners","description":""}],"hasMore":false}`)
	default:
		_, _ = io.WriteString(w, `{"status":"error","messages":["Could not find resource or operation 'x' on the system."],"code":404}`)
	}
}

// newTestRolesServer returns a rolesServer on a fake clock in front of u.
func newTestRolesServer(t *testing.T, u *roleStoreUpstream) (*rolesServer, *time.Time) {
	t.Helper()
	srv := httptest.NewServer(u)
	t.Cleanup(srv.Close)
	up, err := upstream.New(srv.URL+"/arcgis", upstream.WithHTTPClient(srv.Client()), upstream.WithTokenSource(upstream.StaticToken("t")))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	s := newRolesServer(up)
	s.now = func() time.Time { return now }
	return s, &now
}

func wantReason(t *testing.T, err error, code codes.Code, reason string) {
	t.Helper()
	if status.Code(err) != code || reasonOf(err) != reason {
		t.Fatalf("error %v: want %v with reason %s", err, code, reason)
	}
}

func TestRoleStoreStateCache(t *testing.T) {
	ctx := context.Background()
	u := &roleStoreUpstream{calls: map[string]int{}}
	u.set(`{"isReadOnly": true}`, `{"status":"success"}`)
	s, now := newTestRolesServer(t, u)
	create := func() error {
		_, err := s.CreateRole(ctx, &adminv1.CreateRoleRequest{RoleId: "planners"})
		return err
	}
	const store, add = "/arcgis/admin/security/roles", "/arcgis/admin/security/roles/add"

	// A read-only store refuses without sending the write, and the state is
	// reused while it is fresh.
	wantReason(t, create(), codes.FailedPrecondition, ReasonRoleStoreReadOnly)
	wantReason(t, create(), codes.FailedPrecondition, ReasonRoleStoreReadOnly)
	if u.count(store) != 1 || u.count(add) != 0 {
		t.Fatalf("store read %d times, add sent %d times; want 1 and 0", u.count(store), u.count(add))
	}

	// Once stale, the state is read again: now writable.
	u.set(`{"isReadOnly": false}`, `{"status":"success"}`)
	*now = now.Add(roleStoreTTL - time.Second)
	wantReason(t, create(), codes.FailedPrecondition, ReasonRoleStoreReadOnly)
	*now = now.Add(2 * time.Second)
	if err := create(); err != nil {
		t.Fatalf("create on a writable store: %v", err)
	}
	if u.count(store) != 2 || u.count(add) != 1 {
		t.Fatalf("store read %d times, add sent %d times; want 2 and 1", u.count(store), u.count(add))
	}

	// A 10.1-style store does not say: the write is sent, upstream's
	// refusal is mapped, and remembered.
	u.set(`{"totalRoles": 3}`, `{"status":"error","messages":["The role store is read-only."],"code":400}`)
	*now = now.Add(roleStoreTTL)
	wantReason(t, create(), codes.FailedPrecondition, ReasonRoleStoreReadOnly)
	if u.count(store) != 3 || u.count(add) != 2 {
		t.Fatalf("store read %d times, add sent %d times; want 3 and 2", u.count(store), u.count(add))
	}
	wantReason(t, create(), codes.FailedPrecondition, ReasonRoleStoreReadOnly)
	if u.count(store) != 3 || u.count(add) != 2 {
		t.Fatalf("after a remembered refusal: store read %d times, add sent %d times; want 3 and 2", u.count(store), u.count(add))
	}

	// GetRoleStore refreshes the state.
	u.set(`{"isReadOnly": false}`, `{"status":"success"}`)
	rs, err := s.GetRoleStore(ctx, &adminv1.GetRoleStoreRequest{})
	if err != nil || rs.ReadOnly == nil || rs.GetReadOnly() {
		t.Fatalf("GetRoleStore = %v, %v", rs, err)
	}
	if err := create(); err != nil {
		t.Fatalf("create after GetRoleStore saw a writable store: %v", err)
	}
}

func TestRoleStoreProbeFailure(t *testing.T) {
	u := &roleStoreUpstream{calls: map[string]int{}}
	u.set(`<html>not the admin API</html>`, `{"status":"success"}`)
	s, _ := newTestRolesServer(t, u)
	_, err := s.DeleteRole(context.Background(), &adminv1.DeleteRoleRequest{Name: "roles/planners"})
	if status.Code(err) != codes.Unavailable {
		t.Fatalf("DeleteRole with an unreadable store: %v, want UNAVAILABLE", err)
	}
	if u.count("/arcgis/admin/security/roles/remove") != 0 {
		t.Fatal("remove was sent although the store could not be read")
	}
}

// listUpstream is an httptest upstream serving getRoles and search over a
// fixed role list. Its search finds nothing but says hasMore (as a server
// whose search is cut short would), and its getRoles ignores pageSize when
// sloppy is set.
type listUpstream struct {
	names  []string
	sloppy bool

	mu    sync.Mutex
	pages int
}

func (u *listUpstream) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain;charset=UTF-8")
	if err := r.ParseForm(); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	switch r.URL.Path {
	case "/arcgis/admin/security/roles/search":
		_, _ = io.WriteString(w, `{"roles":[{"rolename":"not_it","description":""}],"hasMore":true}`)
	case "/arcgis/admin/security/roles/getRoles":
		u.mu.Lock()
		u.pages++
		u.mu.Unlock()
		start, size := atoiOr(r.PostForm.Get("startIndex")), atoiOr(r.PostForm.Get("pageSize"))
		end := min(len(u.names), start+size)
		if u.sloppy {
			end = len(u.names)
		}
		var b strings.Builder
		b.WriteString(`{"roles":[`)
		for i := start; i < end; i++ {
			if i > start {
				b.WriteString(",")
			}
			fmt.Fprintf(&b, `{"rolename":%q,"description":"d%d"}`, u.names[i], i)
		}
		fmt.Fprintf(&b, `],"hasMore":%v}`, end < len(u.names))
		_, _ = io.WriteString(w, b.String())
	default:
		http.NotFound(w, r)
	}
}

func atoiOr(s string) int {
	n, _ := strconv.Atoi(s)
	return n
}

func newListServer(t *testing.T, u *listUpstream) *rolesServer {
	t.Helper()
	srv := httptest.NewServer(u)
	t.Cleanup(srv.Close)
	up, err := upstream.New(srv.URL+"/arcgis", upstream.WithHTTPClient(srv.Client()), upstream.WithTokenSource(upstream.StaticToken("t")))
	if err != nil {
		t.Fatal(err)
	}
	return newRolesServer(up)
}

func TestGetRoleWhenSearchIsCutShort(t *testing.T) {
	u := &listUpstream{}
	for i := range 150 {
		u.names = append(u.names, fmt.Sprintf("r%03d", i))
	}
	s := newListServer(t, u)
	got, err := s.GetRole(context.Background(), &adminv1.GetRoleRequest{Name: "roles/R120"})
	if err != nil || got.GetName() != "roles/r120" || got.GetDescription() != "d120" {
		t.Fatalf("GetRole = %v, %v", got, err)
	}
	u.mu.Lock()
	pages := u.pages
	u.mu.Unlock()
	if pages != 2 {
		t.Errorf("%d getRoles pages read, want 2", pages)
	}
	_, err = s.GetRole(context.Background(), &adminv1.GetRoleRequest{Name: "roles/nobody"})
	wantReason(t, err, codes.NotFound, ReasonNotFound)
}

func TestListRolesWithSloppyUpstream(t *testing.T) {
	u := &listUpstream{sloppy: true}
	for i := range 25 {
		u.names = append(u.names, fmt.Sprintf("r%03d", i))
	}
	s := newListServer(t, u)
	var got []string
	token := ""
	for {
		resp, err := s.ListRoles(context.Background(), &adminv1.ListRolesRequest{PageSize: 10, PageToken: token})
		if err != nil {
			t.Fatal(err)
		}
		if len(resp.GetRoles()) > 10 {
			t.Fatalf("page of %d roles", len(resp.GetRoles()))
		}
		for _, r := range resp.GetRoles() {
			got = append(got, r.GetRoleId())
		}
		if token = resp.GetNextPageToken(); token == "" {
			break
		}
	}
	if !slices.Equal(got, u.names) {
		t.Fatalf("roles %v, want %v", got, u.names)
	}
}
