package server

import (
	"context"
	"errors"
	"strings"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/arcgate/arcgate/statestore"
	"github.com/arcgate/arcgate/upstream"
)

// Every read-modify-write of one upstream resource (a service, a folder,
// an item info, a usage report, the usage statistics settings, a role)
// runs under that resource's lock: two updates of different fields of the
// same service would otherwise both read the definition, each change its
// field, and the second write would put back what the first one changed.
// Writes that replace or remove the resource take the same lock, so that
// they do not interleave with an update. The key is the upstream resource
// (its admin path, in lower case: ArcGIS names are not case-sensitive), so
// a service's definition and its item info, two upstream resources, are
// locked apart, and an item info and its thumbnail, one resource, together.

// lockResource waits for the lock of key, about the resource named
// resource, and returns the context to do the work under it with, and the
// function that releases it. Reads made with that context are fresh
// (upstream.FreshRead): a read in flight may have begun before the
// previous holder's write, and must not be what this one modifies. Within
// one process the upstream client's write counter already keeps such a
// read from being joined; FreshRead is what covers a previous holder on
// another replica (a shared Redis store), whose write this process's
// client never saw.
//
// The work's context is cancelled, with cause statestore.ErrLockLost, if
// the lock is lost while held (a Redis lease that could not be renewed in
// time). unlock takes a pointer to the error the work ends with, deferred
// as `defer unlock(&err)` with err the handler's named result: when the
// lock was lost and err is the cancellation that followed, unlock replaces
// it with the error that says so (lockLost). It may be nil.
func lockResource(ctx context.Context, locks statestore.Locker, key, resource string) (context.Context, func(errp *error), error) {
	held, release, err := locks.Lock(ctx, key)
	if err != nil {
		switch {
		case errors.Is(err, context.DeadlineExceeded):
			return nil, nil, status.Error(codes.DeadlineExceeded, "deadline exceeded waiting for another write to "+resource+" to finish")
		case errors.Is(err, context.Canceled):
			return nil, nil, status.Error(codes.Canceled, "request canceled")
		}
		// The store's own error is not shown: it could name the store's
		// address or credentials.
		return nil, nil, status.Error(codes.Unavailable, "cannot lock "+resource+" for writing: the state store did not answer")
	}
	unlock := func(errp *error) {
		if errp != nil {
			*errp = lockLost(held, *errp, resource)
		}
		release()
	}
	return upstream.FreshRead(held), unlock, nil
}

// lockLost is the error of work on resource that ended with err under the
// lock whose context is held. When the lock was lost (held's cause is
// statestore.ErrLockLost) and err is the cancellation that followed, it
// is ABORTED with the reason LOCK_LOST: another write to resource may
// have run alongside, so the caller must not take the cancellation for
// its own. Its metadata `writeSent` says whether the upstream write may
// have been sent ("maybe": the outcome is unknown, as with
// UPSTREAM_OUTCOME_UNKNOWN) or not ("no": nothing was changed). A write
// already applied (WRITE_APPLIED) keeps its reason, with the code ABORTED
// and a message naming the lost lock. Any other error, or work that
// succeeded, is kept as it is.
//
// ABORTED rather than UNAVAILABLE: the write was stopped by a concurrency
// failure, which ABORTED is for (AIP-193: retry at a higher level, i.e.
// read the resource and decide), and gRPC clients retry UNAVAILABLE on
// their own, which a write that may have been applied must not be.
func lockLost(held context.Context, err error, resource string) error {
	if err == nil || !errors.Is(context.Cause(held), statestore.ErrLockLost) {
		return err
	}
	st, isStatus := status.FromError(err)
	var code codes.Code
	var reason string
	md := map[string]string{}
	if isStatus {
		code = st.Code()
		for _, d := range st.Details() {
			if info, ok := d.(*errdetails.ErrorInfo); ok && info.GetDomain() == ErrorDomain {
				reason = info.GetReason()
				for k, v := range info.GetMetadata() {
					md[k] = v
				}
			}
		}
	}
	switch {
	case reason == ReasonLockLost:
		return err // an inner lock's loss, already said
	case reason == ReasonWriteApplied:
		md["resource"] = resource
		return newStatus(codes.Aborted, ReasonWriteApplied,
			"the change to "+resource+" was applied, but arcgate's lock on "+resource+
				" was lost before it was read back: read "+resource+" rather than repeating the write", md)
	case isStatus && code != codes.Canceled:
		return err // not the cancellation the loss caused
	case !isStatus && !errors.Is(err, context.Canceled):
		return err
	}
	sent := reason == ReasonUpstreamOutcomeUnknown || (!isStatus && upstream.IsOutcomeUnknown(err))
	md["resource"] = resource
	msg := "arcgate's lock on " + resource + " was lost while this write ran (the state store did not renew its lease in time), so another write to it may have run alongside; the write was stopped"
	if sent {
		md["writeSent"] = "maybe"
		msg += " after its upstream request may have been sent: the change may or may not have been applied; read " + resource + " to check, or retry with the same request_id (x-request-id)"
	} else {
		md["writeSent"] = "no"
		msg += " before its upstream request was sent, and nothing was changed: retry it"
	}
	return newStatus(codes.Aborted, ReasonLockLost, msg, md)
}

// serviceLockKey is the lock key of a service's definition.
func serviceLockKey(ref serviceRef) string { return strings.ToLower(ref.upstream().Path()) }

// itemInfoLockKey is the lock key of a service's item info (and thumbnail).
func itemInfoLockKey(ref serviceRef) string { return serviceLockKey(ref) + "/iteminfo" }

// folderLockKey is the lock key of a folder's settings.
func folderLockKey(folder string) string { return "services/" + strings.ToLower(folder) + "/" }

// usageReportLockKey is the lock key of a usage report.
func usageReportLockKey(id string) string { return "usagereports/" + strings.ToLower(id) }

// usageSettingsLockKey is the lock key of the usage statistics settings.
const usageSettingsLockKey = "usagereports/settings"

// roleLockKey is the lock key of a role.
func roleLockKey(name string) string { return "roles/" + strings.ToLower(name) }
