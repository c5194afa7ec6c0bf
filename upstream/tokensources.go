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
	"strings"
	"sync"
	"time"
)

// This file holds the three ways of minting tokens for a username and
// password (stand-alone admin or /tokens generateToken, and the federated
// portal flow). Fixed tokens (TokenIdentity) need no minting: the pool
// serves them itself.

const (
	// defaultTokenExpiration is the lifetime requested from generateToken.
	// The server may shorten it; the pool reads the real expires.
	defaultTokenExpiration = 60 * time.Minute
	// maxTokenExpiration is the longest lifetime that may be requested
	// (the portal maximum, 14 days).
	maxTokenExpiration = 14 * 24 * time.Hour
	// maxRefererBytes bounds the configured Referer.
	maxRefererBytes = 2048
)

// TokenService selects the upstream operation that mints tokens for a
// username and password.
type TokenService int

const (
	// TokenServiceAdmin is POST <site>/admin/generateToken, always
	// available on a stand-alone server. It answers "expires" as a JSON
	// string of epoch milliseconds. The default.
	TokenServiceAdmin TokenService = iota
	// TokenServiceTokens is POST <site>/tokens/generateToken, the token
	// service, running when token security is on. It answers "expires" as
	// a number and errors in the REST envelope.
	TokenServiceTokens
	// TokenServicePortal is the federated flow: POST
	// <portal>/sharing/rest/generateToken with the credentials (a portal
	// token), then again with token and serverUrl to exchange the portal
	// token for a token of this server. The portal token is reused while it
	// outlives the server token requested, and refreshed first otherwise.
	TokenServicePortal
)

// String returns the configuration spelling: "admin", "tokens" or "portal".
func (s TokenService) String() string {
	switch s {
	case TokenServiceAdmin:
		return "admin"
	case TokenServiceTokens:
		return "tokens"
	case TokenServicePortal:
		return "portal"
	default:
		return "TokenService(" + strconv.Itoa(int(s)) + ")"
	}
}

// ParseTokenService parses "admin", "tokens" or "portal".
func ParseTokenService(s string) (TokenService, error) {
	switch s {
	case "admin":
		return TokenServiceAdmin, nil
	case "tokens":
		return TokenServiceTokens, nil
	case "portal":
		return TokenServicePortal, nil
	}
	return 0, fmt.Errorf("token service must be admin, tokens or portal, not %q", truncate(s, 32))
}

// TokenClient is the client binding requested from generateToken.
type TokenClient int

const (
	// TokenClientRequestIP binds tokens to the IP address the upstream sees
	// (client=requestip). The default. Behind load balancers that change
	// the observed address, prefer TokenClientReferer.
	TokenClientRequestIP TokenClient = iota
	// TokenClientReferer binds tokens to TokenConfig.Referer
	// (client=referer&referer=...); the client then sends that value as the
	// Referer header of every upstream request, as the upstream requires.
	TokenClientReferer
)

// String returns the configuration spelling: "requestip" or "referer".
func (c TokenClient) String() string {
	switch c {
	case TokenClientRequestIP:
		return "requestip"
	case TokenClientReferer:
		return "referer"
	default:
		return "TokenClient(" + strconv.Itoa(int(c)) + ")"
	}
}

// ParseTokenClient parses "requestip" or "referer".
func ParseTokenClient(s string) (TokenClient, error) {
	switch s {
	case "requestip":
		return TokenClientRequestIP, nil
	case "referer":
		return TokenClientReferer, nil
	}
	return 0, fmt.Errorf("token client must be requestip or referer, not %q", truncate(s, 32))
}

// TokenConfig says how tokens are minted for identities with a username
// and password. The zero value is the admin generateToken with
// client=requestip and a 60-minute expiration. It holds no secret.
type TokenConfig struct {
	// Service is the token operation (default TokenServiceAdmin).
	Service TokenService
	// Client is the token binding (default TokenClientRequestIP).
	Client TokenClient
	// Referer is the value tokens are bound to with TokenClientReferer,
	// and the Referer header of every upstream request. Required with it,
	// refused without it.
	Referer string
	// PortalURL is the portal of a federated server, e.g.
	// "https://host/portal"; generateToken is at PortalURL +
	// "/sharing/rest/generateToken". Required with TokenServicePortal.
	PortalURL string
	// Expiration is the token lifetime requested, rounded up to whole
	// minutes (default 60 minutes, at most 14 days). The upstream may
	// issue shorter tokens; the pool uses the real expiry.
	Expiration time.Duration
}

// normalize applies defaults and checks the configuration.
func (c *TokenConfig) normalize() error {
	if c.Expiration == 0 {
		c.Expiration = defaultTokenExpiration
	}
	switch {
	case c.Expiration < 0 || c.Expiration > maxTokenExpiration:
		return fmt.Errorf("upstream: token expiration %v is not between 1 minute and 14 days", c.Expiration)
	case c.Service < TokenServiceAdmin || c.Service > TokenServicePortal:
		return fmt.Errorf("upstream: unknown %v", c.Service)
	case c.Client != TokenClientRequestIP && c.Client != TokenClientReferer:
		return fmt.Errorf("upstream: unknown %v", c.Client)
	case c.Client == TokenClientReferer && c.Referer == "":
		return errors.New("upstream: the referer token client needs a Referer")
	case c.Client != TokenClientReferer && c.Referer != "":
		return errors.New("upstream: a Referer is only used with the referer token client")
	case len(c.Referer) > maxRefererBytes || strings.ContainsAny(c.Referer, "\r\n\x00"):
		return errors.New("upstream: the Referer is too long or spans several lines")
	case c.Service == TokenServicePortal && c.PortalURL == "":
		return errors.New("upstream: the portal token service needs a PortalURL")
	case c.Service != TokenServicePortal && c.PortalURL != "":
		return errors.New("upstream: a PortalURL is only used with the portal token service")
	}
	c.Expiration = time.Duration(minutes(c.Expiration)) * time.Minute
	return nil
}

// minutes rounds d up to whole minutes.
func minutes(d time.Duration) int64 { return int64((d + time.Minute - 1) / time.Minute) }

// WithTokenConfig sets how the client's pool mints tokens for identities
// with a username and password: the service identity of WithCredentials
// and delegated identities alike (default: admin generateToken,
// client=requestip, 60 minutes).
func WithTokenConfig(cfg TokenConfig) Option {
	return func(c *Client) error {
		if err := cfg.normalize(); err != nil {
			return err
		}
		c.auth.tokens = cfg
		return nil
	}
}

// NewMinter returns the Minter of the given configuration for the site at
// siteURL (e.g. "https://host/arcgis"), sending requests with hc (nil: a
// new http.Client) and reading the time from clock (nil: time.Now). A
// client built by New makes its own; NewMinter serves NewPool users.
func NewMinter(siteURL string, hc *http.Client, cfg TokenConfig, clock func() time.Time) (Minter, error) {
	if err := cfg.normalize(); err != nil {
		return nil, err
	}
	if hc == nil {
		hc = &http.Client{}
	}
	if clock == nil {
		clock = time.Now
	}
	w := &wire{hc: hc, userAgent: defaultUserAgent, maxBytes: defaultMaxResponseBytes}
	if cfg.Client == TokenClientReferer {
		w.referer = cfg.Referer
	}
	return newMinter(w, siteURL, cfg, clock)
}

// minter mints tokens with one TokenConfig for one site.
type minter struct {
	wire     *wire
	cfg      TokenConfig
	site     string   // the site URL: serverUrl of the portal exchange
	endpoint *url.URL // where generateToken lives, with a trailing slash
	op       string   // Op of errors
	now      func() time.Time
}

// newMinter builds the minter of cfg (normalized) for site.
func newMinter(w *wire, site string, cfg TokenConfig, now func() time.Time) (*minter, error) {
	u, err := parseBaseURL(site)
	if err != nil {
		return nil, err
	}
	base := withTrailingSlash(u)
	m := &minter{wire: w, cfg: cfg, site: strings.TrimSuffix(u.String(), "/"), now: now}
	switch cfg.Service {
	case TokenServiceTokens:
		m.endpoint, m.op = resolveDir(base, "tokens/"), "tokens.generateToken"
	case TokenServicePortal:
		p, err := parseBaseURL(cfg.PortalURL)
		if err != nil {
			return nil, fmt.Errorf("upstream: portal URL: %w", err)
		}
		m.endpoint, m.op = resolveDir(withTrailingSlash(p), "sharing/rest/"), "portal.generateToken"
	default:
		m.endpoint, m.op = resolveDir(base, "admin/"), "generateToken"
	}
	return m, nil
}

// resolveDir appends dir (ending in "/") to base (ending in "/").
func resolveDir(base *url.URL, dir string) *url.URL {
	v := *base
	v.Path += dir
	if v.RawPath != "" {
		v.RawPath += dir
	}
	return &v
}

// String describes the minter; it holds no secret.
func (m *minter) String() string {
	return "Minter{service " + m.cfg.Service.String() + ", client " + m.cfg.Client.String() + ", endpoint " + m.endpoint.String() + "}"
}

// GoString is String, for %#v.
func (m *minter) GoString() string { return "upstream." + m.String() }

// Format implements fmt.Formatter with String for every verb.
func (m *minter) Format(f fmt.State, verb rune) { formatRedacted(f, verb, m.String(), m.GoString()) }

// LogValue logs String.
func (m *minter) LogValue() slog.Value { return slog.StringValue(m.String()) }

// MarshalJSON encodes String.
func (m *minter) MarshalJSON() ([]byte, error) { return json.Marshal(m.String()) }

// NewTokenFunc implements Minter.
func (m *minter) NewTokenFunc(id Identity) TokenFunc {
	if m.cfg.Service == TokenServicePortal {
		s := &portalSession{m: m, id: id}
		return s.mint
	}
	return func(ctx context.Context) (*Token, error) {
		return m.call(ctx, m.op, m.credentialsForm(id, m.cfg.Expiration), "", []string{id.password()}, m.cfg.Expiration)
	}
}

// credentialsForm is the generateToken form for id (f=json is added by
// the wire).
func (m *minter) credentialsForm(id Identity, expiration time.Duration) url.Values {
	form := url.Values{
		"username":   {id.username},
		"password":   {id.password()},
		"expiration": {strconv.FormatInt(minutes(expiration), 10)},
	}
	if m.cfg.Client == TokenClientReferer {
		form.Set("client", "referer")
		form.Set("referer", m.cfg.Referer)
	} else {
		form.Set("client", "requestip")
	}
	return form
}

// call POSTs form to generateToken at the minter's endpoint, with token (a
// portal token to exchange) in the body when not empty, and returns the
// token; expiration is assumed when the answer has no expires.
func (m *minter) call(ctx context.Context, op string, form url.Values, token string, secrets []string, expiration time.Duration) (*Token, error) {
	r := &request{op: op, method: http.MethodPost, path: "generateToken", form: form}
	var resp generateTokenResponse
	if err := m.wire.send(ctx, m.endpoint.String(), r, token, secrets, decodeJSON(&resp)); err != nil {
		return nil, tokenError(err)
	}
	return resp.token(r, m.now(), expiration)
}

// portalSession is the federated flow of one identity: it keeps the portal
// token between refreshes. The pool runs one refresh per identity at a
// time; mu makes that a guarantee.
type portalSession struct {
	m  *minter
	id Identity

	mu     sync.Mutex
	portal *Token // the portal token, nil before the first refresh
}

// mint returns a server token, minting a portal token first when there is
// none or it would not outlive the server token requested. When the portal
// rejects a reused portal token (498/499), a new one is minted and the
// exchange is tried once more.
func (s *portalSession) mint(ctx context.Context) (*Token, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	reused := s.portal != nil && s.portal.Expires.After(s.m.now().Add(s.m.cfg.Expiration))
	if !reused {
		if err := s.refreshPortal(ctx); err != nil {
			return nil, err
		}
	}
	tok, err := s.exchange(ctx)
	if err != nil && isTokenRejected(err) {
		s.portal = nil
		if reused {
			if err := s.refreshPortal(ctx); err != nil {
				return nil, err
			}
			tok, err = s.exchange(ctx)
		}
	}
	return tok, err
}

// refreshPortal mints a portal token for twice the server token lifetime
// (the portal clamps it to its maximum).
func (s *portalSession) refreshPortal(ctx context.Context) error {
	exp := 2 * s.m.cfg.Expiration
	p, err := s.m.call(ctx, "portal.generateToken", s.m.credentialsForm(s.id, exp), "", []string{s.id.password()}, exp)
	if err != nil {
		return err
	}
	s.portal = p
	return nil
}

// exchange trades the portal token for a token of the server.
func (s *portalSession) exchange(ctx context.Context) (*Token, error) {
	form := url.Values{
		"serverUrl":  {s.m.site},
		"expiration": {strconv.FormatInt(minutes(s.m.cfg.Expiration), 10)},
	}
	return s.m.call(ctx, "portal.exchangeToken", form, s.portal.Value, []string{s.portal.Value, s.id.password()}, s.m.cfg.Expiration)
}

// isTokenRejected reports whether err says a token (the portal token of an
// exchange) was rejected.
func isTokenRejected(err error) bool {
	var e *Error
	return errors.As(err, &e) && (e.Code == 498 || e.Code == 499)
}

// generateTokenResponse is the answer of every generateToken: expires is
// epoch milliseconds as a string (admin) or a number (portal, /tokens);
// the portal adds ssl.
type generateTokenResponse struct {
	Token   jsonText  `json:"token"`
	Expires jsonFloat `json:"expires"`
	SSL     jsonBool  `json:"ssl"`
}

// token turns the answer into a Token; an answer without expires is taken
// to last expiration from now.
func (g *generateTokenResponse) token(r *request, now time.Time, expiration time.Duration) (*Token, error) {
	if g.Token == "" {
		return nil, &Error{Kind: KindToken, Op: r.op, Method: r.method, Path: r.path,
			HTTPStatus: http.StatusOK, Messages: []string{"generateToken response has no token"}}
	}
	expires := expiryTime(float64(g.Expires))
	if expires.IsZero() {
		expires = now.Add(expiration)
	}
	return &Token{Value: string(g.Token), Expires: expires}, nil
}

// tokenError turns a failed generateToken request into an error of Kind
// KindToken. An error envelope keeps its code and messages (wrong
// credentials, site not created, ...); any other failure (transport,
// decode, HTTP status, size) is kept as the cause, so that callers can
// tell an unreachable token service from refused credentials.
func tokenError(err error) error {
	var e *Error
	if !errors.As(err, &e) {
		return err
	}
	te := &Error{Kind: KindToken, Op: e.Op, Method: e.Method, Path: e.Path, HTTPStatus: e.HTTPStatus}
	if e.Kind == KindAPI {
		te.Code, te.Messages = e.Code, e.Messages
		if len(te.Messages) == 0 {
			te.Messages = []string{"generateToken was refused (check the username and password)"}
		}
		return te
	}
	inner := *e
	inner.Op, inner.Method, inner.Path = "", "", ""
	te.Err = &inner
	return te
}

// expiryTime converts epoch milliseconds to a time. Values too small to be
// milliseconds of this century are taken as seconds (a proxy mistake clients
// must tolerate, docs/upstream.md#token-responses). 0 or less means unknown.
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
