package upstream_test

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
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

// TestGETTokenInHeaderWithFallback checks where a GET's token travels: in
// the X-Esri-Authorization header, never in the URL, unless the site
// ignores that header (answers 499, no token seen), after which the client
// puts it in the query string for good.
func TestGETTokenInHeaderWithFallback(t *testing.T) {
	for _, tc := range []struct {
		name        string
		readsHeader bool
		want        []string // where the token was, request by request, over two calls
	}{
		{"site reads the header", true, []string{"header", "header"}},
		{"site ignores the header", false, []string{"header", "query", "query"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var (
				mu   sync.Mutex
				seen []string
			)
			ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/plain;charset=UTF-8")
				q := r.URL.Query().Get("token")
				h := r.Header.Get("X-Esri-Authorization")
				mu.Lock()
				switch {
				case q != "":
					seen = append(seen, "query")
				case h != "":
					seen = append(seen, "header")
				}
				mu.Unlock()
				if q == "tok" || (tc.readsHeader && h == "Bearer tok") {
					_, _ = w.Write([]byte(`{"configuredState":"STARTED","realTimeState":"STARTED"}`))
					return
				}
				_, _ = w.Write([]byte(`{"status":"error","messages":["Unauthorized access. Token not found. You can generate a token using the 'generateToken' operation."],"code":499}`))
			}))
			defer ts.Close()
			c, err := upstream.New(ts.URL+"/arcgis", upstream.WithTokenSource(upstream.StaticToken("tok")))
			if err != nil {
				t.Fatal(err)
			}
			for i := 0; i < 2; i++ {
				if _, err := c.Services.Status(context.Background(), upstream.ServiceRef{Name: "A", Type: "MapServer"}); err != nil {
					t.Fatalf("call %d: %v", i, err)
				}
			}
			if strings.Join(seen, " ") != strings.Join(tc.want, " ") {
				t.Fatalf("token carried in %v, want %v", seen, tc.want)
			}
		})
	}
}

// The transport's write buffer only splits what it writes: a large form
// and a long token header arrive whole.
func TestTransportWritesLargeRequestsWhole(t *testing.T) {
	tr := upstream.NewTransport(nil, 8)
	if tr.WriteBufferSize != 1<<10 || tr.MaxConnsPerHost != 8 || tr.MaxIdleConnsPerHost != 8 {
		t.Fatalf("WriteBufferSize %d, MaxConnsPerHost %d, MaxIdleConnsPerHost %d", tr.WriteBufferSize, tr.MaxConnsPerHost, tr.MaxIdleConnsPerHost)
	}
	token := strings.Repeat("t", 3000)
	description := strings.Repeat("d", 200<<10)
	var gotToken, gotService string
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotToken = r.Header.Get("X-Esri-Authorization") + r.PostFormValue("token")
		gotService = r.PostFormValue("service")
		_, _ = w.Write([]byte(`{"status":"success"}`))
	}))
	defer ts.Close()
	c, err := upstream.New(ts.URL+"/arcgis", upstream.WithTokenSource(upstream.StaticToken(token)))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Services.Create(context.Background(), "", &upstream.ServiceConfig{ServiceName: "Big", Type: "MapServer", Description: description}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(gotToken, token) || !strings.Contains(gotService, description) {
		t.Fatalf("token %d bytes, service %d bytes arrived; sent %d and %d+", len(gotToken), len(gotService), len(token), len(description))
	}
}

// countingConn counts the writes (system calls) of a client connection
// and the bytes they carry.
type countingConn struct {
	net.Conn
	writes, bytes *atomic.Int64
}

func (c countingConn) Write(p []byte) (int, error) {
	c.writes.Add(1)
	c.bytes.Add(int64(len(p)))
	return c.Conn.Write(p)
}

// TestTransportWritesRequestInOneWrite checks that the transport New
// builds sends a read, a GET with its token in a header as long as a
// portal's, in one write system call, its 1 KiB write buffer notwithstanding
// (a form POST larger than the buffer, a write, takes two: the buffer is
// kept small for the memory of idle connections).
func TestTransportWritesRequestInOneWrite(t *testing.T) {
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		if r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/status") {
			_, _ = w.Write([]byte(`{"configuredState":"STARTED","realTimeState":"STARTED"}`))
			return
		}
		_, _ = w.Write([]byte(`{"status":"success"}`))
	}))
	defer ts.Close()
	var writes, written atomic.Int64
	tr := upstream.NewTransport(nil, 8)
	tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		conn, err := (&net.Dialer{}).DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return countingConn{conn, &writes, &written}, nil
	}
	// A token as long as a portal's (a few hundred bytes).
	c, err := upstream.New(ts.URL+"/arcgis", upstream.WithHTTPClient(&http.Client{Transport: tr}),
		upstream.WithTokenSource(upstream.StaticToken(strings.Repeat("T", 300))))
	if err != nil {
		t.Fatal(err)
	}
	ref := upstream.ServiceRef{Folder: "Maps", Name: "Seattle", Type: "MapServer"}
	for _, tc := range []struct {
		name string
		call func(context.Context) error
	}{
		{"GET status", func(ctx context.Context) error { _, err := c.Services.Status(ctx, ref); return err }},
		{"GET item info", func(ctx context.Context) error { _, err := c.ItemInfo.Get(ctx, ref); return err }},
	} {
		for i := 0; i < 3; i++ {
			writes.Store(0)
			written.Store(0)
			if err := tc.call(context.Background()); err != nil {
				t.Fatalf("%s: %v", tc.name, err)
			}
			if n := writes.Load(); n != 1 {
				t.Errorf("%s %d: request of %d bytes sent in %d writes, want 1", tc.name, i, written.Load(), n)
			}
		}
	}
}
