package upstream_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/arcgate/arcgate/simulator"
	"github.com/arcgate/arcgate/upstream"
)

// tokenSite starts a test server for the token endpoints outside the
// admin API (/arcgis/tokens, /portal/sharing/rest): handlers are
// registered on the returned mux with full paths, and requests no handler
// expects fail the test.
func tokenSite(t *testing.T) (*http.ServeMux, *httptest.Server) {
	t.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("unexpected request %s %s", r.Method, r.URL.EscapedPath())
		http.Error(w, "unexpected", http.StatusNotImplemented)
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return mux, srv
}

// newTokenClient returns a client of srv's /arcgis site with the test
// credentials and cfg.
func newTokenClient(t *testing.T, srv *httptest.Server, cfg upstream.TokenConfig, clock *fakeClock) *upstream.Client {
	t.Helper()
	c, err := upstream.New(srv.URL+basePath, upstream.WithHTTPClient(srv.Client()),
		upstream.WithCredentials(testUser, testPassword), upstream.WithTokenConfig(cfg), upstream.WithClock(clock.Now))
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(c.Close)
	return c
}

// withF returns v plus f=json.
func withF(v url.Values) url.Values {
	out := url.Values{"f": {"json"}}
	for k, vs := range v {
		out[k] = vs
	}
	return out
}

func TestMinter_StandAloneRequests(t *testing.T) {
	t.Parallel()
	creds := func(extra ...string) url.Values {
		v := url.Values{"username": {testUser}, "password": {testPassword}, "expiration": {"60"}, "client": {"requestip"}}
		for i := 0; i+1 < len(extra); i += 2 {
			v.Set(extra[i], extra[i+1])
		}
		return withF(v)
	}
	for _, tc := range []struct {
		name    string
		cfg     upstream.TokenConfig
		path    string
		form    url.Values
		referer string
		expires func(ms int64) string // the expires literal of the answer
	}{
		{"admin, requestip", upstream.TokenConfig{}, "/arcgis/admin/generateToken", creds(), "",
			func(ms int64) string { return `"` + strconv.FormatInt(ms, 10) + `"` }},
		{"admin, referer", upstream.TokenConfig{Client: upstream.TokenClientReferer, Referer: "https://gw.example/"},
			"/arcgis/admin/generateToken", creds("client", "referer", "referer", "https://gw.example/"), "https://gw.example/",
			func(ms int64) string { return `"` + strconv.FormatInt(ms, 10) + `"` }},
		{"admin, 90 seconds rounds up to 2 minutes", upstream.TokenConfig{Expiration: 90 * time.Second},
			"/arcgis/admin/generateToken", creds("expiration", "2"), "",
			func(ms int64) string { return `"` + strconv.FormatInt(ms, 10) + `"` }},
		{"tokens, requestip", upstream.TokenConfig{Service: upstream.TokenServiceTokens}, "/arcgis/tokens/generateToken", creds(), "",
			func(ms int64) string { return strconv.FormatInt(ms, 10) }},
		{"tokens, referer", upstream.TokenConfig{Service: upstream.TokenServiceTokens, Client: upstream.TokenClientReferer, Referer: "gateway"},
			"/arcgis/tokens/generateToken", creds("client", "referer", "referer", "gateway"), "gateway",
			func(ms int64) string { return strconv.FormatInt(ms, 10) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			mux, srv := tokenSite(t)
			clock := newFakeClock()
			c := newTokenClient(t, srv, tc.cfg, clock)
			expires := clock.Now().Add(45 * time.Minute)
			mux.HandleFunc(tc.path, func(w http.ResponseWriter, r *http.Request) {
				testPOST(t, r, tc.form)
				if got := r.Header.Get("Referer"); got != tc.referer {
					t.Errorf("generateToken Referer = %q, want %q", got, tc.referer)
				}
				writeBody(w, `{"token":"tok-A","expires":`+tc.expires(expires.UnixMilli())+`}`)
			})
			mux.HandleFunc("/arcgis/admin/", func(w http.ResponseWriter, r *http.Request) {
				testGET(t, r, authed("tok-A", nil))
				if got := r.Header.Get("Referer"); got != tc.referer {
					t.Errorf("admin call Referer = %q, want %q", got, tc.referer)
				}
				writeBody(w, siteRootJSON)
			})
			if _, err := c.SiteInfo(context.Background()); err != nil {
				t.Fatalf("SiteInfo: %v", err)
			}
			tok, err := c.Pool().Token(context.Background())
			if err != nil || tok.Value != "tok-A" || !tok.Expires.Equal(expires) {
				t.Fatalf("pool token = %v, %v; want tok-A expiring %v (the server's expires, not the 60 asked for)", tok, err, expires)
			}
		})
	}
}

func TestMinter_PortalRequests(t *testing.T) {
	t.Parallel()
	mux, srv := tokenSite(t)
	clock := newFakeClock()
	c := newTokenClient(t, srv, upstream.TokenConfig{Service: upstream.TokenServicePortal, PortalURL: srv.URL + "/portal"}, clock)
	var calls counter
	mux.HandleFunc("/portal/sharing/rest/generateToken", func(w http.ResponseWriter, r *http.Request) {
		switch calls.inc() {
		case 1:
			testPOST(t, r, withF(url.Values{"username": {testUser}, "password": {testPassword}, "client": {"requestip"}, "expiration": {"120"}}))
			writeBody(w, fmt.Sprintf(`{"token":"portal-1","expires":%d,"ssl":false}`, clock.Now().Add(2*time.Hour).UnixMilli()))
		default:
			testPOST(t, r, withF(url.Values{"token": {"portal-1"}, "serverUrl": {srv.URL + "/arcgis"}, "expiration": {"60"}}))
			writeBody(w, fmt.Sprintf(`{"token":"server-1","expires":%d,"ssl":false}`, clock.Now().Add(time.Hour).UnixMilli()))
		}
	})
	mux.HandleFunc("/arcgis/admin/", func(w http.ResponseWriter, r *http.Request) {
		testGET(t, r, authed("server-1", nil))
		writeBody(w, siteRootJSON)
	})
	if _, err := c.SiteInfo(context.Background()); err != nil {
		t.Fatalf("SiteInfo: %v", err)
	}
	if calls.get() != 2 {
		t.Errorf("portal calls = %d, want 2 (credentials, exchange)", calls.get())
	}
}

func TestMinter_ErrorEnvelopes(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		service  upstream.TokenService
		body     string
		wantCode int
		wantMsg  string
	}{
		{"admin: site not created", upstream.TokenServiceAdmin,
			`{"status":"error","messages":["Local machine 'ARCGIS.INTERNAL.LOCAL' is not participating in any Site. Please create a new Site or join an existing Site."],"code":500}`,
			500, "not participating in any Site"},
		{"tokens: invalid credentials, details as a string", upstream.TokenServiceTokens,
			`{"error":{"code":401,"message":"You are not authorized to access this information","details":"Invalid credentials"}}`,
			401, "You are not authorized to access this information; Invalid credentials"},
		{"tokens: client id", upstream.TokenServiceTokens,
			`{"error":{"code":201,"message":"Exception in generating token","details":"Client id cannot be determined"}}`,
			201, "Client id cannot be determined"},
		{"tokens: query credentials", upstream.TokenServiceTokens,
			`{"error":{"code":405,"message":"Method not supported","details":"Generate Token request should not contain username and password in the query string."}}`,
			405, "should not contain username and password"},
		{"portal: details as an array, password echoed", upstream.TokenServicePortal,
			`{"error":{"code":400,"message":"Unable to generate token.","details":["Invalid username or password '` + testPassword + `'."]}}`,
			400, "Unable to generate token.; Invalid username or password 'REDACTED'."},
		{"portal: empty details", upstream.TokenServicePortal,
			`{"error":{"code":498,"message":"Invalid token.","details":[]}}`, 498, "Invalid token."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			mux, srv := tokenSite(t)
			cfg := upstream.TokenConfig{Service: tc.service}
			path := map[upstream.TokenService]string{
				upstream.TokenServiceAdmin:  "/arcgis/admin/generateToken",
				upstream.TokenServiceTokens: "/arcgis/tokens/generateToken",
				upstream.TokenServicePortal: "/portal/sharing/rest/generateToken",
			}[tc.service]
			if tc.service == upstream.TokenServicePortal {
				cfg.PortalURL = srv.URL + "/portal"
			}
			var calls counter
			mux.HandleFunc(path, func(w http.ResponseWriter, r *http.Request) {
				calls.inc()
				writeBody(w, tc.body)
			})
			c := newTokenClient(t, srv, cfg, newFakeClock())
			_, err := c.SiteInfo(context.Background())
			e := asError(t, err)
			if e.Kind != upstream.KindToken || e.Code != tc.wantCode || !upstream.IsAuth(err) {
				t.Errorf("err = %v (Kind %v, Code %d), want KindToken, code %d", err, e.Kind, e.Code, tc.wantCode)
			}
			if !strings.Contains(err.Error(), tc.wantMsg) {
				t.Errorf("Error() = %q, want it to contain %q", err.Error(), tc.wantMsg)
			}
			if strings.Contains(err.Error(), testPassword) || strings.Contains(fmt.Sprintf("%#v", e), testPassword) {
				t.Errorf("password leaked: %v", err)
			}
			if calls.get() != 1 {
				t.Errorf("generateToken calls = %d, want 1 (a refusal is not retried)", calls.get())
			}
		})
	}
}

func TestMinter_TransportFailureKeepsItsCause(t *testing.T) {
	t.Parallel()
	mux, srv := tokenSite(t)
	mux.HandleFunc("/arcgis/admin/generateToken", func(w http.ResponseWriter, r *http.Request) {
		writeBody(w, `<html>maintenance</html>`)
	})
	c := newTokenClient(t, srv, upstream.TokenConfig{}, newFakeClock())
	_, err := c.SiteInfo(context.Background())
	e := asError(t, err)
	var inner *upstream.Error
	if e.Kind != upstream.KindToken || e.Err == nil {
		t.Fatalf("err = %v, want KindToken with a cause", err)
	}
	if ok := asInner(e, &inner); !ok || inner.Kind != upstream.KindDecode {
		t.Fatalf("cause = %v, want an *Error of KindDecode", e.Err)
	}
}

// asInner extracts the *upstream.Error that caused e.
func asInner(e *upstream.Error, inner **upstream.Error) bool {
	ie, ok := e.Err.(*upstream.Error)
	*inner = ie
	return ok
}

func TestTokenServices_AgainstTheSimulator(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		cfg   func(e *simEnv) upstream.TokenConfig
		mints int // generateToken calls per token
	}{
		{"admin", func(*simEnv) upstream.TokenConfig { return upstream.TokenConfig{} }, 1},
		{"admin, referer", func(*simEnv) upstream.TokenConfig {
			return upstream.TokenConfig{Client: upstream.TokenClientReferer, Referer: "https://gw.example/arcgate"}
		}, 1},
		{"tokens", func(*simEnv) upstream.TokenConfig { return upstream.TokenConfig{Service: upstream.TokenServiceTokens} }, 1},
		{"portal", func(e *simEnv) upstream.TokenConfig {
			return upstream.TokenConfig{Service: upstream.TokenServicePortal, PortalURL: e.srv.URL + "/portal"}
		}, 2},
		{"portal, referer", func(e *simEnv) upstream.TokenConfig {
			return upstream.TokenConfig{Service: upstream.TokenServicePortal, PortalURL: e.srv.URL + "/portal",
				Client: upstream.TokenClientReferer, Referer: "https://gw.example/arcgate"}
		}, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			// Build the client once the simulator's URL is known.
			e := newSimEnv(t, simulator.Config{})
			c, err := upstream.New(e.srv.URL+"/arcgis", upstream.WithHTTPClient(&http.Client{Transport: e.gate}),
				upstream.WithClock(e.clock.Now), adminCreds, upstream.WithTokenConfig(tc.cfg(e)))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(c.Close)
			ctx := context.Background()
			if _, err := c.Services.ListRoot(ctx); err != nil {
				t.Fatalf("ListRoot: %v", err)
			}
			e.wantMints(t, tc.mints)
			// A revoked token is replaced once and the call retried.
			e.sim.RevokeAllTokens()
			if _, err := c.Services.ListRoot(ctx); err != nil {
				t.Fatalf("ListRoot after revocation: %v", err)
			}
			if want := 2 * tc.mints; e.sim.GenerateTokenCount() != want && e.sim.GenerateTokenCount() != want+1 {
				t.Fatalf("generateToken calls = %d, want %d (or %d when the portal token was revoked too)",
					e.sim.GenerateTokenCount(), want, want+1)
			}
		})
	}
}

func TestPortal_ReusesThenRefreshesThePortalToken(t *testing.T) {
	t.Parallel()
	e := newSimEnv(t, simulator.Config{})
	c, err := upstream.New(e.srv.URL+"/arcgis", upstream.WithHTTPClient(&http.Client{Transport: e.gate}),
		upstream.WithClock(e.clock.Now), adminCreds,
		upstream.WithTokenConfig(upstream.TokenConfig{Service: upstream.TokenServicePortal, PortalURL: e.srv.URL + "/portal"}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	pool, ctx := c.Pool(), context.Background()
	_, m := upstream.TierWindows(time.Hour)

	t1 := mustPoolToken(t, pool, ctx) // portal token (120 min) + exchange
	e.wantMints(t, 2)
	// Next refresh: the portal token still outlives a 60-minute server
	// token, so only the exchange runs.
	e.clock.set(t1.Expires.Add(-m))
	t2 := mustPoolToken(t, pool, ctx)
	e.wantMints(t, 3)
	// The one after: it would not, so the portal token is refreshed first.
	e.clock.set(t2.Expires.Add(-m))
	t3 := mustPoolToken(t, pool, ctx)
	e.wantMints(t, 5)
	if t1.Value == t2.Value || t2.Value == t3.Value {
		t.Fatal("tokens were not renewed")
	}
	// A revoked portal token is replaced once: exchange refused (498),
	// new portal token, exchange again.
	e.sim.RevokeAllTokens()
	if _, err := c.SiteInfo(ctx); err != nil {
		t.Fatalf("SiteInfo after revocation: %v", err)
	}
	e.wantMints(t, 8)

	// Wrong credentials at the portal: a clear error, not retried.
	e.sim.SetCredentials(simulator.DefaultUsername, "changed")
	e.sim.RevokeAllTokens()
	_, err = c.SiteInfo(ctx)
	if ue := asError(t, err); ue.Kind != upstream.KindToken || ue.Code != 400 || !strings.Contains(err.Error(), "Invalid username or password.") {
		t.Fatalf("err = %v", err)
	}
	e.wantMints(t, 10) // the exchange (498), then the portal credentials (400)
}

func TestRefererBoundTokensNeedTheHeader(t *testing.T) {
	t.Parallel()
	e := newSimEnv(t, simulator.Config{})
	c, err := upstream.New(e.srv.URL+"/arcgis", upstream.WithHTTPClient(&http.Client{Transport: e.gate}),
		upstream.WithClock(e.clock.Now), adminCreds,
		upstream.WithTokenConfig(upstream.TokenConfig{Client: upstream.TokenClientReferer, Referer: "https://gw.example/"}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	if _, err := c.Services.ListRoot(context.Background()); err != nil {
		t.Fatalf("ListRoot: %v", err)
	}
	tok := mustPoolToken(t, c.Pool(), context.Background())
	// The same token without the Referer header is refused: the client
	// must have sent it.
	resp, err := e.srv.Client().Get(e.srv.URL + "/arcgis/admin/services?f=json&token=" + url.QueryEscape(tok.Value))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(raw), `"code":498`) {
		t.Fatalf("a referer-bound token without Referer: %s", raw)
	}
}

func TestFixedServiceToken(t *testing.T) {
	t.Parallel()
	e := newSimEnv(t, simulator.Config{})
	tok := e.sim.IssueToken(time.Hour)
	c, err := upstream.New(e.srv.URL+"/arcgis", upstream.WithHTTPClient(&http.Client{Transport: e.gate}),
		upstream.WithClock(e.clock.Now), upstream.WithServiceIdentity(upstream.TokenIdentity(tok)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	ctx := context.Background()
	if _, err := c.Services.ListRoot(ctx); err != nil {
		t.Fatalf("ListRoot: %v", err)
	}
	e.clock.Advance(2 * time.Hour) // the token expires upstream; there is no refresh
	e.sim.ResetRequests()
	_, err = c.Services.ListRoot(ctx)
	if ue := asError(t, err); ue.Code != 498 || !upstream.IsAuth(err) || strings.Contains(err.Error(), tok) {
		t.Fatalf("expired fixed token: err = %v", err)
	}
	if e.sim.RequestCount() != 1 || e.sim.GenerateTokenCount() != 0 {
		t.Errorf("requests = %d, generateToken = %d; want 1, 0", e.sim.RequestCount(), e.sim.GenerateTokenCount())
	}
}

func TestTokenOptions(t *testing.T) {
	t.Parallel()
	id := upstream.CredentialsIdentity("u", "p")
	for _, tc := range []struct {
		name string
		opts []upstream.Option
		want string // "" for success
	}{
		{"defaults", nil, ""},
		{"referer", []upstream.Option{upstream.WithTokenConfig(upstream.TokenConfig{Client: upstream.TokenClientReferer, Referer: "r"})}, ""},
		{"portal", []upstream.Option{upstream.WithTokenConfig(upstream.TokenConfig{Service: upstream.TokenServicePortal, PortalURL: "https://h/portal"})}, ""},
		{"referer client without referer", []upstream.Option{upstream.WithTokenConfig(upstream.TokenConfig{Client: upstream.TokenClientReferer})}, "needs a Referer"},
		{"referer without referer client", []upstream.Option{upstream.WithTokenConfig(upstream.TokenConfig{Referer: "r"})}, "only used with the referer"},
		{"multi-line referer", []upstream.Option{upstream.WithTokenConfig(upstream.TokenConfig{Client: upstream.TokenClientReferer, Referer: "a\r\nX: y"})}, "several lines"},
		{"portal without URL", []upstream.Option{upstream.WithTokenConfig(upstream.TokenConfig{Service: upstream.TokenServicePortal})}, "needs a PortalURL"},
		{"portal URL without portal", []upstream.Option{upstream.WithTokenConfig(upstream.TokenConfig{PortalURL: "https://h/portal"})}, "only used with the portal"},
		{"bad portal URL", []upstream.Option{upstream.WithTokenConfig(upstream.TokenConfig{Service: upstream.TokenServicePortal, PortalURL: "ftp://h"})}, "portal URL"},
		{"negative expiration", []upstream.Option{upstream.WithTokenConfig(upstream.TokenConfig{Expiration: -time.Minute})}, "expiration"},
		{"expiration over 14 days", []upstream.Option{upstream.WithTokenConfig(upstream.TokenConfig{Expiration: 15 * 24 * time.Hour})}, "expiration"},
		{"unknown service", []upstream.Option{upstream.WithTokenConfig(upstream.TokenConfig{Service: 9})}, "TokenService(9)"},
		{"credentials and service identity", []upstream.Option{upstream.WithCredentials("u", "p"), upstream.WithServiceIdentity(id)}, "cannot be combined"},
		{"service identity and token source", []upstream.Option{upstream.WithServiceIdentity(id), upstream.WithTokenSource(upstream.StaticToken("t"))}, "cannot be combined"},
		{"empty service identity", []upstream.Option{upstream.WithServiceIdentity(upstream.TokenIdentity(""))}, "token is empty"},
		{"negative pool size", []upstream.Option{upstream.WithPoolConfig(upstream.PoolConfig{Size: -1})}, "negative"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, err := upstream.New("https://host/arcgis", tc.opts...)
			if c != nil {
				t.Cleanup(c.Close)
			}
			if (tc.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.want)) {
				t.Fatalf("New: err = %v, want %q", err, tc.want)
			}
			if err != nil && strings.Contains(err.Error(), "a\r\nX") {
				t.Errorf("error echoes the referer: %v", err)
			}
		})
	}
}

func TestParseTokenServiceAndClient(t *testing.T) {
	t.Parallel()
	for _, s := range []upstream.TokenService{upstream.TokenServiceAdmin, upstream.TokenServiceTokens, upstream.TokenServicePortal} {
		if got, err := upstream.ParseTokenService(s.String()); err != nil || got != s {
			t.Errorf("ParseTokenService(%q) = %v, %v", s.String(), got, err)
		}
	}
	for _, c := range []upstream.TokenClient{upstream.TokenClientRequestIP, upstream.TokenClientReferer} {
		if got, err := upstream.ParseTokenClient(c.String()); err != nil || got != c {
			t.Errorf("ParseTokenClient(%q) = %v, %v", c.String(), got, err)
		}
	}
	for _, bad := range []string{"", "fixed", "Admin", "ip", "referrer"} {
		if _, err := upstream.ParseTokenService(bad); err == nil {
			t.Errorf("ParseTokenService(%q) accepted", bad)
		}
		if _, err := upstream.ParseTokenClient(bad); err == nil {
			t.Errorf("ParseTokenClient(%q) accepted", bad)
		}
	}
}

// FuzzGenerateTokenResponse decodes arbitrary generateToken answers: a
// success always has a value and an expiry, a failure is always a token
// error, and nothing panics.
func FuzzGenerateTokenResponse(f *testing.F) {
	for _, s := range []string{
		`{"token":"...","expires":"1535661831380"}`,
		`{"token": "sakjfh97325437hskfsdfd_sdkjfsjf1283763339564921734sdfbdsj", "expires": "13472658353687"}`,
		`{"token":"p","expires":1535661831380,"ssl":false}`,
		`{"token":"p","expires":1535661831,"ssl":"true"}`,
		`{"token":"p"}`, `{"token":"p","expires":""}`, `{"token":"p","expires":null}`,
		`{"token":12,"expires":1e400}`, `{"token":"p","expires":"-5"}`, `{"token":"","expires":"1"}`,
		`{"status":"error","messages":["Local machine 'ARCGIS.INTERNAL.LOCAL' is not participating in any Site. Please create a new Site or join an existing Site."],"code":500}`,
		`{"error":{"code":401,"message":"You are not authorized to access this information","details":"Invalid credentials"}}`,
		`{"error":{"code":201,"message":"Exception in generating token","details":"Client id cannot be determined"}}`,
		`{"error":{"code":498,"message":"Invalid token.","details":[]}}`,
		`<html>login</html>`, ``, `null`, `[]`,
	} {
		f.Add([]byte(s))
	}
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, body []byte) {
		tok, err := upstream.ParseGenerateTokenResponse(body, now)
		if err != nil {
			var e *upstream.Error
			if !asErrorOK(err, &e) || e.Kind != upstream.KindToken {
				t.Fatalf("error %v (%T) is not a token error", err, err)
			}
			_ = err.Error()
			return
		}
		if tok.Value == "" || tok.Expires.IsZero() {
			t.Fatalf("token %v without value or expiry from %q", tok, body)
		}
	})
}

// asErrorOK is errors.As for *upstream.Error without failing the test.
func asErrorOK(err error, e **upstream.Error) bool {
	ue, ok := err.(*upstream.Error)
	*e = ue
	return ok
}
