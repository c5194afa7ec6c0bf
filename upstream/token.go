package upstream

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"
)

// Token is an ArcGIS Server token. Its Value is a bearer secret: String,
// GoString, Format, LogValue and MarshalJSON all redact it, so printing or
// logging a Token (with fmt, log/slog or encoding/json) never shows it.
type Token struct {
	// Value is the token itself, sent as the "token" parameter.
	Value string
	// Expires is when the upstream stops accepting the token; zero if
	// unknown or never.
	Expires time.Time
}

// String returns a redacted description, e.g.
// "Token{REDACTED, expires 2026-01-02T15:04:05Z}".
func (t Token) String() string {
	v := redactedText
	if t.Value == "" {
		v = "empty"
	}
	if t.Expires.IsZero() {
		return "Token{" + v + ", no expiry}"
	}
	return "Token{" + v + ", expires " + t.Expires.UTC().Format(time.RFC3339) + "}"
}

// GoString returns the same redacted text as String, for %#v.
func (t Token) GoString() string { return "upstream." + t.String() }

// Format implements fmt.Formatter so that no verb (%d, %x, %+v, ...) can
// print the token value.
func (t Token) Format(f fmt.State, verb rune) { formatRedacted(f, verb, t.String(), t.GoString()) }

// LogValue implements slog.LogValuer with the value redacted.
func (t Token) LogValue() slog.Value {
	return slog.GroupValue(slog.String("value", redactedText), slog.Time("expires", t.Expires))
}

// MarshalJSON encodes the token with its value redacted:
// {"value":"REDACTED","expires":"..."}.
func (t Token) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Value   string    `json:"value"`
		Expires time.Time `json:"expires"`
	}{redactedText, t.Expires})
}

// formatRedacted writes the redacted text for any fmt verb.
func formatRedacted(f fmt.State, verb rune, s, gos string) {
	switch {
	case verb == 'v' && f.Flag('#'):
		_, _ = fmt.Fprint(f, gos)
	case verb == 'q':
		_, _ = fmt.Fprint(f, strconv.Quote(s))
	default:
		_, _ = fmt.Fprint(f, s)
	}
}

// TokenSource supplies tokens for upstream requests. Implementations must
// be safe for concurrent use by multiple goroutines.
type TokenSource interface {
	// Token returns a token that is valid now. It may block while a new
	// token is fetched, and must return promptly when ctx ends.
	Token(ctx context.Context) (*Token, error)
	// Invalidate tells the source that the upstream rejected t (code 498 or
	// 499). The source drops its cached token only if it is still t, so
	// that a token refreshed meanwhile by another caller is kept.
	Invalidate(t *Token)
}

// StaticToken returns a TokenSource that always returns the given operator
// token and never refreshes it. Invalidate is a no-op, so after a
// rejection the client does not retry (the same token would be sent).
func StaticToken(value string) TokenSource {
	return &staticTokenSource{tok: &Token{Value: value}}
}

type staticTokenSource struct{ tok *Token }

func (s *staticTokenSource) Token(context.Context) (*Token, error) {
	if s.tok.Value == "" {
		return nil, &Error{Kind: KindToken, Op: "staticToken", Messages: []string{"static token is empty"}}
	}
	return s.tok, nil
}

func (s *staticTokenSource) Invalidate(*Token) {}

// String redacts the token.
func (s *staticTokenSource) String() string { return "StaticToken(" + redactedText + ")" }

// GoString redacts the token.
func (s *staticTokenSource) GoString() string { return "upstream." + s.String() }

// Format redacts the token for every verb.
func (s *staticTokenSource) Format(f fmt.State, verb rune) {
	formatRedacted(f, verb, s.String(), s.GoString())
}

// secret holds a sensitive string behind a function, so that fmt, even
// with a verb that makes it walk unexported fields, shows only a function
// address.
type secret func() string

func newSecret(s string) secret { return func() string { return s } }

// credentials holds a username and password. Every way of printing,
// logging or encoding it redacts the password.
type credentials struct {
	username string
	password secret
}

func (c credentials) String() string {
	return "credentials{username: " + strconv.Quote(c.username) + ", password: " + redactedText + "}"
}

func (c credentials) GoString() string { return "upstream." + c.String() }

func (c credentials) Format(f fmt.State, verb rune) {
	formatRedacted(f, verb, c.String(), c.GoString())
}

func (c credentials) LogValue() slog.Value {
	return slog.GroupValue(slog.String("username", c.username), slog.String("password", redactedText))
}

func (c credentials) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Username string `json:"username"`
		Password string `json:"password"`
	}{c.username, redactedText})
}

const (
	// defaultTokenExpiration is the lifetime requested from generateToken.
	defaultTokenExpiration = 60 * time.Minute
	// tokenRefreshMargin is how long before expiry a token is replaced.
	tokenRefreshMargin = time.Minute
	// shortTokenLifetime is the lifetime below which a token is instead
	// replaced after 90% of it.
	shortTokenLifetime = 10 * time.Minute
	// failedFetchInterval is the minimum time between two failed
	// generateToken attempts; callers within it get the last error.
	failedFetchInterval = time.Second
)

// GenerateTokenOption configures a source made by NewGenerateTokenSource.
type GenerateTokenOption func(*generateTokenSource)

// WithTokenClock sets the clock used for token expiry and for the
// one-failure-per-second limit (default time.Now).
func WithTokenClock(now func() time.Time) GenerateTokenOption {
	return func(s *generateTokenSource) {
		if now != nil {
			s.now = now
		}
	}
}

// WithTokenExpiration sets the token lifetime requested from generateToken
// (rounded up to whole minutes; default 60 minutes).
func WithTokenExpiration(d time.Duration) GenerateTokenOption {
	return func(s *generateTokenSource) {
		if d > 0 {
			s.expiration = d
		}
	}
}

// NewGenerateTokenSource returns a TokenSource that obtains tokens from the
// admin generateToken operation at adminURL (e.g.
// "https://host/arcgis/admin/"): POST generateToken with username,
// password, client=requestip, expiration=60 and f=json. A token is cached
// until one minute before it expires (after 90% of its lifetime when it
// lives less than ten minutes). Concurrent callers share a single fetch,
// and after a failed fetch callers get the same error for one second
// before the next attempt. hc may be nil (a default client is used).
//
// The password is never included in errors, String, GoString or logs.
// New with WithCredentials builds this source with the client's HTTP
// client, user agent, size limit and clock.
func NewGenerateTokenSource(adminURL string, hc *http.Client, username, password string, opts ...GenerateTokenOption) TokenSource {
	s := &generateTokenSource{
		wire:       &wire{hc: hc, userAgent: defaultUserAgent, maxBytes: defaultMaxResponseBytes},
		creds:      &credentials{username: username, password: newSecret(password)},
		expiration: defaultTokenExpiration,
		now:        time.Now,
	}
	if s.wire.hc == nil {
		s.wire.hc = &http.Client{}
	}
	u, err := parseBaseURL(adminURL)
	if err != nil {
		s.urlErr = err
	} else {
		s.adminURL = withTrailingSlash(u)
	}
	for _, o := range opts {
		o(s)
	}
	return s
}

// generateTokenSource is the TokenSource built by NewGenerateTokenSource.
type generateTokenSource struct {
	wire       *wire
	adminURL   *url.URL
	urlErr     error
	creds      *credentials
	expiration time.Duration
	now        func() time.Time

	mu        sync.Mutex   // guards the fields below
	tok       *Token       // cached token, nil if none
	refreshAt time.Time    // when tok must be replaced
	flight    *tokenFlight // fetch in progress, nil if none
	lastErr   error        // last failed fetch
	lastErrAt time.Time    // when lastErr happened
}

// tokenFlight is one generateToken call that concurrent callers wait for.
type tokenFlight struct {
	done      chan struct{}
	tok       *Token
	err       error
	abandoned bool // the fetching caller's context ended; waiters retry
}

// String describes the source without its password.
func (s *generateTokenSource) String() string {
	return "GenerateTokenSource{" + s.creds.String() + "}"
}

// GoString describes the source without its password.
func (s *generateTokenSource) GoString() string { return "upstream." + s.String() }

// Format redacts the password for every verb.
func (s *generateTokenSource) Format(f fmt.State, verb rune) {
	formatRedacted(f, verb, s.String(), s.GoString())
}

// Token returns the cached token or fetches a new one.
func (s *generateTokenSource) Token(ctx context.Context) (*Token, error) {
	for {
		s.mu.Lock()
		now := s.now()
		if s.tok != nil && now.Before(s.refreshAt) {
			t := s.tok
			s.mu.Unlock()
			return t, nil
		}
		if s.lastErr != nil {
			if d := now.Sub(s.lastErrAt); d >= 0 && d < failedFetchInterval {
				err := s.lastErr
				s.mu.Unlock()
				return nil, err
			}
		}
		if f := s.flight; f != nil {
			s.mu.Unlock()
			select {
			case <-f.done:
			case <-ctx.Done():
				return nil, s.ctxErr(ctx)
			}
			if f.abandoned {
				continue
			}
			return f.tok, f.err
		}
		f := &tokenFlight{done: make(chan struct{})}
		s.flight = f
		s.mu.Unlock()

		tok, refreshAt, err := s.fetch(ctx)

		s.mu.Lock()
		s.flight = nil
		switch {
		case err == nil:
			s.tok, s.refreshAt, s.lastErr = tok, refreshAt, nil
		case ctx.Err() != nil:
			// Our caller gave up; that says nothing about the upstream.
			f.abandoned = true
		default:
			s.tok, s.lastErr, s.lastErrAt = nil, err, s.now()
		}
		f.tok, f.err = tok, err
		s.mu.Unlock()
		close(f.done)
		return tok, err
	}
}

// Invalidate drops t if it is still the cached token.
func (s *generateTokenSource) Invalidate(t *Token) {
	if t == nil {
		return
	}
	s.mu.Lock()
	if s.tok != nil && (s.tok == t || s.tok.Value == t.Value) {
		s.tok = nil
	}
	s.mu.Unlock()
}

func (s *generateTokenSource) ctxErr(ctx context.Context) error {
	return &Error{Kind: KindTransport, Op: "generateToken", Method: http.MethodPost, Path: "generateToken", Err: ctx.Err()}
}

// generateTokenResponse is the generateToken answer: expires is epoch
// milliseconds as a string (admin) or a number (portal, /tokens).
type generateTokenResponse struct {
	Token   jsonText  `json:"token"`
	Expires jsonFloat `json:"expires"`
}

// fetch calls generateToken once.
func (s *generateTokenSource) fetch(ctx context.Context) (*Token, time.Time, error) {
	if s.urlErr != nil {
		return nil, time.Time{}, &Error{Kind: KindToken, Op: "generateToken", Err: s.urlErr}
	}
	minutes := int((s.expiration + time.Minute - 1) / time.Minute)
	r := &request{
		op:     "generateToken",
		method: http.MethodPost,
		path:   "generateToken",
		form: url.Values{
			"username":   {s.creds.username},
			"password":   {s.creds.password()},
			"client":     {"requestip"},
			"expiration": {strconv.Itoa(minutes)},
		},
	}
	var resp generateTokenResponse
	secrets := []string{s.creds.password()}
	if err := s.wire.send(ctx, s.adminURL, r, "", secrets, &resp); err != nil {
		var e *Error
		if !errors.As(err, &e) {
			return nil, time.Time{}, err
		}
		if e.Kind == KindTransport && ctx.Err() != nil {
			return nil, time.Time{}, e // cancelled by the caller: not a token failure
		}
		// Keep the envelope, or the cause of a transport, decode or size
		// failure; the HTTP status says the rest.
		te := &Error{Kind: KindToken, Op: e.Op, Method: e.Method, Path: e.Path,
			HTTPStatus: e.HTTPStatus, Code: e.Code, Messages: e.Messages, Err: e.Err}
		if e.Kind == KindAPI && len(te.Messages) == 0 {
			te.Messages = []string{"generateToken was refused (check the username and password)"}
		}
		return nil, time.Time{}, te
	}
	if resp.Token == "" {
		return nil, time.Time{}, &Error{Kind: KindToken, Op: r.op, Method: r.method, Path: r.path,
			HTTPStatus: http.StatusOK, Messages: []string{"generateToken response has no token"}}
	}
	now := s.now()
	expires := expiryTime(float64(resp.Expires))
	if expires.IsZero() {
		expires = now.Add(time.Duration(minutes) * time.Minute)
	}
	return &Token{Value: string(resp.Token), Expires: expires}, refreshTime(now, expires), nil
}

// expiryTime converts epoch milliseconds to a time. Values too small to be
// milliseconds of this century are taken as seconds (a proxy mistake the
// fact sheet asks clients to tolerate). 0 or less means unknown.
func expiryTime(ms float64) time.Time {
	if ms <= 0 {
		return time.Time{}
	}
	if ms < 1e11 { // before 1973 as milliseconds: must be seconds
		ms *= 1000
	}
	if ms > 1e15 { // far beyond year 33000: treat as unknown
		return time.Time{}
	}
	return time.UnixMilli(int64(ms))
}

// refreshTime is when a token obtained at now and expiring at expires
// should be replaced: one minute early, or after 90% of a short lifetime.
// A token already expired is not cached (refreshTime returns now).
func refreshTime(now, expires time.Time) time.Time {
	life := expires.Sub(now)
	switch {
	case life <= 0:
		return now
	case life < shortTokenLifetime:
		return now.Add(life * 9 / 10)
	default:
		return expires.Add(-tokenRefreshMargin)
	}
}
