package server

import (
	"slices"
	"strings"
)

// updatePaths is the one field-mask rule of every Update method (AIP-134):
// it returns the mask's paths in proto spelling (see maskPaths), with `*`
// standing for every path in all, a full replacement in which a field the
// request leaves unset is cleared. An empty mask, including the one the
// REST gateway infers from an empty body (`PATCH -d '{}'`), is
// INVALID_ARGUMENT naming update_mask, and nothing is changed: a partial
// update names its fields, a full one says `*`. Checking each path is the
// caller's business. `etag` is a condition of the update (AIP-154), not a
// field it changes: the path the REST gateway infers from an etag in the
// body is dropped.
func updatePaths(paths, all []string, mapFields ...string) ([]string, error) {
	out := slices.DeleteFunc(maskPaths(paths, mapFields...), func(p string) bool { return p == "etag" })
	if len(out) == 0 {
		return nil, invalidArgument("update_mask", "is required: name the fields to change, or * to replace them all")
	}
	if !slices.Contains(out, "*") {
		return out, nil
	}
	full := slices.Clone(all)
	for _, p := range out {
		if p != "*" && !slices.Contains(full, p) {
			full = append(full, p)
		}
	}
	return full, nil
}

// maskPaths returns a field mask's paths in proto (snake_case) spelling.
// REST callers write masks in JSON spelling (`maxWaitTime`, as the JSON form
// of google.protobuf.FieldMask does), gRPC callers in proto spelling; both
// are accepted. Only the field segments are converted: a map key after a
// map field (`properties.maxImageWidth`) is kept as written.
func maskPaths(paths []string, mapFields ...string) []string {
	out := make([]string, 0, len(paths))
	for _, p := range paths {
		for _, part := range strings.Split(p, ",") { // "a,b" from a query string
			part = strings.TrimSpace(part)
			if part == "" {
				continue
			}
			head, rest, hasRest := strings.Cut(part, ".")
			head = snakeCase(head)
			if hasRest {
				isMap := false
				for _, m := range mapFields {
					isMap = isMap || m == head
				}
				if !isMap {
					rest = snakeCase(rest)
				}
				head += "." + rest
			}
			out = append(out, head)
		}
	}
	return out
}

// snakeCase converts lowerCamelCase to snake_case; snake_case is unchanged.
func snakeCase(s string) string {
	var b strings.Builder
	for i, c := range s {
		if c >= 'A' && c <= 'Z' {
			if i > 0 {
				b.WriteByte('_')
			}
			b.WriteRune(c - 'A' + 'a')
			continue
		}
		b.WriteRune(c)
	}
	return b.String()
}
