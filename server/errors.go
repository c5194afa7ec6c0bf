package server

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/arcgate/arcgate/upstream"
)

// ErrorDomain is the domain of every google.rpc.ErrorInfo arcgate returns.
const ErrorDomain = "arcgate.admin.v1"

// Reasons put in google.rpc.ErrorInfo.reason; they are documented by the
// proto enum arcgate.admin.v1.ErrorReason.
const (
	ReasonInvalidArgument         = "INVALID_ARGUMENT"
	ReasonNotFound                = "NOT_FOUND"
	ReasonAlreadyExists           = "ALREADY_EXISTS"
	ReasonUpstreamUnauthenticated = "UPSTREAM_UNAUTHENTICATED"
	ReasonUpstreamPermission      = "UPSTREAM_PERMISSION_DENIED"
	ReasonUpstreamUnavailable     = "UPSTREAM_UNAVAILABLE"
	ReasonUpstreamError           = "UPSTREAM_ERROR"
	ReasonFolderNotEmpty          = "FOLDER_NOT_EMPTY"
	ReasonDefaultFolder           = "DEFAULT_FOLDER"
	ReasonResponseTooLarge        = "UPSTREAM_RESPONSE_TOO_LARGE"
	ReasonFailedPrecondition      = "FAILED_PRECONDITION"
	ReasonSiteNotCreated          = "SITE_NOT_CREATED"
	ReasonDelegatedCredsRequired  = "DELEGATED_CREDENTIALS_REQUIRED"
	ReasonCredentialsRejected     = "UPSTREAM_CREDENTIALS_REJECTED"
	ReasonRoleStoreReadOnly       = "ROLE_STORE_READ_ONLY"
	ReasonRoleListChanged         = "ROLE_LIST_CHANGED"
	ReasonJobNotCancellable       = "JOB_NOT_CANCELLABLE"
	ReasonJobNotDeletable         = "JOB_NOT_DELETABLE"
	ReasonJobQueryTooLarge        = "JOB_QUERY_TOO_LARGE"
	ReasonThumbnailNotSet         = "THUMBNAIL_NOT_SET"
	ReasonUnsafeThumbnailPath     = "UNSAFE_THUMBNAIL_PATH"
	ReasonMetricNotCombinable     = "METRIC_NOT_COMBINABLE"
	ReasonCallerUnauthenticated   = "CALLER_UNAUTHENTICATED"
	ReasonPermissionDeniedScope   = "PERMISSION_DENIED_SCOPE"
	ReasonRateLimited             = "RATE_LIMITED"
	ReasonCircuitOpen             = "CIRCUIT_OPEN"
	ReasonRequestTooLarge         = "REQUEST_TOO_LARGE"
)

// newStatus builds a status with an ErrorInfo detail.
func newStatus(code codes.Code, reason, msg string, md map[string]string) error {
	st := status.New(code, msg)
	if withInfo, err := st.WithDetails(&errdetails.ErrorInfo{Domain: ErrorDomain, Reason: reason, Metadata: md}); err == nil {
		st = withInfo
	}
	return st.Err()
}

// invalidArgument is the error for a request field that failed validation:
// INVALID_ARGUMENT with a BadRequest naming the field and an ErrorInfo.
func invalidArgument(field, desc string) error {
	st := status.New(codes.InvalidArgument, field+": "+desc)
	if d, err := st.WithDetails(
		&errdetails.BadRequest{FieldViolations: []*errdetails.BadRequest_FieldViolation{{Field: field, Description: desc}}},
		&errdetails.ErrorInfo{Domain: ErrorDomain, Reason: ReasonInvalidArgument, Metadata: map[string]string{"field": field}},
	); err == nil {
		st = d
	}
	return st.Err()
}

// failedPrecondition is FAILED_PRECONDITION with the given reason.
func failedPrecondition(reason, msg string, md map[string]string) error {
	return newStatus(codes.FailedPrecondition, reason, msg, md)
}

// notFound is NOT_FOUND for a resource arcgate found missing itself.
func notFound(resource string) error {
	return newStatus(codes.NotFound, ReasonNotFound, resource+" not found", map[string]string{"resource": resource})
}

// Status converts any error an RPC is about to return into a gRPC status
// error. It is the one place where status codes for upstream errors are
// chosen:
//
//	upstream 404                         NOT_FOUND
//	"already exists"                     ALREADY_EXISTS
//	498/499 after one refresh, no token  UNAUTHENTICATED
//	generateToken refused the credentials UNAUTHENTICATED (UPSTREAM_CREDENTIALS_REJECTED)
//	401, 403                             PERMISSION_DENIED
//	400                                  INVALID_ARGUMENT
//	409                                  ABORTED
//	429                                  RESOURCE_EXHAUSTED
//	site not created                     FAILED_PRECONDITION
//	role store is read-only              FAILED_PRECONDITION (ROLE_STORE_READ_ONLY)
//	other envelope codes                 INTERNAL (upstream message kept)
//	unreachable, 5xx page, not JSON      UNAVAILABLE
//	response over the size limit         RESOURCE_EXHAUSTED
//	caller's deadline / cancellation     DEADLINE_EXCEEDED / CANCELED
//	circuit breaker open (not sent)      UNAVAILABLE (CIRCUIT_OPEN, RetryInfo)
//
// Errors that already are statuses pass through unchanged. resource, when
// not empty, is the resource name the call was about; it goes into the
// message and the ErrorInfo metadata. Messages never contain secrets: the
// upstream package scrubs tokens and passwords from its errors.
func Status(err error, resource string) error {
	if err == nil {
		return nil
	}
	if _, ok := status.FromError(err); ok {
		return err
	}
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return newStatus(codes.DeadlineExceeded, ReasonUpstreamUnavailable, "deadline exceeded waiting for the upstream ArcGIS Server", nil)
	case errors.Is(err, context.Canceled):
		return status.Error(codes.Canceled, "request canceled")
	}
	if wait, ok := upstream.IsCircuitOpen(err); ok {
		return circuitOpen(wait, resource)
	}
	var ue *upstream.Error
	if !errors.As(err, &ue) {
		return newStatus(codes.Internal, ReasonUpstreamError, "internal error", nil)
	}
	md := map[string]string{}
	if ue.Code != 0 {
		md["upstreamCode"] = strconv.Itoa(ue.Code)
	} else if ue.HTTPStatus != 0 {
		md["upstreamCode"] = strconv.Itoa(ue.HTTPStatus)
	}
	if resource != "" {
		md["resource"] = resource
	}
	msg := upstreamMessage(ue, resource)
	switch ue.Kind {
	case upstream.KindTransport:
		return newStatus(codes.Unavailable, ReasonUpstreamUnavailable, "upstream ArcGIS Server unreachable: "+msg, md)
	case upstream.KindDecode:
		return newStatus(codes.Unavailable, ReasonUpstreamUnavailable, "upstream ArcGIS Server answered something that is not the admin API: "+msg, md)
	case upstream.KindInvalid: // refused by the client before sending: a name slipped past validation
		return newStatus(codes.InvalidArgument, ReasonInvalidArgument, msg, md)
	case upstream.KindTooLarge:
		return newStatus(codes.ResourceExhausted, ReasonResponseTooLarge, "upstream response too large: "+msg, md)
	case upstream.KindToken:
		var inner *upstream.Error
		if errors.As(ue.Err, &inner) && (inner.Kind == upstream.KindTransport || inner.Kind == upstream.KindDecode) {
			return newStatus(codes.Unavailable, ReasonUpstreamUnavailable, "upstream ArcGIS Server unreachable while getting a token: "+msg, md)
		}
		if isSiteNotCreated(ue) {
			return newStatus(codes.FailedPrecondition, ReasonSiteNotCreated, "upstream ArcGIS Server has no site yet: "+msg, md)
		}
		if ue.Code == 400 || ue.Code == 401 || ue.Code == 403 {
			return newStatus(codes.Unauthenticated, ReasonCredentialsRejected, "the upstream token service refused the credentials: "+msg, md)
		}
		return newStatus(codes.Unauthenticated, ReasonUpstreamUnauthenticated, "cannot get an upstream token: "+msg, md)
	case upstream.KindHTTP:
		switch {
		case ue.HTTPStatus == 404:
			return newStatus(codes.NotFound, ReasonNotFound, msg, md)
		case ue.HTTPStatus == 429:
			return newStatus(codes.ResourceExhausted, ReasonUpstreamUnavailable, "upstream rate limit: "+msg, md)
		case ue.HTTPStatus == 498 || ue.HTTPStatus == 499:
			return newStatus(codes.Unauthenticated, ReasonUpstreamUnauthenticated, msg, md)
		case ue.HTTPStatus == 401 || ue.HTTPStatus == 403:
			return newStatus(codes.PermissionDenied, ReasonUpstreamPermission, msg, md)
		case ue.HTTPStatus == 504:
			return newStatus(codes.DeadlineExceeded, ReasonUpstreamUnavailable, "upstream timed out: "+msg, md)
		default:
			return newStatus(codes.Unavailable, ReasonUpstreamUnavailable, "upstream ArcGIS Server error: "+msg, md)
		}
	}
	// KindAPI: an error envelope.
	switch {
	case ue.Code == 404 && !isSiteNotCreated(ue):
		return newStatus(codes.NotFound, ReasonNotFound, msg, md)
	case ue.Code == 498 || ue.Code == 499:
		return newStatus(codes.Unauthenticated, ReasonUpstreamUnauthenticated, "upstream rejected the token after a refresh: "+msg, md)
	case ue.Code == 401 || ue.Code == 403:
		return newStatus(codes.PermissionDenied, ReasonUpstreamPermission, msg, md)
	case isRoleStoreReadOnly(ue):
		return newStatus(codes.FailedPrecondition, ReasonRoleStoreReadOnly, msg, md)
	case hasMessage(ue, "already exists"):
		return newStatus(codes.AlreadyExists, ReasonAlreadyExists, msg, md)
	case isSiteNotCreated(ue):
		return newStatus(codes.FailedPrecondition, ReasonSiteNotCreated, "upstream ArcGIS Server has no site yet: "+msg, md)
	case ue.Code == 400:
		return newStatus(codes.InvalidArgument, ReasonUpstreamError, msg, md)
	case ue.Code == 409:
		return newStatus(codes.Aborted, ReasonUpstreamError, msg, md)
	case ue.Code == 429:
		return newStatus(codes.ResourceExhausted, ReasonUpstreamUnavailable, msg, md)
	case ue.Code == 503:
		return newStatus(codes.Unavailable, ReasonUpstreamUnavailable, msg, md)
	default:
		return newStatus(codes.Internal, ReasonUpstreamError, "upstream error: "+msg, md)
	}
}

// upstreamMessage is the text of an upstream error for a caller: the
// upstream's own messages when it sent any, else the error's description.
func upstreamMessage(ue *upstream.Error, resource string) string {
	msg := strings.Join(ue.Messages, "; ")
	if msg == "" {
		msg = ue.Error()
	}
	if resource != "" && !strings.Contains(msg, resource) {
		msg = fmt.Sprintf("%s: %s", resource, msg)
	}
	return msg
}

func hasMessage(ue *upstream.Error, substr string) bool {
	for _, m := range ue.Messages {
		if strings.Contains(strings.ToLower(m), substr) {
			return true
		}
	}
	return false
}

// isRoleStoreReadOnly recognises a role store's refusal of a write because
// it is read-only (LDAP and Windows stores, docs/upstream.md#roles; the text
// is not recorded): a roles operation whose message says read-only.
func isRoleStoreReadOnly(ue *upstream.Error) bool {
	return strings.HasPrefix(ue.Op, "roles.") &&
		(hasMessage(ue, "read-only") || hasMessage(ue, "read only") || hasMessage(ue, "readonly"))
}

// isSiteNotCreated recognises "Local machine '...' is not participating in
// any Site" (generateToken) and "Server machine '...' does not participate
// in any Site" (admin root), docs/upstream.md#site-not-created.
func isSiteNotCreated(ue *upstream.Error) bool {
	return hasMessage(ue, "participating in any site") || hasMessage(ue, "participate in any site")
}
