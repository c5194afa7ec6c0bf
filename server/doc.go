// Package server implements arcgate's gRPC services.
//
// Each service validates its request (resource names, field masks, page
// tokens) before anything is sent upstream, translates it into calls of the
// [upstream.Client], and translates the answer into proto messages. One
// function, [Status], chooses the gRPC status code and error details of every
// error an RPC returns; handlers never pick codes for upstream errors
// themselves.
//
// The package knows nothing of the upstream's HTTP details: URLs, form
// encoding, envelopes and tokens belong to package upstream.
package server
