package upstream_test

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/arcgate/arcgate/upstream"
)

// TestConnectionsAreReused runs 400 requests, 32 at a time, and checks the
// client opened no more connections than its bound: Go's default transport
// keeps 2 idle connections per host and would open hundreds.
func TestConnectionsAreReused(t *testing.T) {
	for _, tc := range []struct {
		name     string
		opts     []upstream.Option
		maxConns int64
	}{
		{"default", nil, upstream.DefaultMaxConcurrent},
		{"configured", []upstream.Option{upstream.WithMaxConnsPerHost(8)}, 8},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var opened atomic.Int64
			ts := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Content-Type", "text/plain;charset=UTF-8")
				_, _ = w.Write([]byte(`{"configuredState":"STARTED","realTimeState":"STARTED"}`))
			}))
			ts.Config.ConnState = func(_ net.Conn, s http.ConnState) {
				if s == http.StateNew {
					opened.Add(1)
				}
			}
			ts.Start()
			defer ts.Close()
			c, err := upstream.New(ts.URL+"/arcgis", append(tc.opts, upstream.WithTokenSource(upstream.StaticToken("t")))...)
			if err != nil {
				t.Fatal(err)
			}
			var wg sync.WaitGroup
			sem := make(chan struct{}, 32)
			var failed atomic.Int64
			for i := 0; i < 400; i++ {
				wg.Add(1)
				sem <- struct{}{}
				go func() {
					defer wg.Done()
					defer func() { <-sem }()
					if _, err := c.Services.Status(context.Background(), upstream.ServiceRef{Name: "A", Type: "MapServer"}); err != nil {
						failed.Add(1)
					}
				}()
			}
			wg.Wait()
			if failed.Load() != 0 {
				t.Fatalf("%d requests failed", failed.Load())
			}
			// Go may dial a spare connection while another is being
			// returned, so the bound is the configured maximum, not the
			// number in flight; without reuse it would be near 400.
			if n := opened.Load(); n > tc.maxConns {
				t.Fatalf("opened %d connections for 400 requests, 32 in flight (bound %d)", n, tc.maxConns)
			}
		})
	}
}
