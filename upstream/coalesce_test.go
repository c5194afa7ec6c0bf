package upstream_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/arcgate/arcgate/upstream"
)

// blockingSite answers service status reads only when released, counting
// them; answer sets each response body.
type blockingSite struct {
	requests  atomic.Int64
	cancelled atomic.Int64
	release   chan struct{}
	answer    atomic.Value // string
	tokens    sync.Map     // token values seen

	closeRelease func()
}

func newBlockingSite(t *testing.T) (*blockingSite, *httptest.Server) {
	s := &blockingSite{release: make(chan struct{})}
	var once sync.Once
	s.closeRelease = func() { once.Do(func() { close(s.release) }) }
	s.answer.Store(`{"configuredState":"STARTED","realTimeState":"STARTED"}`)
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.requests.Add(1)
		s.tokens.Store(r.URL.Query().Get("token")+r.Header.Get("X-Esri-Authorization"), true)
		select {
		case <-s.release:
		case <-r.Context().Done():
			s.cancelled.Add(1)
			return
		}
		w.Header().Set("Content-Type", "text/plain;charset=UTF-8")
		_, _ = w.Write([]byte(s.answer.Load().(string)))
	}))
	t.Cleanup(ts.Close)
	t.Cleanup(s.closeRelease) // runs first: never leave a handler blocked in Close
	return s, ts
}

// waitFor polls cond until it holds (a test of concurrency, not of time).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	// A bound, not a timing assertion: a loaded CI machine (the race
	// detector, other packages' tests) can take seconds to notice a
	// closed connection, where 2 000 sleeps of 1 ms once gave up.
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); {
		if cond() {
			return
		}
		time.Sleep(time.Millisecond)
	}
	t.Fatalf("gave up waiting for %s", what)
}

var ref = upstream.ServiceRef{Name: "SampleWorldCities", Type: "MapServer"}

func TestIdenticalReadsShareOneRequest(t *testing.T) {
	site, ts := newBlockingSite(t)
	c, err := upstream.New(ts.URL+"/arcgis", upstream.WithTokenSource(upstream.StaticToken("tok")))
	if err != nil {
		t.Fatal(err)
	}
	const n = 100
	var wg sync.WaitGroup
	var ok atomic.Int64
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			st, err := c.Services.Status(context.Background(), ref)
			if err == nil && st.RealTimeState == "STARTED" {
				ok.Add(1)
			}
		}()
	}
	waitFor(t, "100 waiters", func() bool { return upstream.FlightWaiters(c) == n })
	site.closeRelease()
	wg.Wait()
	if got := site.requests.Load(); got != 1 {
		t.Fatalf("%d upstream requests for %d identical concurrent reads, want 1", got, n)
	}
	if ok.Load() != n {
		t.Fatalf("%d of %d callers got the result", ok.Load(), n)
	}
	// Each caller decoded its own copy.
	a, _ := c.Services.Status(context.Background(), ref)
	b, _ := c.Services.Status(context.Background(), ref)
	if a == b {
		t.Fatal("callers share one decoded value")
	}
}

func TestDifferentIdentitiesNeverShare(t *testing.T) {
	site, ts := newBlockingSite(t)
	c, err := upstream.New(ts.URL+"/arcgis", upstream.WithTokenSource(upstream.StaticToken("service-token")))
	if err != nil {
		t.Fatal(err)
	}
	ctxs := []context.Context{
		context.Background(), // the service identity
		upstream.WithIdentity(context.Background(), upstream.TokenIdentity("alice-token")),
		upstream.WithIdentity(context.Background(), upstream.TokenIdentity("bob-token")),
	}
	var wg sync.WaitGroup
	for _, ctx := range ctxs {
		for i := 0; i < 5; i++ {
			wg.Add(1)
			go func() { defer wg.Done(); _, _ = c.Services.Status(ctx, ref) }()
		}
	}
	waitFor(t, "15 waiters", func() bool { return upstream.FlightWaiters(c) == 15 })
	waitFor(t, "one request per identity", func() bool { return site.requests.Load() >= 3 })
	site.closeRelease()
	wg.Wait()
	if got := site.requests.Load(); got != 3 {
		t.Fatalf("%d upstream requests for 3 identities × 5 callers, want 3", got)
	}
	tokens := 0
	site.tokens.Range(func(_, _ any) bool { tokens++; return true })
	if tokens != 3 {
		t.Fatalf("%d distinct tokens upstream, want 3", tokens)
	}
}

func TestErrorSharedOnlyWithinItsFlight(t *testing.T) {
	site, ts := newBlockingSite(t)
	site.answer.Store(`{"status":"error","messages":["Could not find resource or operation 'SampleWorldCities.MapServer' on the system."],"code":404}`)
	c, err := upstream.New(ts.URL+"/arcgis", upstream.WithTokenSource(upstream.StaticToken("tok")))
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var notFound atomic.Int64
	for i := 0; i < 10; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := c.Services.Status(context.Background(), ref); upstream.IsNotFound(err) {
				notFound.Add(1)
			}
		}()
	}
	waitFor(t, "10 waiters", func() bool { return upstream.FlightWaiters(c) == 10 })
	site.closeRelease()
	wg.Wait()
	if notFound.Load() != 10 || site.requests.Load() != 1 {
		t.Fatalf("%d NOT_FOUND from %d requests", notFound.Load(), site.requests.Load())
	}
	// The next caller starts a new flight and sees the new answer.
	site.answer.Store(`{"configuredState":"STOPPED","realTimeState":"STOPPED"}`)
	st, err := c.Services.Status(context.Background(), ref)
	if err != nil || st.ConfiguredState != "STOPPED" || site.requests.Load() != 2 {
		t.Fatalf("after the failed flight: %v, %v, %d requests", st, err, site.requests.Load())
	}
}

func TestCancelledFirstCallerDoesNotCancelOthers(t *testing.T) {
	site, ts := newBlockingSite(t)
	c, err := upstream.New(ts.URL+"/arcgis", upstream.WithTokenSource(upstream.StaticToken("tok")))
	if err != nil {
		t.Fatal(err)
	}
	first, cancelFirst := context.WithCancel(context.Background())
	firstErr := make(chan error, 1)
	go func() { _, err := c.Services.Status(first, ref); firstErr <- err }()
	waitFor(t, "the first caller", func() bool { return upstream.FlightWaiters(c) == 1 })
	second := make(chan error, 1)
	go func() { _, err := c.Services.Status(context.Background(), ref); second <- err }()
	waitFor(t, "the second caller", func() bool { return upstream.FlightWaiters(c) == 2 })

	cancelFirst()
	if err := <-firstErr; !errors.Is(err, context.Canceled) {
		t.Fatalf("first caller: %v, want context.Canceled", err)
	}
	site.closeRelease()
	if err := <-second; err != nil {
		t.Fatalf("second caller: %v", err)
	}
	if site.requests.Load() != 1 || site.cancelled.Load() != 0 {
		t.Fatalf("%d requests, %d cancelled", site.requests.Load(), site.cancelled.Load())
	}
}

func TestAbandonedFlightIsCancelled(t *testing.T) {
	site, ts := newBlockingSite(t)
	c, err := upstream.New(ts.URL+"/arcgis", upstream.WithTokenSource(upstream.StaticToken("tok")))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { _, err := c.Services.Status(ctx, ref); done <- err }()
	waitFor(t, "the request upstream", func() bool { return site.requests.Load() == 1 })
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
	waitFor(t, "the upstream request to be cancelled", func() bool { return site.cancelled.Load() == 1 })
	// A new caller starts a new flight rather than joining the cancelled one.
	site.closeRelease()
	if _, err := c.Services.Status(context.Background(), ref); err != nil || site.requests.Load() != 2 {
		t.Fatalf("after abandonment: %v, %d requests", err, site.requests.Load())
	}
}

func TestWritesAreNeverCoalesced(t *testing.T) {
	site, ts := newBlockingSite(t)
	site.answer.Store(`{"status":"success"}`)
	c, err := upstream.New(ts.URL+"/arcgis", upstream.WithTokenSource(upstream.StaticToken("tok")))
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := 0; i < 3; i++ {
		wg.Add(1)
		go func() { defer wg.Done(); _ = c.Services.Start(context.Background(), ref) }()
	}
	waitFor(t, "3 requests", func() bool { return site.requests.Load() == 3 })
	site.closeRelease()
	wg.Wait()
}

// Two reads one after the other decode their own listings, even when the
// upstream sends the same bytes: a caller that modifies the listing it got
// (against ListFolder's contract) changes no later answer.
func TestListFolder_SequentialReadsShareNothing(t *testing.T) {
	t.Parallel()
	c, mux := setupStatic(t)
	mux.HandleFunc("/services/F", func(w http.ResponseWriter, r *http.Request) {
		writeBody(w, `{"folderName":"F","description":"d","services":[{"folderName":"F","serviceName":"A","type":"MapServer"}]}`)
	})
	mux.HandleFunc("/services", func(w http.ResponseWriter, r *http.Request) {
		writeBody(w, `{"folderName":"/","folders":["F"],"services":[{"folderName":"/","serviceName":"R","type":"MapServer"}]}`)
	})
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		list func() (*upstream.FolderListing, error)
		want string
	}{
		{"ListFolder", func() (*upstream.FolderListing, error) { return c.Services.ListFolder(ctx, "F") }, "A"},
		{"ListRoot", func() (*upstream.FolderListing, error) { return c.Services.ListRoot(ctx) }, "R"},
	} {
		first, err := tc.list()
		if err != nil {
			t.Fatal(err)
		}
		first.Services[0].ServiceName = "changed"
		again, err := tc.list()
		if err != nil {
			t.Fatal(err)
		}
		if got := again.Services[0].ServiceName; got != tc.want {
			t.Errorf("%s after a caller changed its answer: service %q, want %q", tc.name, got, tc.want)
		}
	}
}
