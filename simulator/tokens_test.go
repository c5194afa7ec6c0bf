package simulator_test

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/hex"
	"encoding/json"
	"math/big"
	"net/http"
	"net/url"
	"reflect"
	"strconv"
	"testing"
	"time"

	"github.com/arcgate/arcgate/simulator"
)

const (
	msgTokenNotFound = "Unauthorized access. Token not found. You can generate a token using the 'generateToken' operation."
	msgTokenExpired  = "Token Expired."
	msgTokenInvalid  = "Could not decrypt token. Token may not be valid."
)

// credentials returns a valid generateToken form plus the extra pairs.
func credentials(pairs ...string) url.Values {
	v := url.Values{"username": {"admin"}, "password": {"admin-password"}, "f": {"json"}}
	for i := 0; i+1 < len(pairs); i += 2 {
		v.Set(pairs[i], pairs[i+1])
	}
	return v
}

// generate calls admin generateToken and returns the token and its expiry.
func (e *env) generate(t *testing.T, form url.Values, hdr ...string) (string, time.Time) {
	t.Helper()
	r := e.post("generateToken", form, hdr...)
	checkJSONWire(t, r)
	m := r.object(t)
	tok, _ := m["token"].(string)
	exp, isString := m["expires"].(string)
	if tok == "" || !isString || len(m) != 2 {
		t.Fatalf("generateToken answer %s: want token and expires as a JSON string", r.body)
	}
	ms, err := strconv.ParseInt(exp, 10, 64)
	if err != nil {
		t.Fatalf("expires %q: %v", exp, err)
	}
	return tok, time.UnixMilli(ms)
}

func TestTokenRequired(t *testing.T) {
	e := newEnv(t, simulator.Config{})
	valid := e.sim.IssueToken(time.Hour)
	short := e.sim.IssueToken(time.Minute)
	e.clock.Advance(2 * time.Minute)
	revoked := e.sim.IssueToken(time.Hour)
	for _, tc := range []struct {
		name string
		q    url.Values
		hdr  []string
		code int
		msg  string
	}{
		{"missing", url.Values{"f": {"json"}}, nil, 499, msgTokenNotFound},
		{"empty", url.Values{"f": {"json"}, "token": {""}}, nil, 499, msgTokenNotFound},
		{"bearer without value", url.Values{"f": {"json"}}, []string{"Authorization", "Bearer "}, 499, msgTokenNotFound},
		{"basic auth is not a token", url.Values{"f": {"json"}}, []string{"Authorization", "Basic YWRtaW46eA=="}, 499, msgTokenNotFound},
		{"garbage", url.Values{"f": {"json"}, "token": {"not-a-token"}}, nil, 498, msgTokenInvalid},
		{"expired", url.Values{"f": {"json"}, "token": {short}}, nil, 498, msgTokenExpired},
		{"revoked", url.Values{"f": {"json"}, "token": {revoked}}, nil, 498, msgTokenInvalid},
	} {
		if tc.name == "revoked" {
			// Revoke right before the revoked case; valid is re-checked below.
			e.sim.RevokeAllTokens()
		}
		t.Run(tc.name, func(t *testing.T) {
			for _, path := range []string{"", "services", "services/Maps/Parcels.MapServer", "no/such/resource"} {
				r := e.get(path, tc.q, tc.hdr...)
				checkJSONWire(t, r)
				wantError(t, r.object(t), tc.code, tc.msg)
			}
		})
	}
	r := e.get("", url.Values{"f": {"json"}, "token": {valid}})
	wantError(t, r.object(t), 498, msgTokenInvalid)

	t.Run("token minted after revocation works", func(t *testing.T) {
		e.getJSON("services")
	})
}

func TestTokenExpiresWithClock(t *testing.T) {
	e := newEnv(t, simulator.Config{})
	tok, exp := e.generate(t, credentials("expiration", "5"))
	if want := e.clock.Now().Add(5 * time.Minute); !exp.Equal(want) {
		t.Fatalf("expires %v, want %v", exp, want)
	}
	q := url.Values{"f": {"json"}, "token": {tok}}
	e.clock.Advance(5*time.Minute - time.Millisecond)
	if m := e.get("", q).object(t); m["status"] == "error" {
		t.Fatalf("token expired early: %v", m)
	}
	e.clock.Advance(time.Millisecond)
	wantError(t, e.get("", q).object(t), 498, msgTokenExpired)
}

func TestTokenLocations(t *testing.T) {
	e := newEnv(t, simulator.Config{})
	tok := e.sim.IssueToken(time.Hour)
	for _, tc := range []struct {
		name   string
		method string
		query  url.Values
		form   url.Values
		hdr    []string
	}{
		{"query GET", http.MethodGet, url.Values{"token": {tok}}, nil, nil},
		{"query POST", http.MethodPost, url.Values{"token": {tok}}, url.Values{}, nil},
		{"form body", http.MethodPost, nil, url.Values{"token": {tok}}, nil},
		{"X-Esri-Authorization", http.MethodGet, nil, nil, []string{"X-Esri-Authorization", "Bearer " + tok}},
		{"Authorization", http.MethodGet, nil, nil, []string{"Authorization", "Bearer " + tok}},
		{"lower-case bearer", http.MethodGet, nil, nil, []string{"Authorization", "bearer " + tok}},
		{"header on POST", http.MethodPost, nil, url.Values{}, []string{"X-Esri-Authorization", "Bearer " + tok}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q := url.Values{"f": {"json"}}
			for k, v := range tc.query {
				q[k] = v
			}
			var r response
			if tc.method == http.MethodGet {
				r = e.get("services/Maps/Parcels.MapServer/status", q, tc.hdr...)
			} else {
				r = e.post("services/Maps/Parcels.MapServer/status?"+q.Encode(), tc.form, tc.hdr...)
			}
			checkJSONWire(t, r)
			if m := r.object(t); m["configuredState"] != "STARTED" {
				t.Fatalf("got %v", m)
			}
		})
	}
}

func TestGenerateTokenLifetime(t *testing.T) {
	for _, tc := range []struct {
		name       string
		lifetime   time.Duration
		expiration string
		want       time.Duration
	}{
		{"default", 0, "", 60 * time.Minute},
		{"requested", 0, "30", 30 * time.Minute},
		{"clamped to default max", 0, "100000", 60 * time.Minute},
		{"huge clamped", 0, "9223372036854775807", 60 * time.Minute},
		{"zero means default", 0, "0", 60 * time.Minute},
		{"long max allows more", 24 * time.Hour, "600", 600 * time.Minute},
		{"long max default stays 60", 24 * time.Hour, "", 60 * time.Minute},
		{"short max clamps default", 15 * time.Minute, "", 15 * time.Minute},
		{"short max clamps request", 15 * time.Minute, "30", 15 * time.Minute},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, simulator.Config{TokenLifetime: tc.lifetime})
			form := credentials("client", "requestip")
			if tc.expiration != "" {
				form.Set("expiration", tc.expiration)
			}
			tok, exp := e.generate(t, form)
			if want := e.clock.Now().Add(tc.want); !exp.Equal(want) {
				t.Fatalf("expires %v, want %v", exp, want)
			}
			if r := e.get("", url.Values{"f": {"json"}, "token": {tok}}); r.object(t)["fullVersion"] != "11.3" {
				t.Fatalf("token not accepted: %s", r.body)
			}
		})
	}

	t.Run("SetTokenLifetime", func(t *testing.T) {
		e := newEnv(t, simulator.Config{})
		e.sim.SetTokenLifetime(10 * time.Minute)
		_, exp := e.generate(t, credentials("expiration", "60"))
		if want := e.clock.Now().Add(10 * time.Minute); !exp.Equal(want) {
			t.Fatalf("expires %v, want %v", exp, want)
		}
	})
}

func TestGenerateTokenErrors(t *testing.T) {
	e := newEnv(t, simulator.Config{})
	for _, tc := range []struct {
		name string
		form url.Values
		code int
		msg  string
	}{
		{"wrong password", credentials("password", "nope"), 400, "Unable to generate token. Invalid username or password."},
		{"wrong username", credentials("username", "Admin"), 400, "Unable to generate token. Invalid username or password."},
		{"no credentials", url.Values{"f": {"json"}}, 400, "Unable to generate token. Invalid username or password."},
		{"referer without referer", credentials("client", "referer"), 400, "Unable to generate token. Client id cannot be determined."},
		{"ip without ip", credentials("client", "ip"), 400, "Unable to generate token. Client id cannot be determined."},
		{"bad client", credentials("client", "browser"), 400, "Unable to generate token. Invalid client type 'browser'."},
		{"bad expiration", credentials("expiration", "soon"), 400, "Unable to generate token. Invalid expiration 'soon'."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := e.post("generateToken", tc.form)
			checkJSONWire(t, r)
			wantError(t, r.object(t), tc.code, tc.msg)
		})
	}

	wantREST405 := map[string]any{"error": map[string]any{
		"code": json.Number("405"), "message": "Method not supported",
		"details": "Generate Token request should not contain username and password in the query string.",
	}}
	t.Run("GET with credentials in query", func(t *testing.T) {
		r := e.get("generateToken", credentials())
		checkJSONWire(t, r)
		if m := r.object(t); !reflect.DeepEqual(m, wantREST405) {
			t.Fatalf("got %v", m)
		}
	})
	t.Run("POST with credentials in query", func(t *testing.T) {
		r := e.post("generateToken?"+credentials().Encode(), url.Values{})
		if m := r.object(t); !reflect.DeepEqual(m, wantREST405) {
			t.Fatalf("got %v", m)
		}
	})
	t.Run("GET without credentials", func(t *testing.T) {
		wantError(t, e.get("generateToken", url.Values{"f": {"json"}}).object(t), 405, "Method not supported.")
	})
}

func TestGenerateTokenMultipartAndReferrerSpelling(t *testing.T) {
	e := newEnv(t, simulator.Config{})
	r := e.postMultipart("generateToken", credentials("client", "referrer", "referrer", "https://app.example"))
	checkJSONWire(t, r)
	tok, _ := r.object(t)["token"].(string)
	q := url.Values{"f": {"json"}, "token": {tok}}
	if m := e.get("", q, "Referer", "https://app.example/page"); m.object(t)["fullVersion"] == nil {
		t.Fatalf("referrer-bound token refused: %s", m.body)
	}
}

func TestTokenClientBinding(t *testing.T) {
	e := newEnv(t, simulator.Config{})
	refTok, _ := e.generate(t, credentials("client", "referer", "referer", "referer"))
	reqIPTok, _ := e.generate(t, credentials("client", "requestip"))
	ipTok, _ := e.generate(t, credentials("client", "ip", "ip", "10.1.2.3"))
	localIPTok, _ := e.generate(t, credentials("client", "ip", "ip", "127.0.0.1"))
	for _, tc := range []struct {
		name string
		tok  string
		hdr  []string
		ok   bool
	}{
		{"referer match", refTok, []string{"Referer", "referer"}, true},
		{"referer missing", refTok, nil, false},
		{"referer mismatch", refTok, []string{"Referer", "https://evil.example"}, false},
		{"requestip same machine", reqIPTok, nil, true},
		{"ip other machine", ipTok, nil, false},
		{"ip this machine", localIPTok, nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := e.get("services", url.Values{"f": {"json"}, "token": {tc.tok}}, tc.hdr...)
			checkJSONWire(t, r)
			m := r.object(t)
			if tc.ok {
				if m["folderName"] != "/" {
					t.Fatalf("refused: %v", m)
				}
				return
			}
			wantError(t, m, 498, "Invalid token.")
		})
	}
}

func TestTokensEndpoint(t *testing.T) {
	e := newEnv(t, simulator.Config{})
	tokensURL := e.ts.URL + "/arcgis/tokens/generateToken"

	t.Run("success has numeric expires", func(t *testing.T) {
		r := e.postURL(tokensURL, credentials("client", "requestip", "expiration", "20"))
		checkJSONWire(t, r)
		m := r.object(t)
		n, ok := m["expires"].(json.Number)
		if !ok {
			t.Fatalf("expires is not a number: %s", r.body)
		}
		ms, _ := n.Int64()
		if want := e.clock.Now().Add(20 * time.Minute).UnixMilli(); ms != want {
			t.Fatalf("expires %d, want %d", ms, want)
		}
		tok, _ := m["token"].(string)
		if r := e.get("services", url.Values{"f": {"json"}, "token": {tok}}); r.object(t)["folderName"] != "/" {
			t.Fatalf("token from /tokens refused on admin: %s", r.body)
		}
	})

	for _, tc := range []struct {
		name string
		form url.Values
		want string
	}{
		{"wrong credentials", credentials("password", "x"),
			`{"error":{"code":401,"message":"You are not authorized to access this information","details":"Invalid credentials"}}`},
		{"ip without ip", credentials("client", "ip"),
			`{"error":{"code":201,"message":"Exception in generating token","details":"Client id cannot be determined"}}`},
		{"long expiration without client", credentials("expiration", "1440"),
			`{"error":{"code":201,"message":"Exception in generating token","details":"Exception in generating tokenFailed to generate a token for the user.Client ID is required for long expiration tokens."}}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := e.postURL(tokensURL, tc.form)
			checkJSONWire(t, r)
			if string(r.body) != tc.want {
				t.Fatalf("got  %s\nwant %s", r.body, tc.want)
			}
		})
	}

	t.Run("GET with credentials", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodGet, tokensURL+"?"+credentials().Encode(), nil)
		r := e.do(req)
		want := `{"error":{"code":405,"message":"Method not supported","details":"Generate Token request should not contain username and password in the query string."}}`
		if string(r.body) != want {
			t.Fatalf("got %s", r.body)
		}
	})
}

func TestFailGenerateTokenAndCount(t *testing.T) {
	e := newEnv(t, simulator.Config{})
	before := e.sim.GenerateTokenCount()
	e.sim.FailGenerateToken(2)
	for range 2 {
		r := e.post("generateToken", credentials())
		checkJSONWire(t, r)
		wantCode(t, r.object(t), 500)
	}
	e.generate(t, credentials())
	r := e.postURL(e.ts.URL+"/arcgis/tokens/generateToken", credentials())
	checkJSONWire(t, r)
	if got := e.sim.GenerateTokenCount() - before; got != 4 {
		t.Fatalf("GenerateTokenCount delta = %d, want 4", got)
	}
	e.sim.FailGenerateToken(1)
	r = e.postURL(e.ts.URL+"/arcgis/tokens/generateToken", credentials())
	var m struct {
		Error struct{ Code int } `json:"error"`
	}
	if err := json.Unmarshal(r.body, &m); err != nil || m.Error.Code != 500 {
		t.Fatalf("/tokens failure: %s", r.body)
	}
}

func TestSetCredentials(t *testing.T) {
	e := newEnv(t, simulator.Config{Username: "siteadmin", Password: "s3cret"})
	e.generate(t, credentials("username", "siteadmin", "password", "s3cret"))
	e.sim.SetCredentials("other", "pw2")
	wantCode(t, e.post("generateToken", credentials("username", "siteadmin", "password", "s3cret")).object(t), 400)
	e.generate(t, credentials("username", "other", "password", "pw2"))
}

func TestEncryptedCredentials(t *testing.T) {
	e := newEnv(t, simulator.Config{})
	r := e.get("publicKey", url.Values{"f": {"json"}}) // no token needed
	checkJSONWire(t, r)
	var pk struct{ PublicKey, Modulus string }
	if err := json.Unmarshal(r.body, &pk); err != nil {
		t.Fatal(err)
	}
	n, ok1 := new(big.Int).SetString(pk.Modulus, 16)
	exp, ok2 := new(big.Int).SetString(pk.PublicKey, 16)
	if !ok1 || !ok2 {
		t.Fatalf("bad key %+v", pk)
	}
	pub := &rsa.PublicKey{N: n, E: int(exp.Int64())}
	enc := func(s string) string {
		//lint:ignore SA1019 this is the padding ArcGIS clients use for encrypted=true.
		ct, err := rsa.EncryptPKCS1v15(rand.Reader, pub, []byte(s))
		if err != nil {
			t.Fatal(err)
		}
		return hex.EncodeToString(ct)
	}
	e.generate(t, url.Values{
		"username": {enc("admin")}, "password": {enc("admin-password")}, "client": {enc("requestip")},
		"encrypted": {"true"}, "f": {"json"},
	})
	wantCode(t, e.post("generateToken", url.Values{
		"username": {enc("admin")}, "password": {enc("wrong")}, "encrypted": {"true"}, "f": {"json"},
	}).object(t), 400)
}
