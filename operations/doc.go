// Package operations runs arcgate's long-running operations (AIP-151) and
// serves the standard google.longrunning.Operations service over them.
//
// A method whose work may outlast its caller's deadline (creating,
// changing, starting or stopping a service, deleting a folder with its
// services) calls Manager.Start, which records an Operation named
// `operations/{uuid}` in the state store, returns it at once and runs the
// work detached from the caller's connection and deadline, bounded by the
// operation's own timeout. The work reports the upstream state or step it
// last saw through Progress (metadata arcgate.admin.v1.OperationMetadata)
// and may be cancellable (Spec.Cancellable, Progress.SetCancel) until it
// ends that with Progress.EndCancel, which decides, the same way on every
// replica, whether a cancellation came first. Its result, the response or a
// google.rpc.Status, is recorded when it ends; a timeout is
// DEADLINE_EXCEEDED with the reason UPSTREAM_OUTCOME_UNKNOWN, since the
// upstream may have applied the change.
//
// Operations survive a restart of the arcgate that runs them when the
// state store is shared (Redis): while an operation runs, its runner
// renews a lease record; an operation that is not done and whose lease has
// lapsed (its runner's process died) is finished, by whichever replica
// reads it first, as failed with UNAVAILABLE and the reason
// UPSTREAM_OUTCOME_UNKNOWN, never left running forever.
//
// Server implements longrunningpb.OperationsServer; RegisterREST adds its
// REST routes (/v1/operations...) to a grpc-gateway mux.
//
// Layering: operations imports statestore and the generated API types, not
// server, gateway, upstream or internal packages.
package operations
