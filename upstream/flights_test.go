package upstream_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/arcgate/arcgate/simulator"
	"github.com/arcgate/arcgate/upstream"
)

// pathSite answers each path with answers[path] (404 envelope when none)
// once released, counting the requests per path and the most in flight.
type pathSite struct {
	mu        sync.Mutex
	perPath   map[string]int
	active    int
	maxActive int
	cancelled atomic.Int64
	release   chan struct{}
	answers   map[string]string
	open      func()
}

func newPathSite(t *testing.T, answers map[string]string) (*pathSite, *httptest.Server) {
	s := &pathSite{perPath: map[string]int{}, release: make(chan struct{}), answers: answers}
	var once sync.Once
	s.open = func() { once.Do(func() { close(s.release) }) }
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := strings.TrimPrefix(r.URL.Path, "/arcgis/admin/")
		s.mu.Lock()
		s.perPath[p]++
		s.active++
		s.maxActive = max(s.maxActive, s.active)
		s.mu.Unlock()
		defer func() { s.mu.Lock(); s.active--; s.mu.Unlock() }()
		select {
		case <-s.release:
		case <-r.Context().Done():
			s.cancelled.Add(1)
			return
		}
		body, ok := s.answers[p]
		if !ok {
			body = `{"status":"error","code":404,"messages":["Service not found."]}`
		}
		_, _ = w.Write([]byte(body))
	}))
	t.Cleanup(ts.Close)
	t.Cleanup(s.open) // runs first: never leave a handler blocked in Close
	return s, ts
}

func (s *pathSite) count(path string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.perPath[path]
}

func (s *pathSite) total() (n, maxActive int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.perPath {
		n += c
	}
	return n, s.maxActive
}

const (
	cityConfig = `{"serviceName":"SampleWorldCities","type":"MapServer","properties":{"a":"1"}}`
	cityStatus = `{"configuredState":"STARTED","realTimeState":"STOPPED"}`
)

var cityAnswers = map[string]string{
	"services/SampleWorldCities.MapServer":        cityConfig,
	"services/SampleWorldCities.MapServer/status": cityStatus,
}

func TestGetWithStatusMatchesGetAndStatus(t *testing.T) {
	for _, coalesce := range []bool{true, false} {
		t.Run(fmt.Sprintf("coalesce=%t", coalesce), func(t *testing.T) {
			opts := []upstream.Option{adminCreds}
			if !coalesce {
				opts = append(opts, upstream.WithoutCoalescing())
			}
			e := newSimEnv(t, simulator.Config{}, opts...)
			ctx := context.Background()
			for _, r := range []upstream.ServiceRef{ref, {Folder: "Nope", Name: "Missing", Type: "MapServer"}, {Name: "Missing", Type: "FeatureServer"}} {
				cfg, st, err := e.client.Services.GetWithStatus(ctx, r)
				wantCfg, wantErr := e.client.Services.Get(ctx, r)
				wantSt, stErr := e.client.Services.Status(ctx, r)
				if wantErr == nil {
					wantErr = stErr
				}
				if (err == nil) != (wantErr == nil) {
					t.Fatalf("%v: err = %v, want %v", r, err, wantErr)
				}
				if err != nil {
					var got, want *upstream.Error
					if !errors.As(err, &got) || !errors.As(wantErr, &want) || got.Kind != want.Kind || got.Code != want.Code {
						t.Fatalf("%v: err = %#v, want %#v", r, err, wantErr)
					}
					continue
				}
				if cfg.ServiceName != wantCfg.ServiceName || cfg.Type != wantCfg.Type || !reflect.DeepEqual(cfg.Properties, wantCfg.Properties) || *st != *wantSt {
					t.Fatalf("%v: got %+v %+v, want %+v %+v", r, cfg, st, wantCfg, wantSt)
				}
			}
		})
	}
}

func TestGetWithStatusRefusesBadNamesBeforeSending(t *testing.T) {
	e := newSimEnv(t, simulator.Config{}, adminCreds)
	before := e.sim.RequestCount()
	for _, r := range []upstream.ServiceRef{{}, {Name: "x"}, {Name: "..", Type: "MapServer"}, {Name: "x", Type: "."}, {Folder: "..", Name: "x", Type: "MapServer"}} {
		if _, _, err := e.client.Services.GetWithStatus(context.Background(), r); err == nil {
			t.Fatalf("%+v: no error", r)
		}
	}
	if got := e.sim.RequestCount(); got != before {
		t.Fatalf("%d requests sent for bad names", got-before)
	}
}

func TestGetWithStatusSharesFlights(t *testing.T) {
	site, ts := newPathSite(t, cityAnswers)
	c, err := upstream.New(ts.URL+"/arcgis", upstream.WithTokenSource(upstream.StaticToken("tok")))
	if err != nil {
		t.Fatal(err)
	}
	const n = 20
	var wg sync.WaitGroup
	var ok atomic.Int64
	for i := 0; i < n; i++ {
		wg.Add(2)
		go func() {
			defer wg.Done()
			cfg, st, err := c.Services.GetWithStatus(context.Background(), ref)
			if err == nil && cfg.ServiceName == "SampleWorldCities" && st.RealTimeState == "STOPPED" {
				ok.Add(1)
			}
		}()
		go func() {
			defer wg.Done()
			if st, err := c.Services.Status(context.Background(), ref); err == nil && st.RealTimeState == "STOPPED" {
				ok.Add(1)
			}
		}()
	}
	waitFor(t, "every caller", func() bool { return upstream.FlightWaiters(c) == 3*n })
	site.open()
	wg.Wait()
	if ok.Load() != 2*n {
		t.Fatalf("%d of %d calls succeeded", ok.Load(), 2*n)
	}
	if total, _ := site.total(); total != 2 {
		t.Fatalf("%d upstream requests, want 2 (one per resource)", total)
	}
}

func TestGetWithStatusCancelledLeavesItsFlights(t *testing.T) {
	site, ts := newPathSite(t, cityAnswers)
	c, err := upstream.New(ts.URL+"/arcgis", upstream.WithTokenSource(upstream.StaticToken("tok")))
	if err != nil {
		t.Fatal(err)
	}
	// Another caller waits on the status only: that read must go on, the
	// configuration read (no one else waits on it) must be cancelled.
	other := make(chan error, 1)
	go func() { _, err := c.Services.Status(context.Background(), ref); other <- err }()
	waitFor(t, "the status reader", func() bool { return upstream.FlightWaiters(c) == 1 })
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { _, _, err := c.Services.GetWithStatus(ctx, ref); done <- err }()
	waitFor(t, "both reads upstream", func() bool { n, _ := site.total(); return n == 2 })
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("GetWithStatus: %v, want context.Canceled", err)
	}
	waitFor(t, "the configuration read to be cancelled", func() bool { return site.cancelled.Load() == 1 })
	site.open()
	if err := <-other; err != nil {
		t.Fatalf("the other caller: %v", err)
	}
	if site.cancelled.Load() != 1 {
		t.Fatalf("%d upstream reads cancelled, want 1", site.cancelled.Load())
	}
}

func TestGetWithStatusReturnsTheFailingRead(t *testing.T) {
	answers := map[string]string{"services/SampleWorldCities.MapServer": cityConfig} // no status: 404
	site, ts := newPathSite(t, answers)
	site.open()
	c, err := upstream.New(ts.URL+"/arcgis", upstream.WithTokenSource(upstream.StaticToken("tok")))
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = c.Services.GetWithStatus(context.Background(), ref)
	var e *upstream.Error
	if !errors.As(err, &e) || e.Kind != upstream.KindAPI || e.Code != 404 || e.Op != "services.status" {
		t.Fatalf("err = %#v, want the status read's 404", err)
	}
}

// Flights beyond the concurrency cap wait in a queue without a goroutine,
// and run, oldest first, as places free up.
func TestQueuedFlightsRunWithinTheCap(t *testing.T) {
	const limit, n = 3, 40
	answers := map[string]string{}
	for i := 0; i < n; i++ {
		answers[fmt.Sprintf("services/S%02d.MapServer/status", i)] = cityStatus
	}
	site, ts := newPathSite(t, answers)
	c, err := upstream.New(ts.URL+"/arcgis", upstream.WithTokenSource(upstream.StaticToken("tok")),
		upstream.WithResilience(upstream.ResilienceConfig{MaxConcurrent: limit}))
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var ok atomic.Int64
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Two callers per service: queued flights are still joined.
			if _, err := c.Services.Status(context.Background(), upstream.ServiceRef{Name: fmt.Sprintf("S%02d", i/2), Type: "MapServer"}); err == nil {
				ok.Add(1)
			}
		}()
	}
	waitFor(t, "every caller", func() bool { return upstream.FlightWaiters(c) == n })
	waitFor(t, "the cap's reads upstream", func() bool { m, _ := site.total(); return m == limit })
	if running, queued := upstream.Flights(c); running != limit || queued != n/2-limit {
		t.Fatalf("%d flights running, %d queued; want %d and %d", running, queued, limit, n/2-limit)
	}
	site.open()
	wg.Wait()
	total, maxActive := site.total()
	if ok.Load() != n || total != n/2 || maxActive > limit {
		t.Fatalf("%d of %d calls succeeded, %d upstream requests (want %d), %d at once (cap %d)", ok.Load(), n, total, n/2, maxActive, limit)
	}
	if running, queued := upstream.Flights(c); running != 0 || queued != 0 {
		t.Fatalf("after the burst: %d running, %d queued", running, queued)
	}
}

func TestAbandonedQueuedFlightIsNeverSent(t *testing.T) {
	answers := map[string]string{"services/A.MapServer/status": cityStatus, "services/B.MapServer/status": cityStatus, "services/C.MapServer/status": cityStatus}
	site, ts := newPathSite(t, answers)
	c, err := upstream.New(ts.URL+"/arcgis", upstream.WithTokenSource(upstream.StaticToken("tok")),
		upstream.WithResilience(upstream.ResilienceConfig{MaxConcurrent: 1}))
	if err != nil {
		t.Fatal(err)
	}
	status := func(ctx context.Context, name string) chan error {
		ch := make(chan error, 1)
		go func() {
			_, err := c.Services.Status(ctx, upstream.ServiceRef{Name: name, Type: "MapServer"})
			ch <- err
		}()
		return ch
	}
	a := status(context.Background(), "A")
	waitFor(t, "A upstream", func() bool { return site.count("services/A.MapServer/status") == 1 })
	ctx, cancel := context.WithCancel(context.Background())
	b := status(ctx, "B")
	waitFor(t, "B queued", func() bool { _, q := upstream.Flights(c); return q == 1 })
	cancel()
	if err := <-b; !errors.Is(err, context.Canceled) {
		t.Fatalf("B: %v, want context.Canceled at once", err)
	}
	cc := status(context.Background(), "C")
	waitFor(t, "C queued, B dropped", func() bool { _, q := upstream.Flights(c); return q == 1 })
	site.open()
	if err := <-a; err != nil {
		t.Fatalf("A: %v", err)
	}
	if err := <-cc; err != nil {
		t.Fatalf("C: %v", err)
	}
	if got := site.count("services/B.MapServer/status"); got != 0 {
		t.Fatalf("the abandoned read was sent %d times", got)
	}
	if running, queued := upstream.Flights(c); running != 0 || queued != 0 {
		t.Fatalf("after: %d running, %d queued", running, queued)
	}
}

// A coalesced read hands the checked body straight to the type's own
// decoder: whatever the body, the outcome is the one json.Unmarshal gives
// without coalescing.
func TestCoalescedDecodeMatchesUncoalesced(t *testing.T) {
	for _, body := range []string{
		cityStatus,
		"\n\t " + cityStatus + " \r\n",
		`null`,
		` null `,
		`{}`,
		`{"configuredState":"STARTED","realTimeState":"STARTED","extra":[1,{"x":null}]}`,
		`{"configuredState":7}`,
		`[]`,
		`"STARTED"`,
	} {
		answers := map[string]string{"services/SampleWorldCities.MapServer/status": body, "services/SampleWorldCities.MapServer": strings.Replace(body, "configuredState", "serviceName", 1)}
		site, ts := newPathSite(t, answers)
		site.open()
		var got [2]string
		for i, opts := range [][]upstream.Option{nil, {upstream.WithoutCoalescing()}} {
			c, err := upstream.New(ts.URL+"/arcgis", append(opts, upstream.WithTokenSource(upstream.StaticToken("tok")))...)
			if err != nil {
				t.Fatal(err)
			}
			st, err := c.Services.Status(context.Background(), ref)
			cfg, cerr := c.Services.Get(context.Background(), ref)
			got[i] = fmt.Sprintf("%+v %v | %v %v", st, kindOf(err), cfg != nil && cerr == nil, kindOf(cerr))
			if cfg != nil {
				got[i] += " " + cfg.ServiceName
			}
			// GetWithStatus decodes once for its flight (shared), or each
			// read on its own without coalescing.
			cfg, st, err = c.Services.GetWithStatus(context.Background(), ref)
			got[i] += fmt.Sprintf(" | %v %v", st, kindOf(err))
			if cfg != nil {
				got[i] += " " + cfg.ServiceName
			}
		}
		if got[0] != got[1] {
			t.Errorf("body %q: coalesced %s, not coalesced %s", body, got[0], got[1])
		}
	}
}

func kindOf(err error) string {
	var e *upstream.Error
	if errors.As(err, &e) {
		return fmt.Sprint(e.Kind)
	}
	return fmt.Sprint(err)
}

// Callers that give up on queued reads while the upstream stalls leave no
// pile of queued requests behind them.
func TestAbandonedQueuedFlightsDoNotPileUp(t *testing.T) {
	site, ts := newPathSite(t, cityAnswers)
	c, err := upstream.New(ts.URL+"/arcgis", upstream.WithTokenSource(upstream.StaticToken("tok")),
		upstream.WithResilience(upstream.ResilienceConfig{MaxConcurrent: 1}))
	if err != nil {
		t.Fatal(err)
	}
	stalled := make(chan error, 1)
	go func() { _, err := c.Services.Status(context.Background(), ref); stalled <- err }()
	waitFor(t, "the stalled read upstream", func() bool { n, _ := site.total(); return n == 1 })
	for i := 0; i < 200; i++ {
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() {
			_, err := c.Services.Status(ctx, upstream.ServiceRef{Name: fmt.Sprintf("Gone%d", i), Type: "MapServer"})
			done <- err
		}()
		waitFor(t, "the read queued", func() bool { return upstream.FlightWaiters(c) == 2 })
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Fatalf("read %d: %v", i, err)
		}
		if _, queued := upstream.Flights(c); queued > 2 {
			t.Fatalf("after %d abandoned reads, %d still queued", i+1, queued)
		}
	}
	site.open()
	if err := <-stalled; err != nil {
		t.Fatal(err)
	}
	if n, _ := site.total(); n != 1 {
		t.Fatalf("%d upstream requests, want only the stalled one", n)
	}
}

// Callers of GetWithStatus that share a read share its decoded
// configuration (read-only); a Get caller of the same read gets its own,
// free to edit.
func TestGetWithStatusSharesTheDecodedConfiguration(t *testing.T) {
	site, ts := newPathSite(t, cityAnswers)
	c, err := upstream.New(ts.URL+"/arcgis", upstream.WithTokenSource(upstream.StaticToken("tok")))
	if err != nil {
		t.Fatal(err)
	}
	const n = 3
	cfgs := make(chan *upstream.ServiceConfig, n)
	for i := 0; i < n; i++ {
		go func() {
			cfg, _, err := c.Services.GetWithStatus(context.Background(), ref)
			if err != nil {
				t.Error(err)
			}
			cfgs <- cfg
		}()
	}
	own := make(chan *upstream.ServiceConfig, 1)
	go func() {
		cfg, err := c.Services.Get(context.Background(), ref)
		if err != nil {
			t.Error(err)
		}
		own <- cfg
	}()
	waitFor(t, "every caller", func() bool { return upstream.FlightWaiters(c) == 2*n+1 })
	site.open()
	mine := <-own
	mine.Properties["a"] = "edited" // must not reach the shared value
	var first *upstream.ServiceConfig
	for i := 0; i < n; i++ {
		cfg := <-cfgs
		if cfg == nil {
			t.Fatal("no configuration")
		}
		if cfg.Properties["a"] != "1" {
			t.Fatalf("shared configuration holds %q", cfg.Properties["a"])
		}
		if first == nil {
			first = cfg
		} else if reflect.ValueOf(cfg.Properties).UnsafePointer() != reflect.ValueOf(first.Properties).UnsafePointer() {
			t.Fatal("callers of one read decoded it each")
		}
	}
	if reflect.ValueOf(mine.Properties).UnsafePointer() == reflect.ValueOf(first.Properties).UnsafePointer() {
		t.Fatal("Get's configuration is the shared one")
	}
	if total, _ := site.total(); total != 2 {
		t.Fatalf("%d upstream requests, want 2", total)
	}
}

// GetWithStatus ends as soon as one of its reads fails, and leaves the
// other, which is cancelled when nobody else waits on it.
func TestGetWithStatusFailsFast(t *testing.T) {
	release := make(chan struct{})
	var cancelled atomic.Int64
	// The status answers only once the configuration read has reached the
	// server: otherwise a fast 404 cancels that read before it is sent,
	// and no handler ever sees it cancelled.
	configArrived := make(chan struct{})
	var arrivedOnce sync.Once
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/status") {
			select {
			case <-configArrived:
			case <-r.Context().Done():
				return
			}
			_, _ = w.Write([]byte(`{"status":"error","code":404,"messages":["Service not found."]}`))
			return
		}
		arrivedOnce.Do(func() { close(configArrived) })
		select {
		case <-release:
			_, _ = w.Write([]byte(cityConfig))
		case <-r.Context().Done():
			cancelled.Add(1)
		}
	}))
	defer ts.Close()
	defer close(release)
	c, err := upstream.New(ts.URL+"/arcgis", upstream.WithTokenSource(upstream.StaticToken("tok")))
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = c.Services.GetWithStatus(context.Background(), ref) // returns while the configuration read hangs
	var e *upstream.Error
	if !errors.As(err, &e) || e.Code != 404 || e.Op != "services.status" {
		t.Fatalf("err = %v, want the status read's 404", err)
	}
	waitFor(t, "the configuration read to be cancelled", func() bool { return cancelled.Load() == 1 })
	if n := upstream.FlightWaiters(c); n != 0 {
		t.Fatalf("%d waiters left", n)
	}
}

// A flight goroutine with nothing left to run waits a little for the next
// flight, so that reads one after another do not each start a goroutine
// (whose stack grows again). Reuse depends on the next read coming within
// the wait, so the test asks for it once in 20 reads, not every time.
func TestFlightGoroutinesAreReused(t *testing.T) {
	const n = 20
	answers := map[string]string{}
	for i := 0; i < n; i++ {
		answers[fmt.Sprintf("services/S%02d.MapServer/status", i)] = cityStatus
	}
	site, ts := newPathSite(t, answers)
	site.open()
	c, err := upstream.New(ts.URL+"/arcgis", upstream.WithTokenSource(upstream.StaticToken("tok")))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < n; i++ {
		if _, err := c.Services.Status(context.Background(), upstream.ServiceRef{Name: fmt.Sprintf("S%02d", i), Type: "MapServer"}); err != nil {
			t.Fatal(err)
		}
	}
	if got := upstream.FlightGoroutines(c); got >= n {
		t.Errorf("%d reads one after another started %d flight goroutines, want fewer", n, got)
	}
	if total, _ := site.total(); total != n {
		t.Errorf("%d upstream requests, want %d", total, n)
	}
}
