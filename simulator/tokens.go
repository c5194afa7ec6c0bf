package simulator

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"time"
)

// maxTokensBeforePurge is the token store size above which tokens expired
// for more than purgeAfter are forgotten when a new token is minted.
const (
	maxTokensBeforePurge = 10_000
	purgeAfter           = 24 * time.Hour
)

// binding is the client a token is bound to.
type binding int

const (
	bindNone    binding = iota // usable from anywhere
	bindReferer                // must be presented with a matching Referer header
	bindIP                     // must be presented from the given IP
)

// grant is what the simulator knows about an issued token.
type grant struct {
	expires time.Time
	bind    binding
	value   string // referer or IP the token is bound to
	portal  bool   // a portal token (portal.go): valid only for the portal's token exchange
}

// mint creates and stores a new server token.
func (s *Server) mint(lifetime time.Duration, bind binding, value string) (string, time.Time) {
	return s.mintGrant(lifetime, grant{bind: bind, value: value})
}

// mintGrant creates and stores a new token described by g (its expires is
// set from lifetime).
func (s *Server) mintGrant(lifetime time.Duration, g grant) (string, time.Time) {
	var raw [48]byte
	_, _ = rand.Read(raw[:]) // crypto/rand.Read never fails
	tok := base64.RawURLEncoding.EncodeToString(raw[:])
	now := s.now()
	expires := now.Add(lifetime)
	s.authMu.Lock()
	defer s.authMu.Unlock()
	if len(s.tokens) >= maxTokensBeforePurge {
		for t, g := range s.tokens {
			if now.Sub(g.expires) > purgeAfter {
				delete(s.tokens, t)
			}
		}
	}
	g.expires = expires
	s.tokens[tok] = g
	return tok, expires
}

// presentedToken extracts the token from the token parameter or from an
// X-Esri-Authorization or Authorization "Bearer" header, in that order.
func presentedToken(c *call) string {
	if t := c.param("token"); t != "" {
		return t
	}
	for _, h := range []string{"X-Esri-Authorization", "Authorization"} {
		if t := bearer(c.r.Header.Get(h)); t != "" {
			return t
		}
	}
	return ""
}

// bearer returns the token of a "Bearer <token>" header value.
func bearer(v string) string {
	const prefix = "bearer "
	if len(v) > len(prefix) && strings.EqualFold(v[:len(prefix)], prefix) {
		return strings.TrimSpace(v[len(prefix):])
	}
	return ""
}

// authorize checks the token of the request; on failure it writes the admin
// error envelope and returns false.
func (s *Server) authorize(c *call) bool {
	tok := presentedToken(c)
	if tok == "" {
		c.fail(499, msgTokenNotFound)
		return false
	}
	s.authMu.RLock()
	g, ok := s.tokens[tok]
	s.authMu.RUnlock()
	switch {
	case !ok || g.portal: // INVENTED: a portal token is not accepted by the admin API itself
		c.fail(498, msgTokenInvalid)
	case !s.now().Before(g.expires):
		c.fail(498, msgTokenExpired)
	case g.bind == bindReferer && !refererMatches(g.value, c.r.Referer()):
		c.fail(498, msgTokenClientMismatch)
	case g.bind == bindIP && !sameIP(g.value, remoteIP(c.r)):
		c.fail(498, msgTokenClientMismatch)
	default:
		return true
	}
	return false
}

// refererMatches reports whether a Referer header satisfies a token bound to
// referer: the header must equal the bound value or start with it.
func refererMatches(bound, header string) bool {
	return header != "" && strings.HasPrefix(header, bound)
}

// remoteIP returns the IP part of the request's remote address.
func remoteIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// sameIP compares two IP strings, tolerating IPv4-mapped IPv6 forms.
func sameIP(a, b string) bool {
	pa, errA := netip.ParseAddr(a)
	pb, errB := netip.ParseAddr(b)
	if errA != nil || errB != nil {
		return a == b
	}
	return pa.Unmap() == pb.Unmap()
}

// checkCredentials compares credentials in constant time.
func (s *Server) checkCredentials(username, password string) bool {
	s.authMu.RLock()
	u, p := s.username, s.password
	s.authMu.RUnlock()
	okU := subtle.ConstantTimeCompare([]byte(username), []byte(u)) == 1
	okP := subtle.ConstantTimeCompare([]byte(password), []byte(p)) == 1
	return okU && okP
}

// GenerateTokenCount returns the number of generateToken calls received on
// the admin, the /tokens and the portal endpoints (portal.go: both the
// credentials call and the token exchange count), whether they succeeded or
// failed.
func (s *Server) GenerateTokenCount() int { return int(s.generateCount.Load()) }

// RevokeAllTokens invalidates every issued token, portal tokens included:
// presenting one afterwards yields the 498 "Could not decrypt token. Token
// may not be valid." envelope (the portal answers its own 498).
func (s *Server) RevokeAllTokens() {
	s.authMu.Lock()
	clear(s.tokens)
	s.authMu.Unlock()
	s.logEvent("simulator: all tokens revoked")
}

// FailGenerateToken makes the next n generateToken calls fail with a code 500
// error envelope (admin envelope on /admin, REST envelope on /tokens and on
// the portal).
func (s *Server) FailGenerateToken(n int) {
	s.authMu.Lock()
	defer s.authMu.Unlock()
	s.failGenerate = max(n, 0)
}

// consumeFailure reports whether the current generateToken call must fail.
func (s *Server) consumeFailure() bool {
	s.authMu.Lock()
	defer s.authMu.Unlock()
	if s.failGenerate > 0 {
		s.failGenerate--
		return true
	}
	return false
}

// SetTokenLifetime changes the default and maximum lifetime of tokens issued
// from now on. A non-positive d restores DefaultTokenLifetime.
func (s *Server) SetTokenLifetime(d time.Duration) {
	if d <= 0 {
		d = DefaultTokenLifetime
	}
	s.authMu.Lock()
	defer s.authMu.Unlock()
	s.tokenLifetime = d
}

// SetCredentials changes the administrator credentials accepted by
// generateToken. Tokens already issued stay valid.
func (s *Server) SetCredentials(username, password string) {
	s.authMu.Lock()
	defer s.authMu.Unlock()
	s.username, s.password = username, password
}

// IssueToken mints a valid token bound to no client, without a generateToken
// request (it neither counts in GenerateTokenCount nor appears in the request
// log). lifetime is not clamped; a non-positive lifetime means the current
// token lifetime.
func (s *Server) IssueToken(lifetime time.Duration) string {
	if lifetime <= 0 {
		lifetime = s.currentTokenLifetime()
	}
	tok, _ := s.mint(lifetime, bindNone, "")
	return tok
}

// currentTokenLifetime returns the configured maximum token lifetime.
func (s *Server) currentTokenLifetime() time.Duration {
	s.authMu.RLock()
	defer s.authMu.RUnlock()
	return s.tokenLifetime
}
