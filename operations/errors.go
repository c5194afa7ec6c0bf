package operations

import (
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/arcgate/arcgate/apierr"
	adminv1 "github.com/arcgate/arcgate/gen/go/arcgate/admin/v1"
)

// errorDomain is the domain of every google.rpc.ErrorInfo arcgate returns.
var errorDomain = apierr.Domain

// reasonName is the ErrorInfo.reason for r.
var reasonName = apierr.Reason

var (
	reasonNotFound           = reasonName(adminv1.ErrorReason_ERROR_REASON_NOT_FOUND)
	reasonFailedPrecondition = reasonName(adminv1.ErrorReason_ERROR_REASON_FAILED_PRECONDITION)
	reasonOutcomeUnknown     = reasonName(adminv1.ErrorReason_ERROR_REASON_UPSTREAM_OUTCOME_UNKNOWN)
	reasonShuttingDown       = reasonName(adminv1.ErrorReason_ERROR_REASON_SHUTTING_DOWN)
	reasonRateLimited        = reasonName(adminv1.ErrorReason_ERROR_REASON_RATE_LIMITED)
)

// newStatus builds a status with an ErrorInfo detail.
func newStatus(code codes.Code, reason, msg string, md map[string]string) *status.Status {
	return apierr.NewStatus(code, reason, msg, md)
}

// invalidArgument is INVALID_ARGUMENT with a BadRequest naming the field
// and an ErrorInfo.
var invalidArgument = apierr.InvalidArgument

// notFound is NOT_FOUND for an operation that does not exist (or that the
// caller may not see).
func notFound(name string) error {
	return newStatus(codes.NotFound, reasonNotFound, name+" not found", map[string]string{"resource": name}).Err()
}

// storeUnavailable is the error when the state store does not answer.
func storeUnavailable(what string) error {
	return status.Error(codes.Unavailable, "cannot "+what+": the state store did not answer")
}

// reasonOf returns the ErrorInfo reason of st in arcgate's domain, or "".
func reasonOf(st *status.Status) string {
	for _, d := range st.Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok && info.GetDomain() == errorDomain {
			return info.GetReason()
		}
	}
	return ""
}
