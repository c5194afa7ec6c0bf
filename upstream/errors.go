package upstream

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// Kind classifies an *Error by where it came from. Callers (the gRPC layer)
// choose a status code from the Kind and, for KindAPI, from Error.Code.
type Kind int

const (
	// KindAPI means the upstream answered with an error envelope: the admin
	// shape {"status":"error","messages":[...],"code":N} or the REST shape
	// {"error":{"code":N,"message":"...","details":...}}, whatever the HTTP
	// status. Error.Code holds the envelope code (498/499 token, 404 not
	// found, 400, 403, 500, 201, 405, ...).
	KindAPI Kind = iota + 1
	// KindHTTP means a non-2xx HTTP status without a recognisable error
	// envelope. Error.HTTPStatus holds the status.
	KindHTTP
	// KindTransport means the request did not complete: connection errors,
	// TLS errors, redirect failures, a body read that failed, or the context
	// ending (errors.Is(err, context.Canceled) and
	// errors.Is(err, context.DeadlineExceeded) work through Error.Err).
	KindTransport
	// KindDecode means the upstream answered with something that is not the
	// JSON expected: an HTML page, an empty or truncated body, or JSON of the
	// wrong shape.
	KindDecode
	// KindTooLarge means the response body was larger than the limit set
	// with WithMaxResponseBytes (32 MiB by default).
	KindTooLarge
	// KindToken means obtaining a token failed: generateToken returned an
	// error envelope (wrong credentials, site not created, ...), could not be
	// reached, or answered without a token. Code and Messages carry the
	// upstream envelope when there was one; Err carries any other cause.
	KindToken
	// KindInvalid means the client refused to send a request because an
	// argument cannot form a valid upstream path or body (an empty name, a
	// "." or ".." path segment, a nil configuration). Nothing was sent.
	KindInvalid
)

// String returns a short lower-case name for k.
func (k Kind) String() string {
	switch k {
	case KindAPI:
		return "api"
	case KindHTTP:
		return "http"
	case KindTransport:
		return "transport"
	case KindDecode:
		return "decode"
	case KindTooLarge:
		return "too large"
	case KindToken:
		return "token"
	case KindInvalid:
		return "invalid argument"
	default:
		return "Kind(" + strconv.Itoa(int(k)) + ")"
	}
}

// Error is the only error type returned by this package's requests. Use
// errors.As to get at it. It never holds a token or password: upstream
// messages are scrubbed of the token and password in use when the Error is
// built, Path never has a query string, and Error() redacts anything that
// looks like a token= or password= parameter.
type Error struct {
	// Kind says where the error came from.
	Kind Kind
	// Op names the client operation, e.g. "services.get" or "generateToken".
	Op string
	// Method is the HTTP method of the request ("GET", "POST").
	Method string
	// Path is the admin-relative, escaped path of the request without a
	// query string, e.g. "services/System/CachingTools.GPServer/status".
	// It is "" for the admin root.
	Path string
	// HTTPStatus is the HTTP status of the response, 0 if there was none.
	HTTPStatus int
	// Code is the upstream envelope code (498, 499, 404, 500, 400, 403,
	// 201, 405, ...), 0 if there was no envelope. When an envelope had no
	// code, Code is the HTTP status if it was not 2xx, else 500.
	Code int
	// Messages are the upstream messages: the admin envelope's messages[],
	// or the REST envelope's message followed by its details.
	Messages []string
	// Err is the underlying cause for transport, decode, size and token
	// errors; nil for plain upstream envelopes.
	Err error
	// Write reports that the request asked the upstream to change
	// something: a POST other than generateToken and the reads the roles
	// store answers by POST. Only writes have an outcome that can be
	// unknown (see OutcomeUnknown).
	Write bool
	// Sent reports, for a write, that the request may have reached the
	// upstream: part of it was written to a connection, or the transport
	// cannot tell. It is false when the write provably never left: no
	// connection could be made (refused, DNS, TLS), the circuit breaker
	// refused it, or the context ended before it was written. It is not
	// tracked for reads (always false).
	Sent bool
	// cut reports a 2xx answer whose JSON body ends too early: the
	// upstream processed the request and its answer was lost on the way.
	cut bool
}

// OutcomeUnknown reports whether e is the failure of a write that may
// have been applied upstream although no answer says so: the request may
// have reached the upstream (Sent) and its answer never arrived whole
// (connection lost or reset after the request was written, the context's
// deadline, a body cut short) or came from a proxy that got none (HTTP 502,
// 504). Read the resource to learn the outcome, or repeat the write with
// the same request id. Reads never have an unknown outcome.
func (e *Error) OutcomeUnknown() bool {
	if !e.Write || !e.Sent {
		return false
	}
	switch e.Kind {
	case KindTransport:
		return true
	case KindHTTP:
		return e.HTTPStatus == http.StatusBadGateway || e.HTTPStatus == http.StatusGatewayTimeout
	case KindDecode:
		return e.cut
	}
	return false
}

// IsOutcomeUnknown reports whether err is an *Error whose OutcomeUnknown
// is true: a write that may have been applied upstream.
func IsOutcomeUnknown(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.OutcomeUnknown()
}

// Error returns a one-line description that never contains a token or a
// password.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("upstream: ")
	if e.Op != "" {
		b.WriteString(e.Op)
		b.WriteString(": ")
	}
	if e.Method != "" {
		b.WriteString(e.Method)
		b.WriteString(" admin/")
		b.WriteString(e.Path)
		b.WriteString(": ")
	}
	msgs := strings.Join(e.Messages, "; ")
	switch e.Kind {
	case KindAPI:
		fmt.Fprintf(&b, "upstream error code %d", e.Code)
		if e.HTTPStatus != 0 && e.HTTPStatus != http.StatusOK {
			fmt.Fprintf(&b, " (HTTP %d)", e.HTTPStatus)
		}
	case KindHTTP:
		fmt.Fprintf(&b, "HTTP %d", e.HTTPStatus)
		if t := http.StatusText(e.HTTPStatus); t != "" {
			b.WriteString(" " + t)
		}
	case KindTransport:
		b.WriteString("transport error")
	case KindDecode:
		fmt.Fprintf(&b, "cannot decode response (HTTP %d)", e.HTTPStatus)
	case KindTooLarge:
		b.WriteString("response too large")
	case KindToken:
		b.WriteString("obtaining a token failed")
		if e.Code != 0 {
			fmt.Fprintf(&b, ": upstream error code %d", e.Code)
		} else if e.HTTPStatus != 0 && (e.HTTPStatus < 200 || e.HTTPStatus > 299) {
			fmt.Fprintf(&b, ": HTTP %d", e.HTTPStatus)
		}
	case KindInvalid:
		b.WriteString("invalid argument")
	default:
		b.WriteString(e.Kind.String())
	}
	if msgs != "" {
		b.WriteString(": ")
		b.WriteString(msgs)
	}
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	return redactParams(b.String())
}

// Unwrap returns the cause, so that errors.Is(err, context.Canceled) works.
func (e *Error) Unwrap() error { return e.Err }

// IsNotFound reports whether err is an *Error for a missing resource:
// envelope code 404 or HTTP status 404.
func IsNotFound(err error) bool {
	var e *Error
	if !errors.As(err, &e) {
		return false
	}
	return e.Code == http.StatusNotFound || e.HTTPStatus == http.StatusNotFound
}

// IsAuth reports whether err is an authentication failure: the upstream
// rejected the token (code 498 "invalid/expired token" or 499 "token
// required", after the client's single retry with a fresh token), or
// obtaining a token failed (KindToken). Use Error.Code to tell 498 from 499.
func IsAuth(err error) bool {
	var e *Error
	if !errors.As(err, &e) {
		return false
	}
	return e.Kind == KindToken || isTokenRejection(e)
}

// isTokenRejection reports whether e says the token was rejected.
func isTokenRejection(e *Error) bool {
	switch e.Kind {
	case KindAPI:
		return e.Code == 498 || e.Code == 499
	case KindHTTP:
		return e.HTTPStatus == 498 || e.HTTPStatus == 499
	}
	return false
}

// decodeResponse checks an upstream response body for both error envelopes
// and, when there is none and status is 2xx, decodes body into v (if v is
// not nil). The returned *Error has Kind, HTTPStatus, Code, Messages and Err
// set; the caller fills in Op, Method and Path.
func decodeResponse(status int, contentType string, body []byte, v any) *Error {
	if e := responseError(status, body); e != nil {
		return e
	}
	if v == nil {
		if json.Valid(body) {
			return nil
		}
	} else if cd, ok := v.(checkedDecoder); ok && decodedChecked(cd, body) {
		return nil // checked and decoded in one pass
	} else if err := json.Unmarshal(body, v); err == nil {
		return nil
	} else if json.Valid(body) {
		return &Error{Kind: KindDecode, HTTPStatus: status, Err: err}
	}
	return notJSON(status, contentType, body)
}

func decodedChecked(cd checkedDecoder, body []byte) bool {
	ok, _ := cd.decodeChecked(body)
	return ok
}

// checkResponse is decodeResponse with v nil (the body checked, not
// decoded), except that a 2xx body the one-pass decoder of check's type
// takes is checked by decoding it into a new value, returned, rather than
// by json.Valid; and when that decoder saw no key that may make it an
// error envelope, the body is not walked again to look for one
// (mayBeEnvelope would answer false).
func checkResponse(status int, contentType string, body []byte, check checkedDecoder) (checkedDecoder, *Error) {
	var d checkedDecoder
	if check != nil && status >= 200 && status <= 299 {
		d = check.newChecked()
		ok, envelope := d.decodeChecked(body)
		if ok && !envelope {
			return d, nil
		}
		if !ok {
			d = nil
		}
	}
	if e := responseError(status, body); e != nil {
		return nil, e
	}
	if d != nil || json.Valid(body) {
		return d, nil
	}
	return nil, notJSON(status, contentType, body)
}

// notJSON is the error of a 2xx body that is not JSON.
func notJSON(status int, contentType string, body []byte) *Error {
	var raw json.RawMessage
	err := json.Unmarshal(body, &raw) // the syntax error, with its offset
	return &Error{Kind: KindDecode, HTTPStatus: status,
		Err: fmt.Errorf("body is not JSON (%d bytes, Content-Type %q): %w", len(body), contentType, err)}
}

// responseError is the error an answer reports, whatever its body decodes
// to: an error envelope, else a status other than 2xx; nil for neither.
func responseError(status int, body []byte) *Error {
	// A fast walk of the top-level keys (mayBeEnvelope) spares the common
	// answer, a body without an error envelope, any decoding beyond the
	// one into v; only a body that may hold one is decoded as an object to
	// read the envelope.
	if mayBeEnvelope(body) {
		var obj map[string]json.RawMessage
		if json.Unmarshal(body, &obj) == nil && obj != nil {
			if e := envelopeError(status, obj); e != nil {
				return e
			}
		}
	}
	if status < 200 || status > 299 {
		return &Error{Kind: KindHTTP, HTTPStatus: status}
	}
	return nil
}

// envelopeError recognises the admin and REST error envelopes in a JSON
// object; it returns nil when obj is not an error envelope.
func envelopeError(status int, obj map[string]json.RawMessage) *Error {
	if raw, ok := obj["status"]; ok {
		var st string
		if json.Unmarshal(raw, &st) == nil && st == "error" {
			e := &Error{Kind: KindAPI, HTTPStatus: status}
			e.Code = envelopeCode(obj["code"], status)
			e.Messages = appendTexts(nil, obj["messages"])
			if len(e.Messages) == 0 {
				e.Messages = appendTexts(nil, obj["message"])
			}
			return e
		}
	}
	if raw, ok := obj["error"]; ok {
		var inner map[string]json.RawMessage
		if json.Unmarshal(raw, &inner) != nil || inner == nil {
			return nil
		}
		_, hasCode := inner["code"]
		_, hasMsg := inner["message"]
		if !hasCode && !hasMsg {
			return nil
		}
		e := &Error{Kind: KindAPI, HTTPStatus: status}
		e.Code = envelopeCode(inner["code"], status)
		e.Messages = appendTexts(nil, inner["message"])
		e.Messages = appendTexts(e.Messages, inner["details"])
		return e
	}
	return nil
}

// envelopeCode decodes an envelope code (number or numeric string); when it
// is missing or unusable it falls back to a non-2xx HTTP status, else 500.
func envelopeCode(raw json.RawMessage, status int) int {
	var c jsonInt
	if len(raw) > 0 && json.Unmarshal(raw, &c) == nil && c != 0 {
		return int(c)
	}
	if status < 200 || status > 299 {
		return status
	}
	return http.StatusInternalServerError
}

// appendTexts appends the non-empty texts in raw (a string, an array of
// strings or other values, or null) to dst. Non-string values are appended
// as compact JSON.
func appendTexts(dst []string, raw json.RawMessage) []string {
	if len(raw) == 0 {
		return dst
	}
	var list []json.RawMessage
	if json.Unmarshal(raw, &list) == nil {
		for _, item := range list {
			dst = appendTexts(dst, item)
		}
		return dst
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		if s != "" {
			dst = append(dst, s)
		}
		return dst
	}
	if t := strings.TrimSpace(string(raw)); t != "null" && t != "" {
		dst = append(dst, compactJSON(raw))
	}
	return dst
}

// redactedText replaces secrets in messages and URLs.
const redactedText = "REDACTED"

// scrub replaces every occurrence of a non-empty secret in s.
func scrub(s string, secrets []string) string {
	for _, sec := range secrets {
		if sec != "" && strings.Contains(s, sec) {
			s = strings.ReplaceAll(s, sec, redactedText)
		}
	}
	return s
}

// sensitiveParams are parameter names whose values redactParams hides.
var sensitiveParams = []string{"token=", "password="}

// redactParams hides the value of anything that looks like a token= or
// password= parameter in s (a URL or form that found its way into a message).
func redactParams(s string) string {
	lower := asciiLower(s)
	for _, p := range sensitiveParams {
		if !strings.Contains(lower, p) {
			continue
		}
		var b strings.Builder
		i := 0
		for {
			j := strings.Index(lower[i:], p)
			if j < 0 {
				break
			}
			j += i + len(p)
			b.WriteString(s[i:j])
			k := j
			for k < len(s) && !strings.ContainsRune("&#\"' \t\r\n;,)", rune(s[k])) {
				k++
			}
			if k > j {
				b.WriteString(redactedText)
			}
			i = k
		}
		b.WriteString(s[i:])
		s = b.String()
		lower = asciiLower(s)
	}
	return s
}

// scrubbedError carries a cause whose message contained a secret: Error()
// returns the scrubbed text while Unwrap keeps errors.Is working.
type scrubbedError struct {
	msg string
	err error
}

func (e *scrubbedError) Error() string { return e.msg }
func (e *scrubbedError) Unwrap() error { return e.err }

// scrubError returns err, or a wrapper with secrets removed from its message.
func scrubError(err error, secrets []string) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	clean := redactParams(scrub(msg, secrets))
	if clean == msg {
		return err
	}
	return &scrubbedError{msg: clean, err: err}
}

// redactURLError replaces the URL of a *url.Error (which, for GET, holds the
// token in its query) with one that has no query string.
func redactURLError(err error, u *url.URL) error {
	var ue *url.Error
	if !errors.As(err, &ue) {
		return err
	}
	clean := *u
	clean.RawQuery = ""
	clean.User = nil
	return &url.Error{Op: ue.Op, URL: clean.String(), Err: ue.Err}
}

// contextError wraps a transport-level failure so that the context's own
// error stays detectable with errors.Is even when the cause hides it.
func contextError(ctx context.Context, err error) error {
	cerr := ctx.Err()
	if cerr == nil || errors.Is(err, cerr) {
		return err
	}
	if err == nil {
		return cerr
	}
	return errors.Join(cerr, err)
}

// asciiLower lower-cases ASCII letters only, so that byte offsets in the
// result match those in s.
func asciiLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + ('a' - 'A')
		}
	}
	return string(b)
}
