package operations

import (
	"strings"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	adminv1 "github.com/arcgate/arcgate/gen/go/arcgate/admin/v1"
)

// errorDomain is the domain of every google.rpc.ErrorInfo arcgate returns,
// the proto package of the ErrorReason enum (as in the server package).
var errorDomain = string(adminv1.File_arcgate_admin_v1_errors_proto.Package())

// reasonName is the ErrorInfo.reason for r: its enum value name without the
// ERROR_REASON_ prefix.
func reasonName(r adminv1.ErrorReason) string {
	return strings.TrimPrefix(r.String(), "ERROR_REASON_")
}

var (
	reasonInvalidArgument     = reasonName(adminv1.ErrorReason_ERROR_REASON_INVALID_ARGUMENT)
	reasonNotFound            = reasonName(adminv1.ErrorReason_ERROR_REASON_NOT_FOUND)
	reasonFailedPrecondition  = reasonName(adminv1.ErrorReason_ERROR_REASON_FAILED_PRECONDITION)
	reasonOutcomeUnknown      = reasonName(adminv1.ErrorReason_ERROR_REASON_UPSTREAM_OUTCOME_UNKNOWN)
	reasonShuttingDown        = reasonName(adminv1.ErrorReason_ERROR_REASON_SHUTTING_DOWN)
	reasonRateLimited         = reasonName(adminv1.ErrorReason_ERROR_REASON_RATE_LIMITED)
	reasonUpstreamUnavailable = reasonName(adminv1.ErrorReason_ERROR_REASON_UPSTREAM_UNAVAILABLE)
)

// newStatus builds a status with an ErrorInfo detail.
func newStatus(code codes.Code, reason, msg string, md map[string]string) *status.Status {
	st := status.New(code, msg)
	if withInfo, err := st.WithDetails(&errdetails.ErrorInfo{Domain: errorDomain, Reason: reason, Metadata: md}); err == nil {
		st = withInfo
	}
	return st
}

// invalidArgument is INVALID_ARGUMENT with a BadRequest naming the field
// and an ErrorInfo.
func invalidArgument(field, desc string) error {
	st := status.New(codes.InvalidArgument, field+": "+desc)
	if d, err := st.WithDetails(
		&errdetails.BadRequest{FieldViolations: []*errdetails.BadRequest_FieldViolation{{Field: field, Description: desc}}},
		&errdetails.ErrorInfo{Domain: errorDomain, Reason: reasonInvalidArgument, Metadata: map[string]string{"field": field}},
	); err == nil {
		st = d
	}
	return st.Err()
}

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
