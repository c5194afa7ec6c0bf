package simulator_test

import (
	"bytes"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/arcgate/arcgate/simulator"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// fakeClock is a settable clock for Config.Clock.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// env is a simulator behind a real HTTP server.
type env struct {
	t      *testing.T
	sim    *simulator.Server
	ts     *httptest.Server
	client *http.Client
	clock  *fakeClock
}

// newEnv starts a simulator with cfg (its Clock is replaced by a fake clock
// unless set) behind an httptest server.
func newEnv(t *testing.T, cfg simulator.Config) *env {
	t.Helper()
	clock := newFakeClock()
	if cfg.Clock == nil {
		cfg.Clock = clock.Now
	}
	sim := simulator.New(cfg)
	ts := httptest.NewServer(sim)
	t.Cleanup(ts.Close)
	client := *ts.Client()
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &env{t: t, sim: sim, ts: ts, client: &client, clock: clock}
}

// adminURL returns the absolute URL of a path relative to the admin root.
func (e *env) adminURL(rel string) string {
	return e.ts.URL + e.sim.AdminPath() + rel
}

// response is a raw HTTP answer.
type response struct {
	status int
	header http.Header
	body   []byte
}

// contentType returns the Content-Type header.
func (r response) contentType() string { return r.header.Get("Content-Type") }

// object decodes the body as a JSON object, failing the test otherwise.
func (r response) object(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	dec := json.NewDecoder(bytes.NewReader(r.body))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil {
		t.Fatalf("body is not a JSON object: %v\n%s", err, r.body)
	}
	return m
}

// do sends req and reads the whole answer.
func (e *env) do(req *http.Request) response {
	e.t.Helper()
	res, err := e.client.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		e.t.Fatalf("read body: %v", err)
	}
	return response{status: res.StatusCode, header: res.Header, body: body}
}

// get sends GET <admin>/<rel>?<q>.
func (e *env) get(rel string, q url.Values, hdr ...string) response {
	e.t.Helper()
	u := e.adminURL(rel)
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	setHeaders(req, hdr)
	return e.do(req)
}

// post sends an url-encoded POST to <admin>/<rel>.
func (e *env) post(rel string, form url.Values, hdr ...string) response {
	e.t.Helper()
	return e.postURL(e.adminURL(rel), form, hdr...)
}

// postURL sends an url-encoded POST to an absolute URL.
func (e *env) postURL(u string, form url.Values, hdr ...string) response {
	e.t.Helper()
	req, err := http.NewRequest(http.MethodPost, u, strings.NewReader(form.Encode()))
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	setHeaders(req, hdr)
	return e.do(req)
}

// postMultipart sends a multipart/form-data POST to <admin>/<rel>.
func (e *env) postMultipart(rel string, fields url.Values) response {
	e.t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for k, vs := range fields {
		for _, v := range vs {
			if err := mw.WriteField(k, v); err != nil {
				e.t.Fatal(err)
			}
		}
	}
	if err := mw.Close(); err != nil {
		e.t.Fatal(err)
	}
	req, err := http.NewRequest(http.MethodPost, e.adminURL(rel), &buf)
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Content-Type", mw.FormDataContentType())
	return e.do(req)
}

// setHeaders applies name/value pairs.
func setHeaders(req *http.Request, hdr []string) {
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
}

// authed returns f=json plus a valid token and the extra pairs.
func (e *env) authed(pairs ...string) url.Values {
	v := url.Values{"f": {"json"}, "token": {e.sim.IssueToken(time.Hour)}}
	for i := 0; i+1 < len(pairs); i += 2 {
		v.Add(pairs[i], pairs[i+1])
	}
	return v
}

// getJSON GETs with a valid token and f=json and decodes the object.
func (e *env) getJSON(rel string, pairs ...string) map[string]any {
	e.t.Helper()
	r := e.get(rel, e.authed(pairs...))
	checkJSONWire(e.t, r)
	return r.object(e.t)
}

// postJSON POSTs with a valid token and f=json and decodes the object.
func (e *env) postJSON(rel string, pairs ...string) map[string]any {
	e.t.Helper()
	r := e.post(rel, e.authed(pairs...))
	checkJSONWire(e.t, r)
	return r.object(e.t)
}

// checkJSONWire asserts the JSON wire conventions: HTTP 200 and text/plain.
func checkJSONWire(t *testing.T, r response) {
	t.Helper()
	if r.status != http.StatusOK {
		t.Fatalf("HTTP status = %d, want 200; body %s", r.status, r.body)
	}
	if ct := r.contentType(); ct != "text/plain;charset=UTF-8" {
		t.Fatalf("Content-Type = %q, want text/plain;charset=UTF-8", ct)
	}
	if !json.Valid(r.body) {
		t.Fatalf("body is not valid JSON: %s", r.body)
	}
}

// wantError asserts an admin error envelope with one message.
func wantError(t *testing.T, m map[string]any, code int, msg string) {
	t.Helper()
	want := map[string]any{"status": "error", "messages": []any{msg}, "code": json.Number(itoa(code))}
	if !reflect.DeepEqual(m, want) {
		t.Fatalf("got %v\nwant %v", m, want)
	}
}

// wantSuccess asserts {"status":"success"}.
func wantSuccess(t *testing.T, m map[string]any) {
	t.Helper()
	if !reflect.DeepEqual(m, map[string]any{"status": "success"}) {
		t.Fatalf("got %v, want success", m)
	}
}

// wantCode asserts an admin error envelope with the given code.
func wantCode(t *testing.T, m map[string]any, code int) {
	t.Helper()
	if m["status"] != "error" || m["code"] != json.Number(itoa(code)) {
		t.Fatalf("got %v, want error code %d", m, code)
	}
}

func itoa(i int) string {
	b, _ := json.Marshal(i)
	return string(b)
}

// objectOrNil decodes the body as a JSON object or returns nil.
func (r response) objectOrNil() map[string]any {
	var m map[string]any
	if json.Unmarshal(r.body, &m) != nil {
		return nil
	}
	return m
}
