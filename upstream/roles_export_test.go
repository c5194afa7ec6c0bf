package upstream

import "encoding/json"

// Test hooks of the roles family for the external test package.

// DecodeNameList decodes b as an answer carrying names under key (as
// getUsersWithinRole, getRolesForUser and getRolesByPrivilege do).
func DecodeNameList(key string, b []byte) (*NameList, error) {
	w := nameListWire{key: key}
	if err := json.Unmarshal(b, &w); err != nil {
		return nil, err
	}
	return &w.list, nil
}
