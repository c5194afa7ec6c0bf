package server

import "strings"

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
