package apierr

import (
	"testing"
	"time"

	"go.uber.org/goleak"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	adminv1 "github.com/arcgate/arcgate/gen/go/arcgate/admin/v1"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// details returns the ErrorInfo, RetryInfo and BadRequest of err.
func details(t *testing.T, err error) (*errdetails.ErrorInfo, *errdetails.RetryInfo, *errdetails.BadRequest) {
	t.Helper()
	var info *errdetails.ErrorInfo
	var retry *errdetails.RetryInfo
	var bad *errdetails.BadRequest
	for _, d := range status.Convert(err).Details() {
		switch d := d.(type) {
		case *errdetails.ErrorInfo:
			info = d
		case *errdetails.RetryInfo:
			retry = d
		case *errdetails.BadRequest:
			bad = d
		}
	}
	return info, retry, bad
}

func TestErrors(t *testing.T) {
	if Domain != "arcgate.admin.v1" {
		t.Errorf("Domain %q", Domain)
	}
	rateLimited := Reason(adminv1.ErrorReason_ERROR_REASON_RATE_LIMITED)
	if rateLimited != "RATE_LIMITED" {
		t.Errorf("Reason %q, want RATE_LIMITED", rateLimited)
	}

	err := New(codes.NotFound, "NOT_FOUND", "gone", map[string]string{"resource": "folders/A"})
	info, retry, _ := details(t, err)
	if status.Code(err) != codes.NotFound || status.Convert(err).Message() != "gone" || info.GetDomain() != Domain ||
		info.GetReason() != "NOT_FOUND" || info.GetMetadata()["resource"] != "folders/A" || retry != nil {
		t.Errorf("New: %v, %v, %v", err, info, retry)
	}

	err = Retry(codes.ResourceExhausted, rateLimited, "slow down", nil, 1500*time.Millisecond)
	info, retry, _ = details(t, err)
	if status.Code(err) != codes.ResourceExhausted || info.GetReason() != rateLimited || info.GetMetadata()["retryAfterMs"] != "1500" ||
		retry.GetRetryDelay().AsDuration() != 1500*time.Millisecond {
		t.Errorf("Retry: %v, %v, %v", err, info, retry)
	}

	err = InvalidArgument("page_size", "must not be negative")
	info, _, bad := details(t, err)
	if status.Code(err) != codes.InvalidArgument || status.Convert(err).Message() != "page_size: must not be negative" ||
		info.GetReason() != "INVALID_ARGUMENT" || info.GetMetadata()["field"] != "page_size" ||
		len(bad.GetFieldViolations()) != 1 || bad.GetFieldViolations()[0].GetField() != "page_size" {
		t.Errorf("InvalidArgument: %v, %v, %v", err, info, bad)
	}
}
