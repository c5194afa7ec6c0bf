package server

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/arcgate/arcgate/apierr"
	adminv1 "github.com/arcgate/arcgate/gen/go/arcgate/admin/v1"
	"github.com/arcgate/arcgate/upstream"
)

// ErrorDomain is the domain of every google.rpc.ErrorInfo arcgate returns:
// the proto package of the ErrorReason enum, "arcgate.admin.v1".
var ErrorDomain = apierr.Domain

// Reasons put in google.rpc.ErrorInfo.reason. Each is the name of a value
// of the proto enum arcgate.admin.v1.ErrorReason, which documents it,
// without the ERROR_REASON_ prefix (reasonName), so the strings are not
// copied by hand: a new reason is an enum value plus one line here
// (TestReasonsCoverEnum checks that every enum value has its line).
var (
	ReasonInvalidArgument         = reasonName(adminv1.ErrorReason_ERROR_REASON_INVALID_ARGUMENT)
	ReasonNotFound                = reasonName(adminv1.ErrorReason_ERROR_REASON_NOT_FOUND)
	ReasonAlreadyExists           = reasonName(adminv1.ErrorReason_ERROR_REASON_ALREADY_EXISTS)
	ReasonUpstreamUnauthenticated = reasonName(adminv1.ErrorReason_ERROR_REASON_UPSTREAM_UNAUTHENTICATED)
	ReasonUpstreamPermission      = reasonName(adminv1.ErrorReason_ERROR_REASON_UPSTREAM_PERMISSION_DENIED)
	ReasonUpstreamUnavailable     = reasonName(adminv1.ErrorReason_ERROR_REASON_UPSTREAM_UNAVAILABLE)
	ReasonUpstreamError           = reasonName(adminv1.ErrorReason_ERROR_REASON_UPSTREAM_ERROR)
	ReasonFolderNotEmpty          = reasonName(adminv1.ErrorReason_ERROR_REASON_FOLDER_NOT_EMPTY)
	ReasonDefaultFolder           = reasonName(adminv1.ErrorReason_ERROR_REASON_DEFAULT_FOLDER)
	ReasonResponseTooLarge        = reasonName(adminv1.ErrorReason_ERROR_REASON_UPSTREAM_RESPONSE_TOO_LARGE)
	ReasonFailedPrecondition      = reasonName(adminv1.ErrorReason_ERROR_REASON_FAILED_PRECONDITION)
	ReasonSiteNotCreated          = reasonName(adminv1.ErrorReason_ERROR_REASON_SITE_NOT_CREATED)
	ReasonDelegatedCredsRequired  = reasonName(adminv1.ErrorReason_ERROR_REASON_DELEGATED_CREDENTIALS_REQUIRED)
	ReasonCredentialsRejected     = reasonName(adminv1.ErrorReason_ERROR_REASON_UPSTREAM_CREDENTIALS_REJECTED)
	ReasonRoleStoreReadOnly       = reasonName(adminv1.ErrorReason_ERROR_REASON_ROLE_STORE_READ_ONLY)
	ReasonRoleListChanged         = reasonName(adminv1.ErrorReason_ERROR_REASON_ROLE_LIST_CHANGED)
	ReasonRoleQueryTooLarge       = reasonName(adminv1.ErrorReason_ERROR_REASON_ROLE_QUERY_TOO_LARGE)
	ReasonJobNotCancellable       = reasonName(adminv1.ErrorReason_ERROR_REASON_JOB_NOT_CANCELLABLE)
	ReasonJobNotDeletable         = reasonName(adminv1.ErrorReason_ERROR_REASON_JOB_NOT_DELETABLE)
	ReasonJobQueryTooLarge        = reasonName(adminv1.ErrorReason_ERROR_REASON_JOB_QUERY_TOO_LARGE)
	ReasonThumbnailNotSet         = reasonName(adminv1.ErrorReason_ERROR_REASON_THUMBNAIL_NOT_SET)
	ReasonUnsafeThumbnailPath     = reasonName(adminv1.ErrorReason_ERROR_REASON_UNSAFE_THUMBNAIL_PATH)
	ReasonMetricNotCombinable     = reasonName(adminv1.ErrorReason_ERROR_REASON_METRIC_NOT_COMBINABLE)
	ReasonCallerUnauthenticated   = reasonName(adminv1.ErrorReason_ERROR_REASON_CALLER_UNAUTHENTICATED)
	ReasonPermissionDeniedScope   = reasonName(adminv1.ErrorReason_ERROR_REASON_PERMISSION_DENIED_SCOPE)
	ReasonRateLimited             = reasonName(adminv1.ErrorReason_ERROR_REASON_RATE_LIMITED)
	ReasonCircuitOpen             = reasonName(adminv1.ErrorReason_ERROR_REASON_CIRCUIT_OPEN)
	ReasonRequestTooLarge         = reasonName(adminv1.ErrorReason_ERROR_REASON_REQUEST_TOO_LARGE)
	ReasonShuttingDown            = reasonName(adminv1.ErrorReason_ERROR_REASON_SHUTTING_DOWN)
	ReasonUpstreamOutcomeUnknown  = reasonName(adminv1.ErrorReason_ERROR_REASON_UPSTREAM_OUTCOME_UNKNOWN)
	ReasonUnknownPath             = reasonName(adminv1.ErrorReason_ERROR_REASON_UNKNOWN_PATH)
	ReasonMethodNotAllowed        = reasonName(adminv1.ErrorReason_ERROR_REASON_METHOD_NOT_ALLOWED)
	ReasonEtagMismatch            = reasonName(adminv1.ErrorReason_ERROR_REASON_ETAG_MISMATCH)
	ReasonWriteApplied            = reasonName(adminv1.ErrorReason_ERROR_REASON_WRITE_APPLIED)
	ReasonLockLost                = reasonName(adminv1.ErrorReason_ERROR_REASON_LOCK_LOST)
)

// reasonName is the ErrorInfo.reason for r (apierr.Reason).
func reasonName(r adminv1.ErrorReason) string { return apierr.Reason(r) }

// newStatus builds a status with an ErrorInfo detail (apierr.New).
func newStatus(code codes.Code, reason, msg string, md map[string]string) error {
	return apierr.New(code, reason, msg, md)
}

// invalidArgument is the error for a request field that failed validation:
// INVALID_ARGUMENT with a BadRequest naming the field and an ErrorInfo
// (apierr.InvalidArgument).
func invalidArgument(field, desc string) error { return apierr.InvalidArgument(field, desc) }

// failedPrecondition is FAILED_PRECONDITION with the given reason.
func failedPrecondition(reason, msg string, md map[string]string) error {
	return newStatus(codes.FailedPrecondition, reason, msg, md)
}

// notFound is NOT_FOUND for a resource arcgate found missing itself.
func notFound(resource string) error {
	return newStatus(codes.NotFound, ReasonNotFound, resource+" not found", map[string]string{"resource": resource})
}

// readBackFailed is the answer of a call whose write upstream succeeded
// but whose read of the result, for the answer, then failed (err): the
// change was applied, so the caller is told so (reason WRITE_APPLIED,
// with the read's code) and to read the resource rather than repeat the
// write.
func readBackFailed(err error, resource string) error {
	st := status.Convert(Status(err, resource))
	return apierr.New(st.Code(), ReasonWriteApplied,
		"the change to "+resource+" was applied, but reading it back failed ("+st.Message()+"): read "+resource+" rather than repeating the write",
		map[string]string{"resource": resource})
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
//	write sent, answer lost (deadline,   DEADLINE_EXCEEDED / UNAVAILABLE
//	reset, 502/504): may be applied      (UPSTREAM_OUTCOME_UNKNOWN; CANCELED
//	                                     if the caller gave up)
//
// UPSTREAM_UNAVAILABLE on a write therefore means that it was not applied.
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
	if upstream.IsOutcomeUnknown(err) {
		return outcomeUnknown(err, resource)
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

// outcomeUnknown is the error of a write that may have been applied
// upstream although its answer never arrived (upstream.IsOutcomeUnknown):
// DEADLINE_EXCEEDED when a deadline cut it short (CANCELED when the caller
// did), else UNAVAILABLE, with the reason UPSTREAM_OUTCOME_UNKNOWN and a
// message that tells the caller what to do instead of blindly retrying.
func outcomeUnknown(err error, resource string) error {
	var ue *upstream.Error
	errors.As(err, &ue)
	code := codes.Unavailable
	switch {
	case errors.Is(err, context.DeadlineExceeded) || ue.HTTPStatus == 504:
		code = codes.DeadlineExceeded
	case errors.Is(err, context.Canceled):
		code = codes.Canceled
	}
	md := map[string]string{}
	if ue.HTTPStatus != 0 {
		md["upstreamCode"] = strconv.Itoa(ue.HTTPStatus)
	}
	check := "the resource"
	if resource != "" {
		md["resource"] = resource
		check = resource
	}
	return newStatus(code, ReasonUpstreamOutcomeUnknown,
		"the upstream ArcGIS Server may have applied this change, but its answer never arrived ("+
			upstreamMessage(ue, "")+"); read "+check+" to check, or retry with the same request_id (x-request-id)", md)
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

// circuitOpen is the UNAVAILABLE error of a call refused because the
// upstream's circuit breaker is open, with a RetryInfo detail.
func circuitOpen(wait time.Duration, resource string) error {
	md := map[string]string{}
	if resource != "" {
		md["resource"] = resource
	}
	msg := "upstream ArcGIS Server is failing repeatedly; arcgate is not sending it requests for now (circuit breaker open)"
	if wait > 0 {
		msg += "; retry after " + wait.Round(time.Millisecond).String()
	}
	return apierr.Retry(codes.Unavailable, ReasonCircuitOpen, msg, md, wait)
}
