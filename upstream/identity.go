package upstream

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
)

// identityKind says what an Identity holds.
type identityKind uint8

const (
	identityNone        identityKind = iota // the zero Identity
	identityCredentials                     // username and password: tokens are minted
	identityToken                           // a token supplied as is: never refreshed
)

// Limits on identity values, far above anything ArcGIS issues or accepts,
// so that a hostile caller cannot make the pool hash megabytes.
const (
	maxUsernameBytes = 256
	maxPasswordBytes = 1024
	maxTokenBytes    = 8192
)

// Identity is the ArcGIS account on whose behalf upstream requests are
// made: a username and password (the token pool mints and refreshes tokens
// for it) or a token supplied as is (used until the upstream rejects it,
// never refreshed). The zero Identity means "none".
//
// An Identity holds a secret: String, GoString, Format, LogValue and
// MarshalJSON all redact the password or token. Two identities with the
// same username and password (or the same token) share one pool entry;
// the entry is keyed by a keyed hash that is never shown.
type Identity struct {
	kind     identityKind
	username string
	secret   secret // the password or the token
	key      any    // string of the keyed hash: the pool's map key (allocated once)
}

// identitySalt keys the identity hash, so that pool keys are not a stable
// hash of a password.
var identitySalt = func() []byte {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	return b
}()

// identityKeyOf is the pool key of an identity: HMAC-SHA256 over the
// length-prefixed kind, username and secret.
func identityKeyOf(kind identityKind, username, sec string) any {
	h := hmac.New(sha256.New, identitySalt)
	var n [9]byte
	n[0] = byte(kind)
	binary.BigEndian.PutUint64(n[1:], uint64(len(username)))
	h.Write(n[:])
	h.Write([]byte(username))
	h.Write([]byte(sec))
	return string(h.Sum(nil))
}

// CredentialsIdentity returns the identity of an ArcGIS account given by
// username and password. The pool mints tokens for it with the configured
// token service and refreshes them before they expire.
func CredentialsIdentity(username, password string) Identity {
	return Identity{kind: identityCredentials, username: username, secret: newSecret(password),
		key: identityKeyOf(identityCredentials, username, password)}
}

// TokenIdentity returns the identity of a caller that supplies an ArcGIS
// token itself. The pool uses the token as is and never refreshes it: once
// the upstream rejects it (498/499), requests fail as unauthenticated.
func TokenIdentity(token string) Identity {
	return Identity{kind: identityToken, secret: newSecret(token), key: identityKeyOf(identityToken, "", token)}
}

// IsZero reports whether id is the zero Identity (no identity).
func (id Identity) IsZero() bool { return id.kind == identityNone }

// IsToken reports whether id is a token supplied as is (TokenIdentity).
func (id Identity) IsToken() bool { return id.kind == identityToken }

// Username returns the account name of a CredentialsIdentity, "" otherwise.
// It is not a secret.
func (id Identity) Username() string { return id.username }

// password returns the password of a CredentialsIdentity, "" otherwise.
func (id Identity) password() string {
	if id.kind != identityCredentials {
		return ""
	}
	return id.secret()
}

// token returns the token of a TokenIdentity, "" otherwise.
func (id Identity) token() string {
	if id.kind != identityToken {
		return ""
	}
	return id.secret()
}

// validate refuses identities that cannot work, before any request is made.
// Its errors never contain the secret.
func (id Identity) validate() error {
	fail := func(msg string) error {
		return &Error{Kind: KindToken, Op: "identity", Messages: []string{msg}}
	}
	switch id.kind {
	case identityCredentials:
		switch {
		case id.username == "":
			return fail("the username is empty")
		case id.secret() == "":
			return fail("the password is empty")
		case len(id.username) > maxUsernameBytes:
			return fail("the username is longer than " + strconv.Itoa(maxUsernameBytes) + " bytes")
		case len(id.secret()) > maxPasswordBytes:
			return fail("the password is longer than " + strconv.Itoa(maxPasswordBytes) + " bytes")
		}
	case identityToken:
		switch {
		case id.secret() == "":
			return fail("the token is empty")
		case len(id.secret()) > maxTokenBytes:
			return fail("the token is longer than " + strconv.Itoa(maxTokenBytes) + " bytes")
		}
	default:
		return fail("no identity")
	}
	return nil
}

// Validate reports whether id can be used at all (a non-empty username and
// password, or a non-empty token, within sane lengths). The error never
// contains the secret.
func (id Identity) Validate() error {
	if err := id.validate(); err != nil {
		return err
	}
	return nil
}

// String returns a redacted description, e.g.
// `Identity{user "siteadmin", password REDACTED}` or
// `Identity{token REDACTED}`.
func (id Identity) String() string {
	switch id.kind {
	case identityCredentials:
		return "Identity{user " + strconv.Quote(id.username) + ", password " + redactedText + "}"
	case identityToken:
		return "Identity{token " + redactedText + "}"
	default:
		return "Identity{none}"
	}
}

// GoString returns the same redacted text as String, for %#v.
func (id Identity) GoString() string { return "upstream." + id.String() }

// Format implements fmt.Formatter so that no verb can print the secret.
func (id Identity) Format(f fmt.State, verb rune) {
	formatRedacted(f, verb, id.String(), id.GoString())
}

// LogValue implements slog.LogValuer with the secret redacted.
func (id Identity) LogValue() slog.Value {
	switch id.kind {
	case identityCredentials:
		return slog.GroupValue(slog.String("user", id.username), slog.String("password", redactedText))
	case identityToken:
		return slog.GroupValue(slog.String("token", redactedText))
	default:
		return slog.StringValue("none")
	}
}

// MarshalJSON encodes the identity with its secret redacted:
// {"user":"siteadmin","password":"REDACTED"} or {"token":"REDACTED"}.
func (id Identity) MarshalJSON() ([]byte, error) {
	switch id.kind {
	case identityCredentials:
		return json.Marshal(struct {
			User     string `json:"user"`
			Password string `json:"password"`
		}{id.username, redactedText})
	case identityToken:
		return json.Marshal(struct {
			Token string `json:"token"`
		}{redactedText})
	default:
		return []byte("null"), nil
	}
}

// identityCtxKey is the context key of WithIdentity.
type identityCtxKey struct{}

// WithIdentity returns a context whose upstream requests are made on
// behalf of id (delegated mode): the client takes the token from id's own
// pool entry instead of the gateway's service identity. A zero id returns
// ctx unchanged.
func WithIdentity(ctx context.Context, id Identity) context.Context {
	if id.IsZero() {
		return ctx
	}
	return context.WithValue(ctx, identityCtxKey{}, &id)
}

// IdentityFromContext returns the identity set by WithIdentity, if any.
func IdentityFromContext(ctx context.Context) (Identity, bool) {
	if id := identityFromContext(ctx); id != nil {
		return *id, true
	}
	return Identity{}, false
}

// identityFromContext returns the identity set by WithIdentity, or nil.
func identityFromContext(ctx context.Context) *Identity {
	id, _ := ctx.Value(identityCtxKey{}).(*Identity)
	return id
}

// errNoIdentity is returned by a pool without a service identity for a
// context that carries none.
var errNoIdentity = errors.New("no upstream identity: the context carries none and the pool has no service identity")
