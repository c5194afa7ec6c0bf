package upstream_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/arcgate/arcgate/upstream"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

const (
	// basePath is the site context the test server lives under; the admin
	// API is basePath + "/admin/".
	basePath = "/arcgis"
	// testToken is the operator token used by setupStatic.
	testToken = "static-operator-token-7f3a"
)

// setup starts an httptest server whose admin API is served by the
// returned mux under the non-root base path /arcgis/admin/, and returns a
// client pointed at it (with the server's HTTP client and opts). Requests
// outside the base path, and requests no test handler expects, fail the
// test.
func setup(t *testing.T, opts ...upstream.Option) (*upstream.Client, *http.ServeMux, *httptest.Server) {
	t.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("unexpected request %s %s", r.Method, r.URL.EscapedPath())
		http.Error(w, "unexpected", http.StatusNotImplemented)
	})
	api := http.NewServeMux()
	api.Handle(basePath+"/admin/", http.StripPrefix(basePath+"/admin", mux))
	api.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("request outside the admin base path: %s %s (did a path lose its base?)", r.Method, r.URL.EscapedPath())
		http.Error(w, "outside base path", http.StatusNotImplemented)
	})
	srv := httptest.NewServer(api)
	t.Cleanup(srv.Close)
	all := append([]upstream.Option{upstream.WithHTTPClient(srv.Client())}, opts...)
	c, err := upstream.New(srv.URL+basePath, all...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return c, mux, srv
}

// setupStatic is setup with the static token testToken.
func setupStatic(t *testing.T, opts ...upstream.Option) (*upstream.Client, *http.ServeMux) {
	t.Helper()
	c, mux, _ := setup(t, append([]upstream.Option{upstream.WithTokenSource(upstream.StaticToken(testToken))}, opts...)...)
	return c, mux
}

// writeBody answers like a 10.5.1 server: HTTP 200, text/plain JSON.
func writeBody(w http.ResponseWriter, body string) {
	w.Header().Set("Content-Type", "text/plain;charset=UTF-8")
	_, _ = io.WriteString(w, body)
}

func testMethod(t *testing.T, r *http.Request, want string) {
	t.Helper()
	if r.Method != want {
		t.Errorf("method = %s, want %s", r.Method, want)
	}
}

// testGET checks a GET: method, no body, and exactly the query want (which
// should include f=json and, if authenticated, token: the token may come in
// the X-Esri-Authorization header instead, never in both).
func testGET(t *testing.T, r *http.Request, want url.Values) {
	t.Helper()
	testMethod(t, r, http.MethodGet)
	got := r.URL.Query()
	if h := r.Header.Get("X-Esri-Authorization"); h != "" {
		if got.Has("token") {
			t.Errorf("GET carries the token in the header and in the URL")
		}
		got.Set("token", strings.TrimPrefix(h, "Bearer "))
	}
	if !equalValues(got, want) {
		t.Errorf("query = %v, want %v", redactValues(got), redactValues(want))
	}
}

// testPOST checks a POST: method, form content type, no query string at
// all (never a token in the URL), and exactly the form fields want.
func testPOST(t *testing.T, r *http.Request, want url.Values) {
	t.Helper()
	testMethod(t, r, http.MethodPost)
	if ct := r.Header.Get("Content-Type"); ct != "application/x-www-form-urlencoded" {
		t.Errorf("Content-Type = %q, want application/x-www-form-urlencoded", ct)
	}
	if r.URL.RawQuery != "" {
		t.Errorf("POST URL has a query string %q; parameters and token belong in the body", "REDACTED")
	}
	if err := r.ParseForm(); err != nil {
		t.Fatalf("ParseForm: %v", err)
	}
	if !equalValues(r.PostForm, want) {
		t.Errorf("form = %v, want %v", redactValues(r.PostForm), redactValues(want))
	}
}

func equalValues(a, b url.Values) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if !slices.Equal(v, b[k]) {
			return false
		}
	}
	return true
}

// redactValues hides token and password in test failure messages too.
func redactValues(v url.Values) url.Values {
	out := url.Values{}
	for k, vs := range v {
		if k == "token" || k == "password" {
			out[k] = []string{"<set>"}
			continue
		}
		out[k] = vs
	}
	return out
}

// authed returns vals plus f=json and token=tok.
func authed(tok string, vals url.Values) url.Values {
	out := url.Values{"f": {"json"}}
	if tok != "" {
		out.Set("token", tok)
	}
	for k, v := range vals {
		out[k] = v
	}
	return out
}

// asError extracts an *upstream.Error or fails.
func asError(t *testing.T, err error) *upstream.Error {
	t.Helper()
	var e *upstream.Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T) is not an *upstream.Error", err, err)
	}
	return e
}

// waitForHangUp blocks until the client abandons r (bounded, so that a
// broken test cannot hang httptest.Server.Close).
func waitForHangUp(t *testing.T, r *http.Request) {
	select {
	case <-r.Context().Done():
	case <-time.After(10 * time.Second):
		t.Error("the client never abandoned the request")
	}
}

// fakeClock is a settable clock.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// fakeSource is a TokenSource that hands out tok-1, tok-2, ... and
// records invalidations.
type fakeSource struct {
	mu          sync.Mutex
	n           int
	cur         *upstream.Token
	invalidated []string
}

func (s *fakeSource) Token(context.Context) (*upstream.Token, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cur == nil {
		s.n++
		s.cur = &upstream.Token{Value: fmt.Sprintf("tok-%d", s.n)}
	}
	return s.cur, nil
}

func (s *fakeSource) Invalidate(t *upstream.Token) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.invalidated = append(s.invalidated, t.Value)
	if s.cur == t {
		s.cur = nil
	}
}

// counter counts handler calls.
type counter struct{ n atomic.Int64 }

func (c *counter) inc() int       { return int(c.n.Add(1)) }
func (c *counter) get() int       { return int(c.n.Load()) }
func (c *counter) String() string { return fmt.Sprint(c.get()) }
