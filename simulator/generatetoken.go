package simulator

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/hex"
	"math/big"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// defaultTokenMinutes is the lifetime of a token requested without
// expiration (before clamping to the configured maximum).
const defaultTokenMinutes = 60

// Messages recorded from real token services
// (docs/upstream.md#token-lifetimes, docs/upstream.md#recorded-payloads).
const (
	msgQueryCredentials     = "Generate Token request should not contain username and password in the query string."
	msgClientIDUndetermined = "Client id cannot be determined"
	msgLongTokenNeedsClient = "Exception in generating tokenFailed to generate a token for the user.Client ID is required for long expiration tokens."
)

// Invented generateToken messages (no recording exists).
const (
	// msgAdminBadCredentials is INVENTED: admin generateToken with a wrong
	// username or password (code 400).
	msgAdminBadCredentials = "Unable to generate token. Invalid username or password."
	// msgAdminClientID is INVENTED: admin generateToken with client=referer or
	// client=ip but no referer / ip value (code 400); modelled on the recorded
	// /tokens detail "Client id cannot be determined".
	msgAdminClientID = "Unable to generate token. Client id cannot be determined."
	// msgGenerateFailure is INVENTED: failure injected by FailGenerateToken
	// (code 500).
	msgGenerateFailure = "Unable to generate token. The token service is not available."
	// msgTokensGETNotSupported is INVENTED: details of the REST 405 answer to
	// a GET to /tokens/generateToken without credentials in the query string.
	msgTokensGETNotSupported = "Generate Token request must be sent with the POST method."
)

// tokenFailure classifies generateToken parameter errors so that each
// endpoint can render them in its own envelope.
type tokenFailure int

const (
	failCredentials tokenFailure = iota + 1
	failClientID
	failClientType
	failExpiration
)

// tokenError is a generateToken parameter error.
type tokenError struct {
	kind  tokenFailure
	value string // offending client type or expiration value
}

// tokenRequest is a validated generateToken request.
type tokenRequest struct {
	lifetime    time.Duration
	bind        binding
	value       string
	clientGiven bool
	minutes     int64 // requested expiration in minutes, 0 when not given
}

// serveAdminGenerateToken implements POST /<ctx>/admin/generateToken.
func (s *Server) serveAdminGenerateToken(c *call) {
	if len(c.segs) > 1 {
		c.notFound(c.segs[1])
		return
	}
	s.generateCount.Add(1)
	if credentialsInQuery(c.r) {
		// Recorded on /tokens (10.3+); the admin endpoint is assumed to
		// behave the same.
		c.restFail(405, "Method not supported", msgQueryCredentials)
		return
	}
	if !c.requirePOST() {
		return
	}
	if s.consumeFailure() {
		c.fail(500, msgGenerateFailure)
		return
	}
	req, terr := s.parseTokenRequest(c)
	if terr != nil {
		switch terr.kind {
		case failCredentials:
			c.fail(400, msgAdminBadCredentials)
		case failClientID:
			c.fail(400, msgAdminClientID)
		case failClientType:
			// INVENTED text.
			c.fail(400, "Unable to generate token. Invalid client type '"+terr.value+"'.")
		default:
			// INVENTED text.
			c.fail(400, "Unable to generate token. Invalid expiration '"+terr.value+"'.")
		}
		return
	}
	tok, expires := s.mint(req.lifetime, req.bind, req.value)
	s.logEvent("simulator: admin token issued, lifetime %s", req.lifetime)
	c.writeJSON(struct {
		Token   string `json:"token"`
		Expires string `json:"expires"`
	}{tok, strconv.FormatInt(expires.UnixMilli(), 10)})
}

// serveTokenService implements POST /<ctx>/tokens/generateToken, which
// answers with the REST envelope and a numeric expires.
func (s *Server) serveTokenService(c *call) {
	s.generateCount.Add(1)
	if credentialsInQuery(c.r) {
		c.restFail(405, "Method not supported", msgQueryCredentials)
		return
	}
	if c.r.Method != http.MethodPost {
		c.restFail(405, "Method not supported", msgTokensGETNotSupported)
		return
	}
	if s.consumeFailure() {
		// INVENTED text.
		c.restFail(500, "Unable to generate token.", msgGenerateFailure)
		return
	}
	req, terr := s.parseTokenRequest(c)
	if terr == nil && !req.clientGiven && req.minutes > defaultTokenMinutes {
		c.restFail(201, "Exception in generating token", msgLongTokenNeedsClient)
		return
	}
	if terr != nil {
		switch terr.kind {
		case failCredentials:
			c.restFail(401, "You are not authorized to access this information", "Invalid credentials")
		case failClientID:
			c.restFail(201, "Exception in generating token", msgClientIDUndetermined)
		case failClientType:
			// INVENTED details.
			c.restFail(201, "Exception in generating token", "Invalid client type '"+terr.value+"'")
		default:
			// INVENTED details.
			c.restFail(201, "Exception in generating token", "Invalid expiration '"+terr.value+"'")
		}
		return
	}
	tok, expires := s.mint(req.lifetime, req.bind, req.value)
	s.logEvent("simulator: /tokens token issued, lifetime %s", req.lifetime)
	c.writeJSON(struct {
		Token   string `json:"token"`
		Expires int64  `json:"expires"`
	}{tok, expires.UnixMilli()})
}

// credentialsInQuery reports whether username or password travel in the
// query string, which token services refuse.
func credentialsInQuery(r *http.Request) bool {
	q := r.URL.Query()
	return q.Has("username") || q.Has("password")
}

// parseTokenRequest validates credentials, client binding and expiration.
func (s *Server) parseTokenRequest(c *call) (tokenRequest, *tokenError) {
	username, password, client := c.param("username"), c.param("password"), c.param("client")
	if strings.EqualFold(c.param("encrypted"), "true") {
		var ok bool
		if username, ok = s.decrypt(username); !ok {
			return tokenRequest{}, &tokenError{kind: failCredentials}
		}
		if password, ok = s.decrypt(password); !ok {
			return tokenRequest{}, &tokenError{kind: failCredentials}
		}
		if client != "" {
			if client, ok = s.decrypt(client); !ok {
				return tokenRequest{}, &tokenError{kind: failCredentials}
			}
		}
	}
	if !s.checkCredentials(username, password) {
		return tokenRequest{}, &tokenError{kind: failCredentials}
	}

	var req tokenRequest
	switch strings.ToLower(client) {
	case "":
		req.bind = bindNone
	case "referer", "referrer":
		req.bind = bindReferer
		req.value = c.param("referer")
		if req.value == "" {
			req.value = c.param("referrer")
		}
	case "ip":
		req.bind = bindIP
		req.value = c.param("ip")
	case "requestip":
		req.bind = bindIP
		req.value = remoteIP(c.r)
	default:
		return tokenRequest{}, &tokenError{kind: failClientType, value: client}
	}
	req.clientGiven = client != ""
	if req.bind != bindNone && req.value == "" {
		return tokenRequest{}, &tokenError{kind: failClientID}
	}

	maxLife := s.currentTokenLifetime()
	req.lifetime = min(defaultTokenMinutes*time.Minute, maxLife)
	if exp := strings.TrimSpace(c.param("expiration")); exp != "" {
		m, err := strconv.ParseInt(exp, 10, 64)
		if err != nil {
			return tokenRequest{}, &tokenError{kind: failExpiration, value: exp}
		}
		if m > 0 {
			req.minutes = m
			req.lifetime = clampMinutes(m, maxLife)
		}
	}
	return req, nil
}

// rsaKey returns the server's RSA key, generating it on first use.
func (s *Server) rsaKey() (*rsa.PrivateKey, error) {
	s.keyOnce.Do(func() {
		s.key, s.keyErr = rsa.GenerateKey(rand.Reader, 2048)
	})
	return s.key, s.keyErr
}

// decrypt decodes a hex RSA PKCS#1 v1.5 ciphertext made with the key
// published at /admin/publicKey (generateToken with encrypted=true).
func (s *Server) decrypt(hexText string) (string, bool) {
	ct, err := hex.DecodeString(hexText)
	if err != nil || len(ct) == 0 {
		return "", false
	}
	key, err := s.rsaKey()
	if err != nil {
		return "", false
	}
	//lint:ignore SA1019 ArcGIS clients encrypt the credentials with RSA PKCS #1 v1.5; the simulator has to accept what they send.
	pt, err := rsa.DecryptPKCS1v15(nil, key, ct)
	if err != nil {
		return "", false
	}
	return string(pt), true
}

// servePublicKey implements GET /<ctx>/admin/publicKey: the RSA public
// exponent and modulus in hex, used to send encrypted credentials.
func (s *Server) servePublicKey(c *call) {
	if len(c.segs) > 1 {
		c.notFound(c.segs[1])
		return
	}
	key, err := s.rsaKey()
	if err != nil {
		c.fail(500, msgNPE)
		return
	}
	c.writeJSON(struct {
		PublicKey string `json:"publicKey"`
		Modulus   string `json:"modulus"`
	}{big.NewInt(int64(key.E)).Text(16), key.N.Text(16)})
}
