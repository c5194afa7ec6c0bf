package server

import (
	"slices"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// TestUpdatePaths: the one field-mask rule of every Update method.
func TestUpdatePaths(t *testing.T) {
	all := []string{"description", "web_encrypted"}
	for _, tc := range []struct {
		paths []string
		want  []string // nil: INVALID_ARGUMENT naming update_mask
	}{
		{nil, nil},
		{[]string{}, nil},
		{[]string{""}, nil},
		{[]string{" , "}, nil},
		{[]string{"description"}, []string{"description"}},
		{[]string{"webEncrypted"}, []string{"web_encrypted"}},
		{[]string{"*"}, all},
		{[]string{"*", "description"}, all},
		{[]string{"*", "other"}, []string{"description", "web_encrypted", "other"}}, // checked by the caller
		{[]string{"description", "etag"}, []string{"description"}},                  // a condition, not a field to change
		{[]string{"etag"}, nil},
	} {
		got, err := updatePaths(tc.paths, all)
		if tc.want == nil {
			if status.Code(err) != codes.InvalidArgument || !strings.HasPrefix(status.Convert(err).Message(), "update_mask:") {
				t.Errorf("updatePaths(%q) = %q, %v; want INVALID_ARGUMENT naming update_mask", tc.paths, got, err)
			}
			continue
		}
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("updatePaths(%q) = %q, %v; want %q", tc.paths, got, err, tc.want)
		}
	}
	// `*` hands out a copy: the caller may not change the settable list.
	got, _ := updatePaths([]string{"*"}, all)
	got[0] = "x"
	if all[0] != "description" {
		t.Fatal("updatePaths returned the settable list itself")
	}
}
