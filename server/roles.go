package server

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"

	adminv1 "github.com/arcgate/arcgate/gen/go/arcgate/admin/v1"
	"github.com/arcgate/arcgate/statestore"
	"github.com/arcgate/arcgate/upstream"
)

// rolesServer implements adminv1.RolesServiceServer.
type rolesServer struct {
	adminv1.UnimplementedRolesServiceServer
	roles rolesAPI
	now   func() time.Time
	locks statestore.Locker

	// mu guards store, the cached state of the role store.
	mu    sync.Mutex
	store roleStoreState
}

var _ adminv1.RolesServiceServer = (*rolesServer)(nil)

// roleStoreTTL is how long the role store's read-only state is trusted
// before writes read it again. A store changes between read-only and
// writable only when an administrator reconfigures the site.
const roleStoreTTL = 10 * time.Second

// Bounds of the reads that GetRole and ListRoles make when they have to
// look through every role.
const (
	findRoleSearchMax = 1000 // maxCount of the search that looks for one role
	roleScanPageSize  = 100  // pageSize of getRoles while scanning
	roleScanMaxPages  = 100  // pages read at most while scanning (10,000 roles)
)

// roleStoreState is what the gateway knows about the role store.
type roleStoreState struct {
	at       time.Time // when it was learnt; zero: never
	known    bool      // whether upstream said if the store is read-only
	readOnly bool
}

func newRolesServer(up *upstream.Client) *rolesServer {
	return &rolesServer{roles: up.Roles, now: time.Now, locks: statestore.NewMemory()}
}

// remember records what upstream said about the store.
func (s *rolesServer) remember(st *upstream.RoleStore) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.store = roleStoreState{at: s.now(), known: st.IsReadOnly != nil}
	if st.IsReadOnly != nil {
		s.store.readOnly = *st.IsReadOnly
	}
}

// storeIsReadOnly reports whether the role store is known to be read-only,
// reading the roles resource when the cached state is older than
// roleStoreTTL.
func (s *rolesServer) storeIsReadOnly(ctx context.Context) (bool, error) {
	s.mu.Lock()
	st := s.store
	s.mu.Unlock()
	if !st.at.IsZero() && s.now().Sub(st.at) < roleStoreTTL {
		return st.known && st.readOnly, nil
	}
	res, err := s.roles.Store(ctx)
	if err != nil {
		return false, err
	}
	s.remember(res)
	return res.IsReadOnly != nil && *res.IsReadOnly, nil
}

// checkWritable refuses a write to the role store (roles and members) when
// the store is known to be read-only, without sending the write.
func (s *rolesServer) checkWritable(ctx context.Context, resource string) error {
	ro, err := s.storeIsReadOnly(ctx)
	if err != nil {
		return Status(err, roleStoreName)
	}
	if ro {
		return failedPrecondition(ReasonRoleStoreReadOnly,
			resource+": the role store is read-only (an LDAP or Windows store): roles and their members cannot be changed through ArcGIS Server, privileges can",
			map[string]string{"resource": resource})
	}
	return nil
}

// writeError converts the error of a write to the role store. When upstream
// refused it because the store is read-only (a store whose state upstream
// does not report), that is remembered so that the next write is not sent.
func (s *rolesServer) writeError(err error, resource string) error {
	st := Status(err, resource)
	if reasonOf(st) == ReasonRoleStoreReadOnly {
		s.mu.Lock()
		s.store = roleStoreState{at: s.now(), known: true, readOnly: true}
		s.mu.Unlock()
	}
	return st
}

// reasonOf returns the ErrorInfo reason of a status error, "" if none.
func reasonOf(err error) string {
	st, ok := status.FromError(err)
	if !ok {
		return ""
	}
	for _, d := range st.Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok {
			return info.GetReason()
		}
	}
	return ""
}

// GetRoleStore implements adminv1.RolesServiceServer.
func (s *rolesServer) GetRoleStore(ctx context.Context, req *adminv1.GetRoleStoreRequest) (*adminv1.RoleStore, error) {
	if n := req.GetName(); n != "" && n != roleStoreName {
		return nil, invalidArgument("name", "must be "+roleStoreName+" (or empty), got "+quoteName(n))
	}
	st, err := s.roles.Store(ctx)
	if err != nil {
		return nil, Status(err, roleStoreName)
	}
	s.remember(st)
	return roleStoreFromUpstream(st), nil
}

// ListRoles implements adminv1.RolesServiceServer. Pages map onto upstream
// getRoles pages: the token holds the upstream offset of the next role and
// the name of the role before it. The next call reads from one role before
// the offset and checks that this anchor is still there; if it is not, the
// list changed, and the anchor is looked for in the whole list.
func (s *rolesServer) ListRoles(ctx context.Context, req *adminv1.ListRolesRequest) (*adminv1.ListRolesResponse, error) {
	n, err := pageSize(req.GetPageSize())
	if err != nil {
		return nil, err
	}
	offset, last, err := decodeRolesToken(req.GetPageToken())
	if err != nil {
		return nil, err
	}
	if offset == 0 {
		p, err := s.roles.List(ctx, 0, n)
		if err != nil {
			return nil, Status(err, "roles")
		}
		return rolesPage(p.Roles, p.HasMore, 0, n), nil
	}
	roles, more, ok, err := s.rolesAfter(ctx, offset, last, n)
	if err != nil {
		return nil, Status(err, "roles")
	}
	if !ok { // the list changed since the previous page: find the anchor
		i, found, err := s.indexOfRole(ctx, last)
		if err != nil {
			return nil, Status(err, "roles")
		}
		if found {
			offset = i + 1
			roles, more, ok, err = s.rolesAfter(ctx, offset, last, n)
			if err != nil {
				return nil, Status(err, "roles")
			}
		}
		if !ok {
			return nil, newStatus(codes.Aborted, ReasonRoleListChanged,
				"the role list changed while it was being paged and "+quoteName(last)+", the last role returned, is gone: list the roles again from the first page",
				map[string]string{"resource": "roles"})
		}
	}
	return rolesPage(roles, more, offset, n), nil
}

// rolesAfter reads up to n roles from upstream index offset, together with
// the role before it, which must be the anchor last; ok is false when it is
// not.
func (s *rolesServer) rolesAfter(ctx context.Context, offset int, last string, n int) (roles []upstream.Role, more, ok bool, err error) {
	p, err := s.roles.List(ctx, offset-1, n+1)
	if err != nil {
		return nil, false, false, err
	}
	if len(p.Roles) == 0 || p.Roles[0].Name != last {
		return nil, false, false, nil
	}
	return p.Roles[1:], p.HasMore, true, nil
}

// indexOfRole finds the upstream index of the role named name by reading
// the role pages from the start.
func (s *rolesServer) indexOfRole(ctx context.Context, name string) (int, bool, error) {
	start := 0
	for range roleScanMaxPages {
		p, err := s.roles.List(ctx, start, roleScanPageSize)
		if err != nil {
			return 0, false, err
		}
		for i, r := range p.Roles {
			if r.Name == name {
				return start + i, true, nil
			}
		}
		if !p.HasMore || len(p.Roles) == 0 {
			break
		}
		start += len(p.Roles)
	}
	return 0, false, nil
}

// rolesPage builds a ListRoles page from roles read at upstream index
// offset; upstream's answer is cut to n roles.
func rolesPage(roles []upstream.Role, more bool, offset, n int) *adminv1.ListRolesResponse {
	if len(roles) > n {
		roles, more = roles[:n], true
	}
	resp := &adminv1.ListRolesResponse{Roles: rolesFromUpstream(roles)}
	if more && len(roles) > 0 {
		resp.NextPageToken = encodeRolesToken(offset+len(roles), roles[len(roles)-1].Name)
	}
	return resp
}

// SearchRoles implements adminv1.RolesServiceServer.
func (s *rolesServer) SearchRoles(ctx context.Context, req *adminv1.SearchRolesRequest) (*adminv1.SearchRolesResponse, error) {
	if err := checkRoleFilter("filter", req.GetFilter()); err != nil {
		return nil, err
	}
	query := "roles:search?" + req.GetFilter()
	if _, err := checkPage(req.GetPageSize(), req.GetPageToken(), query); err != nil {
		return nil, err
	}
	p, err := s.roles.Search(ctx, req.GetFilter(), maxRoleMaxCount)
	if err != nil {
		return nil, Status(err, "roles")
	}
	if err := roleQueryFits("roles", len(p.Roles), p.HasMore); err != nil {
		return nil, err
	}
	page, next, err := paginate(rolesFromUpstream(p.Roles), (*adminv1.Role).GetName, query, req.GetPageToken(), req.GetPageSize())
	if err != nil {
		return nil, err
	}
	return &adminv1.SearchRolesResponse{Roles: page, NextPageToken: next}, nil
}

// roleQueryFits refuses a search or membership listing that upstream cut
// short: the API pages over one upstream answer of at most maxRoleMaxCount
// names, and a silently truncated listing would look complete.
func roleQueryFits(resource string, n int, more bool) error {
	if !more && n <= maxRoleMaxCount {
		return nil
	}
	return failedPrecondition(ReasonRoleQueryTooLarge,
		fmt.Sprintf("%s: more match than one call reads from upstream (%d); narrow the filter", resource, maxRoleMaxCount),
		map[string]string{"resource": resource, "limit": strconv.Itoa(maxRoleMaxCount)})
}

// findRole looks a role up by name: a search for the name, and, when the
// search was cut short without an exact match, the role pages. An exact
// match wins, else a single match that differs only in case.
func (s *rolesServer) findRole(ctx context.Context, name string) (upstream.Role, error) {
	p, err := s.roles.Search(ctx, name, findRoleSearchMax)
	if err != nil {
		return upstream.Role{}, err
	}
	candidates := p.Roles
	if p.HasMore && !hasExactRole(candidates, name) {
		candidates = nil
		start := 0
		for range roleScanMaxPages {
			page, err := s.roles.List(ctx, start, roleScanPageSize)
			if err != nil {
				return upstream.Role{}, err
			}
			candidates = append(candidates, page.Roles...)
			if !page.HasMore || len(page.Roles) == 0 {
				break
			}
			start += len(page.Roles)
		}
	}
	if r, ok := pickRole(candidates, name); ok {
		return r, nil
	}
	return upstream.Role{}, notFound(roleResourceName(name))
}

func hasExactRole(roles []upstream.Role, name string) bool {
	for _, r := range roles {
		if r.Name == name {
			return true
		}
	}
	return false
}

// pickRole returns the role named name, or else the only one whose name
// differs from it in case alone.
func pickRole(roles []upstream.Role, name string) (upstream.Role, bool) {
	var folded []upstream.Role
	for _, r := range roles {
		if r.Name == name {
			return r, true
		}
		if strings.EqualFold(r.Name, name) {
			folded = append(folded, r)
		}
	}
	if len(folded) == 1 {
		return folded[0], true
	}
	return upstream.Role{}, false
}

// GetRole implements adminv1.RolesServiceServer.
func (s *rolesServer) GetRole(ctx context.Context, req *adminv1.GetRoleRequest) (*adminv1.Role, error) {
	name, err := parseRoleName("name", req.GetName())
	if err != nil {
		return nil, err
	}
	r, err := s.findRole(ctx, name)
	if err != nil {
		return nil, Status(err, req.GetName())
	}
	return roleFromUpstream(r), nil
}

// CreateRole implements adminv1.RolesServiceServer.
func (s *rolesServer) CreateRole(ctx context.Context, req *adminv1.CreateRoleRequest) (_ *adminv1.Role, err error) {
	if why := checkPrincipalName(req.GetRoleId()); why != "" {
		return nil, invalidArgument("role_id", why)
	}
	desc := req.GetRole().GetDescription()
	if err := checkRoleDescription("role.description", desc); err != nil {
		return nil, err
	}
	resource := roleResourceName(req.GetRoleId())
	ctx, unlock, err := lockResource(ctx, s.locks, roleLockKey(req.GetRoleId()), resource)
	if err != nil {
		return nil, err
	}
	defer unlock(&err)
	if err := s.checkWritable(ctx, resource); err != nil {
		return nil, err
	}
	if err := s.roles.Add(ctx, req.GetRoleId(), desc); err != nil {
		return nil, s.writeError(err, resource)
	}
	r, err := s.findRole(ctx, req.GetRoleId())
	if err != nil {
		return nil, readBackFailed(err, resource)
	}
	return roleFromUpstream(r), nil
}

// UpdateRole implements adminv1.RolesServiceServer.
func (s *rolesServer) UpdateRole(ctx context.Context, req *adminv1.UpdateRoleRequest) (_ *adminv1.Role, err error) {
	if req.GetRole() == nil {
		return nil, invalidArgument("role", "is required")
	}
	name, err := parseRoleName("role.name", req.GetRole().GetName())
	if err != nil {
		return nil, err
	}
	paths, err := updatePaths(req.GetUpdateMask().GetPaths(), []string{"description"})
	if err != nil {
		return nil, err
	}
	for _, p := range paths {
		if p != "description" {
			return nil, invalidArgument("update_mask", "unknown or read-only field "+quoteName(p)+" (settable: description)")
		}
	}
	desc := req.GetRole().GetDescription()
	if err := checkRoleDescription("role.description", desc); err != nil {
		return nil, err
	}
	resource := req.GetRole().GetName()
	ctx, unlock, err := lockResource(ctx, s.locks, roleLockKey(name), resource)
	if err != nil {
		return nil, err
	}
	defer unlock(&err)
	if err := s.checkWritable(ctx, resource); err != nil {
		return nil, err
	}
	cur, err := s.findRole(ctx, name)
	if err != nil {
		return nil, Status(err, resource)
	}
	if err := checkEtagOf(req.GetRole().GetEtag(), cur, resource); err != nil {
		return nil, err
	}
	if err := s.roles.Update(ctx, cur.Name, desc); err != nil {
		return nil, s.writeError(err, resource)
	}
	r, err := s.findRole(ctx, cur.Name)
	if err != nil {
		return nil, readBackFailed(err, resource)
	}
	return roleFromUpstream(r), nil
}

// DeleteRole implements adminv1.RolesServiceServer.
func (s *rolesServer) DeleteRole(ctx context.Context, req *adminv1.DeleteRoleRequest) (_ *emptypb.Empty, err error) {
	name, err := parseRoleName("name", req.GetName())
	if err != nil {
		return nil, err
	}
	ctx, unlock, err := lockResource(ctx, s.locks, roleLockKey(name), req.GetName())
	if err != nil {
		return nil, err
	}
	defer unlock(&err)
	if err := s.checkWritable(ctx, req.GetName()); err != nil {
		return nil, err
	}
	if req.GetEtag() != "" {
		cur, err := s.findRole(ctx, name)
		if err != nil {
			return nil, Status(err, req.GetName())
		}
		if err := checkEtagOf(req.GetEtag(), cur, req.GetName()); err != nil {
			return nil, err
		}
	}
	if err := s.roles.Remove(ctx, name); err != nil {
		return nil, s.writeError(err, req.GetName())
	}
	return &emptypb.Empty{}, nil
}

// GetRolePrivilege implements adminv1.RolesServiceServer.
func (s *rolesServer) GetRolePrivilege(ctx context.Context, req *adminv1.GetRolePrivilegeRequest) (*adminv1.RolePrivilege, error) {
	role, name, err := parseRolePrivilegeName("name", req.GetName())
	if err != nil {
		return nil, err
	}
	priv, err := s.roles.Privilege(ctx, name)
	if err != nil {
		return nil, Status(err, role)
	}
	return &adminv1.RolePrivilege{Name: req.GetName(), Privilege: privilegeFromUpstream(priv), PrivilegeName: priv, Etag: etagOf(priv)}, nil
}

// parseRolePrivilegeName parses `roles/{role}/privilege` and returns the
// role's resource name and ArcGIS name.
func parseRolePrivilegeName(field, name string) (string, string, error) {
	role, ok := strings.CutSuffix(name, "/privilege")
	if !ok {
		return "", "", invalidArgument(field, "must have the form roles/{role}/privilege, got "+quoteName(name))
	}
	n, err := parseRoleName(field, role)
	if err != nil {
		return "", "", err
	}
	return role, n, nil
}

// SetRolePrivilege implements adminv1.RolesServiceServer. Privileges are
// kept apart from the role store, so read-only stores are not refused.
func (s *rolesServer) SetRolePrivilege(ctx context.Context, req *adminv1.SetRolePrivilegeRequest) (*adminv1.RolePrivilege, error) {
	role, name, err := parseRolePrivilegeName("name", req.GetName())
	if err != nil {
		return nil, err
	}
	up, ok := privilegeNames[req.GetPrivilege()]
	if !ok {
		return nil, invalidArgument("privilege", "must be PRIVILEGE_ADMINISTER, PRIVILEGE_PUBLISH or PRIVILEGE_ACCESS")
	}
	if err := s.roles.AssignPrivilege(ctx, name, up); err != nil {
		return nil, Status(err, role)
	}
	priv, err := s.roles.Privilege(ctx, name)
	if err != nil {
		return nil, Status(err, role)
	}
	return &adminv1.RolePrivilege{Name: req.GetName(), Privilege: privilegeFromUpstream(priv), PrivilegeName: priv, Etag: etagOf(priv)}, nil
}

// ListRolesByPrivilege implements adminv1.RolesServiceServer.
func (s *rolesServer) ListRolesByPrivilege(ctx context.Context, req *adminv1.ListRolesByPrivilegeRequest) (*adminv1.ListRolesByPrivilegeResponse, error) {
	p := req.GetPrivilege()
	if p != adminv1.Privilege_PRIVILEGE_ADMINISTER && p != adminv1.Privilege_PRIVILEGE_PUBLISH {
		return nil, invalidArgument("privilege", "must be PRIVILEGE_ADMINISTER or PRIVILEGE_PUBLISH (upstream getRolesByPrivilege documents no other)")
	}
	query := "roles:byPrivilege?" + p.String()
	if _, err := checkPage(req.GetPageSize(), req.GetPageToken(), query); err != nil {
		return nil, err
	}
	names, err := s.roles.RolesByPrivilege(ctx, privilegeNames[p])
	if err != nil {
		return nil, Status(err, "roles")
	}
	page, next, err := paginate(resourceNames("roles/", names), identity, query, req.GetPageToken(), req.GetPageSize())
	if err != nil {
		return nil, err
	}
	return &adminv1.ListRolesByPrivilegeResponse{Roles: page, NextPageToken: next}, nil
}

// ListRoleUsers implements adminv1.RolesServiceServer.
func (s *rolesServer) ListRoleUsers(ctx context.Context, req *adminv1.ListRoleUsersRequest) (*adminv1.ListRoleUsersResponse, error) {
	name, err := parseRoleName("role", req.GetRole())
	if err != nil {
		return nil, err
	}
	if err := checkRoleFilter("filter", req.GetFilter()); err != nil {
		return nil, err
	}
	query := req.GetRole() + "/users?" + req.GetFilter()
	if _, err := checkPage(req.GetPageSize(), req.GetPageToken(), query); err != nil {
		return nil, err
	}
	l, err := s.roles.UsersInRole(ctx, name, req.GetFilter(), maxRoleMaxCount)
	if err != nil {
		return nil, Status(err, req.GetRole())
	}
	if err := roleQueryFits(req.GetRole(), len(l.Names), l.HasMore); err != nil {
		return nil, err
	}
	page, next, err := paginate(resourceNames("users/", l.Names), identity, query, req.GetPageToken(), req.GetPageSize())
	if err != nil {
		return nil, err
	}
	return &adminv1.ListRoleUsersResponse{Users: page, NextPageToken: next}, nil
}

// identity is the sort key of a listing of resource names.
func identity(s string) string { return s }

// AddRoleUsers implements adminv1.RolesServiceServer.
func (s *rolesServer) AddRoleUsers(ctx context.Context, req *adminv1.AddRoleUsersRequest) (*adminv1.AddRoleUsersResponse, error) {
	if err := s.changeMembership(ctx, req.GetRole(), req.GetUsers(), s.roles.AddUsers); err != nil {
		return nil, err
	}
	return &adminv1.AddRoleUsersResponse{}, nil
}

// RemoveRoleUsers implements adminv1.RolesServiceServer.
func (s *rolesServer) RemoveRoleUsers(ctx context.Context, req *adminv1.RemoveRoleUsersRequest) (*adminv1.RemoveRoleUsersResponse, error) {
	if err := s.changeMembership(ctx, req.GetRole(), req.GetUsers(), s.roles.RemoveUsers); err != nil {
		return nil, err
	}
	return &adminv1.RemoveRoleUsersResponse{}, nil
}

// changeMembership validates a role and user list, refuses a known
// read-only store, and applies change (upstream addUsersToRole or
// removeUsersFromRole).
func (s *rolesServer) changeMembership(ctx context.Context, role string, users []string, change func(context.Context, string, []string) error) error {
	name, list, err := parseMembership(role, users)
	if err != nil {
		return err
	}
	if err := s.checkWritable(ctx, role); err != nil {
		return err
	}
	if err := change(ctx, name, list); err != nil {
		return s.writeError(err, role)
	}
	return nil
}

// parseMembership validates the role and users of AddRoleUsers and
// RemoveRoleUsers.
func parseMembership(role string, users []string) (string, []string, error) {
	name, err := parseRoleName("role", role)
	if err != nil {
		return "", nil, err
	}
	list, err := parseUserList("users", users)
	if err != nil {
		return "", nil, err
	}
	return name, list, nil
}

// ListUserRoles implements adminv1.RolesServiceServer.
func (s *rolesServer) ListUserRoles(ctx context.Context, req *adminv1.ListUserRolesRequest) (*adminv1.ListUserRolesResponse, error) {
	user, err := parseUserName("user", req.GetUser(), false)
	if err != nil {
		return nil, err
	}
	if err := checkRoleFilter("filter", req.GetFilter()); err != nil {
		return nil, err
	}
	query := req.GetUser() + "/roles?" + req.GetFilter()
	if _, err := checkPage(req.GetPageSize(), req.GetPageToken(), query); err != nil {
		return nil, err
	}
	l, err := s.roles.RolesForUser(ctx, user, req.GetFilter(), maxRoleMaxCount)
	if err != nil {
		return nil, Status(err, req.GetUser())
	}
	if err := roleQueryFits(req.GetUser(), len(l.Names), l.HasMore); err != nil {
		return nil, err
	}
	page, next, err := paginate(resourceNames("roles/", l.Names), identity, query, req.GetPageToken(), req.GetPageSize())
	if err != nil {
		return nil, err
	}
	return &adminv1.ListUserRolesResponse{Roles: page, NextPageToken: next}, nil
}
