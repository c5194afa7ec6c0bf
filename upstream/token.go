package upstream

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strconv"
	"time"
)

// Token is an ArcGIS Server token. Its Value is a bearer secret: String,
// GoString, Format, LogValue and MarshalJSON all redact it, so printing or
// logging a Token (with fmt, log/slog or encoding/json) never shows it.
type Token struct {
	// Value is the token itself, sent as the "token" parameter of a POST
	// and in the X-Esri-Authorization header of a GET.
	Value string
	// Expires is when the upstream stops accepting the token; zero if
	// unknown or never.
	Expires time.Time

	// entry is the pool entry that issued the token (nil for tokens made
	// elsewhere); Pool.Invalidate uses it for its compare-and-swap.
	entry *poolEntry
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
// be safe for concurrent use by multiple goroutines. *Pool is the
// implementation New builds; StaticToken is the trivial one.
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

// LogValue redacts the token.
func (s *staticTokenSource) LogValue() slog.Value { return slog.StringValue(s.String()) }

// MarshalJSON redacts the token.
func (s *staticTokenSource) MarshalJSON() ([]byte, error) { return json.Marshal(s.String()) }

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
