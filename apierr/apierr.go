// Package apierr builds the gRPC status errors arcgate returns: a status
// with a google.rpc.ErrorInfo whose domain is the proto package of the
// arcgate.admin.v1.ErrorReason enum and whose reason is an enum value's
// name without the ERROR_REASON_ prefix, optionally with a
// google.rpc.RetryInfo or a google.rpc.BadRequest. It is a leaf: the
// services (server), the per-call platform (rpc) and the REST gateway all
// build their errors here, so an ErrorInfo is spelt one way.
package apierr

import (
	"strconv"
	"strings"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/protoadapt"
	"google.golang.org/protobuf/types/known/durationpb"

	adminv1 "github.com/arcgate/arcgate/gen/go/arcgate/admin/v1"
)

// Domain is the domain of every google.rpc.ErrorInfo arcgate returns: the
// proto package of the ErrorReason enum, "arcgate.admin.v1".
var Domain = string(adminv1.File_arcgate_admin_v1_errors_proto.Package())

// Reason is the ErrorInfo.reason for r: its enum value name without the
// ERROR_REASON_ prefix.
func Reason(r adminv1.ErrorReason) string {
	return strings.TrimPrefix(r.String(), "ERROR_REASON_")
}

// New returns a status error of code with msg and an ErrorInfo of reason
// (a Reason) and metadata md, followed by the extra details.
func New(code codes.Code, reason, msg string, md map[string]string, extra ...protoadapt.MessageV1) error {
	return NewStatus(code, reason, msg, md, extra...).Err()
}

// NewStatus is New returning the *status.Status (for HTTP answers built
// from it).
func NewStatus(code codes.Code, reason, msg string, md map[string]string, extra ...protoadapt.MessageV1) *status.Status {
	st := status.New(code, msg)
	details := append([]protoadapt.MessageV1{&errdetails.ErrorInfo{Domain: Domain, Reason: reason, Metadata: md}}, extra...)
	if d, err := st.WithDetails(details...); err == nil {
		st = d
	}
	return st
}

// Retry is New with a RetryInfo of wait; a positive wait is also put in
// the ErrorInfo metadata as retryAfterMs.
func Retry(code codes.Code, reason, msg string, md map[string]string, wait time.Duration) error {
	if wait > 0 {
		if md == nil {
			md = map[string]string{}
		}
		md["retryAfterMs"] = strconv.FormatInt(wait.Milliseconds(), 10)
	}
	return New(code, reason, msg, md, &errdetails.RetryInfo{RetryDelay: durationpb.New(wait)})
}

// InvalidArgument is the error for a request field (or metadata key) that
// failed validation: INVALID_ARGUMENT with a BadRequest naming the field
// and an ErrorInfo (reason INVALID_ARGUMENT, metadata field).
func InvalidArgument(field, desc string) error {
	st := status.New(codes.InvalidArgument, field+": "+desc)
	if d, err := st.WithDetails(
		&errdetails.BadRequest{FieldViolations: []*errdetails.BadRequest_FieldViolation{{Field: field, Description: desc}}},
		&errdetails.ErrorInfo{Domain: Domain, Reason: Reason(adminv1.ErrorReason_ERROR_REASON_INVALID_ARGUMENT), Metadata: map[string]string{"field": field}},
	); err == nil {
		st = d
	}
	return st.Err()
}
