package upstream_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/arcgate/arcgate/upstream"
)

// observation is one call of an Observer.
type observation struct {
	op      string
	outcome string
	d       time.Duration
}

// recorder is an Observer that records what it is told.
type recorder struct {
	mu  sync.Mutex
	obs []observation
}

func (r *recorder) observe(op string, d time.Duration, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.obs = append(r.obs, observation{op: op, outcome: upstream.Outcome(err), d: d})
}

func (r *recorder) got() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, o := range r.obs {
		if o.d < 0 {
			out = append(out, "negative duration")
		}
		out = append(out, o.op+" "+o.outcome)
	}
	return out
}

func TestWithObserver_ReportsEveryExchange(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		handler func(n int, w http.ResponseWriter)
		wantErr bool
		want    []string
	}{
		{"success", func(_ int, w http.ResponseWriter) { writeBody(w, siteRootJSON) }, false,
			[]string{"site.info ok"}},
		{"admin 404 envelope at HTTP 200", func(_ int, w http.ResponseWriter) {
			writeBody(w, `{"status":"error","messages":["Service 'X.MapServer' does not exist."],"code":404}`)
		}, true, []string{"site.info not_found"}},
		{"html error page", func(_ int, w http.ResponseWriter) {
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(http.StatusBadGateway)
			_, _ = w.Write([]byte("<html>bad gateway</html>"))
		}, true, []string{"site.info http"}},
		{"token rejected, then retried", func(n int, w http.ResponseWriter) {
			if n == 1 {
				writeBody(w, `{"status":"error","messages":["Invalid token."],"code":498}`)
				return
			}
			writeBody(w, siteRootJSON)
		}, false, []string{"site.info token_rejected", "site.info ok"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rec := &recorder{}
			c, mux, _ := setup(t, upstream.WithTokenSource(&fakeSource{}), upstream.WithObserver(rec.observe))
			var calls counter
			mux.HandleFunc("/{$}", func(w http.ResponseWriter, _ *http.Request) { tt.handler(calls.inc(), w) })
			_, err := c.SiteInfo(context.Background())
			if (err != nil) != tt.wantErr {
				t.Fatalf("SiteInfo error = %v, want error %v", err, tt.wantErr)
			}
			if got := rec.got(); fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("observed %q, want %q", got, tt.want)
			}
		})
	}
}

func TestWithObserver_SeesGenerateToken(t *testing.T) {
	t.Parallel()
	rec := &recorder{}
	c, mux, _ := setup(t, upstream.WithCredentials(testUser, testPassword), upstream.WithObserver(rec.observe))
	mux.HandleFunc("/generateToken", func(w http.ResponseWriter, _ *http.Request) {
		writeBody(w, `{"token":"tok-A","expires":"`+fmt.Sprint(time.Now().Add(time.Hour).UnixMilli())+`"}`)
	})
	mux.HandleFunc("/{$}", func(w http.ResponseWriter, _ *http.Request) { writeBody(w, siteRootJSON) })
	if _, err := c.SiteInfo(context.Background()); err != nil {
		t.Fatal(err)
	}
	want := []string{"generateToken ok", "site.info ok"}
	if got := rec.got(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("observed %q, want %q", got, want)
	}
}

func TestWithObserver_Nil(t *testing.T) {
	t.Parallel()
	if _, err := upstream.New("https://host/arcgis", upstream.WithObserver(nil)); err == nil {
		t.Fatal("WithObserver(nil) accepted")
	}
}

func TestOutcome(t *testing.T) {
	t.Parallel()
	api := func(code int) error { return &upstream.Error{Kind: upstream.KindAPI, Code: code} }
	tests := []struct {
		err  error
		want string
	}{
		{nil, "ok"},
		{api(404), "not_found"},
		{api(400), "bad_request"},
		{api(401), "permission_denied"},
		{api(403), "permission_denied"},
		{api(498), "token_rejected"},
		{api(499), "token_rejected"},
		{api(500), "api_error"},
		{api(201), "api_error"},
		{&upstream.Error{Kind: upstream.KindHTTP, HTTPStatus: 502}, "http"},
		{&upstream.Error{Kind: upstream.KindTransport, Err: errors.New("connection refused")}, "transport"},
		{&upstream.Error{Kind: upstream.KindTransport, Err: context.Canceled}, "canceled"},
		{&upstream.Error{Kind: upstream.KindTransport, Err: context.DeadlineExceeded}, "deadline_exceeded"},
		{&upstream.Error{Kind: upstream.KindDecode}, "decode"},
		{&upstream.Error{Kind: upstream.KindTooLarge}, "too_large"},
		{&upstream.Error{Kind: upstream.KindToken}, "token"},
		{&upstream.Error{Kind: upstream.KindInvalid}, "invalid"},
		{&upstream.Error{Kind: upstream.Kind(99)}, "other"},
		{fmt.Errorf("wrapped: %w", api(404)), "not_found"},
		{errors.New("plain"), "other"},
	}
	for _, tt := range tests {
		if got := upstream.Outcome(tt.err); got != tt.want {
			t.Errorf("Outcome(%v) = %q, want %q", tt.err, got, tt.want)
		}
	}
}

func TestWithRequestID_SentUpstream(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		id   string
		want string // "" means no header
	}{
		{"none", "", ""},
		{"uuid", "0b5c3f7e-9d1a-4c55-8f0e-2a7d1c9b6e41", "0b5c3f7e-9d1a-4c55-8f0e-2a7d1c9b6e41"},
		{"caller-chosen", "req_42.A:b/c", "req_42.A:b/c"},
		{"header injection", "abc\r\nX-Evil: 1", ""},
		{"space", "a b", ""},
		{"non-ASCII", "r\u00e9q", ""},
		{"too long", strings.Repeat("a", 129), ""},
		{"longest", strings.Repeat("a", 128), strings.Repeat("a", 128)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, mux := setupStatic(t)
			var got []string
			var mu sync.Mutex
			record := func(r *http.Request) {
				mu.Lock()
				defer mu.Unlock()
				got = append(got, r.Method+" "+strings.Join(r.Header.Values(upstream.RequestIDHeader), ","))
			}
			mux.HandleFunc("/{$}", func(w http.ResponseWriter, r *http.Request) {
				record(r)
				writeBody(w, siteRootJSON)
			})
			mux.HandleFunc("/services/A.MapServer/start", func(w http.ResponseWriter, r *http.Request) {
				record(r)
				writeBody(w, `{"status": "success"}`)
			})
			ctx := upstream.WithRequestID(context.Background(), tt.id)
			if got := upstream.RequestID(ctx); got != tt.id {
				t.Errorf("RequestID = %q, want %q", got, tt.id)
			}
			if _, err := c.SiteInfo(ctx); err != nil {
				t.Fatal(err)
			}
			if err := c.Services.Start(ctx, upstream.ServiceRef{Name: "A", Type: "MapServer"}); err != nil {
				t.Fatal(err)
			}
			want := []string{"GET " + tt.want, "POST " + tt.want}
			mu.Lock()
			defer mu.Unlock()
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("X-Request-Id headers %q, want %q", got, want)
			}
		})
	}
}
