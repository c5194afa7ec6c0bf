package server

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	adminv1 "github.com/arcgate/arcgate/gen/go/arcgate/admin/v1"
	"github.com/arcgate/arcgate/upstream"
)

// Limits of the roles family's inputs.
const (
	// maxPrincipalLen bounds role and user names, in bytes. Names from LDAP
	// or Windows stores (group names, DOMAIN\user, e-mail style names) fit
	// comfortably.
	maxPrincipalLen = 256
	// maxRoleFilterLen bounds search filters, in bytes.
	maxRoleFilterLen = 256
	// maxRoleDescriptionLen bounds role descriptions, in bytes.
	maxRoleDescriptionLen = 4096
	// maxRoleMaxCount is the most names SearchRoles, ListRoleUsers and
	// ListUserRoles ask upstream for in one call (its maxCount); they page
	// over that one answer.
	maxRoleMaxCount = 10000
	// maxUsersPerCall bounds the users of one AddRoleUsers or
	// RemoveRoleUsers call.
	maxUsersPerCall = 1000
)

// roleStoreName is the resource name of the role store.
const roleStoreName = "roleStore"

// roleResourceName is the API resource name of a role.
func roleResourceName(role string) string { return "roles/" + role }

// userResourceName is the API resource name of a user.
func userResourceName(user string) string { return "users/" + user }

// checkPrincipalName reports why s cannot be a role or user name, or ""
// when it can be one. The grammar is arcgate's, not ArcGIS's
// (docs/upstream.md#roles records none): 1 to maxPrincipalLen bytes of
// UTF-8; no control, format or line/paragraph separator characters; no '/'
// (the name is a path segment of arcgate's REST API); no white space at
// either end; not "." or "..". Spaces inside ("GIS Analysts"), backslashes
// (DOMAIN\user), '@', '.', ':' and other punctuation are allowed: upstream
// receives names as form values, where they need no escaping.
func checkPrincipalName(s string) string {
	switch {
	case s == "":
		return "must not be empty"
	case len(s) > maxPrincipalLen:
		return fmt.Sprintf("must be at most %d bytes", maxPrincipalLen)
	case !utf8.ValidString(s):
		return "must be valid UTF-8"
	case s == "." || s == "..":
		return "must not be " + strconv.Quote(s)
	case strings.TrimSpace(s) != s:
		return "must not begin or end with white space"
	}
	for _, r := range s {
		switch {
		case r == '/':
			return "must not contain '/'"
		case !printableRune(r):
			return fmt.Sprintf("must not contain control characters (found %U)", r)
		}
	}
	return ""
}

// printableRune reports whether r may appear in a name or filter: not a
// control, format (such as bidirectional overrides) or line/paragraph
// separator character.
func printableRune(r rune) bool {
	return !unicode.IsControl(r) && !unicode.In(r, unicode.Cf, unicode.Zl, unicode.Zp)
}

// parseRoleName parses `roles/{role}` and returns the role's ArcGIS name.
func parseRoleName(field, name string) (string, error) {
	role, ok := strings.CutPrefix(name, "roles/")
	if !ok {
		return "", invalidArgument(field, "must have the form roles/{role}, got "+quoteName(name))
	}
	if why := checkPrincipalName(role); why != "" {
		return "", invalidArgument(field, "role name "+why)
	}
	return role, nil
}

// parseUserName parses `users/{user}` and returns the user's ArcGIS name.
// inList refuses commas too: such names go into upstream's comma-separated
// users list, which cannot carry them.
func parseUserName(field, name string, inList bool) (string, error) {
	user, ok := strings.CutPrefix(name, "users/")
	if !ok {
		return "", invalidArgument(field, "must have the form users/{user}, got "+quoteName(name))
	}
	if why := checkPrincipalName(user); why != "" {
		return "", invalidArgument(field, "user name "+why)
	}
	if inList && strings.Contains(user, ",") {
		return "", invalidArgument(field, "user name must not contain a comma: upstream takes users as a comma-separated list")
	}
	return user, nil
}

// parseUserList parses the users of AddRoleUsers and RemoveRoleUsers:
// 1 to maxUsersPerCall resource names, each checked (the field of a bad
// one is named with its index, e.g. users[2]); duplicates are dropped.
func parseUserList(field string, names []string) ([]string, error) {
	switch {
	case len(names) == 0:
		return nil, invalidArgument(field, "must name at least one user")
	case len(names) > maxUsersPerCall:
		return nil, invalidArgument(field, fmt.Sprintf("must name at most %d users", maxUsersPerCall))
	}
	out := make([]string, 0, len(names))
	seen := make(map[string]bool, len(names))
	for i, n := range names {
		u, err := parseUserName(fmt.Sprintf("%s[%d]", field, i), n, true)
		if err != nil {
			return nil, err
		}
		if !seen[u] {
			seen[u] = true
			out = append(out, u)
		}
	}
	return out, nil
}

// checkRoleFilter validates a name filter.
func checkRoleFilter(field, filter string) error {
	switch {
	case len(filter) > maxRoleFilterLen:
		return invalidArgument(field, fmt.Sprintf("must be at most %d bytes", maxRoleFilterLen))
	case !utf8.ValidString(filter):
		return invalidArgument(field, "must be valid UTF-8")
	}
	for _, r := range filter {
		if !printableRune(r) {
			return invalidArgument(field, fmt.Sprintf("must not contain control characters (found %U)", r))
		}
	}
	return nil
}

// checkRoleDescription validates a role description.
func checkRoleDescription(field, desc string) error {
	switch {
	case len(desc) > maxRoleDescriptionLen:
		return invalidArgument(field, fmt.Sprintf("must be at most %d bytes", maxRoleDescriptionLen))
	case !utf8.ValidString(desc):
		return invalidArgument(field, "must be valid UTF-8")
	}
	return nil
}

// privilegeNames maps the API's privileges to upstream's strings.
var privilegeNames = map[adminv1.Privilege]string{
	adminv1.Privilege_PRIVILEGE_ADMINISTER: upstream.PrivilegeAdminister,
	adminv1.Privilege_PRIVILEGE_PUBLISH:    upstream.PrivilegePublish,
	adminv1.Privilege_PRIVILEGE_ACCESS:     upstream.PrivilegeAccess,
}

// privilegeFromUpstream maps an upstream privilege string, without regard
// to case or surrounding blanks; unknown strings are UNSPECIFIED.
func privilegeFromUpstream(s string) adminv1.Privilege {
	s = strings.ToUpper(strings.TrimSpace(s))
	for p, name := range privilegeNames {
		if name == s {
			return p
		}
	}
	return adminv1.Privilege_PRIVILEGE_UNSPECIFIED
}

// roleFromUpstream converts a role entry of getRoles or search.
func roleFromUpstream(r upstream.Role) *adminv1.Role {
	return &adminv1.Role{Name: roleResourceName(r.Name), RoleId: r.Name, Description: r.Description, Etag: etagOf(r)}
}

// rolesFromUpstream converts role entries.
func rolesFromUpstream(in []upstream.Role) []*adminv1.Role {
	out := make([]*adminv1.Role, 0, len(in))
	for _, r := range in {
		out = append(out, roleFromUpstream(r))
	}
	return out
}

// resourceNames prefixes names with a collection, e.g. "roles/".
func resourceNames(prefix string, names []string) []string {
	out := make([]string, 0, len(names))
	for _, n := range names {
		out = append(out, prefix+n)
	}
	return out
}

// roleStoreFromUpstream converts the roles resource.
func roleStoreFromUpstream(st *upstream.RoleStore) *adminv1.RoleStore {
	out := &adminv1.RoleStore{Name: roleStoreName}
	if st.IsReadOnly != nil {
		ro := *st.IsReadOnly
		out.ReadOnly = &ro
	}
	if st.TotalRoles != nil {
		n := int32(min(max(*st.TotalRoles, 0), 1<<31-1))
		out.TotalRoles = &n
	}
	return out
}

// The ListRoles page token is a page token (paging.go) bound to the query
// "roles" whose position part is "<offset>\x00<last role>": offset is the
// 0-based upstream index of the first role of the next page, and last the
// name of the role just before it, which the next call uses as an anchor
// to detect a role list that changed between pages.
const rolesQuery = "roles"

func encodeRolesToken(offset int, last string) string {
	return encodePageToken(rolesQuery, strconv.Itoa(offset)+"\x00"+last)
}

// decodeRolesToken returns the offset and anchor of a ListRoles page token;
// offset 0 means the first page.
func decodeRolesToken(token string) (int, string, error) {
	if token == "" {
		return 0, "", nil
	}
	pos, err := decodePageToken(token, rolesQuery)
	if err != nil {
		return 0, "", err
	}
	off, last, ok := strings.Cut(pos, "\x00")
	n, err := strconv.Atoi(off)
	if !ok || err != nil || n < 1 || last == "" {
		return 0, "", invalidArgument("page_token", "is not a token this API issued")
	}
	return n, last, nil
}
