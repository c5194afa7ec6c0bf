package simulator_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/arcgate/arcgate/simulator"
)

// portalURL is the absolute URL of the portal's generateToken.
func (e *env) portalURL() string {
	return e.ts.URL + "/" + simulator.PortalContext + "/sharing/rest/generateToken"
}

// serverURL is the site URL a federated client sends as serverUrl.
func (e *env) serverURL() string { return e.ts.URL + "/arcgis" }

// portalToken asks the portal for a token with the given form and checks
// the answer's shape: token, expires as a NUMBER, ssl false.
func (e *env) portalToken(t *testing.T, form url.Values, hdr ...string) (string, time.Time) {
	t.Helper()
	r := e.postURL(e.portalURL(), form, hdr...)
	checkJSONWire(t, r)
	m := r.object(t)
	tok, _ := m["token"].(string)
	exp, isNumber := m["expires"].(json.Number)
	if tok == "" || !isNumber || m["ssl"] != false || len(m) != 3 {
		t.Fatalf("portal generateToken answer %s: want token, expires as a number and ssl", r.body)
	}
	ms, err := exp.Int64()
	if err != nil {
		t.Fatalf("expires %q: %v", exp, err)
	}
	return tok, time.UnixMilli(ms)
}

// wantRESTError asserts a REST error envelope.
func wantRESTError(t *testing.T, r response, code int, message string, details any) {
	t.Helper()
	checkJSONWire(t, r)
	want := map[string]any{"error": map[string]any{"code": json.Number(itoa(code)), "message": message, "details": details}}
	if got := r.object(t); !reflect.DeepEqual(got, want) {
		t.Fatalf("got %s\nwant %v", r.body, want)
	}
}

func TestPortalCredentials(t *testing.T) {
	e := newEnv(t, simulator.Config{})
	for _, tc := range []struct {
		name string
		form url.Values
		life time.Duration
	}{
		{"default lifetime is twice the server's (120 minutes)", credentials(), 120 * time.Minute},
		{"requested expiration", credentials("expiration", "30", "client", "requestip"), 30 * time.Minute},
		{"clamped to twice the server lifetime", credentials("expiration", "100000", "client", "referer", "referer", "https://app"), 120 * time.Minute},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := e.sim.GenerateTokenCount()
			_, exp := e.portalToken(t, tc.form, "Referer", "https://app/x")
			if want := e.clock.Now().Add(tc.life); !exp.Equal(want) {
				t.Errorf("expires %v, want %v", exp, want)
			}
			if got := e.sim.GenerateTokenCount() - before; got != 1 {
				t.Errorf("GenerateTokenCount grew by %d, want 1", got)
			}
		})
	}
}

func TestPortalRefusals(t *testing.T) {
	e := newEnv(t, simulator.Config{})
	portal := e.portalURL()
	for _, tc := range []struct {
		name    string
		send    func() response
		code    int
		message string
		details any
	}{
		{"wrong password", func() response {
			return e.postURL(portal, url.Values{"username": {"admin"}, "password": {"nope"}, "f": {"json"}})
		}, 400, "Unable to generate token.", []any{"Invalid username or password."}},
		{"referer client without referer", func() response {
			return e.postURL(portal, credentials("client", "referer"))
		}, 400, "Unable to generate token.", []any{"Client id cannot be determined"}},
		{"credentials in the query string", func() response {
			return e.postURL(portal+"?username=admin&password=admin-password", url.Values{"f": {"json"}})
		}, 405, "Method not supported", "Generate Token request should not contain username and password in the query string."},
		{"GET", func() response {
			req, _ := http.NewRequest(http.MethodGet, portal+"?f=json", nil)
			return e.do(req)
		}, 405, "Method not supported", "Generate Token request must be sent with the POST method."},
		{"exchange without a token", func() response {
			return e.postURL(portal, url.Values{"serverUrl": {e.serverURL()}, "f": {"json"}})
		}, 499, "Token Required", []any{}},
		{"exchange of an unknown token", func() response {
			return e.postURL(portal, url.Values{"token": {"garbage"}, "serverUrl": {e.serverURL()}, "f": {"json"}})
		}, 498, "Invalid token.", []any{}},
		{"exchange of a server token", func() response {
			return e.postURL(portal, url.Values{"token": {e.sim.IssueToken(time.Hour)}, "serverUrl": {e.serverURL()}, "f": {"json"}})
		}, 498, "Invalid token.", []any{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantRESTError(t, tc.send(), tc.code, tc.message, tc.details)
		})
	}
	t.Run("injected failure", func(t *testing.T) {
		e.sim.FailGenerateToken(1)
		wantRESTError(t, e.postURL(portal, credentials()), 500, "Unable to generate token.",
			[]any{"Unable to generate token. The token service is not available."})
		e.portalToken(t, credentials()) // only one failure was injected
	})
}

func TestPortalTokenIsNotAnAdminToken(t *testing.T) {
	e := newEnv(t, simulator.Config{})
	ptok, _ := e.portalToken(t, credentials())
	wantError(t, e.get("", url.Values{"f": {"json"}, "token": {ptok}}).object(t), 498, msgTokenInvalid)
}

func TestPortalExchange(t *testing.T) {
	e := newEnv(t, simulator.Config{TokenLifetime: 30 * time.Minute})
	ptok, pexp := e.portalToken(t, credentials())
	if want := e.clock.Now().Add(60 * time.Minute); !pexp.Equal(want) {
		t.Fatalf("portal token expires %v, want %v (twice the 30-minute server lifetime)", pexp, want)
	}
	exchange := func(t *testing.T, form url.Values, hdr ...string) (string, time.Time) {
		t.Helper()
		return e.portalToken(t, form, hdr...)
	}
	t.Run("server token works on the admin API", func(t *testing.T) {
		stok, sexp := exchange(t, url.Values{"token": {ptok}, "serverUrl": {e.serverURL()}, "f": {"json"}})
		if want := e.clock.Now().Add(30 * time.Minute); !sexp.Equal(want) {
			t.Errorf("server token expires %v, want %v (the server lifetime)", sexp, want)
		}
		if m := e.get("services", url.Values{"f": {"json"}, "token": {stok}}).object(t); m["status"] == "error" {
			t.Fatalf("server token refused: %v", m)
		}
	})
	t.Run("serverUrl below the site", func(t *testing.T) {
		_, sexp := exchange(t, url.Values{"token": {ptok}, "serverUrl": {e.serverURL() + "/admin/"}, "expiration": {"10"}, "f": {"json"}})
		if want := e.clock.Now().Add(10 * time.Minute); !sexp.Equal(want) {
			t.Errorf("server token expires %v, want %v", sexp, want)
		}
	})
	t.Run("never outlives the portal token", func(t *testing.T) {
		e.clock.Advance(50 * time.Minute)
		_, sexp := exchange(t, url.Values{"token": {ptok}, "serverUrl": {e.serverURL()}, "f": {"json"}})
		if !sexp.Equal(pexp) {
			t.Errorf("server token expires %v, want the portal token's %v", sexp, pexp)
		}
	})
	for _, bad := range []string{"", "http://elsewhere.example/arcgis", e.ts.URL + "/server", e.ts.URL + "/arcgisx", "ftp://" + strings.TrimPrefix(e.ts.URL, "http://") + "/arcgis", "%zz"} {
		t.Run("not this server: "+bad, func(t *testing.T) {
			r := e.postURL(e.portalURL(), url.Values{"token": {ptok}, "serverUrl": {bad}, "f": {"json"}})
			wantRESTError(t, r, 400, "Unable to generate token.", []any{"The serverUrl is not a federated server of this portal."})
		})
	}
	t.Run("expired portal token", func(t *testing.T) {
		e.clock.Advance(10 * time.Minute)
		r := e.postURL(e.portalURL(), url.Values{"token": {ptok}, "serverUrl": {e.serverURL()}, "f": {"json"}})
		wantRESTError(t, r, 498, "Invalid token.", []any{})
	})
	t.Run("revoked portal token", func(t *testing.T) {
		fresh, _ := e.portalToken(t, credentials())
		e.sim.RevokeAllTokens()
		r := e.postURL(e.portalURL(), url.Values{"token": {fresh}, "serverUrl": {e.serverURL()}, "f": {"json"}})
		wantRESTError(t, r, 498, "Invalid token.", []any{})
	})
}

func TestPortalExchangeHonoursTheReferer(t *testing.T) {
	e := newEnv(t, simulator.Config{})
	ptok, _ := e.portalToken(t, credentials("client", "referer", "referer", "https://gateway.example"))
	form := url.Values{"token": {ptok}, "serverUrl": {e.serverURL()}, "f": {"json"}}
	wantRESTError(t, e.postURL(e.portalURL(), form), 498, "Invalid token.", []any{})
	wantRESTError(t, e.postURL(e.portalURL(), form, "Referer", "https://other.example"), 498, "Invalid token.", []any{})
	e.portalToken(t, form, "Referer", "https://gateway.example")
}

// FuzzPortalGenerateToken sends arbitrary forms to the portal: it must
// never panic, answer JSON when JSON is asked for, and issue a token only
// with the right credentials (a portal token cannot be guessed).
func FuzzPortalGenerateToken(f *testing.F) {
	for _, s := range []string{
		"username=admin&password=admin-password&client=requestip&expiration=60&f=json",
		"username=admin&password=admin-password&client=referer&referer=https%3A%2F%2Fapp&f=json",
		"username=admin&password=nope&f=json",
		"token=x&serverUrl=http%3A%2F%2Fh%2Farcgis&f=json",
		"token=&serverUrl=&expiration=-1&f=json",
		"serverUrl=%zz&expiration=99999999999999999999&f=json",
		"username=admin&password=admin-password&expiration=9223372036854775807&f=json",
	} {
		f.Add(s)
	}
	sim := simulator.New(simulator.Config{})
	f.Fuzz(func(t *testing.T, body string) {
		req, err := http.NewRequest(http.MethodPost, "http://sim/portal/sharing/rest/generateToken?f=json", strings.NewReader(body))
		if err != nil {
			return
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		rec := httptest.NewRecorder()
		sim.ServeHTTP(rec, req)
		form, _ := url.ParseQuery(body)
		if fs, ok := form["f"]; ok && !strings.EqualFold(fs[0], "json") && !strings.EqualFold(fs[0], "pjson") {
			return // the body asked for another format (body values win over the query)
		}
		var m map[string]any
		if err := json.Unmarshal(rec.Body.Bytes(), &m); err != nil {
			t.Fatalf("answer is not JSON: %q", rec.Body.String())
		}
		if tok, ok := m["token"].(string); ok && tok != "" && form.Get("password") != "admin-password" {
			t.Fatalf("token issued without the password: form %q", body)
		}
	})
}
