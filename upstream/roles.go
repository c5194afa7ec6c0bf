package upstream

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
)

// RolesService manages the security roles under admin/security/roles: the
// roles themselves, their privileges and their members. Every operation is
// a form-encoded POST (docs/upstream.md#roles); role and user names travel
// as form values, never in the URL path.
type RolesService service

// rolesPath is the admin-relative path of the roles resource.
const rolesPath = "security/roles"

// Privilege values of getPrivilege and assignPrivilege.
const (
	// PrivilegeAdminister lets a role administer the site.
	PrivilegeAdminister = "ADMINISTER"
	// PrivilegePublish lets a role publish services.
	PrivilegePublish = "PUBLISH"
	// PrivilegeAccess lets a role use secured services.
	PrivilegeAccess = "ACCESS"
)

// RoleStore is the roles resource. Current servers report IsReadOnly;
// 10.1-era servers report TotalRoles instead. A field the server did not
// send is nil.
type RoleStore struct {
	// IsReadOnly reports whether the store is read-only (LDAP or Windows).
	IsReadOnly *bool
	// TotalRoles is the number of roles (10.1-era servers).
	TotalRoles *int
}

// UnmarshalJSON decodes the roles resource tolerantly.
func (s *RoleStore) UnmarshalJSON(b []byte) error {
	var w struct {
		IsReadOnly *jsonBool `json:"isReadOnly"`
		TotalRoles *jsonInt  `json:"totalRoles"`
	}
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	*s = RoleStore{}
	if w.IsReadOnly != nil {
		v := bool(*w.IsReadOnly)
		s.IsReadOnly = &v
	}
	if w.TotalRoles != nil {
		n := int(*w.TotalRoles)
		s.TotalRoles = &n
	}
	return nil
}

// Role is a role entry of getRoles, search and getRolesByPrivilege.
type Role struct {
	// Name is the role name ("rolename").
	Name string
	// Description is the role description; "" when the server listed the
	// role by name only.
	Description string
}

// UnmarshalJSON decodes a role given as an object {"rolename",
// "description"} (keys matched without regard to case; "roleName" and
// "name" are accepted too) or as a plain name string or number. The
// object shape is a guess (docs/upstream.md#roles): the documented examples
// show names only.
func (r *Role) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '{' {
		var w roleWire
		if err := json.Unmarshal(b, &w); err != nil {
			return err
		}
		role := Role{Name: string(w.RoleName), Description: string(w.Description)}
		if role.Name == "" {
			role.Name = string(w.Name)
		}
		if role.Name == "" {
			return errors.New("role object without a rolename")
		}
		*r = role
		return nil
	}
	var name jsonText
	if err := json.Unmarshal(b, &name); err != nil {
		return err
	}
	if name == "" {
		return errors.New("empty role name")
	}
	*r = Role{Name: string(name)}
	return nil
}

// roleWire is a role object as upstream sends it; encoding/json matches
// its keys without regard to case, so "roleName" and "RoleName" are
// "rolename".
type roleWire struct {
	RoleName    jsonText `json:"rolename"`
	Name        jsonText `json:"name"`
	Description jsonText `json:"description"`
}

// RolePage is an answer of getRoles or search.
type RolePage struct {
	// Roles are the roles, in upstream order.
	Roles []Role
	// HasMore reports whether more roles follow (getRoles) or match
	// (search).
	HasMore bool
}

// UnmarshalJSON decodes {"roles":[...],"hasMore":bool}; a missing or null
// roles list is empty.
func (p *RolePage) UnmarshalJSON(b []byte) error {
	var w struct {
		Roles   []Role   `json:"roles"`
		HasMore jsonBool `json:"hasMore"`
	}
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	*p = RolePage{Roles: w.Roles, HasMore: bool(w.HasMore)}
	return nil
}

// NameList is an answer of getUsersWithinRole or getRolesForUser: names,
// and whether more match than were returned.
type NameList struct {
	// Names are the user or role names, in upstream order.
	Names []string
	// HasMore reports whether more names match.
	HasMore bool
}

// decodeNames decodes a list of names; entries may be strings, numbers or
// role objects (whose rolename is taken).
func decodeNames(raw json.RawMessage) ([]string, error) {
	if len(raw) == 0 {
		return nil, nil
	}
	var roles []Role
	if err := json.Unmarshal(raw, &roles); err != nil {
		return nil, err
	}
	if roles == nil {
		return nil, nil
	}
	out := make([]string, len(roles))
	for i, r := range roles {
		out[i] = r.Name
	}
	return out, nil
}

// nameListWire decodes {"users":[...],"hasMore":bool} (key "users") or
// {"roles":[...],"hasMore":bool} (key "roles").
type nameListWire struct {
	key  string
	list NameList
}

func (w *nameListWire) UnmarshalJSON(b []byte) error {
	var wire struct {
		Users   json.RawMessage `json:"users"`
		Roles   json.RawMessage `json:"roles"`
		HasMore jsonBool        `json:"hasMore"`
	}
	if err := json.Unmarshal(b, &wire); err != nil {
		return err
	}
	raw := wire.Users
	if w.key == "roles" {
		raw = wire.Roles
	}
	names, err := decodeNames(raw)
	if err != nil {
		return fmt.Errorf("%s: %w", w.key, err)
	}
	w.list = NameList{Names: names, HasMore: bool(wire.HasMore)}
	return nil
}

// checkName reports why a role or user name cannot be sent, or "" if it
// can. Names travel as form values, so only emptiness is refused here; the
// gRPC layer applies its stricter grammar before calling.
func checkName(what, name string) string {
	if name == "" {
		return what + " is empty"
	}
	return ""
}

// checkCount reports why a count parameter is invalid, or "".
func checkCount(what string, n int) string {
	if n < 0 {
		return what + " must not be negative"
	}
	return ""
}

// Store returns the roles resource: whether the role store is read-only
// (current servers) or how many roles it holds (10.1-era servers).
//
// ArcGIS docs: https://developers.arcgis.com/rest/enterprise-administration/server/roles/
//
//upstream:operation GET security/roles
func (s *RolesService) Store(ctx context.Context) (*RoleStore, error) {
	var st RoleStore
	if err := s.client.get(ctx, "roles.store", rolesPath, nil, &st); err != nil {
		return nil, err
	}
	return &st, nil
}

// List returns a page of roles: pageSize roles from the 0-based startIndex.
// The store may cap pageSize; HasMore says whether more roles follow.
//
// ArcGIS docs: https://developers.arcgis.com/rest/enterprise-administration/server/getroles/
//
//upstream:operation POST security/roles/getRoles
func (s *RolesService) List(ctx context.Context, startIndex, pageSize int) (*RolePage, error) {
	const op = "roles.getRoles"
	if msg := checkCount("startIndex", startIndex); msg != "" {
		return nil, invalid(op, msg)
	}
	if pageSize <= 0 {
		return nil, invalid(op, "pageSize must be positive")
	}
	form := url.Values{"startIndex": {strconv.Itoa(startIndex)}, "pageSize": {strconv.Itoa(pageSize)}}
	var p RolePage
	if err := s.client.postRead(ctx, op, rolesPath+"/getRoles", form, &p); err != nil {
		return nil, err
	}
	return &p, nil
}

// Search returns at most maxCount roles whose names match filter (a
// substring or prefix match, as the server implements it); maxCount 0
// leaves the server's default. HasMore says whether more match.
//
// ArcGIS docs: https://developers.arcgis.com/rest/enterprise-administration/server/searchroles/
//
//upstream:operation POST security/roles/search
func (s *RolesService) Search(ctx context.Context, filter string, maxCount int) (*RolePage, error) {
	const op = "roles.search"
	if msg := checkCount("maxCount", maxCount); msg != "" {
		return nil, invalid(op, msg)
	}
	form := url.Values{"filter": {filter}}
	if maxCount > 0 {
		form.Set("maxCount", strconv.Itoa(maxCount))
	}
	var p RolePage
	if err := s.client.postRead(ctx, op, rolesPath+"/search", form, &p); err != nil {
		return nil, err
	}
	return &p, nil
}

// Add creates a role.
//
// ArcGIS docs: https://developers.arcgis.com/rest/enterprise-administration/server/addrole/
//
//upstream:operation POST security/roles/add
func (s *RolesService) Add(ctx context.Context, name, description string) error {
	const op = "roles.add"
	if msg := checkName("role name", name); msg != "" {
		return invalid(op, msg)
	}
	form := url.Values{"rolename": {name}, "description": {description}}
	return s.client.post(ctx, op, rolesPath+"/add", form, nil)
}

// Update sets a role's description.
//
// ArcGIS docs: https://developers.arcgis.com/rest/enterprise-administration/server/updaterole/
//
//upstream:operation POST security/roles/update
func (s *RolesService) Update(ctx context.Context, name, description string) error {
	const op = "roles.update"
	if msg := checkName("role name", name); msg != "" {
		return invalid(op, msg)
	}
	form := url.Values{"rolename": {name}, "description": {description}}
	return s.client.post(ctx, op, rolesPath+"/update", form, nil)
}

// Remove deletes a role. (No documentation page of its own is known for
// remove; the roles resource page lists it.)
//
// ArcGIS docs: https://developers.arcgis.com/rest/enterprise-administration/server/roles/
//
//upstream:operation POST security/roles/remove
func (s *RolesService) Remove(ctx context.Context, name string) error {
	return s.roleOp(ctx, "roles.remove", "remove", name, nil)
}

// Privilege returns the privilege a role grants: "ADMINISTER", "PUBLISH",
// "ACCESS", or whatever else the server sends.
//
// ArcGIS docs: https://developers.arcgis.com/rest/enterprise-administration/server/getprivilegeforrole/
//
//upstream:operation POST security/roles/getPrivilege
func (s *RolesService) Privilege(ctx context.Context, name string) (string, error) {
	const op = "roles.getPrivilege"
	if msg := checkName("role name", name); msg != "" {
		return "", invalid(op, msg)
	}
	var w struct {
		Privilege *jsonText `json:"privilege"`
	}
	if err := s.client.postRead(ctx, op, rolesPath+"/getPrivilege", url.Values{"rolename": {name}}, &w); err != nil {
		return "", err
	}
	if w.Privilege == nil {
		return "", &Error{Kind: KindDecode, Op: op, Method: "POST", Path: rolesPath + "/getPrivilege",
			Err: errors.New(`answer has no "privilege"`)}
	}
	return string(*w.Privilege), nil
}

// AssignPrivilege sets the privilege a role grants (ADMINISTER, PUBLISH or
// ACCESS). Privileges are kept apart from the role store, so this works on
// read-only stores too.
//
// ArcGIS docs: https://developers.arcgis.com/rest/enterprise-administration/server/assignprivilege/
//
//upstream:operation POST security/roles/assignPrivilege
func (s *RolesService) AssignPrivilege(ctx context.Context, name, privilege string) error {
	const op = "roles.assignPrivilege"
	if privilege == "" {
		return invalid(op, "privilege is empty")
	}
	return s.roleOp(ctx, op, "assignPrivilege", name, url.Values{"privilege": {privilege}})
}

// RolesByPrivilege returns the names of the roles granting privilege
// (documented for ADMINISTER and PUBLISH). The answer is not paged.
//
// ArcGIS docs: https://developers.arcgis.com/rest/enterprise-administration/server/getrolesbyprivilege/
//
//upstream:operation POST security/roles/getRolesByPrivilege
func (s *RolesService) RolesByPrivilege(ctx context.Context, privilege string) ([]string, error) {
	const op = "roles.getRolesByPrivilege"
	if privilege == "" {
		return nil, invalid(op, "privilege is empty")
	}
	w := nameListWire{key: "roles"}
	if err := s.client.postRead(ctx, op, rolesPath+"/getRolesByPrivilege", url.Values{"privilege": {privilege}}, &w); err != nil {
		return nil, err
	}
	return w.list.Names, nil
}

// UsersInRole returns at most maxCount users of a role whose names match
// filter; maxCount 0 leaves the server's default.
//
// ArcGIS docs: https://developers.arcgis.com/rest/enterprise-administration/server/getuserswithinrole/
//
//upstream:operation POST security/roles/getUsersWithinRole
func (s *RolesService) UsersInRole(ctx context.Context, name, filter string, maxCount int) (*NameList, error) {
	const op = "roles.getUsersWithinRole"
	if msg := checkName("role name", name); msg != "" {
		return nil, invalid(op, msg)
	}
	if msg := checkCount("maxCount", maxCount); msg != "" {
		return nil, invalid(op, msg)
	}
	form := url.Values{"rolename": {name}, "filter": {filter}}
	if maxCount > 0 {
		form.Set("maxCount", strconv.Itoa(maxCount))
	}
	w := nameListWire{key: "users"}
	if err := s.client.postRead(ctx, op, rolesPath+"/getUsersWithinRole", form, &w); err != nil {
		return nil, err
	}
	return &w.list, nil
}

// AddUsers adds users to a role. Upstream takes the users as one
// comma-separated list, so a name containing a comma (or an empty name, or
// an empty list) is refused with KindInvalid before anything is sent.
//
// ArcGIS docs: https://developers.arcgis.com/rest/enterprise-administration/server/adduserstorole/
//
//upstream:operation POST security/roles/addUsersToRole
func (s *RolesService) AddUsers(ctx context.Context, name string, users []string) error {
	const op = "roles.addUsersToRole"
	list, err := userList(op, users)
	if err != nil {
		return err
	}
	return s.roleOp(ctx, op, "addUsersToRole", name, url.Values{"users": {list}})
}

// RemoveUsers removes users from a role; the users are checked as for
// AddUsers. (No documentation page of its own is known for
// removeUsersFromRole; the roles resource page lists it.)
//
// ArcGIS docs: https://developers.arcgis.com/rest/enterprise-administration/server/roles/
//
//upstream:operation POST security/roles/removeUsersFromRole
func (s *RolesService) RemoveUsers(ctx context.Context, name string, users []string) error {
	const op = "roles.removeUsersFromRole"
	list, err := userList(op, users)
	if err != nil {
		return err
	}
	return s.roleOp(ctx, op, "removeUsersFromRole", name, url.Values{"users": {list}})
}

// RolesForUser returns at most maxCount roles of a user whose names match
// filter; maxCount 0 leaves the server's default.
//
// ArcGIS docs: https://developers.arcgis.com/rest/enterprise-administration/server/getrolesforuser/
//
//upstream:operation POST security/roles/getRolesForUser
func (s *RolesService) RolesForUser(ctx context.Context, username, filter string, maxCount int) (*NameList, error) {
	const op = "roles.getRolesForUser"
	if msg := checkName("user name", username); msg != "" {
		return nil, invalid(op, msg)
	}
	if msg := checkCount("maxCount", maxCount); msg != "" {
		return nil, invalid(op, msg)
	}
	form := url.Values{"username": {username}, "filter": {filter}}
	if maxCount > 0 {
		form.Set("maxCount", strconv.Itoa(maxCount))
	}
	w := nameListWire{key: "roles"}
	if err := s.client.postRead(ctx, op, rolesPath+"/getRolesForUser", form, &w); err != nil {
		return nil, err
	}
	return &w.list, nil
}

// roleOp POSTs an operation that names one role and answers with the
// success envelope.
func (s *RolesService) roleOp(ctx context.Context, op, operation, name string, extra url.Values) error {
	if msg := checkName("role name", name); msg != "" {
		return invalid(op, msg)
	}
	form := url.Values{"rolename": {name}}
	for k, v := range extra {
		form[k] = v
	}
	return s.client.post(ctx, op, rolesPath+"/"+operation, form, nil)
}

// userList joins user names into upstream's comma-separated list.
func userList(op string, users []string) (string, error) {
	if len(users) == 0 {
		return "", invalid(op, "no users given")
	}
	for i, u := range users {
		switch {
		case u == "":
			return "", invalid(op, fmt.Sprintf("user %d is empty", i))
		case strings.Contains(u, ","):
			return "", invalid(op, fmt.Sprintf("user %d contains a comma, which upstream's comma-separated list cannot carry", i))
		}
	}
	return strings.Join(users, ","), nil
}
