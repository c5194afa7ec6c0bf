package rpc

import (
	"github.com/arcgate/arcgate/apierr"
	adminv1 "github.com/arcgate/arcgate/gen/go/arcgate/admin/v1"
)

// The ErrorInfo reasons of the calls the chain refuses (apierr.Reason of
// the arcgate.admin.v1.ErrorReason values, which document them). The
// services' reasons are package server's.
var (
	reasonInvalidArgument        = apierr.Reason(adminv1.ErrorReason_ERROR_REASON_INVALID_ARGUMENT)
	reasonCallerUnauthenticated  = apierr.Reason(adminv1.ErrorReason_ERROR_REASON_CALLER_UNAUTHENTICATED)
	reasonPermissionDeniedScope  = apierr.Reason(adminv1.ErrorReason_ERROR_REASON_PERMISSION_DENIED_SCOPE)
	reasonRateLimited            = apierr.Reason(adminv1.ErrorReason_ERROR_REASON_RATE_LIMITED)
	reasonDelegatedCredsRequired = apierr.Reason(adminv1.ErrorReason_ERROR_REASON_DELEGATED_CREDENTIALS_REQUIRED)
)
