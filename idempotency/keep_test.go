package idempotency

import (
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/arcgate/arcgate/apierr"
	adminv1 "github.com/arcgate/arcgate/gen/go/arcgate/admin/v1"
)

// TestDefaultKeep checks which error outcomes a repeat gets: final ones,
// and a write that was applied although its answer failed (WRITE_APPLIED,
// whatever its code), but not those a retry should run again.
func TestDefaultKeep(t *testing.T) {
	reason := func(r adminv1.ErrorReason) string { return apierr.Reason(r) }
	for _, tc := range []struct {
		name string
		err  error
		keep bool
	}{
		{"not found", apierr.New(codes.NotFound, reason(adminv1.ErrorReason_ERROR_REASON_NOT_FOUND), "gone", nil), true},
		{"already exists", status.Error(codes.AlreadyExists, "exists"), true},
		{"unavailable", apierr.New(codes.Unavailable, reason(adminv1.ErrorReason_ERROR_REASON_UPSTREAM_UNAVAILABLE), "down", nil), false},
		{"outcome unknown", apierr.New(codes.DeadlineExceeded, reason(adminv1.ErrorReason_ERROR_REASON_UPSTREAM_OUTCOME_UNKNOWN), "?", nil), false},
		{"invalid", apierr.InvalidArgument("name", "bad"), false},
		{"applied, read back failed", apierr.New(codes.Unavailable, reason(adminv1.ErrorReason_ERROR_REASON_WRITE_APPLIED), "applied", nil), true},
	} {
		if got := DefaultKeep(status.Convert(tc.err)); got != tc.keep {
			t.Errorf("%s: DefaultKeep = %v, want %v", tc.name, got, tc.keep)
		}
	}
}
