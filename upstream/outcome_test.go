package upstream_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/arcgate/arcgate/upstream"
)

// processThenDrop reads the whole request (as a server that applies it
// would), counts it as applied, and closes the connection without an
// answer: the response is lost after the upstream processed the request.
func processThenDrop(w http.ResponseWriter, r *http.Request) {
	_, _ = io.Copy(io.Discard, r.Body)
	refuse(w, r)
}

// slow holds the request until the client goes away.
func slow(w http.ResponseWriter, r *http.Request) {
	_, _ = io.Copy(io.Discard, r.Body) // then net/http watches the connection
	<-r.Context().Done()
}

var outcomeRef = upstream.ServiceRef{Name: "A", Type: "MapServer"}

// TestOutcomeUnknown checks, for each way a request can fail, that a write
// (start) says whether it may have reached the upstream and whether its
// outcome is unknown, and that a read (status) never has an unknown
// outcome.
func TestOutcomeUnknown(t *testing.T) {
	for _, tc := range []struct {
		name     string
		a        answer
		deadline time.Duration
		kind     upstream.Kind
		sent     bool // for the write
		unknown  bool // for the write
	}{
		{"answer lost after processing", processThenDrop, 0, upstream.KindTransport, true, true},
		{"reset mid-body", resetMidBody, 0, upstream.KindTransport, true, true},
		{"deadline while the upstream works", slow, 50 * time.Millisecond, upstream.KindTransport, true, true},
		{"truncated JSON", body(`{"status":"succ`), 0, upstream.KindDecode, true, true},
		{"502 from a proxy", status(http.StatusBadGateway), 0, upstream.KindHTTP, true, true},
		{"504 from a proxy", status(http.StatusGatewayTimeout), 0, upstream.KindHTTP, true, true},
		{"503", status(http.StatusServiceUnavailable), 0, upstream.KindHTTP, true, false},
		{"500 page", status(http.StatusInternalServerError), 0, upstream.KindHTTP, true, false},
		{"HTML page with 200", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			_, _ = io.WriteString(w, "<html>Could not access any server machines</html>")
		}, 0, upstream.KindDecode, true, false},
		{"error envelope", body(`{"status":"error","messages":["no"],"code":500}`), 0, upstream.KindAPI, true, false},
	} {
		for _, write := range []bool{true, false} {
			name := tc.name + "/read"
			if write {
				name = tc.name + "/write"
			}
			t.Run(name, func(t *testing.T) {
				c, mux, _ := setupResilient(t, upstream.ResilienceConfig{BreakerThreshold: -1, MaxAttempts: 1})
				s := &script{answers: []answer{tc.a}}
				mux.Handle("/services/A.MapServer/start", s)
				mux.Handle("/services/A.MapServer/status", s)
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				if tc.deadline > 0 {
					ctx, cancel = context.WithTimeout(ctx, tc.deadline)
					defer cancel()
				}
				var err error
				if write {
					err = c.Services.Start(ctx, outcomeRef)
				} else {
					_, err = c.Services.Status(ctx, outcomeRef)
				}
				var e *upstream.Error
				if !errors.As(err, &e) || e.Kind != tc.kind {
					t.Fatalf("err = %v, want an *Error of kind %v", err, tc.kind)
				}
				wantSent, wantUnknown := tc.sent && write, tc.unknown && write
				if e.Write != write || e.Sent != wantSent || e.OutcomeUnknown() != wantUnknown || upstream.IsOutcomeUnknown(err) != wantUnknown {
					t.Errorf("Write %v Sent %v OutcomeUnknown %v, want %v %v %v (%v)", e.Write, e.Sent, e.OutcomeUnknown(), write, wantSent, wantUnknown, err)
				}
				if tc.deadline > 0 && !errors.Is(err, context.DeadlineExceeded) {
					t.Errorf("errors.Is(%v, DeadlineExceeded) = false", err)
				}
				if s.count() != 1 {
					t.Errorf("%d attempts, want 1", s.count())
				}
			})
		}
	}
}

// TestOutcomeNotSent checks the writes that provably never reached the
// upstream: their outcome is known (nothing was applied).
func TestOutcomeNotSent(t *testing.T) {
	t.Run("connection refused", func(t *testing.T) {
		lis, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := lis.Addr().String()
		_ = lis.Close() // nothing listens there now
		tr := &http.Transport{DisableKeepAlives: true}
		defer tr.CloseIdleConnections()
		c, err := upstream.New("http://"+addr+"/arcgis", upstream.WithTokenSource(upstream.StaticToken(testToken)),
			upstream.WithHTTPClient(&http.Client{Transport: tr}), upstream.WithResilience(upstream.ResilienceConfig{BreakerThreshold: -1}))
		if err != nil {
			t.Fatal(err)
		}
		err = c.Services.Start(context.Background(), outcomeRef)
		checkNotSent(t, err)
	})
	t.Run("context ended before sending", func(t *testing.T) {
		c, mux, _ := setupResilient(t, upstream.ResilienceConfig{BreakerThreshold: -1})
		s := &script{answers: []answer{body(`{"status":"success"}`)}}
		mux.Handle("/services/A.MapServer/start", s)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		checkNotSent(t, c.Services.Start(ctx, outcomeRef))
		if s.count() != 0 {
			t.Errorf("%d requests reached the upstream", s.count())
		}
	})
	t.Run("circuit breaker open", func(t *testing.T) {
		c, mux, _ := setupResilient(t, upstream.ResilienceConfig{BreakerThreshold: 1, MaxAttempts: 1, BreakerCooldown: time.Hour})
		mux.Handle("/services/A.MapServer/status", &script{answers: []answer{status(http.StatusBadGateway)}})
		s := &script{answers: []answer{body(`{"status":"success"}`)}}
		mux.Handle("/services/A.MapServer/start", s)
		if _, err := c.Services.Status(context.Background(), outcomeRef); err == nil {
			t.Fatal("the failing read succeeded")
		}
		err := c.Services.Start(context.Background(), outcomeRef)
		if _, open := upstream.IsCircuitOpen(err); !open {
			t.Fatalf("err = %v, want the breaker's refusal", err)
		}
		checkNotSent(t, err)
		if s.count() != 0 {
			t.Errorf("%d requests reached the upstream", s.count())
		}
	})
	t.Run("deadline while waiting for a connection slot", func(t *testing.T) {
		c, mux, _ := setupResilient(t, upstream.ResilienceConfig{MaxConcurrent: 1, BreakerThreshold: -1})
		inside, release := make(chan struct{}), make(chan struct{})
		mux.HandleFunc("/services/A.MapServer/status", func(w http.ResponseWriter, r *http.Request) {
			close(inside)
			<-release
			writeBody(w, `{"configuredState":"STARTED","realTimeState":"STARTED"}`)
		})
		s := &script{answers: []answer{body(`{"status":"success"}`)}}
		mux.Handle("/services/A.MapServer/start", s)
		done := make(chan error, 1)
		go func() {
			_, err := c.Services.Status(context.Background(), outcomeRef)
			done <- err
		}()
		<-inside
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
		defer cancel()
		err := c.Services.Start(ctx, outcomeRef)
		close(release)
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("err = %v, want the deadline", err)
		}
		checkNotSent(t, err)
		if s.count() != 0 {
			t.Errorf("%d requests reached the upstream", s.count())
		}
	})
}

func checkNotSent(t *testing.T, err error) {
	t.Helper()
	var e *upstream.Error
	if !errors.As(err, &e) || e.Kind != upstream.KindTransport {
		t.Fatalf("err = %v, want a transport *Error", err)
	}
	if !e.Write || e.Sent || e.OutcomeUnknown() || upstream.IsOutcomeUnknown(err) {
		t.Fatalf("Write %v Sent %v OutcomeUnknown %v, want a write known not sent (%v)", e.Write, e.Sent, e.OutcomeUnknown(), err)
	}
}

// TestOutcomeTokenRequestIsNotAWrite checks that a failed generateToken
// (which changes nothing) never reads as a write of unknown outcome.
func TestOutcomeTokenRequestIsNotAWrite(t *testing.T) {
	c, mux, _ := setup(t, upstream.WithCredentials("admin", "pw-Quokka-1"))
	mux.HandleFunc("/generateToken", refuse)
	s := &script{answers: []answer{body(`{"status":"success"}`)}}
	mux.Handle("/services/A.MapServer/start", s)
	err := c.Services.Start(context.Background(), outcomeRef)
	if err == nil || upstream.IsOutcomeUnknown(err) || s.count() != 0 {
		t.Fatalf("err = %v (outcome unknown %v), %d starts sent; want a token failure, nothing sent", err, upstream.IsOutcomeUnknown(err), s.count())
	}
}

// TestOutcomeWriteNotReplayedOnReusedConnection checks that a write whose
// answer is lost on a reused keep-alive connection is sent once (net/http
// replays only requests it knows are idempotent) and reads as unknown.
func TestOutcomeWriteNotReplayedOnReusedConnection(t *testing.T) {
	c, mux := setupStatic(t, upstream.WithResilience(upstream.ResilienceConfig{BreakerThreshold: -1}))
	mux.HandleFunc("/services/A.MapServer/status", func(w http.ResponseWriter, r *http.Request) {
		writeBody(w, `{"configuredState":"STARTED","realTimeState":"STARTED"}`)
	})
	s := &script{answers: []answer{processThenDrop}}
	mux.Handle("/services/A.MapServer/start", s)
	if _, err := c.Services.Status(context.Background(), outcomeRef); err != nil {
		t.Fatal(err) // leaves an idle connection for the write to reuse
	}
	err := c.Services.Start(context.Background(), outcomeRef)
	if !upstream.IsOutcomeUnknown(err) || s.count() != 1 {
		t.Fatalf("err = %v after %d attempts; want one attempt, outcome unknown", err, s.count())
	}
}
