package simulator

import (
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// PortalContext is the URL context of the simulated portal of a federated
// site, served on the simulator's own host: its token service is
// POST /portal/sharing/rest/generateToken. The portal knows the same
// administrator account as the server (SetCredentials changes both).
const PortalContext = "portal"

// portalTokenPath is the path of the portal's generateToken.
const portalTokenPath = "/" + PortalContext + "/sharing/rest/generateToken"

// Portal token lifetimes: docs/upstream.md#token-lifetimes records a
// 120-minute default for portal tokens, twice the server's 60; the simulator
// keeps that ratio to the configured server token lifetime.
const portalLifetimeFactor = 2

// Portal texts. "Invalid token." with code 498 and "Token Required" with 499
// are recorded REST envelope texts (docs/upstream.md#token-rejection,
// docs/upstream.md#recorded-payloads); the others are INVENTED (no portal
// recording is known).
const (
	msgPortalInvalidToken  = "Invalid token."
	msgPortalTokenRequired = "Token Required"
	// msgPortalUnable is INVENTED: the message of every refused portal
	// generateToken (details say why).
	msgPortalUnable = "Unable to generate token."
	// msgPortalBadCredentials is INVENTED: details of a wrong username or
	// password.
	msgPortalBadCredentials = "Invalid username or password."
	// msgPortalNotFederated is INVENTED: details of a serverUrl that is not
	// this portal's federated server.
	msgPortalNotFederated = "The serverUrl is not a federated server of this portal."
)

// isPortalPath reports whether p is the portal's generateToken.
func isPortalPath(p string) bool { return p == portalTokenPath || p == portalTokenPath+"/" }

// servePortal implements POST /portal/sharing/rest/generateToken, in its two
// forms: with username and password it issues a portal token; with token
// (a portal token) and serverUrl it issues a token of this server (the
// federated exchange). Both answer {"token":...,"expires":<number>,"ssl":false}
// and errors in the REST envelope with HTTP 200.
func (s *Server) servePortal(w http.ResponseWriter, r *http.Request) {
	c, ok := s.begin(w, r)
	if !ok {
		return
	}
	defer c.finish()
	s.generateCount.Add(1)
	if credentialsInQuery(c.r) {
		// Recorded on /tokens (10.3+); the portal is assumed to behave the same.
		c.restFail(405, "Method not supported", msgQueryCredentials)
		return
	}
	if c.r.Method != http.MethodPost {
		c.restFail(405, "Method not supported", msgTokensGETNotSupported)
		return
	}
	if s.consumeFailure() {
		// INVENTED details.
		c.restFail(500, msgPortalUnable, []string{msgGenerateFailure})
		return
	}
	if c.hasParam("token") || c.hasParam("serverUrl") {
		s.portalExchange(c)
		return
	}
	s.portalCredentials(c)
}

// portalCredentials issues a portal token for the administrator account.
func (s *Server) portalCredentials(c *call) {
	req, terr := s.parseTokenRequest(c)
	if terr != nil {
		switch terr.kind {
		case failCredentials:
			c.restFail(400, msgPortalUnable, []string{msgPortalBadCredentials})
		case failClientID:
			c.restFail(400, msgPortalUnable, []string{msgClientIDUndetermined})
		case failClientType:
			// INVENTED details.
			c.restFail(400, msgPortalUnable, []string{"Invalid client type '" + terr.value + "'."})
		default:
			// INVENTED details.
			c.restFail(400, msgPortalUnable, []string{"Invalid expiration '" + terr.value + "'."})
		}
		return
	}
	maxLife := portalLifetimeFactor * s.currentTokenLifetime()
	lifetime := min(portalLifetimeFactor*defaultTokenMinutes*time.Minute, maxLife)
	if req.minutes > 0 {
		lifetime = clampMinutes(req.minutes, maxLife)
	}
	tok, expires := s.mintGrant(lifetime, grant{bind: req.bind, value: req.value, portal: true})
	s.logEvent("simulator: portal token issued, lifetime %s", lifetime)
	c.writeJSON(portalTokenBody{Token: tok, Expires: expires.UnixMilli()})
}

// portalExchange trades a portal token for a token of this server. The
// server token lives the requested expiration (default 60 minutes), at most
// the server token lifetime and, INVENTED (no recording), never beyond the
// portal token it was exchanged for.
func (s *Server) portalExchange(c *call) {
	tok := c.param("token")
	if tok == "" {
		c.restFail(499, msgPortalTokenRequired, []string{})
		return
	}
	s.authMu.RLock()
	g, ok := s.tokens[tok]
	s.authMu.RUnlock()
	now := s.now()
	switch {
	case !ok || !g.portal, !now.Before(g.expires),
		g.bind == bindReferer && !refererMatches(g.value, c.r.Referer()),
		g.bind == bindIP && !sameIP(g.value, remoteIP(c.r)):
		c.restFail(498, msgPortalInvalidToken, []string{})
		return
	}
	if !s.isOwnServerURL(c.r, c.param("serverUrl")) {
		c.restFail(400, msgPortalUnable, []string{msgPortalNotFederated})
		return
	}
	maxLife := s.currentTokenLifetime()
	lifetime := min(defaultTokenMinutes*time.Minute, maxLife)
	if exp := strings.TrimSpace(c.param("expiration")); exp != "" {
		m, err := parseMinutes(exp)
		if err != nil {
			// INVENTED details.
			c.restFail(400, msgPortalUnable, []string{"Invalid expiration '" + exp + "'."})
			return
		}
		if m > 0 {
			lifetime = clampMinutes(m, maxLife)
		}
	}
	lifetime = min(lifetime, g.expires.Sub(now))
	serverTok, expires := s.mint(lifetime, bindNone, "")
	s.logEvent("simulator: federated server token issued, lifetime %s", lifetime)
	c.writeJSON(portalTokenBody{Token: serverTok, Expires: expires.UnixMilli()})
}

// portalTokenBody is the portal's generateToken answer: expires is a
// number of epoch milliseconds, and ssl says whether the organisation
// requires HTTPS (docs/upstream.md#token-responses).
type portalTokenBody struct {
	Token   string `json:"token"`
	Expires int64  `json:"expires"`
	SSL     bool   `json:"ssl"`
}

// isOwnServerURL reports whether raw names this simulated server: an
// http(s) URL on the request's host whose path is the site context or
// below it (e.g. http://host/arcgis or http://host/arcgis/admin).
func (s *Server) isOwnServerURL(r *http.Request, raw string) bool {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || !strings.EqualFold(u.Host, r.Host) {
		return false
	}
	p := strings.TrimSuffix(u.Path, "/")
	ctx := "/" + s.context
	return p == ctx || strings.HasPrefix(p, ctx+"/")
}

// parseMinutes parses an expiration parameter (whole minutes).
func parseMinutes(s string) (int64, error) { return strconv.ParseInt(s, 10, 64) }

// clampMinutes converts m minutes (m > 0) to a lifetime of at most maxLife.
func clampMinutes(m int64, maxLife time.Duration) time.Duration {
	if m > math.MaxInt64/int64(time.Minute) {
		return maxLife
	}
	return min(time.Duration(m)*time.Minute, maxLife)
}
