package rpc

import (
	"bufio"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"

	"github.com/arcgate/arcgate/apierr"
	adminv1 "github.com/arcgate/arcgate/gen/go/arcgate/admin/v1"
)

// This file authenticates arcgate's callers. arcgate holds administrator
// credentials for a GIS site, so whoever can call it can administer the
// site: every call must come from a caller listed in the callers file
// (unless caller authentication is explicitly turned off, see
// GuardConfig.InsecureNoCallerAuth).
//
// The callers file has one credential per line; blank lines and lines
// starting with # are ignored:
//
//	# identity    scope   credential
//	ci-reader     read    sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08
//	deployer      write   sha256:60303ae22b998861bce3b28f33eec1be758a213c86c93c076dbe9f558c11c752
//	ops-console   admin   subject:CN=ops-console,O=Example Corp
//
//   - identity names the caller in logs and audit lines: 1 to 64 letters,
//     digits and . _ - @. An identity may have several lines (key rotation),
//     all with the same scope.
//   - scope is read, write or admin; admin implies write, write implies read.
//   - credential is either sha256:<64 hex digits>, the SHA-256 of an API key
//     (printf %s "$KEY" | sha256sum), or subject:<distinguished name>, the
//     subject of a client certificate in RFC 2253 form as Go prints it
//     (openssl x509 -noout -subject -nameopt RFC2253), for mTLS callers.
//
// The file holds no secret: only hashes of keys and certificate subjects.
// Callers send their key as "authorization: Bearer <key>" or
// "x-api-key: <key>" (gRPC metadata; the same HTTP headers over REST), or
// present a client certificate verified by the gRPC listener's client CA.

// Caller is an authenticated caller of arcgate.
type Caller struct {
	// ID is the caller's identity from the callers file ("anonymous" when
	// caller authentication is off). It is safe to log.
	ID string
	// Scope is the highest scope granted.
	Scope adminv1.Scope
	// Auth says how the caller was authenticated: "api-key", "mtls" or
	// "none" (caller authentication off).
	Auth string
}

// Has reports whether the caller may invoke a method requiring scope s:
// admin implies write, write implies read.
func (c Caller) Has(s adminv1.Scope) bool {
	return s != adminv1.Scope_SCOPE_UNSPECIFIED && c.Scope >= s
}

// callerKey is the context key of the Caller.
type callerKey struct{}

// withCaller returns ctx carrying c.
func withCaller(ctx context.Context, c Caller) context.Context {
	noteCaller(ctx, c) // for the call's log line, written outside this context
	return context.WithValue(ctx, callerKey{}, c)
}

// CallerFrom returns the authenticated caller of the call whose context is
// ctx, set by the Guard's interceptors.
func CallerFrom(ctx context.Context) (Caller, bool) {
	c, ok := ctx.Value(callerKey{}).(Caller)
	return c, ok
}

// Auth methods recorded in Caller.Auth.
const (
	authAPIKey = "api-key"
	authMTLS   = "mtls"
	authNone   = "none"
)

// Metadata keys that carry an API key: "authorization: Bearer <key>" or
// MetadataAPIKey (the REST gateway forwards the HTTP headers of the same
// names).
const (
	mdAuthorization = "authorization"
	MetadataAPIKey  = "x-api-key"
)

// maxAPIKeyLen bounds a presented API key; longer values are refused
// before hashing.
const maxAPIKeyLen = 512

// credentialEntry is one line of the callers file.
type credentialEntry struct {
	id    string
	scope adminv1.Scope
	hash  [sha256.Size]byte // API key hash, zero for a subject line
	subj  string            // certificate subject, "" for a key line
}

// Credentials is a parsed callers file. It is immutable and safe for
// concurrent use.
type Credentials struct {
	keys     []credentialEntry
	subjects map[string]credentialEntry
}

// Len returns the number of credentials.
func (c *Credentials) Len() int { return len(c.keys) + len(c.subjects) }

// LoadCredentials reads a callers file (see the format above).
func LoadCredentials(path string) (*Credentials, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("callers file: %w", err)
	}
	defer func() { _ = f.Close() }()
	c, err := ParseCredentials(f)
	if err != nil {
		return nil, fmt.Errorf("callers file %s: %w", path, err)
	}
	return c, nil
}

// maxCallersLine bounds a line of the callers file.
const maxCallersLine = 4096

// ParseCredentials parses a callers file (see the format above). Errors
// name the line; they quote no credential.
func ParseCredentials(r io.Reader) (*Credentials, error) {
	c := &Credentials{subjects: map[string]credentialEntry{}}
	scopes := map[string]adminv1.Scope{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 256), maxCallersLine)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		e, err := parseCredentialLine(line)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", n, err)
		}
		if s, ok := scopes[e.id]; ok && s != e.scope {
			return nil, fmt.Errorf("line %d: identity %q has two different scopes", n, e.id)
		}
		scopes[e.id] = e.scope
		if e.subj != "" {
			if _, dup := c.subjects[e.subj]; dup {
				return nil, fmt.Errorf("line %d: certificate subject listed twice", n)
			}
			c.subjects[e.subj] = e
			continue
		}
		for _, k := range c.keys {
			if k.hash == e.hash {
				return nil, fmt.Errorf("line %d: API key hash listed twice", n)
			}
		}
		c.keys = append(c.keys, e)
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return nil, fmt.Errorf("a line is longer than %d bytes", maxCallersLine)
		}
		return nil, err
	}
	if c.Len() == 0 {
		return nil, errors.New("no credentials")
	}
	return c, nil
}

// parseCredentialLine parses "<identity> <scope> <credential>"; the
// credential is the rest of the line (a subject may contain spaces).
func parseCredentialLine(line string) (credentialEntry, error) {
	var e credentialEntry
	id, rest, ok := cutField(line)
	if !ok {
		return e, errors.New("want <identity> <scope> <credential>")
	}
	scope, cred, ok := cutField(rest)
	if !ok || cred == "" {
		return e, errors.New("want <identity> <scope> <credential>")
	}
	if !validIdentity(id) {
		return e, errors.New("identity must be 1 to 64 letters, digits, '.', '_', '-' or '@'")
	}
	e.id = id
	switch scope {
	case "read":
		e.scope = adminv1.Scope_SCOPE_READ
	case "write":
		e.scope = adminv1.Scope_SCOPE_WRITE
	case "admin":
		e.scope = adminv1.Scope_SCOPE_ADMIN
	default:
		return e, errors.New("scope must be read, write or admin")
	}
	kind, value, _ := strings.Cut(cred, ":")
	switch kind {
	case "sha256":
		b, err := hex.DecodeString(value)
		if err != nil || len(b) != sha256.Size {
			return e, errors.New("sha256: wants 64 hex digits (the SHA-256 of the API key)")
		}
		copy(e.hash[:], b)
	case "subject":
		value = strings.TrimSpace(value)
		if value == "" || !isPrintable(value) {
			return e, errors.New("subject: wants a certificate subject such as CN=client,O=Example")
		}
		e.subj = value
	default:
		return e, errors.New(`credential must start with "sha256:" or "subject:"`)
	}
	return e, nil
}

// cutField splits s at its first run of blanks.
func cutField(s string) (field, rest string, ok bool) {
	i := strings.IndexAny(s, " \t")
	if i < 0 {
		return s, "", false
	}
	return s[:i], strings.TrimLeft(s[i:], " \t"), true
}

func validIdentity(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for _, r := range id {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', strings.ContainsRune("._-@", r):
		default:
			return false
		}
	}
	return true
}

func isPrintable(s string) bool {
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return false
		}
	}
	return true
}

// HashAPIKey returns the sha256:<hex> credential of an API key, as written
// in the callers file.
func HashAPIKey(key string) string {
	sum := sha256.Sum256([]byte(key))
	return "sha256:" + hex.EncodeToString(sum[:])
}

// lookupKey finds the entry of an API key, comparing every hash in
// constant time.
func (c *Credentials) lookupKey(key string) (credentialEntry, bool) {
	sum := sha256.Sum256([]byte(key))
	var found credentialEntry
	ok := false
	for _, e := range c.keys {
		if subtle.ConstantTimeCompare(sum[:], e.hash[:]) == 1 {
			found, ok = e, true
		}
	}
	return found, ok
}

// callerError is the UNAUTHENTICATED error of a call whose caller could
// not be authenticated. It never quotes the credential.
func callerError(why string) error {
	return apierr.New(codes.Unauthenticated, reasonCallerUnauthenticated,
		"caller not authenticated: "+why, nil)
}

// authenticate identifies the caller of the call in ctx: by the API key in
// its metadata, else by its verified client certificate.
func (c *Credentials) authenticate(ctx context.Context) (Caller, error) {
	key, err := presentedKey(ctx)
	if err != nil {
		return Caller{}, err
	}
	if key != "" {
		e, ok := c.lookupKey(key)
		if !ok {
			return Caller{}, callerError("unknown API key")
		}
		return Caller{ID: e.id, Scope: e.scope, Auth: authAPIKey}, nil
	}
	if subj, ok := verifiedSubject(ctx); ok {
		e, found := c.subjects[subj]
		if !found {
			return Caller{}, callerError("client certificate subject is not in the callers file")
		}
		return Caller{ID: e.id, Scope: e.scope, Auth: authMTLS}, nil
	}
	return Caller{}, callerError("no credentials: send an API key as \"authorization: Bearer <key>\" or \"x-api-key: <key>\", or a client certificate")
}

// presentedKey returns the API key of the call, "" if none. Several
// different keys, a non-Bearer authorization or an oversized key are
// errors.
func presentedKey(ctx context.Context) (string, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	var keys []string
	for _, v := range md.Get(mdAuthorization) {
		scheme, token, _ := strings.Cut(strings.TrimSpace(v), " ")
		if !strings.EqualFold(scheme, "bearer") {
			return "", callerError("the authorization metadata must be \"Bearer <API key>\"")
		}
		keys = append(keys, strings.TrimSpace(token))
	}
	for _, v := range md.Get(MetadataAPIKey) {
		keys = append(keys, strings.TrimSpace(v))
	}
	key := ""
	for _, k := range keys {
		switch {
		case k == "":
			return "", callerError("empty API key")
		case len(k) > maxAPIKeyLen:
			return "", callerError("API key too long")
		case key != "" && k != key:
			return "", callerError("more than one API key")
		}
		key = k
	}
	return key, nil
}

// verifiedSubject returns the subject of the caller's client certificate
// when the TLS handshake verified it.
func verifiedSubject(ctx context.Context) (string, bool) {
	p, ok := peer.FromContext(ctx)
	if !ok || p.AuthInfo == nil {
		return "", false
	}
	info, ok := p.AuthInfo.(credentials.TLSInfo)
	if !ok || len(info.State.VerifiedChains) == 0 || len(info.State.PeerCertificates) == 0 {
		return "", false
	}
	return info.State.PeerCertificates[0].Subject.String(), true
}

// ServerTLSConfig returns the TLS configuration of a listener serving
// certFile/keyFile (PEM), TLS 1.2 at least. With clientCAFile, client
// certificates signed by those CAs are verified when presented (mTLS
// callers); callers without one can still use an API key.
func ServerTLSConfig(certFile, keyFile, clientCAFile string) (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("TLS certificate: %w", err)
	}
	cfg := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	if clientCAFile != "" {
		pem, err := os.ReadFile(clientCAFile)
		if err != nil {
			return nil, fmt.Errorf("client CA file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("client CA file %s holds no PEM certificate", clientCAFile)
		}
		cfg.ClientCAs = pool
		cfg.ClientAuth = tls.VerifyClientCertIfGiven
	}
	return cfg, nil
}
