package upstream

import (
	"context"
	"errors"
	"time"
)

// Observer is told about every upstream HTTP exchange once it is over:
// the client operation (a constant such as "services.get" or
// "generateToken", never a caller-supplied value), how long the exchange
// took, and its error (nil on success). A call retried after a token
// rejection is reported once per attempt. It is called on the caller's
// goroutine and must be fast and safe for concurrent use.
type Observer func(op string, d time.Duration, err error)

// WithObserver makes the client report every upstream exchange to o, e.g.
// to record latency histograms. The generateToken requests of the token
// source made by WithCredentials are reported too.
func WithObserver(o Observer) Option {
	return func(c *Client) error {
		if o == nil {
			return errors.New("upstream: WithObserver: nil observer")
		}
		c.wire.observe = o
		return nil
	}
}

// observed reports the exchange of r that started at start and ended with
// *err to w's observer, if any; send defers it.
func (w *wire) observed(r *request, start time.Time, err *error) {
	if w.observe != nil {
		w.observe(r.op, time.Since(start), *err)
	}
}

// Outcome names the result of an upstream call with a short, bounded word,
// fit for a metric label: "ok"; for upstream error envelopes "not_found",
// "bad_request", "permission_denied", "token_rejected" or "api_error";
// "canceled" or "deadline_exceeded" when the caller's context ended;
// otherwise the error's Kind ("http", "transport", "decode", "too_large",
// "token", "invalid"), or "other" for an error that is not an *Error.
func Outcome(err error) string {
	if err == nil {
		return "ok"
	}
	switch {
	case errors.Is(err, context.Canceled):
		return "canceled"
	case errors.Is(err, context.DeadlineExceeded):
		return "deadline_exceeded"
	}
	var e *Error
	if !errors.As(err, &e) {
		return "other"
	}
	switch e.Kind {
	case KindAPI:
		switch e.Code {
		case 404:
			return "not_found"
		case 400:
			return "bad_request"
		case 401, 403:
			return "permission_denied"
		case 498, 499:
			return "token_rejected"
		}
		return "api_error"
	case KindHTTP:
		return "http"
	case KindTransport:
		return "transport"
	case KindDecode:
		return "decode"
	case KindTooLarge:
		return "too_large"
	case KindToken:
		return "token"
	case KindInvalid:
		return "invalid"
	}
	return "other"
}
