package upstream_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/arcgate/arcgate/upstream"
)

const (
	testUser     = "siteadmin"
	testPassword = "Pa55-w0rd-do-not-leak"
)

// tokenForm is the exact generateToken form the source must send.
var tokenForm = url.Values{
	"username":   {testUser},
	"password":   {testPassword},
	"client":     {"requestip"},
	"expiration": {"60"},
	"f":          {"json"},
}

// tokenServer starts the test server and returns the token pool of a
// client with credentials and a fake clock, plus the mux.
func tokenServer(t *testing.T) (upstream.TokenSource, *http.ServeMux, *fakeClock) {
	t.Helper()
	clock := newFakeClock()
	c, mux, _ := setup(t, upstream.WithCredentials(testUser, testPassword), upstream.WithClock(clock.Now))
	t.Cleanup(c.Close)
	return c.Pool(), mux, clock
}

// msAfter returns the epoch ms of clock's now + d.
func msAfter(c *fakeClock, d time.Duration) int64 { return c.Now().Add(d).UnixMilli() }

func TestGenerateToken_RequestAndExpiresForms(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		body    func(c *fakeClock) string
		expires func(c *fakeClock) time.Time
	}{
		{"expires as string (admin)", func(c *fakeClock) string {
			return `{"token":"tok-A","expires":"` + strconv.FormatInt(msAfter(c, time.Hour), 10) + `"}`
		}, func(c *fakeClock) time.Time { return c.Now().Add(time.Hour) }},
		{"expires as number (portal)", func(c *fakeClock) string {
			return `{"token":"tok-A","expires":` + strconv.FormatInt(msAfter(c, time.Hour), 10) + `,"ssl":false}`
		}, func(c *fakeClock) time.Time { return c.Now().Add(time.Hour) }},
		{"expires in seconds (proxy mistake)", func(c *fakeClock) string {
			return `{"token":"tok-A","expires":` + strconv.FormatInt(c.Now().Add(time.Hour).Unix(), 10) + `}`
		}, func(c *fakeClock) time.Time { return c.Now().Add(time.Hour) }},
		{"expires missing", func(c *fakeClock) string {
			return `{"token":"tok-A"}`
		}, func(c *fakeClock) time.Time { return c.Now().Add(60 * time.Minute) }},
		{"expires empty string", func(c *fakeClock) string {
			return `{"token":"tok-A","expires":""}`
		}, func(c *fakeClock) time.Time { return c.Now().Add(60 * time.Minute) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ts, mux, clock := tokenServer(t)
			mux.HandleFunc("/generateToken", func(w http.ResponseWriter, r *http.Request) {
				testPOST(t, r, tokenForm)
				writeBody(w, tt.body(clock))
			})
			tok, err := ts.Token(context.Background())
			if err != nil {
				t.Fatalf("Token: %v", err)
			}
			if tok.Value != "tok-A" {
				t.Errorf("Value = %q", tok.Value)
			}
			if want := tt.expires(clock); !tok.Expires.Equal(want) {
				t.Errorf("Expires = %v, want %v", tok.Expires, want)
			}
		})
	}
}

func TestGenerateToken_Errors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		status   int
		body     string
		wantCode int
		wantMsg  string
	}{
		{"admin wrong password (echoes it)", 200,
			`{"status":"error","messages":["Unable to generate token. Invalid username or password for user 'siteadmin' with password '` + testPassword + `'."],"code":400}`,
			400, "Invalid username or password"},
		{"rest invalid credentials", 200,
			`{"error":{"code":401,"message":"You are not authorized to access this information","details":"Invalid credentials"}}`,
			401, "Invalid credentials"},
		{"site not created", 200,
			`{"status":"error","messages":["Local machine 'ARCGIS.INTERNAL.LOCAL' is not participating in any Site. Please create a new Site or join an existing Site."],"code":500}`,
			500, "not participating in any Site"},
		{"client id required", 200,
			`{"error":{"code":201,"message":"Exception in generating token","details":"Exception in generating tokenFailed to generate a token for the user.Client ID is required for long expiration tokens."}}`,
			201, "Client ID is required"},
		{"no token in the answer", 200, `{"status":"success"}`, 0, "no token"},
		{"html page", 200, `<html>login</html>`, 0, "not JSON"},
		{"bare 401", 401, `Unauthorized`, 0, "HTTP 401"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ts, mux, _ := tokenServer(t)
			mux.HandleFunc("/generateToken", func(w http.ResponseWriter, r *http.Request) {
				testPOST(t, r, tokenForm)
				w.WriteHeader(tt.status)
				_, _ = w.Write([]byte(tt.body))
			})
			_, err := ts.Token(context.Background())
			e := asError(t, err)
			if e.Kind != upstream.KindToken || !upstream.IsAuth(err) {
				t.Errorf("Kind = %v, IsAuth = %v; want KindToken, true", e.Kind, upstream.IsAuth(err))
			}
			if e.Code != tt.wantCode {
				t.Errorf("Code = %d, want %d", e.Code, tt.wantCode)
			}
			msg := err.Error()
			if !strings.Contains(msg, tt.wantMsg) {
				t.Errorf("Error() = %q, want it to mention %q", msg, tt.wantMsg)
			}
			for _, s := range []string{msg, fmt.Sprintf("%+v", err), fmt.Sprintf("%#v", e), strings.Join(e.Messages, " ")} {
				if strings.Contains(s, testPassword) {
					t.Errorf("password leaked: %s", s)
				}
			}
		})
	}
}

func TestClient_WithCredentials_GeneratesAndRefreshesOn498(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	c, mux, _ := setup(t, upstream.WithCredentials(testUser, testPassword), upstream.WithClock(clock.Now))
	var gen, calls counter
	mux.HandleFunc("/generateToken", func(w http.ResponseWriter, r *http.Request) {
		testPOST(t, r, tokenForm)
		if ua := r.Header.Get("User-Agent"); ua != "arcgate" {
			t.Errorf("User-Agent = %q", ua)
		}
		n := gen.inc()
		writeBody(w, fmt.Sprintf(`{"token":"gen-%d","expires":"%d"}`, n, clock.Now().Add(time.Hour).UnixMilli()))
	})
	mux.HandleFunc("/services/createFolder", func(w http.ResponseWriter, r *http.Request) {
		n := calls.inc()
		testPOST(t, r, authed(fmt.Sprintf("gen-%d", n), url.Values{"folderName": {"Maps"}, "description": {"d"}}))
		if n == 1 {
			writeBody(w, `{"status":"error","messages":["Token Expired."],"code":498}`)
			return
		}
		writeBody(w, `{"status": "success"}`)
	})
	if err := c.Services.CreateFolder(context.Background(), "Maps", "d"); err != nil {
		t.Fatalf("CreateFolder: %v", err)
	}
	if gen.get() != 2 || calls.get() != 2 {
		t.Errorf("generateToken calls = %d, createFolder calls = %d; want 2, 2", gen.get(), calls.get())
	}
}

func TestClient_WithCredentials_WrongPassword(t *testing.T) {
	t.Parallel()
	c, mux, _ := setup(t, upstream.WithCredentials(testUser, testPassword))
	mux.HandleFunc("/generateToken", func(w http.ResponseWriter, r *http.Request) {
		writeBody(w, `{"status":"error","messages":["Unable to generate token. Invalid username or password."],"code":400}`)
	})
	_, err := c.Services.ListRoot(context.Background())
	e := asError(t, err)
	if e.Kind != upstream.KindToken || e.Code != 400 || !upstream.IsAuth(err) {
		t.Errorf("err = %v (Kind %v, Code %d)", err, e.Kind, e.Code)
	}
	if strings.Contains(err.Error(), testPassword) {
		t.Errorf("password leaked: %v", err)
	}
}

func TestClient_WithCredentials_ScrubsPasswordEverywhere(t *testing.T) {
	t.Parallel()
	c, mux, _ := setup(t, upstream.WithCredentials(testUser, testPassword))
	mux.HandleFunc("/generateToken", func(w http.ResponseWriter, r *http.Request) {
		writeBody(w, `{"token":"a-generated-token","expires":"`+strconv.FormatInt(time.Now().Add(time.Hour).UnixMilli(), 10)+`"}`)
	})
	mux.HandleFunc("/services/A.MapServer", func(w http.ResponseWriter, r *http.Request) {
		writeBody(w, `{"status":"error","messages":["debug: password=`+testPassword+` user pw `+testPassword+` token a-generated-token"],"code":500}`)
	})
	_, err := c.Services.Get(context.Background(), upstream.ServiceRef{Name: "A", Type: "MapServer"})
	e := asError(t, err)
	for _, s := range []string{err.Error(), strings.Join(e.Messages, " "), fmt.Sprintf("%#v", e)} {
		if strings.Contains(s, testPassword) || strings.Contains(s, "a-generated-token") {
			t.Errorf("secret leaked: %s", s)
		}
	}
}

// secretOutputs renders v every way a developer might print or log it.
func secretOutputs(t *testing.T, v any) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%d", "%x", "%T %v"} {
		out[verb] = fmt.Sprintf(verb, v)
	}
	out["struct %+v"] = fmt.Sprintf("%+v", struct{ Inner any }{v})
	out["Sprint"] = fmt.Sprint(v)
	out["Sprintln"] = fmt.Sprintln(v)
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("msg", "secret", v)
	out["slog json"] = buf.String()
	buf.Reset()
	slog.New(slog.NewTextHandler(&buf, nil)).Info("msg", "secret", v)
	out["slog text"] = buf.String()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("json.Marshal: %v", err)
	}
	out["json"] = string(b)
	b, _ = json.Marshal(map[string]any{"nested": v})
	out["json nested"] = string(b)
	return out
}

func TestRedaction(t *testing.T) {
	t.Parallel()
	const secretToken = "tok-SECRET-3c9d0e1f"
	tok := upstream.Token{Value: secretToken, Expires: time.Date(2026, 1, 2, 15, 4, 5, 0, time.UTC)}
	c, err := upstream.New("https://host/arcgis", upstream.WithCredentials(testUser, testPassword))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	fixed, err := upstream.New("https://host/arcgis", upstream.WithServiceIdentity(upstream.TokenIdentity(secretToken)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(fixed.Close)
	creds := upstream.CredentialsIdentity(testUser, testPassword)
	pool := upstream.NewPool(upstream.MinterFunc(func(context.Context, upstream.Identity) (*upstream.Token, error) {
		return &upstream.Token{Value: secretToken}, nil
	}), upstream.PoolConfig{Service: creds})
	t.Cleanup(pool.Close)
	if _, err := pool.Token(context.Background()); err != nil { // the pool now holds the token
		t.Fatal(err)
	}
	minter, err := upstream.NewMinter("https://host/arcgis", nil, upstream.TokenConfig{
		Service: upstream.TokenServicePortal, PortalURL: "https://host/portal"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	cases := map[string]any{
		"Token":                          tok,
		"*Token":                         &tok,
		"credentials":                    upstream.NewCredentialsForTest(testUser, testPassword),
		"client credentials":             upstream.CredentialsOf(c),
		"StaticToken":                    upstream.StaticToken(secretToken),
		"CredentialsIdentity":            creds,
		"*CredentialsIdentity":           &creds,
		"TokenIdentity":                  upstream.TokenIdentity(secretToken),
		"PoolConfig":                     upstream.PoolConfig{Service: creds, Size: 3},
		"Pool holding a token":           pool,
		"PoolStats":                      pool.Stats(),
		"Minter":                         minter,
		"Client":                         c,
		"Client with a fixed token":      fixed,
		"Client pool":                    c.Pool(),
		"ServicesService":                c.Services,
		"struct with Client":             struct{ c *upstream.Client }{c},
		"context with identity (values)": upstream.WithIdentity(context.Background(), creds),
	}
	for name, v := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			for how, s := range secretOutputs(t, v) {
				if strings.Contains(s, secretToken) || strings.Contains(s, testPassword) {
					t.Errorf("%s leaks a secret: %s", how, s)
				}
			}
		})
	}
	if got, want := tok.String(), "Token{REDACTED, expires 2026-01-02T15:04:05Z}"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	if got := fmt.Sprintf("%#v", tok); !strings.Contains(got, "REDACTED") {
		t.Errorf("GoString() = %q", got)
	}
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("msg", "tok", tok)
	if !strings.Contains(buf.String(), `"tok":{"value":"REDACTED","expires":"2026-01-02T15:04:05Z"}`) {
		t.Errorf("slog = %s", buf.String())
	}
	if b, _ := json.Marshal(tok); string(b) != `{"value":"REDACTED","expires":"2026-01-02T15:04:05Z"}` {
		t.Errorf("json = %s", b)
	}
}
