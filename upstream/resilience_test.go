package upstream_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/arcgate/arcgate/upstream"
)

// answer is what a scripted handler does on one attempt.
type answer func(w http.ResponseWriter, r *http.Request)

func status(code int, headers ...string) answer {
	return func(w http.ResponseWriter, r *http.Request) {
		for i := 0; i+1 < len(headers); i += 2 {
			w.Header().Set(headers[i], headers[i+1])
		}
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(code)
		_, _ = w.Write([]byte("<html><body>" + strconv.Itoa(code) + "</body></html>"))
	}
}

func body(s string) answer {
	return func(w http.ResponseWriter, r *http.Request) { writeBody(w, s) }
}

// resetMidBody promises a long body, sends part of it and closes the
// connection.
func resetMidBody(w http.ResponseWriter, r *http.Request) {
	conn, rw, err := w.(http.Hijacker).Hijack()
	if err != nil {
		panic(err)
	}
	_, _ = rw.WriteString("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 100\r\n\r\n{\"currentVersion\":")
	_ = rw.Flush()
	_ = conn.Close()
}

// refuse closes the connection without answering.
func refuse(w http.ResponseWriter, r *http.Request) {
	conn, _, err := w.(http.Hijacker).Hijack()
	if err != nil {
		panic(err)
	}
	_ = conn.Close()
}

const siteRoot = `{"resources":["services"],"currentVersion":11.3,"fullVersion":"11.3"}`

// script serves answers[i] to the i-th request (the last one again after
// the end) and counts the requests.
type script struct {
	mu      sync.Mutex
	answers []answer
	n       int
}

func (s *script) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	a := s.answers[min(s.n, len(s.answers)-1)]
	s.n++
	s.mu.Unlock()
	a(w, r)
}

func (s *script) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.n
}

// waits records the waits between retries instead of sleeping.
type waits struct {
	mu sync.Mutex
	d  []time.Duration
}

func (w *waits) sleep(ctx context.Context, d time.Duration) error {
	w.mu.Lock()
	w.d = append(w.d, d)
	w.mu.Unlock()
	return ctx.Err()
}

func (w *waits) get() []time.Duration {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]time.Duration(nil), w.d...)
}

// setupResilient is setupStatic with WithResilience(cfg) on a transport
// without keep-alives (so that net/http never replays a request on a
// reused connection and every attempt reaches the handler once), with the
// retry waits recorded instead of slept.
func setupResilient(t *testing.T, cfg upstream.ResilienceConfig, opts ...upstream.Option) (*upstream.Client, *http.ServeMux, *waits) {
	t.Helper()
	tr := &http.Transport{DisableKeepAlives: true}
	t.Cleanup(tr.CloseIdleConnections)
	all := append([]upstream.Option{upstream.WithHTTPClient(&http.Client{Transport: tr}), upstream.WithResilience(cfg)}, opts...)
	c, mux := setupStatic(t, all...)
	w := &waits{}
	upstream.SetRetrySleep(c, w.sleep)
	return c, mux, w
}

func TestResilience_ReadRetries(t *testing.T) {
	for _, tc := range []struct {
		name     string
		answers  []answer
		attempts int
		kind     upstream.Kind // 0: success
	}{
		{"ok", []answer{body(siteRoot)}, 1, 0},
		{"503 then ok", []answer{status(503), body(siteRoot)}, 2, 0},
		{"502, 504, ok", []answer{status(502), status(504), body(siteRoot)}, 3, 0},
		{"503 three times", []answer{status(503)}, 3, upstream.KindHTTP},
		{"429 then ok", []answer{status(429), body(siteRoot)}, 2, 0},
		{"connection refused three times", []answer{refuse}, 3, upstream.KindTransport},
		{"reset mid-body then ok", []answer{resetMidBody, body(siteRoot)}, 2, 0},
		{"reset mid-body three times", []answer{resetMidBody}, 3, upstream.KindTransport},
		{"truncated JSON then ok", []answer{body(siteRoot[:20]), body(siteRoot)}, 2, 0},
		{"truncated JSON three times", []answer{body(siteRoot[:20])}, 3, upstream.KindDecode},
		{"truncated array", []answer{body(`[{"a":1}`), body(siteRoot)}, 2, 0},
		// The transport looks at a body's ends only: a cut right after an
		// inner closing bracket is left to the client's decoding.
		{"cut after an inner bracket", []answer{body(`{"resources":["a"],"x":{"b":1}`), body(siteRoot)}, 1, upstream.KindDecode},
		// Not worth retrying: the upstream answered, and would again.
		{"500 page", []answer{status(500), body(siteRoot)}, 1, upstream.KindHTTP},
		{"501", []answer{status(501), body(siteRoot)}, 1, upstream.KindHTTP},
		{"404", []answer{status(404), body(siteRoot)}, 1, upstream.KindHTTP},
		{"HTML with 200", []answer{body("<html><body>Could not access any server machines.</body></html>"), body(siteRoot)}, 1, upstream.KindDecode},
		{"error envelope code 500", []answer{body(`{"status":"error","messages":["java.lang.NullPointerException"],"code":500}`), body(siteRoot)}, 1, upstream.KindAPI},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, mux, _ := setupResilient(t, upstream.ResilienceConfig{BreakerThreshold: -1})
			s := &script{answers: tc.answers}
			mux.Handle("/{$}", s)
			_, err := c.SiteInfo(context.Background())
			if tc.kind == 0 && err != nil {
				t.Fatalf("SiteInfo: %v", err)
			}
			if tc.kind != 0 && asError(t, err).Kind != tc.kind {
				t.Fatalf("error %v, want kind %v", err, tc.kind)
			}
			if got := s.count(); got != tc.attempts {
				t.Fatalf("%d attempts, want %d", got, tc.attempts)
			}
		})
	}
}

func TestResilience_WritesNeverRetried(t *testing.T) {
	for _, tc := range []struct {
		name string
		a    answer
	}{
		{"503", status(503)},
		{"502", status(502)},
		{"refused", refuse},
		{"reset mid-body", resetMidBody},
		{"truncated JSON", body(`{"status":"succ`)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, mux, _ := setupResilient(t, upstream.ResilienceConfig{BreakerThreshold: -1})
			s := &script{answers: []answer{tc.a, body(`{"status":"success"}`)}}
			mux.Handle("/services/A.MapServer/start", s)
			if err := c.Services.Start(context.Background(), upstream.ServiceRef{Name: "A", Type: "MapServer"}); err == nil {
				t.Fatal("Start succeeded")
			}
			if got := s.count(); got != 1 {
				t.Fatalf("%d attempts of a write, want 1", got)
			}
		})
	}
}

func TestResilience_PostReadRetried(t *testing.T) {
	c, mux, _ := setupResilient(t, upstream.ResilienceConfig{BreakerThreshold: -1})
	var forms []url.Values
	var mu sync.Mutex
	s := &script{answers: []answer{status(503), body(`{"roles":[],"hasMore":false}`)}}
	mux.HandleFunc("/security/roles/getRoles", func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil {
			t.Error(err)
		}
		mu.Lock()
		forms = append(forms, r.PostForm)
		mu.Unlock()
		s.ServeHTTP(w, r)
	})
	var v map[string]any
	form := url.Values{"startIndex": {"0"}, "pageSize": {"10"}}
	if err := upstream.PostRead(context.Background(), c, "roles.getRoles", "security/roles/getRoles", form, &v); err != nil {
		t.Fatal(err)
	}
	if s.count() != 2 {
		t.Fatalf("%d attempts, want 2", s.count())
	}
	// The retry sent the same body again.
	want := authed(testToken, form)
	for i, f := range forms {
		if !equalValues(f, want) {
			t.Errorf("attempt %d form = %v, want %v", i+1, redactValues(f), redactValues(want))
		}
	}
}

func TestResilience_RetryAfter(t *testing.T) {
	clock := newFakeClock()
	for _, tc := range []struct {
		name       string
		retryAfter string
		cap        time.Duration
		want       time.Duration
	}{
		{"seconds", "2", 0, 2 * time.Second},
		{"capped", "3600", time.Second, time.Second},
		{"HTTP date", clock.Now().Add(3 * time.Second).UTC().Format(http.TimeFormat), 0, 3 * time.Second},
		{"date in the past", clock.Now().Add(-time.Hour).UTC().Format(http.TimeFormat), 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, mux, w := setupResilient(t, upstream.ResilienceConfig{MaxRetryAfter: tc.cap, BreakerThreshold: -1}, upstream.WithClock(clock.Now))
			s := &script{answers: []answer{status(503, "Retry-After", tc.retryAfter), body(siteRoot)}}
			mux.Handle("/{$}", s)
			if _, err := c.SiteInfo(context.Background()); err != nil {
				t.Fatal(err)
			}
			if got := w.get(); len(got) != 1 || got[0] != tc.want {
				t.Fatalf("waits %v, want [%v]", got, tc.want)
			}
		})
	}
}

func TestResilience_BackoffStaysWithinBounds(t *testing.T) {
	c, mux, w := setupResilient(t, upstream.ResilienceConfig{InitialBackoff: 100 * time.Millisecond, MaxBackoff: 150 * time.Millisecond, BreakerThreshold: -1})
	mux.Handle("/{$}", &script{answers: []answer{status(503)}})
	_, _ = c.SiteInfo(context.Background())
	got := w.get()
	if len(got) != 2 {
		t.Fatalf("waits %v, want 2", got)
	}
	for i, max := range []time.Duration{100 * time.Millisecond, 150 * time.Millisecond} {
		if got[i] < 0 || got[i] > max {
			t.Errorf("wait %d = %v, want within [0, %v]", i+1, got[i], max)
		}
	}
}

func TestResilience_NoRetryPastDeadline(t *testing.T) {
	c, mux, w := setupResilient(t, upstream.ResilienceConfig{MaxRetryAfter: time.Hour, BreakerThreshold: -1})
	s := &script{answers: []answer{status(503, "Retry-After", "600"), body(siteRoot)}}
	mux.Handle("/{$}", s)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, err := c.SiteInfo(ctx)
	if e := asError(t, err); e.Kind != upstream.KindHTTP || e.HTTPStatus != 503 {
		t.Fatalf("error %v, want the 503", err)
	}
	if s.count() != 1 || len(w.get()) != 0 {
		t.Fatalf("%d attempts, waits %v: a retry that cannot finish before the deadline must not start", s.count(), w.get())
	}
}

func TestResilience_RetryBudget(t *testing.T) {
	// Budget: max(1, 1% of in-flight) = 1 retry at a time. The first read's
	// retry holds it (its wait blocks); the second read gets no retry.
	c, mux, _ := setupResilient(t, upstream.ResilienceConfig{RetryBudgetPercent: 1, MinRetryConcurrency: 1, BreakerThreshold: -1})
	holding, release := make(chan struct{}), make(chan struct{})
	upstream.SetRetrySleep(c, func(ctx context.Context, d time.Duration) error {
		close(holding)
		<-release
		return nil
	})
	first := &script{answers: []answer{status(503), body(siteRoot)}}
	second := &script{answers: []answer{status(503), body(siteRoot)}}
	mux.Handle("/services/A.MapServer/status", first)
	mux.Handle("/services/B.MapServer/status", second)
	done := make(chan error, 1)
	go func() {
		_, err := c.Services.Status(context.Background(), upstream.ServiceRef{Name: "A", Type: "MapServer"})
		done <- err
	}()
	<-holding
	_, err := c.Services.Status(context.Background(), upstream.ServiceRef{Name: "B", Type: "MapServer"})
	if e := asError(t, err); e.HTTPStatus != 503 || second.count() != 1 {
		t.Fatalf("second read: %v after %d attempts, want its 503 after 1 (budget spent)", err, second.count())
	}
	close(release)
	if err := <-done; err != nil || first.count() != 2 {
		t.Fatalf("first read: %v after %d attempts, want success after 2", err, first.count())
	}
}

func TestResilience_ConcurrencyCap(t *testing.T) {
	c, mux, _ := setupResilient(t, upstream.ResilienceConfig{MaxConcurrent: 1, BreakerThreshold: -1})
	inside, release := make(chan struct{}), make(chan struct{})
	mux.HandleFunc("/services/A.MapServer/status", func(w http.ResponseWriter, r *http.Request) {
		close(inside)
		<-release
		writeBody(w, `{"configuredState":"STARTED","realTimeState":"STARTED"}`)
	})
	second := &script{answers: []answer{body(`{"configuredState":"STARTED","realTimeState":"STARTED"}`)}}
	mux.Handle("/services/B.MapServer/status", second)
	done := make(chan error, 1)
	go func() {
		_, err := c.Services.Status(context.Background(), upstream.ServiceRef{Name: "A", Type: "MapServer"})
		done <- err
	}()
	<-inside
	if h := c.Health(); h.InFlight != 1 {
		t.Errorf("Health().InFlight = %d, want 1", h.InFlight)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	_, err := c.Services.Status(ctx, upstream.ServiceRef{Name: "B", Type: "MapServer"})
	if !errors.Is(err, context.DeadlineExceeded) || second.count() != 0 {
		t.Fatalf("second read: %v, %d requests sent; want the deadline while waiting for a slot, none sent", err, second.count())
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	// The slot is free again.
	if _, err := c.Services.Status(context.Background(), upstream.ServiceRef{Name: "B", Type: "MapServer"}); err != nil || second.count() != 1 {
		t.Fatalf("after the first read: %v, %d requests", err, second.count())
	}
}

func TestResilience_Breaker(t *testing.T) {
	clock := newFakeClock()
	var (
		mu     sync.Mutex
		states []upstream.BreakerState
	)
	cfg := upstream.ResilienceConfig{BreakerThreshold: 2, BreakerInitialCooldown: time.Hour, BreakerCooldown: time.Hour, OnStateChange: func(s upstream.BreakerState) {
		mu.Lock()
		states = append(states, s)
		mu.Unlock()
	}}
	c, mux, _ := setupResilient(t, cfg, upstream.WithClock(clock.Now))
	ref := upstream.ServiceRef{Name: "A", Type: "MapServer"}
	s := &script{answers: []answer{status(500), status(503), body(`{"status":"success"}`)}}
	mux.Handle("/services/A.MapServer/start", s)
	start := func() error { return c.Services.Start(context.Background(), ref) }

	_ = start()
	if h := c.Health(); h.Breaker != upstream.BreakerClosed || h.ConsecutiveFailures != 1 {
		t.Fatalf("after one failure: %+v", h)
	}
	_ = start()
	h := c.Health()
	if h.Breaker != upstream.BreakerOpen || h.RetryAfter != time.Hour {
		t.Fatalf("after two failures: %+v, want open for an hour", h)
	}
	// Open: fail fast, nothing sent.
	err := start()
	if wait, ok := upstream.IsCircuitOpen(err); !ok || wait != time.Hour || !errors.Is(err, upstream.ErrCircuitOpen) {
		t.Fatalf("while open: %v", err)
	}
	if e := asError(t, err); e.Kind != upstream.KindTransport {
		t.Fatalf("kind %v, want transport", e.Kind)
	}
	if s.count() != 2 {
		t.Fatalf("%d requests sent, want 2 (the open breaker sends none)", s.count())
	}
	// After the cool-down one probe goes through; its success closes it.
	clock.Advance(time.Hour)
	if h := c.Health(); h.Breaker != upstream.BreakerHalfOpen {
		t.Fatalf("after the cool-down: %+v", h)
	}
	if err := start(); err != nil {
		t.Fatalf("probe: %v", err)
	}
	if h := c.Health(); h.Breaker != upstream.BreakerClosed || h.ConsecutiveFailures != 0 {
		t.Fatalf("after the probe: %+v", h)
	}
	mu.Lock()
	defer mu.Unlock()
	want := []upstream.BreakerState{upstream.BreakerOpen, upstream.BreakerHalfOpen, upstream.BreakerClosed}
	if len(states) != len(want) {
		t.Fatalf("OnStateChange got %v, want %v", states, want)
	}
	for i := range want {
		if states[i] != want[i] {
			t.Fatalf("OnStateChange got %v, want %v", states, want)
		}
	}
}

// TestResilience_BreakerBackoff follows the breaker's open periods on the
// injected clock: the first lasts BreakerInitialCooldown (1 s by default),
// each failed probe doubles it up to BreakerCooldown, a successful probe
// closes the breaker and the next opening starts over.
func TestResilience_BreakerBackoff(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  upstream.ResilienceConfig
		// periods are the open periods expected after the opening failure
		// and after each failed probe.
		periods []time.Duration
	}{
		{"defaults", upstream.ResilienceConfig{},
			[]time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 16 * time.Second, 30 * time.Second, 30 * time.Second}},
		{"BreakerCooldown caps", upstream.ResilienceConfig{BreakerCooldown: 5 * time.Second},
			[]time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 5 * time.Second, 5 * time.Second}},
		{"own initial period", upstream.ResilienceConfig{BreakerInitialCooldown: 250 * time.Millisecond, BreakerCooldown: time.Second},
			[]time.Duration{250 * time.Millisecond, 500 * time.Millisecond, time.Second, time.Second}},
		{"initial above the cap", upstream.ResilienceConfig{BreakerInitialCooldown: time.Minute, BreakerCooldown: 3 * time.Second},
			[]time.Duration{3 * time.Second, 3 * time.Second}},
		{"fixed period", upstream.ResilienceConfig{BreakerInitialCooldown: time.Minute, BreakerCooldown: time.Minute},
			[]time.Duration{time.Minute, time.Minute}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clock := newFakeClock()
			cfg := tc.cfg
			cfg.BreakerThreshold, cfg.MaxAttempts = 1, 1
			c, mux, _ := setupResilient(t, cfg, upstream.WithClock(clock.Now))
			var (
				mu   sync.Mutex
				up   bool
				sent int
			)
			mux.HandleFunc("/{$}", func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				ok := up
				sent++
				mu.Unlock()
				if ok {
					writeBody(w, siteRoot)
				} else {
					status(502)(w, r)
				}
			})
			requests := func() int { mu.Lock(); defer mu.Unlock(); return sent }
			read := func() error { _, err := c.SiteInfo(context.Background()); return err }
			wantOpen := func(step string, period time.Duration) {
				t.Helper()
				if h := c.Health(); h.Breaker != upstream.BreakerOpen || h.RetryAfter != period {
					t.Fatalf("%s: %+v, want open for %s", step, h, period)
				}
			}

			_ = read() // opens the breaker
			for n, period := range tc.periods {
				step := fmt.Sprintf("open period %d", n+1)
				wantOpen(step, period)
				// Just before the period ends nothing is sent.
				clock.Advance(period - time.Millisecond)
				before := requests()
				if wait, open := upstream.IsCircuitOpen(read()); !open || wait != time.Millisecond || requests() != before {
					t.Fatalf("%s, 1 ms before its end: open %v, wait %s, %d requests sent", step, open, wait, requests()-before)
				}
				// When it ends one probe is sent; it fails.
				clock.Advance(time.Millisecond)
				if h := c.Health(); h.Breaker != upstream.BreakerHalfOpen {
					t.Fatalf("%s ended: %+v, want half-open", step, h)
				}
				if err := read(); err == nil || requests() != before+1 {
					t.Fatalf("%s ended: probe %v, %d requests sent", step, err, requests()-before)
				} else if _, open := upstream.IsCircuitOpen(err); open {
					t.Fatalf("%s ended: the probe was refused: %v", step, err)
				}
			}
			// The upstream is back: the next probe closes the breaker.
			last := tc.periods[len(tc.periods)-1]
			wantOpen("after the last failed probe", last)
			mu.Lock()
			up = true
			mu.Unlock()
			clock.Advance(last)
			if err := read(); err != nil {
				t.Fatalf("probe to a healthy upstream: %v", err)
			}
			if h := c.Health(); h.Breaker != upstream.BreakerClosed || h.ConsecutiveFailures != 0 {
				t.Fatalf("after a successful probe: %+v", h)
			}
			// The next opening starts over at the first period.
			mu.Lock()
			up = false
			mu.Unlock()
			_ = read()
			wantOpen("opened again", tc.periods[0])
		})
	}
}

// TestResilience_BreakerOneProbe: while a half-open probe is in flight,
// other requests are refused without being sent.
func TestResilience_BreakerOneProbe(t *testing.T) {
	clock := newFakeClock()
	c, mux, _ := setupResilient(t, upstream.ResilienceConfig{BreakerThreshold: 1, MaxAttempts: 1}, upstream.WithClock(clock.Now))
	arrived, release := make(chan struct{}), make(chan struct{})
	s := &script{answers: []answer{status(502), func(w http.ResponseWriter, r *http.Request) {
		close(arrived)
		<-release
		writeBody(w, siteRoot)
	}}}
	mux.Handle("/{$}", s)
	_, _ = c.SiteInfo(context.Background()) // opens the breaker
	clock.Advance(upstream.DefaultBreakerInitialCooldown)
	done := make(chan error, 1)
	go func() { _, err := c.SiteInfo(context.Background()); done <- err }()
	select {
	case <-arrived:
	case err := <-done:
		t.Fatalf("no probe was sent when the first open period ended: %v", err)
	}
	// Another request (not the same read, which would join the probe's).
	other := &script{answers: []answer{body(`{"status":"success"}`)}}
	mux.Handle("/services/A.MapServer/start", other)
	wait, open := upstream.IsCircuitOpen(c.Services.Start(context.Background(), upstream.ServiceRef{Name: "A", Type: "MapServer"}))
	close(release)
	if err := <-done; err != nil {
		t.Fatalf("probe: %v", err)
	}
	if !open || wait != 0 || s.count() != 2 || other.count() != 0 {
		t.Fatalf("second request during the probe: open %v, wait %s; %d requests sent", open, wait, s.count()+other.count())
	}
	if h := c.Health(); h.Breaker != upstream.BreakerClosed {
		t.Fatalf("after the probe: %+v", h)
	}
}

func TestResilience_BreakerIgnoresAnsweredErrors(t *testing.T) {
	c, mux, _ := setupResilient(t, upstream.ResilienceConfig{BreakerThreshold: 1, MaxAttempts: 1})
	mux.Handle("/{$}", &script{answers: []answer{
		body(`{"status":"error","messages":["Could not find resource or operation 'x' on the system."],"code":404}`),
		status(404), status(429),
	}})
	for range 3 {
		_, _ = c.SiteInfo(context.Background())
	}
	if h := c.Health(); h.Breaker != upstream.BreakerClosed {
		t.Fatalf("envelopes and 4xx opened the breaker: %+v", h)
	}
}

func TestResilience_Config(t *testing.T) {
	for _, cfg := range []upstream.ResilienceConfig{
		{MaxAttempts: 4},
		{MaxAttempts: -1},
		{InitialBackoff: -time.Second},
		{BreakerInitialCooldown: -time.Second},
		{RetryBudgetPercent: 101},
	} {
		if _, err := upstream.New("http://127.0.0.1/arcgis", upstream.WithResilience(cfg)); err == nil {
			t.Errorf("WithResilience(%+v) accepted", cfg)
		}
	}
	c, err := upstream.New("http://127.0.0.1/arcgis")
	if err != nil {
		t.Fatal(err)
	}
	if h := c.Health(); h != (upstream.Health{}) {
		t.Errorf("Health without resilience = %+v", h)
	}
}

func TestTLS_VerifiedWithRootCAs(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { writeBody(w, siteRoot) }))
	defer srv.Close()

	// The system roots do not know the test server's certificate.
	c, err := upstream.New(srv.URL+"/arcgis", upstream.WithTokenSource(upstream.StaticToken(testToken)))
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.SiteInfo(context.Background())
	var unknown x509.UnknownAuthorityError
	if !errors.As(err, &unknown) {
		t.Fatalf("unverified certificate accepted or wrong error: %v", err)
	}

	// WithRootCAs trusts it; LoadRootCAs adds a PEM file to the system roots.
	file := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(file, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	pool, err := upstream.LoadRootCAs(file)
	if err != nil {
		t.Fatal(err)
	}
	c, err = upstream.New(srv.URL+"/arcgis", upstream.WithRootCAs(pool), upstream.WithTokenSource(upstream.StaticToken(testToken)), upstream.WithResilience(upstream.ResilienceConfig{}))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.SiteInfo(context.Background()); err != nil {
		t.Fatalf("with the CA: %v", err)
	}
	srv.CloseClientConnections()
}

func TestTLS_NoWayToSkipVerification(t *testing.T) {
	// A transport that skips verification, as a caller might build one: New
	// must refuse it.
	insecure := &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}} // #nosec G402 -- refused by New
	if _, err := upstream.New("https://127.0.0.1/arcgis", upstream.WithHTTPClient(&http.Client{Transport: insecure})); err == nil {
		t.Fatal("New accepted a transport that skips certificate verification")
	}
	if _, err := upstream.New("https://127.0.0.1/arcgis", upstream.WithRootCAs(x509.NewCertPool()), upstream.WithHTTPClient(&http.Client{})); err == nil {
		t.Fatal("WithRootCAs combined with WithHTTPClient")
	}
	if _, err := upstream.LoadRootCAs(filepath.Join(t.TempDir(), "missing.pem")); err == nil {
		t.Fatal("LoadRootCAs of a missing file")
	}
	empty := filepath.Join(t.TempDir(), "empty.pem")
	if err := os.WriteFile(empty, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := upstream.LoadRootCAs(empty); err == nil {
		t.Fatal("LoadRootCAs of a file without certificates")
	}
}

func FuzzParseRetryAfter(f *testing.F) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	for _, s := range []string{"0", "2", "120", "-1", "1.5", "", " 3 ", "99999999999999999999",
		"Sun, 01 Mar 2026 12:00:05 GMT", "Sunday, 01-Mar-26 12:00:05 GMT", "Sun Mar  1 12:00:05 2026", "soon"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		d, ok := upstream.ParseRetryAfter(v, now)
		if !ok && d != 0 {
			t.Fatalf("%q: rejected with %v", v, d)
		}
		if d < 0 || d > 24*time.Hour {
			t.Fatalf("%q: wait %v out of [0, 24h]", v, d)
		}
	})
}

// A body the resilient transport read and checked whole is not checked
// again, and decodes as it does without that transport.
func TestResilientBodiesDecodeAsWithout(t *testing.T) {
	for _, body := range []string{
		`{"configuredState":"STARTED","realTimeState":"STOPPED"}`,
		"\n " + `{"configuredState":"STARTED","realTimeState":"STOPPED"}` + " \n",
		`{"status":"error","code":404,"messages":["Service not found."]}`,
		`{"configuredState":7}`,
		`[1,2]`,
		`null`,
		`<html>proxy error</html>`,
		`{"configuredState":"STARTED",}`,
	} {
		ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			_, _ = w.Write([]byte(body))
		}))
		var got [2]string
		for i, opts := range [][]upstream.Option{
			{upstream.WithResilience(upstream.ResilienceConfig{MaxAttempts: 1, BreakerThreshold: -1})},
			nil,
		} {
			c, err := upstream.New(ts.URL+"/arcgis", append(opts, upstream.WithTokenSource(upstream.StaticToken("t")), upstream.WithoutCoalescing())...)
			if err != nil {
				t.Fatal(err)
			}
			st, err := c.Services.Status(context.Background(), upstream.ServiceRef{Name: "A", Type: "MapServer"})
			got[i] = fmt.Sprintf("%+v %v", st, err)
			// The coalesced path (shared body) too.
			c2, _ := upstream.New(ts.URL+"/arcgis", append(opts, upstream.WithTokenSource(upstream.StaticToken("t")))...)
			st, err = c2.Services.Status(context.Background(), upstream.ServiceRef{Name: "A", Type: "MapServer"})
			got[i] += fmt.Sprintf(" | %+v %v", st, err)
		}
		ts.Close()
		if got[0] != got[1] {
			t.Errorf("body %q:\n resilient %s\n plain     %s", body, got[0], got[1])
		}
	}
}
