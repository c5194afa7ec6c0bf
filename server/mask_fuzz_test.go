package server

import (
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzMaskPaths checks field-mask handling: whatever the paths (REST query
// strings arrive comma-joined, in JSON spelling; gRPC callers use proto
// spelling), maskPaths yields no empty path and no comma, never
// upper-cases anything, keeps map keys after a map field as written, and
// is idempotent (proto spelling is a fixed point). Seeds are the masks of
// the services family and the service property names of
// docs/upstream.md#service-configuration.
func FuzzMaskPaths(f *testing.F) {
	for _, s := range []string{
		"description", "webEncrypted", "web_encrypted", "maxWaitTime,minInstancesPerNode",
		"max_wait_time, max_idle_time", "properties.maxImageWidth", "properties.maxRecordCount,description",
		"extensions", "recycleStartTime", "loadBalancing,isolationLevel", ",,", " ", "A", "aBC.dEF",
		"properties.", ".x", "é", "\xff", "properties.a,b.c",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		paths := strings.Split(in, ";") // several paths, each maybe comma-joined
		out := maskPaths(paths, "properties")
		for _, p := range out {
			if p == "" || strings.Contains(p, ",") {
				t.Fatalf("maskPaths(%q) gave path %q", paths, p)
			}
			head, rest, hasRest := strings.Cut(p, ".")
			if strings.ContainsAny(head, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") ||
				(hasRest && head != "properties" && strings.ContainsAny(rest, "ABCDEFGHIJKLMNOPQRSTUVWXYZ")) {
				t.Fatalf("maskPaths(%q) left upper case in %q", paths, p)
			}
		}
		if again := maskPaths(out, "properties"); !slices.Equal(again, out) {
			t.Fatalf("not idempotent: %q -> %q -> %q", paths, out, again)
		}
		// Map keys are kept exactly.
		for _, part := range strings.Split(strings.Join(paths, ","), ",") {
			part = strings.TrimSpace(part)
			if key, ok := strings.CutPrefix(part, "properties."); ok && !slices.Contains(out, "properties."+key) {
				t.Fatalf("maskPaths(%q) = %q lost map key %q", paths, out, key)
			}
		}
		// Input without upper case is unchanged apart from splitting and
		// trimming. (Invalid UTF-8 comes back with U+FFFD in place of the
		// bad bytes, which is harmless: no field is called that.)
		if !strings.ContainsAny(in, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") && utf8.ValidString(in) {
			var want []string
			for _, part := range strings.Split(strings.Join(paths, ","), ",") {
				if part = strings.TrimSpace(part); part != "" {
					want = append(want, part)
				}
			}
			if !slices.Equal(out, want) && !(len(out) == 0 && len(want) == 0) {
				t.Fatalf("maskPaths(%q) = %q, want %q", paths, out, want)
			}
		}
	})
}
