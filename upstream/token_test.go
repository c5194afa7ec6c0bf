package upstream_test

import (
	"bytes"
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

// tokenServer starts the test server and returns a generateToken source
// pointed at it with a fake clock, plus the mux.
func tokenServer(t *testing.T) (upstream.TokenSource, *http.ServeMux, *fakeClock) {
	t.Helper()
	_, mux, srv := setup(t)
	clock := newFakeClock()
	ts := upstream.NewGenerateTokenSource(srv.URL+basePath+"/admin/", srv.Client(), testUser, testPassword,
		upstream.WithTokenClock(clock.Now))
	return ts, mux, clock
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

func TestGenerateToken_CachingAndEarlyRefresh(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		lifetime time.Duration
		cached   time.Duration // still cached this long after issue
		refetch  time.Duration // refetched this long after issue
	}{
		{"60 minutes: refresh 1 minute early", time.Hour, 59*time.Minute - time.Second, 59 * time.Minute},
		{"10 minutes: refresh 1 minute early", 10 * time.Minute, 9*time.Minute - time.Second, 9 * time.Minute},
		{"5 minutes: refresh at 90%", 5 * time.Minute, 4*time.Minute + 29*time.Second, 4*time.Minute + 30*time.Second},
		{"20 seconds: refresh at 90%", 20 * time.Second, 17 * time.Second, 18 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ts, mux, clock := tokenServer(t)
			start := clock.Now()
			var calls counter
			mux.HandleFunc("/generateToken", func(w http.ResponseWriter, r *http.Request) {
				n := calls.inc()
				writeBody(w, fmt.Sprintf(`{"token":"tok-%d","expires":"%d"}`, n, clock.Now().Add(tt.lifetime).UnixMilli()))
			})
			ctx := context.Background()
			mustToken(t, ts, "tok-1")
			clock.Advance(tt.cached)
			mustToken(t, ts, "tok-1")
			if calls.get() != 1 {
				t.Fatalf("calls = %d before the refresh point, want 1", calls.get())
			}
			clock.Advance(tt.refetch - tt.cached)
			tok, err := ts.Token(ctx)
			if err != nil || tok.Value != "tok-2" {
				t.Fatalf("Token at +%v = %v, %v; want tok-2", clock.Now().Sub(start), tok, err)
			}
		})
	}
}

func mustToken(t *testing.T, ts upstream.TokenSource, want string) {
	t.Helper()
	tok, err := ts.Token(context.Background())
	if err != nil {
		t.Fatalf("Token: %v", err)
	}
	if tok.Value != want {
		t.Fatalf("Token = %q, want %q", tok.Value, want)
	}
}

func TestGenerateToken_ExpiredTokenIsNotCached(t *testing.T) {
	t.Parallel()
	ts, mux, clock := tokenServer(t)
	var calls counter
	mux.HandleFunc("/generateToken", func(w http.ResponseWriter, r *http.Request) {
		n := calls.inc()
		writeBody(w, fmt.Sprintf(`{"token":"tok-%d","expires":"%d"}`, n, clock.Now().Add(-time.Minute).UnixMilli()))
	})
	mustToken(t, ts, "tok-1")
	mustToken(t, ts, "tok-2")
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

func TestGenerateToken_InvalidAdminURL(t *testing.T) {
	t.Parallel()
	ts := upstream.NewGenerateTokenSource("https://u:"+testPassword+"@host/arcgis/admin/", nil, testUser, testPassword)
	_, err := ts.Token(context.Background())
	if e := asError(t, err); e.Kind != upstream.KindToken {
		t.Errorf("Kind = %v, want KindToken", e.Kind)
	}
	if strings.Contains(err.Error(), testPassword) {
		t.Errorf("password leaked: %v", err)
	}
}

func TestGenerateToken_ConcurrentColdCallersShareOneFetch(t *testing.T) {
	t.Parallel()
	ts, mux, clock := tokenServer(t)
	var calls counter
	mux.HandleFunc("/generateToken", func(w http.ResponseWriter, r *http.Request) {
		calls.inc()
		time.Sleep(50 * time.Millisecond) // let the other callers pile up
		writeBody(w, fmt.Sprintf(`{"token":"tok-shared","expires":"%d"}`, clock.Now().Add(time.Hour).UnixMilli()))
	})
	const n = 100
	var wg sync.WaitGroup
	start := make(chan struct{})
	errs := make(chan error, n)
	for range n {
		wg.Go(func() {
			<-start
			tok, err := ts.Token(context.Background())
			if err == nil && tok.Value != "tok-shared" {
				err = fmt.Errorf("got %q", tok.Value)
			}
			errs <- err
		})
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("Token: %v", err)
		}
	}
	if calls.get() != 1 {
		t.Errorf("generateToken calls = %d, want exactly 1", calls.get())
	}
}

func TestGenerateToken_ConcurrentCallersShareAFailure(t *testing.T) {
	t.Parallel()
	ts, mux, _ := tokenServer(t)
	var calls counter
	mux.HandleFunc("/generateToken", func(w http.ResponseWriter, r *http.Request) {
		calls.inc()
		time.Sleep(30 * time.Millisecond)
		writeBody(w, `{"status":"error","messages":["Unable to generate token."],"code":400}`)
	})
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			if _, err := ts.Token(context.Background()); asError(t, err).Code != 400 {
				t.Errorf("err = %v", err)
			}
		})
	}
	wg.Wait()
	if calls.get() != 1 {
		t.Errorf("generateToken calls = %d, want 1", calls.get())
	}
}

func TestGenerateToken_FailureRateLimitAndRecovery(t *testing.T) {
	t.Parallel()
	ts, mux, clock := tokenServer(t)
	var calls counter
	var fail sync.Mutex // held while generateToken should fail
	failing := true
	mux.HandleFunc("/generateToken", func(w http.ResponseWriter, r *http.Request) {
		calls.inc()
		fail.Lock()
		f := failing
		fail.Unlock()
		if f {
			writeBody(w, `{"status":"error","messages":["Unable to generate token."],"code":400}`)
			return
		}
		writeBody(w, fmt.Sprintf(`{"token":"tok-ok","expires":"%d"}`, clock.Now().Add(time.Hour).UnixMilli()))
	})
	ctx := context.Background()
	_, first := ts.Token(ctx)
	if asError(t, first).Kind != upstream.KindToken {
		t.Fatalf("first = %v", first)
	}
	// Within the same second: the last error, no new attempt.
	for i := range 50 {
		clock.Advance(10 * time.Millisecond)
		if _, err := ts.Token(ctx); err == nil || !upstream.IsAuth(err) {
			t.Fatalf("call %d: err = %v, want the cached failure", i, err)
		}
	}
	if calls.get() != 1 {
		t.Fatalf("calls within 1s = %d, want 1", calls.get())
	}
	// One second after the failure: a new attempt, which fails again.
	clock.Advance(500 * time.Millisecond)
	if _, err := ts.Token(ctx); err == nil {
		t.Fatal("want an error")
	}
	if calls.get() != 2 {
		t.Fatalf("calls after 1s = %d, want 2", calls.get())
	}
	// The upstream recovers; the failure is not cached beyond its second.
	fail.Lock()
	failing = false
	fail.Unlock()
	if _, err := ts.Token(ctx); err == nil {
		t.Fatal("want the cached error within the second")
	}
	clock.Advance(time.Second)
	mustToken(t, ts, "tok-ok")
	if calls.get() != 3 {
		t.Errorf("calls = %d, want 3", calls.get())
	}
}

func TestGenerateToken_InvalidateIsCompareAndSwap(t *testing.T) {
	t.Parallel()
	ts, mux, clock := tokenServer(t)
	var calls counter
	mux.HandleFunc("/generateToken", func(w http.ResponseWriter, r *http.Request) {
		n := calls.inc()
		writeBody(w, fmt.Sprintf(`{"token":"tok-%d","expires":"%d"}`, n, clock.Now().Add(time.Hour).UnixMilli()))
	})
	ctx := context.Background()
	t1, _ := ts.Token(ctx)
	ts.Invalidate(t1)
	t2, _ := ts.Token(ctx)
	if t2.Value != "tok-2" {
		t.Fatalf("after Invalidate: %q, want tok-2", t2.Value)
	}
	ts.Invalidate(t1) // stale: another caller already refreshed
	ts.Invalidate(nil)
	mustToken(t, ts, "tok-2")
	if calls.get() != 2 {
		t.Errorf("calls = %d, want 2", calls.get())
	}
}

func TestGenerateToken_CanceledFetchIsNotAFailure(t *testing.T) {
	t.Parallel()
	ts, mux, clock := tokenServer(t)
	var calls counter
	entered := make(chan struct{}, 1)
	mux.HandleFunc("/generateToken", func(w http.ResponseWriter, r *http.Request) {
		if calls.inc() == 1 {
			// Read the body first: only then does the server notice that
			// the client hung up and cancel r.Context().
			_ = r.ParseForm()
			entered <- struct{}{}
			waitForHangUp(t, r)
			return
		}
		writeBody(w, fmt.Sprintf(`{"token":"tok-late","expires":"%d"}`, clock.Now().Add(time.Hour).UnixMilli()))
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := ts.Token(ctx)
		done <- err
	}()
	// A second caller waits for the first one's fetch.
	waiter := make(chan error, 1)
	<-entered
	go func() {
		tok, err := ts.Token(context.Background())
		if err == nil && tok.Value != "tok-late" {
			err = fmt.Errorf("got %q", tok.Value)
		}
		waiter <- err
	}()
	cancel()
	err := <-done
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("canceled caller: err = %v, want context.Canceled", err)
	}
	if upstream.IsAuth(err) {
		t.Errorf("a canceled fetch must not look like an auth failure: %v", err)
	}
	// The waiter takes over the fetch instead of inheriting the
	// cancellation, and no failure was recorded for the next second.
	if err := <-waiter; err != nil {
		t.Fatalf("waiter: %v", err)
	}
	mustToken(t, ts, "tok-late")
}

func TestGenerateToken_WaiterContextCanceled(t *testing.T) {
	t.Parallel()
	ts, mux, clock := tokenServer(t)
	release := make(chan struct{})
	entered := make(chan struct{})
	mux.HandleFunc("/generateToken", func(w http.ResponseWriter, r *http.Request) {
		close(entered)
		<-release
		writeBody(w, fmt.Sprintf(`{"token":"tok-1","expires":"%d"}`, clock.Now().Add(time.Hour).UnixMilli()))
	})
	leader := make(chan error, 1)
	go func() {
		_, err := ts.Token(context.Background())
		leader <- err
	}()
	<-entered
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := ts.Token(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("waiter err = %v, want DeadlineExceeded", err)
	}
	close(release)
	if err := <-leader; err != nil {
		t.Fatalf("leader: %v", err)
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
	cases := map[string]any{
		"Token":                  tok,
		"*Token":                 &tok,
		"credentials":            upstream.NewCredentialsForTest(testUser, testPassword),
		"client credentials":     upstream.CredentialsOf(c),
		"StaticToken":            upstream.StaticToken(secretToken),
		"NewGenerateTokenSource": upstream.NewGenerateTokenSource("https://host/arcgis/admin/", nil, testUser, testPassword),
		"Client":                 c,
		"ServicesService":        c.Services,
		"struct with Client":     struct{ c *upstream.Client }{c},
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
