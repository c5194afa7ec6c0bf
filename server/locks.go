package server

import (
	"context"
	"errors"
	"strings"

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
func lockResource(ctx context.Context, locks statestore.Locker, key, resource string) (context.Context, func(), error) {
	held, unlock, err := locks.Lock(ctx, key)
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
	return upstream.FreshRead(held), unlock, nil
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
