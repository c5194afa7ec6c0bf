package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	adminv1 "github.com/arcgate/arcgate/gen/go/arcgate/admin/v1"
	"github.com/arcgate/arcgate/internal/app"
	"github.com/arcgate/arcgate/rpc"
	"github.com/arcgate/arcgate/server"
	"github.com/arcgate/arcgate/simulator"
	"github.com/arcgate/arcgate/upstream"
)

// newTokenClock returns a fake clock for the token pool and the simulator.
func newTokenClock() *fakeClock {
	return &fakeClock{now: time.Date(2026, 6, 1, 8, 0, 0, 0, time.UTC)}
}

// startTokens starts arcgate in demo mode with cfg's token settings (the
// listen addresses are filled in) and the fake clock, and returns the
// harness env.
func startTokens(t *testing.T, cfg app.Config, clock *fakeClock) *env {
	t.Helper()
	cfg.GRPCAddr, cfg.HTTPAddr = "127.0.0.1:0", "127.0.0.1:0"
	if clock != nil {
		cfg.Clock = clock.Now
	}
	// Keep upstream connections alive between concurrent calls.
	up := &http.Transport{MaxIdleConnsPerHost: 64}
	t.Cleanup(up.CloseIdleConnections)
	cfg.HTTPClient = &http.Client{Transport: up}
	a, err := app.Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := grpc.NewClient(a.GRPCAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	tr := &http.Transport{MaxIdleConnsPerHost: 64}
	e := &env{app: a, sim: a.Simulator, conn: conn, services: adminv1.NewServicesServiceClient(conn),
		rest: "http://" + a.HTTPAddr, hc: &http.Client{Transport: tr, Timeout: 30 * time.Second}}
	t.Cleanup(func() {
		_ = conn.Close()
		tr.CloseIdleConnections()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := a.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
	return e
}

const sampleService = "services/SampleWorldCities.MapServer"

// getService reads the sample service over gRPC with the given metadata
// pairs.
func (e *env) getService(ctx context.Context, md ...string) error {
	if len(md) > 0 {
		ctx = metadata.AppendToOutgoingContext(ctx, md...)
	}
	_, err := e.services.GetService(ctx, &adminv1.GetServiceRequest{Name: sampleService})
	return err
}

// restGetService reads the sample service over REST with the given header
// pairs; it returns the HTTP status and body, or an error (never failing
// the test, so that workers may call it).
func (e *env) restGetService(hdr ...string) (int, string, error) {
	req, err := http.NewRequest(http.MethodGet, e.rest+"/v1/"+sampleService, nil)
	if err != nil {
		return 0, "", err
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := e.hc.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body), err
}

// reasonOf returns the ErrorInfo reason of a gRPC error.
func reasonOf(err error) string { return grpcReason(status.Convert(err)) }

// TestTokens_ColdStampedeMintsOnce sends concurrent gRPC calls to a cold
// arcgate: one generateToken serves them all. (The pool's own test,
// upstream.TestPool_ColdStampedeMintsOnce, runs 1000 callers; here 300
// keep the end-to-end run short under the race detector.)
func TestTokens_ColdStampedeMintsOnce(t *testing.T) {
	e := startTokens(t, app.Config{}, nil)
	c := ctx(t)
	const n = 300
	var wg sync.WaitGroup
	var failed atomic.Int64
	start := make(chan struct{})
	for range n {
		wg.Go(func() {
			<-start
			if err := e.getService(c); err != nil {
				failed.Add(1)
				t.Errorf("GetService: %v", err)
			}
		})
	}
	close(start)
	wg.Wait()
	if failed.Load() != 0 {
		t.Fatalf("%d of %d calls failed", failed.Load(), n)
	}
	if got := e.sim.GenerateTokenCount(); got != 1 {
		t.Fatalf("generateToken calls = %d for %d concurrent cold calls, want exactly 1", got, n)
	}
	if s := e.app.TokenPool().Stats(); s.TokensMinted != 1 {
		t.Errorf("pool Stats = %+v", s)
	}
}

// TestTokens_SustainedLoadAcrossExpiriesAndRevocations keeps gRPC and REST
// callers busy while tokens are forced to expire (the shared fake clock
// jumps past their lifetime) ten times and are revoked ten times: no call
// may fail, and each event costs exactly one generateToken. After each
// event every worker completes a call started after it before the next
// event, so no call can straddle two events.
func TestTokens_SustainedLoadAcrossExpiriesAndRevocations(t *testing.T) {
	clock := newTokenClock()
	const lifetime = 2 * time.Minute // short tokens
	e := startTokens(t, app.Config{Simulator: simulator.Config{TokenLifetime: lifetime}}, clock)
	c := ctx(t)

	const workers = 6
	var (
		epoch    atomic.Int64
		done     [workers]atomic.Int64 // epoch at the start of each worker's last finished call
		stop     atomic.Bool
		calls    atomic.Int64
		failures atomic.Int64
		wg       sync.WaitGroup
	)
	for w := range workers {
		done[w].Store(-1)
		wg.Go(func() {
			for !stop.Load() {
				ep := epoch.Load()
				var err error
				if w%3 == 0 {
					var code int
					var body string
					code, body, err = e.restGetService()
					if err == nil && code != http.StatusOK {
						err = fmt.Errorf("REST %d: %s", code, body)
					}
				} else {
					err = e.getService(c)
				}
				if err != nil {
					failures.Add(1)
					t.Errorf("worker %d, epoch %d: %v", w, ep, err)
				}
				calls.Add(1)
				done[w].Store(ep)
			}
		})
	}
	settle := func(ep int64) {
		for w := range workers {
			for done[w].Load() < ep && !t.Failed() {
				time.Sleep(time.Millisecond)
			}
		}
	}
	settle(0)
	for i := int64(1); i <= 20; i++ {
		if i%2 == 1 {
			clock.Advance(lifetime + time.Second) // forced expiry
		} else {
			e.sim.RevokeAllTokens()
		}
		epoch.Store(i)
		settle(i)
	}
	stop.Store(true)
	wg.Wait()

	if failures.Load() != 0 {
		t.Fatalf("%d of %d calls failed", failures.Load(), calls.Load())
	}
	if got := e.sim.GenerateTokenCount(); got != 21 {
		t.Fatalf("generateToken calls = %d, want 21 (one, then one per expiry and per revocation)", got)
	}
	s := e.app.TokenPool().Stats()
	if s.TokensMinted != 21 || s.RefreshFailures != 0 || s.Rejections < 10 {
		t.Errorf("pool Stats = %+v", s)
	}
	t.Logf("%d calls, pool %+v", calls.Load(), s)
}

func TestTokens_WrongPasswordUnderLoad(t *testing.T) {
	clock := newTokenClock()
	e := startTokens(t, app.Config{}, clock)
	const secret = "the-right-password-is-elsewhere-7c1"
	e.sim.SetCredentials(app.DemoUsername, secret)
	c := ctx(t)
	var calls atomic.Int64
	for range 50 { // five seconds of fake time
		clock.Advance(100 * time.Millisecond)
		var wg sync.WaitGroup
		for i := range 8 {
			wg.Go(func() {
				calls.Add(1)
				if i == 0 {
					code, body, err := e.restGetService()
					if err != nil || code != http.StatusUnauthorized || !strings.Contains(body, server.ReasonCredentialsRejected) {
						t.Errorf("REST: %d %s %v", code, body, err)
					}
					return
				}
				err := e.getService(c)
				if status.Code(err) != codes.Unauthenticated || reasonOf(err) != server.ReasonCredentialsRejected {
					t.Errorf("gRPC: %v (reason %q), want UNAUTHENTICATED %s", err, reasonOf(err), server.ReasonCredentialsRejected)
				}
				if err != nil && (strings.Contains(err.Error(), app.DemoPassword) || strings.Contains(err.Error(), secret)) {
					t.Errorf("error leaks a password: %v", err)
				}
			})
		}
		wg.Wait()
	}
	if got := e.sim.GenerateTokenCount(); got < 2 || got > 6 {
		t.Fatalf("generateToken calls = %d for %d calls over 5 seconds, want 2..6 (at most one per second)", got, calls.Load())
	}
	// The account is fixed upstream: arcgate recovers by itself.
	e.sim.SetCredentials(app.DemoUsername, app.DemoPassword)
	clock.Advance(40 * time.Second)
	if err := e.getService(c); err != nil {
		t.Fatalf("after the credentials were fixed: %v", err)
	}
}

func TestTokens_Sources(t *testing.T) {
	for _, tc := range []struct {
		name  string
		cfg   app.Config
		mints int // generateToken calls for the first token
		fixed bool
	}{
		{"admin, requestip", app.Config{}, 1, false},
		{"admin, referer", app.Config{TokenClient: upstream.TokenClientReferer, TokenReferer: "https://gateway.example/arcgate"}, 1, false},
		{"tokens", app.Config{TokenService: upstream.TokenServiceTokens}, 1, false},
		{"portal", app.Config{TokenService: upstream.TokenServicePortal}, 2, false},
		{"fixed", app.Config{FixedToken: true}, 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := startTokens(t, tc.cfg, nil)
			c := ctx(t)
			if err := e.getService(c); err != nil {
				t.Fatalf("gRPC: %v", err)
			}
			if code, body, err := e.restGetService(); err != nil || code != http.StatusOK {
				t.Fatalf("REST: %d %s %v", code, body, err)
			}
			if got := e.sim.GenerateTokenCount(); got != tc.mints {
				t.Fatalf("generateToken calls = %d, want %d", got, tc.mints)
			}
			e.sim.RevokeAllTokens()
			err := e.getService(c)
			if tc.fixed {
				// No refresh: the rejection surfaces as UNAUTHENTICATED.
				if status.Code(err) != codes.Unauthenticated || reasonOf(err) != server.ReasonUpstreamUnauthenticated {
					t.Fatalf("revoked fixed token: %v", err)
				}
				if code, _, _ := e.restGetService(); code != http.StatusUnauthorized {
					t.Fatalf("revoked fixed token over REST: HTTP %d", code)
				}
				return
			}
			if err != nil {
				t.Fatalf("after revocation: %v", err)
			}
		})
	}
}

func TestTokens_DelegatedRequired(t *testing.T) {
	e := startTokens(t, app.Config{DelegatedAuth: rpc.DelegatedAuthRequired}, nil)
	c := ctx(t)
	admin := []string{rpc.MetadataArcGISUsername, app.DemoUsername, rpc.MetadataArcGISPassword, app.DemoPassword}

	// No credentials: refused before any upstream request.
	e.sim.ResetRequests()
	err := e.getService(c)
	if info := wantCode(t, err, codes.Unauthenticated); info.GetReason() != server.ReasonDelegatedCredsRequired {
		t.Fatalf("reason %q", info.GetReason())
	}
	code, body, _ := e.restGetService()
	if code != http.StatusUnauthorized || !strings.Contains(body, server.ReasonDelegatedCredsRequired) {
		t.Fatalf("REST without credentials: %d %s", code, body)
	}
	// Malformed credentials: INVALID_ARGUMENT naming the key.
	err = e.getService(c, rpc.MetadataArcGISUsername, "admin")
	wantCode(t, err, codes.InvalidArgument)
	if !strings.Contains(status.Convert(err).Message(), rpc.MetadataArcGISPassword) {
		t.Fatalf("message %q does not name %s", status.Convert(err).Message(), rpc.MetadataArcGISPassword)
	}
	code, body, _ = e.restGetService("X-ArcGIS-Token", "t", "X-ArcGIS-Username", "admin")
	if code != http.StatusBadRequest || strings.Contains(body, `"t"`) {
		t.Fatalf("REST with token and username: %d %s", code, body)
	}
	if n := e.sim.RequestCount(); n != 0 {
		t.Fatalf("upstream requests = %d, want 0", n)
	}

	// The caller's credentials, over gRPC and REST: one identity, one token.
	if err := e.getService(c, admin...); err != nil {
		t.Fatalf("gRPC with credentials: %v", err)
	}
	if code, body, err := e.restGetService("X-ArcGIS-Username", app.DemoUsername, "X-ArcGIS-Password", app.DemoPassword); err != nil || code != http.StatusOK {
		t.Fatalf("REST with credentials: %d %s %v", code, body, err)
	}
	if got := e.sim.GenerateTokenCount(); got != 1 {
		t.Fatalf("generateToken calls = %d, want 1", got)
	}

	// Wrong delegated password: refused by the upstream, not retried.
	const wrong = "not-the-admin-password-3f9"
	err = e.getService(c, rpc.MetadataArcGISUsername, app.DemoUsername, rpc.MetadataArcGISPassword, wrong)
	if info := wantCode(t, err, codes.Unauthenticated); info.GetReason() != server.ReasonCredentialsRejected || strings.Contains(err.Error(), wrong) {
		t.Fatalf("wrong delegated password: %v", err)
	}

	// A delegated token is used as is, until the upstream rejects it.
	tok := e.sim.IssueToken(time.Hour)
	before := e.sim.GenerateTokenCount()
	if err := e.getService(c, rpc.MetadataArcGISToken, tok); err != nil {
		t.Fatalf("gRPC with a token: %v", err)
	}
	if code, body, err := e.restGetService("X-ArcGIS-Token", tok); err != nil || code != http.StatusOK {
		t.Fatalf("REST with a token: %d %s %v", code, body, err)
	}
	if got := e.sim.GenerateTokenCount(); got != before {
		t.Fatalf("a delegated token caused %d generateToken calls", got-before)
	}
	e.sim.RevokeAllTokens()
	err = e.getService(c, rpc.MetadataArcGISToken, tok)
	if wantCode(t, err, codes.Unauthenticated); strings.Contains(err.Error(), tok) {
		t.Fatalf("the error shows the token: %v", err)
	}
	// The delegated account recovers from the revocation by itself.
	if err := e.getService(c, admin...); err != nil {
		t.Fatalf("delegated credentials after revocation: %v", err)
	}
	if s := e.app.TokenPool().Stats(); s.Identities != 3 {
		t.Errorf("identities = %d, want 3 (the admin account, which is also the service identity; the wrong password; the token)", s.Identities)
	}
}

func TestTokens_DelegatedOptionalAndOff(t *testing.T) {
	t.Run("optional", func(t *testing.T) {
		e := startTokens(t, app.Config{DelegatedAuth: rpc.DelegatedAuthOptional}, nil)
		c := ctx(t)
		if err := e.getService(c); err != nil {
			t.Fatalf("without credentials (service identity): %v", err)
		}
		if err := e.getService(c, rpc.MetadataArcGISToken, e.sim.IssueToken(time.Hour)); err != nil {
			t.Fatalf("with a token: %v", err)
		}
	})
	t.Run("off", func(t *testing.T) {
		e := startTokens(t, app.Config{}, nil)
		c := ctx(t)
		e.sim.ResetRequests()
		err := e.getService(c, rpc.MetadataArcGISUsername, app.DemoUsername, rpc.MetadataArcGISPassword, app.DemoPassword)
		wantCode(t, err, codes.InvalidArgument)
		code, body, _ := e.restGetService("X-ArcGIS-Token", "x")
		if code != http.StatusBadRequest || !strings.Contains(body, "x-arcgis-token") {
			t.Fatalf("REST with a token while off: %d %s", code, body)
		}
		if n := e.sim.RequestCount(); n != 0 {
			t.Fatalf("upstream requests = %d, want 0", n)
		}
		if err := e.getService(c); err != nil {
			t.Fatalf("without credentials: %v", err)
		}
	})
}
