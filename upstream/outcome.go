package upstream

import (
	"context"
	"errors"
	"net/http/httptrace"
	"sync/atomic"
)

// This file tells a write (request.isWrite) that provably never reached
// the upstream from one that may have (Error.Write, Error.Sent,
// Error.OutcomeUnknown): a caller told "unavailable" retries, which is only
// harmless when nothing was applied.

// sendTrace records how far a write got on its way to the upstream.
// Its hooks may run on the transport's goroutines.
type sendTrace struct {
	getConn atomic.Bool // the transport looked for a connection
	wrote   atomic.Bool // the request's headers were written to one
}

// withTrace returns ctx with hooks that record into t (composed with any
// trace already in ctx).
func (t *sendTrace) withTrace(ctx context.Context) context.Context {
	return httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
		GetConn:      func(string) { t.getConn.Store(true) },
		WroteHeaders: func() { t.wrote.Store(true) },
	})
}

// mayHaveReached reports whether a request that failed with err (from
// http.Client.Do) may have reached the upstream. It answers false only on
// proof: the circuit breaker or the concurrency cap refused it (nothing
// was handed to the network), or the transport traced its search for a
// connection and never wrote the request's headers (a refused or failed
// dial, a TLS failure, a deadline while connecting). A transport that
// traces nothing gives no proof.
func (t *sendTrace) mayHaveReached(err error) bool {
	if _, open := IsCircuitOpen(err); open || errors.Is(err, errNotSent) {
		return false
	}
	if t.wrote.Load() {
		return true
	}
	return !t.getConn.Load()
}

// errNotSent is matched (errors.Is) by the error of a request the resilient
// transport gave up on before handing it to the network.
var errNotSent = errors.New("upstream: request not sent")

// notSentError wraps the cause of a request given up before it was sent; it
// reads as its cause, errors.Is finds the cause and errNotSent.
type notSentError struct{ err error }

func (e *notSentError) Error() string        { return e.err.Error() }
func (e *notSentError) Unwrap() error        { return e.err }
func (e *notSentError) Is(target error) bool { return target == errNotSent }
