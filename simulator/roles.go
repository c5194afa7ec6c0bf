package simulator

import (
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
)

// This file simulates the security role store: /admin/security/roles and its
// operations (docs/upstream.md#roles). Role and user names are compared
// without regard to case (INFERRED, as for folders) and kept in the case
// they were created with.

// SeedRoleCount is the number of roles New seeds: five named roles
// (administrators, editors, "GIS Analysts", quality_analysts, viewers) and
// role_001 … role_090, enough for several pages of getRoles.
const SeedRoleCount = 95

// Paging limits of the simulated role store.
const (
	// defaultRolePageSize is getRoles' documented default pageSize.
	defaultRolePageSize = 10
	// maxRolePageSize caps pageSize, as the docs say a store may (the value
	// is INVENTED).
	maxRolePageSize = 100
	// defaultRoleMaxCount is the maxCount of search, getUsersWithinRole and
	// getRolesForUser when none is sent (INVENTED: undocumented).
	defaultRoleMaxCount = 10
)

// Privileges a role can grant (docs/upstream.md#roles).
const (
	privAdminister = "ADMINISTER"
	privPublish    = "PUBLISH"
	privAccess     = "ACCESS"
)

// Invented role store messages (docs/upstream.md#open-questions: no recorded
// texts for role store refusals or unknown roles and users).
const (
	// msgRoleStoreReadOnly is INVENTED: add, update, remove,
	// addUsersToRole or removeUsersFromRole on a read-only store (code 400).
	msgRoleStoreReadOnly = "The role store is read-only. Roles and role memberships cannot be modified."
)

// msgRoleMissingParam is INVENTED: a required parameter was not sent (code 400).
func msgRoleMissingParam(name string) string {
	return "Missing required parameter '" + name + "'."
}

// msgRoleBadInteger is INVENTED: an integer parameter with another value (code 400).
func msgRoleBadInteger(param, value string) string {
	return "Invalid value '" + value + "' for parameter '" + param + "'. Expected a non-negative integer."
}

// msgRoleExists is INVENTED: add with an existing role name (code 500).
func msgRoleExists(name string) string { return "Role '" + name + "' already exists." }

// msgRoleNotFound is INVENTED: an operation naming an unknown role (code 404).
func msgRoleNotFound(name string) string { return "Role '" + name + "' does not exist." }

// msgUserNotFound is INVENTED: an operation naming an unknown user (code 404).
func msgUserNotFound(name string) string { return "User '" + name + "' does not exist." }

// msgRoleBadPrivilege is INVENTED: assignPrivilege or getRolesByPrivilege with an
// unknown privilege, or getRolesByPrivilege with ACCESS, which its docs do
// not list (code 400).
func msgRoleBadPrivilege(value, allowed string) string {
	return "Invalid privilege '" + value + "'. Valid values are " + allowed + "."
}

// msgBadRoleJSON is INVENTED: add with a role parameter that is not a role
// JSON object (code 400).
const msgBadRoleJSON = "The 'role' parameter is not a valid role JSON object."

// role is one role of the store.
type role struct {
	name        string // stored case
	description string
	privilege   string
	members     map[string]string // lower-case user name → stored user name
}

// roleStore is the simulated role store. Its own mutex guards everything.
type roleStore struct {
	mu       sync.RWMutex
	readOnly bool
	legacy   bool
	roles    map[string]*role  // key: lower-case role name
	users    map[string]string // the user store: lower-case name → stored name
}

// newRoleStore returns the seeded role store.
func newRoleStore(readOnly, legacy bool) *roleStore {
	st := &roleStore{readOnly: readOnly, legacy: legacy, roles: map[string]*role{}, users: map[string]string{}}
	for _, u := range []string{"alice", "bob", "carol", "dave", "erin", "frank", "j.smith@example.com"} {
		st.users[strings.ToLower(u)] = u
	}
	add := func(name, desc, priv string, members ...string) {
		r := &role{name: name, description: desc, privilege: priv, members: map[string]string{}}
		for _, m := range members {
			r.members[strings.ToLower(m)] = m
		}
		st.roles[strings.ToLower(name)] = r
	}
	// Descriptions are INVENTED; editors and quality_analysts are the role
	// names of the documentation's examples.
	add("administrators", "Site administrators", privAdminister, "dave")
	add("editors", "Edit and publish data", privPublish, "alice", "bob")
	add("quality_analysts", "Review published data", privPublish, "carol")
	add("viewers", "Use secured services", privAccess, "alice", "carol", "erin")
	add("GIS Analysts", "Analysts of the GIS team", privAccess, "bob", "j.smith@example.com")
	for i := 1; len(st.roles) < SeedRoleCount; i++ {
		priv := privAccess
		switch {
		case i%15 == 0:
			priv = privAdminister
		case i%5 == 0:
			priv = privPublish
		}
		var members []string
		if i <= 3 {
			members = []string{"frank"}
		}
		add(fmt.Sprintf("role_%03d", i), fmt.Sprintf("Generated role %d", i), priv, members...)
	}
	return st
}

// SetRoleStoreReadOnly switches the role store between read-only (like an
// LDAP or Windows store) and writable.
func (s *Server) SetRoleStoreReadOnly(readOnly bool) {
	s.roles.mu.Lock()
	s.roles.readOnly = readOnly
	s.roles.mu.Unlock()
	s.logEvent("simulator: role store read-only = %v", readOnly)
}

// sortedRoles returns the roles ordered by lower-case name. The caller holds
// st.mu.
func (st *roleStore) sortedRoles() []*role {
	out := make([]*role, 0, len(st.roles))
	for _, r := range st.roles {
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool { return strings.ToLower(out[i].name) < strings.ToLower(out[j].name) })
	return out
}

// roleEntry is a role of getRoles and search, in the guessed shape
// (docs/upstream.md#roles: {"rolename","description"}).
type roleEntry struct {
	RoleName    string `json:"rolename"`
	Description string `json:"description"`
}

// rolePage is the answer of getRoles and search.
type rolePage struct {
	Roles   []roleEntry `json:"roles"`
	HasMore bool        `json:"hasMore"`
}

// serveSecurity dispatches /admin/security and everything below it. Only
// the roles resource is simulated.
func (s *Server) serveSecurity(c *call) {
	rest := c.segs[1:]
	if len(rest) == 0 {
		// INFERRED: the security resource lists its children; only the
		// simulated one is listed.
		c.writeJSON(struct {
			Resources []string `json:"resources"`
		}{[]string{"roles"}})
		return
	}
	if rest[0] != "roles" {
		c.notFound(rest[0])
		return
	}
	if len(rest) == 1 {
		s.roleStoreResource(c)
		return
	}
	handle, found, ok := rolesRoutes.match(c, rest[1:])
	if !found {
		c.notFound(rest[1])
		return
	}
	if ok {
		handle(s, c)
	}
}

// roleStoreResource implements GET /admin/security/roles: {"isReadOnly":b},
// or {"totalRoles":N} for a 10.1-style store.
func (s *Server) roleStoreResource(c *call) {
	st := s.roles
	st.mu.RLock()
	legacy, ro, n := st.legacy, st.readOnly, len(st.roles)
	st.mu.RUnlock()
	if legacy {
		c.writeJSON(struct {
			TotalRoles int `json:"totalRoles"`
		}{n})
		return
	}
	c.writeJSON(struct {
		IsReadOnly bool `json:"isReadOnly"`
	}{ro})
}

// roleIntParam reads a non-negative integer parameter, def when it is absent or
// empty. It answers 400 and returns false when the value is not one.
func roleIntParam(c *call, name string, def int) (int, bool) {
	v := strings.TrimSpace(c.param(name))
	if v == "" {
		return def, true
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		c.fail(400, msgRoleBadInteger(name, c.param(name)))
		return 0, false
	}
	return n, true
}

// roleRequiredParam reads a parameter that must be sent and not be empty. It
// answers 400 and returns false when it is missing.
func roleRequiredParam(c *call, name string) (string, bool) {
	v := c.param(name)
	if v == "" {
		c.fail(400, msgRoleMissingParam(name))
		return "", false
	}
	return v, true
}

// roleNameMatches reports whether name matches a search filter: a
// case-insensitive substring match (the docs say substring or prefix).
func roleNameMatches(name, filter string) bool {
	return filter == "" || strings.Contains(strings.ToLower(name), strings.ToLower(filter))
}

// getRoles implements POST /admin/security/roles/getRoles (startIndex,
// pageSize).
func (s *Server) getRoles(c *call) {
	start, ok := roleIntParam(c, "startIndex", 0)
	if !ok {
		return
	}
	size, ok := roleIntParam(c, "pageSize", defaultRolePageSize)
	if !ok {
		return
	}
	if size == 0 {
		size = defaultRolePageSize
	}
	size = min(size, maxRolePageSize)
	st := s.roles
	st.mu.RLock()
	all := st.sortedRoles()
	page := rolePage{Roles: []roleEntry{}}
	if start < len(all) {
		end := min(len(all), start+size)
		for _, r := range all[start:end] {
			page.Roles = append(page.Roles, roleEntry{r.name, r.description})
		}
		page.HasMore = end < len(all)
	}
	st.mu.RUnlock()
	c.writeJSON(page)
}

// searchRoles implements POST /admin/security/roles/search (filter,
// maxCount).
func (s *Server) searchRoles(c *call) {
	limit, ok := roleIntParam(c, "maxCount", defaultRoleMaxCount)
	if !ok {
		return
	}
	filter := c.param("filter")
	st := s.roles
	st.mu.RLock()
	page := rolePage{Roles: []roleEntry{}}
	for _, r := range st.sortedRoles() {
		if !roleNameMatches(r.name, filter) {
			continue
		}
		if len(page.Roles) == limit {
			page.HasMore = true
			break
		}
		page.Roles = append(page.Roles, roleEntry{r.name, r.description})
	}
	st.mu.RUnlock()
	c.writeJSON(page)
}

// addRole implements POST /admin/security/roles/add: rolename and
// description, or one role parameter {"rolename","description"}.
func (s *Server) addRole(c *call) {
	name, desc := c.param("rolename"), c.param("description")
	if name == "" && c.param("role") != "" {
		var in struct {
			RoleName    string `json:"rolename"`
			Description string `json:"description"`
		}
		if err := json.Unmarshal([]byte(c.param("role")), &in); err != nil {
			c.fail(400, msgBadRoleJSON)
			return
		}
		name, desc = in.RoleName, in.Description
	}
	if name == "" {
		c.fail(400, msgRoleMissingParam("rolename"))
		return
	}
	st := s.roles
	st.mu.Lock()
	if _, dup := st.roles[strings.ToLower(name)]; dup {
		st.mu.Unlock()
		c.fail(500, msgRoleExists(name))
		return
	}
	// INFERRED: a new role grants ACCESS until assignPrivilege says
	// otherwise (ACCESS is assignPrivilege's default).
	st.roles[strings.ToLower(name)] = &role{name: name, description: desc, privilege: privAccess, members: map[string]string{}}
	st.mu.Unlock()
	s.logEvent("simulator: role %q added", name)
	c.success()
}

// withRole runs fn with the role named by the rolename parameter, holding
// the store's write lock. It answers 400 or 404 itself when the parameter is
// missing or the role unknown, and returns whether fn ran.
func (s *Server) withRole(c *call, fn func(st *roleStore, r *role)) bool {
	name, ok := roleRequiredParam(c, "rolename")
	if !ok {
		return false
	}
	st := s.roles
	st.mu.Lock()
	defer st.mu.Unlock()
	r := st.roles[strings.ToLower(name)]
	if r == nil {
		c.fail(404, msgRoleNotFound(name))
		return false
	}
	fn(st, r)
	return true
}

// updateRole implements POST /admin/security/roles/update (rolename,
// description).
func (s *Server) updateRole(c *call) {
	if s.withRole(c, func(_ *roleStore, r *role) {
		if c.hasParam("description") {
			r.description = c.param("description")
		}
	}) {
		s.logEvent("simulator: role %q updated", c.param("rolename"))
		c.success()
	}
}

// removeRole implements POST /admin/security/roles/remove (rolename).
func (s *Server) removeRole(c *call) {
	if s.withRole(c, func(st *roleStore, r *role) { delete(st.roles, strings.ToLower(r.name)) }) {
		s.logEvent("simulator: role %q removed", c.param("rolename"))
		c.success()
	}
}

// getRolePrivilege implements POST /admin/security/roles/getPrivilege
// (rolename).
func (s *Server) getRolePrivilege(c *call) {
	var priv string
	if s.withRole(c, func(_ *roleStore, r *role) { priv = r.privilege }) {
		c.writeJSON(struct {
			Privilege string `json:"privilege"`
		}{priv})
	}
}

// assignPrivilege implements POST /admin/security/roles/assignPrivilege
// (rolename, privilege; ACCESS when privilege is not sent). It works on a
// read-only store: privileges are kept apart from the role store.
func (s *Server) assignPrivilege(c *call) {
	priv := strings.ToUpper(c.param("privilege"))
	switch priv {
	case "":
		priv = privAccess
	case privAdminister, privPublish, privAccess:
	default:
		if _, ok := roleRequiredParam(c, "rolename"); ok {
			c.fail(400, msgRoleBadPrivilege(c.param("privilege"), "ADMINISTER, PUBLISH and ACCESS"))
		}
		return
	}
	if s.withRole(c, func(_ *roleStore, r *role) { r.privilege = priv }) {
		s.logEvent("simulator: role %q privilege %s", c.param("rolename"), priv)
		c.success()
	}
}

// getRolesByPrivilege implements POST
// /admin/security/roles/getRolesByPrivilege (privilege: ADMINISTER or
// PUBLISH; ACCESS is not documented for it and is refused). The answer has
// no hasMore.
func (s *Server) getRolesByPrivilege(c *call) {
	priv, ok := roleRequiredParam(c, "privilege")
	if !ok {
		return
	}
	up := strings.ToUpper(priv)
	if up != privAdminister && up != privPublish {
		c.fail(400, msgRoleBadPrivilege(priv, "ADMINISTER and PUBLISH"))
		return
	}
	st := s.roles
	st.mu.RLock()
	names := []string{}
	for _, r := range st.sortedRoles() {
		if r.privilege == up {
			names = append(names, r.name)
		}
	}
	st.mu.RUnlock()
	c.writeJSON(struct {
		Roles []string `json:"roles"`
	}{names})
}

// rolePick returns at most limit of the sorted names matching filter, and
// whether more match.
func rolePick(names []string, filter string, limit int) ([]string, bool) {
	sort.Slice(names, func(i, j int) bool { return strings.ToLower(names[i]) < strings.ToLower(names[j]) })
	out := []string{}
	for _, n := range names {
		if !roleNameMatches(n, filter) {
			continue
		}
		if len(out) == limit {
			return out, true
		}
		out = append(out, n)
	}
	return out, false
}

// getUsersWithinRole implements POST
// /admin/security/roles/getUsersWithinRole (rolename, filter, maxCount).
func (s *Server) getUsersWithinRole(c *call) {
	limit, ok := roleIntParam(c, "maxCount", defaultRoleMaxCount)
	if !ok {
		return
	}
	var users []string
	if !s.withRole(c, func(_ *roleStore, r *role) {
		for _, u := range r.members {
			users = append(users, u)
		}
	}) {
		return
	}
	list, more := rolePick(users, c.param("filter"), limit)
	c.writeJSON(struct {
		Users   []string `json:"users"`
		HasMore bool     `json:"hasMore"`
	}{list, more})
}

// roleUserParam splits the users parameter, a comma-separated list; blanks
// around names are dropped. It answers 400 and returns false when it is
// missing or empty.
func roleUserParam(c *call) ([]string, bool) {
	raw, ok := roleRequiredParam(c, "users")
	if !ok {
		return nil, false
	}
	var out []string
	for _, u := range strings.Split(raw, ",") {
		if u = strings.TrimSpace(u); u != "" {
			out = append(out, u)
		}
	}
	if len(out) == 0 {
		c.fail(400, msgRoleMissingParam("users"))
		return nil, false
	}
	return out, true
}

// addUsersToRole implements POST /admin/security/roles/addUsersToRole
// (rolename, users). Every user must exist: an unknown one fails the whole
// call and nobody is added. Users already in the role stay (INFERRED).
func (s *Server) addUsersToRole(c *call) {
	users, ok := roleUserParam(c)
	if !ok {
		return
	}
	var missing string
	if !s.withRole(c, func(st *roleStore, r *role) {
		for _, u := range users {
			if _, ok := st.users[strings.ToLower(u)]; !ok {
				missing = u
				return
			}
		}
		for _, u := range users {
			r.members[strings.ToLower(u)] = st.users[strings.ToLower(u)]
		}
	}) {
		return
	}
	if missing != "" {
		c.fail(404, msgUserNotFound(missing))
		return
	}
	s.logEvent("simulator: %d users added to role %q", len(users), c.param("rolename"))
	c.success()
}

// removeUsersFromRole implements POST
// /admin/security/roles/removeUsersFromRole (rolename, users). Users that
// are not members, or do not exist, are ignored (INFERRED).
func (s *Server) removeUsersFromRole(c *call) {
	users, ok := roleUserParam(c)
	if !ok {
		return
	}
	if s.withRole(c, func(_ *roleStore, r *role) {
		for _, u := range users {
			delete(r.members, strings.ToLower(u))
		}
	}) {
		s.logEvent("simulator: %d users removed from role %q", len(users), c.param("rolename"))
		c.success()
	}
}

// getRolesForUser implements POST /admin/security/roles/getRolesForUser
// (username, filter, maxCount). An unknown user is a 404 (INVENTED).
func (s *Server) getRolesForUser(c *call) {
	limit, ok := roleIntParam(c, "maxCount", defaultRoleMaxCount)
	if !ok {
		return
	}
	user, ok := roleRequiredParam(c, "username")
	if !ok {
		return
	}
	key := strings.ToLower(user)
	st := s.roles
	st.mu.RLock()
	_, known := st.users[key]
	var roles []string
	for _, r := range st.roles {
		if _, member := r.members[key]; member {
			roles = append(roles, r.name)
		}
	}
	st.mu.RUnlock()
	if !known {
		c.fail(404, msgUserNotFound(user))
		return
	}
	list, more := rolePick(roles, c.param("filter"), limit)
	c.writeJSON(struct {
		Roles   []string `json:"roles"`
		HasMore bool     `json:"hasMore"`
	}{list, more})
}
