package upstream_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/arcgate/arcgate/simulator"
	"github.com/arcgate/arcgate/upstream"
)

// This file tests the token pool's rules with a fake clock shared by the
// pool and the simulator, so that expiry, the refresh tiers and the
// backoffs are exact.

// gatedTransport can hold generateToken requests (of any token endpoint)
// until released, to observe what callers do while a refresh runs. It
// counts the generateToken requests that reached it.
type gatedTransport struct {
	base    http.RoundTripper
	started atomic.Int64
	entered chan struct{} // one value per held request

	mu      sync.Mutex
	holding bool
	release chan struct{}
}

func newGate(base http.RoundTripper) *gatedTransport {
	return &gatedTransport{base: base, entered: make(chan struct{}, 10000)}
}

func (g *gatedTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if strings.HasSuffix(r.URL.Path, "/generateToken") {
		g.started.Add(1)
		g.mu.Lock()
		holding, release := g.holding, g.release
		g.mu.Unlock()
		if holding {
			g.entered <- struct{}{}
			select {
			case <-release:
			case <-r.Context().Done():
				return nil, r.Context().Err()
			}
		}
	}
	return g.base.RoundTrip(r)
}

// hold makes generateToken requests wait until open.
func (g *gatedTransport) hold() {
	g.mu.Lock()
	g.holding, g.release = true, make(chan struct{})
	g.mu.Unlock()
}

// open releases held requests and stops holding.
func (g *gatedTransport) open() {
	g.mu.Lock()
	if g.holding {
		g.holding = false
		close(g.release)
	}
	g.mu.Unlock()
}

// simEnv is a client in front of the simulator, both on one fake clock.
type simEnv struct {
	sim    *simulator.Server
	srv    *httptest.Server
	clock  *fakeClock
	gate   *gatedTransport
	client *upstream.Client
	pool   *upstream.Pool
}

// adminCreds is the simulator's administrator as the service identity.
var adminCreds = upstream.WithCredentials(simulator.DefaultUsername, simulator.DefaultPassword)

// newSimEnv starts a simulator configured by cfg (its clock replaced by a
// fake one) and a client for it with opts.
func newSimEnv(t *testing.T, cfg simulator.Config, opts ...upstream.Option) *simEnv {
	t.Helper()
	clock := newFakeClock()
	cfg.Clock = clock.Now
	sim := simulator.New(cfg)
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	gate := newGate(srv.Client().Transport)
	t.Cleanup(gate.open) // never leave a request held
	all := append([]upstream.Option{upstream.WithHTTPClient(&http.Client{Transport: gate}), upstream.WithClock(clock.Now)}, opts...)
	c, err := upstream.New(srv.URL+"/arcgis", all...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(c.Close)
	return &simEnv{sim: sim, srv: srv, clock: clock, gate: gate, client: c, pool: c.Pool()}
}

// set moves the fake clock to tm.
func (c *fakeClock) set(tm time.Time) {
	c.mu.Lock()
	c.now = tm
	c.mu.Unlock()
}

// mustPoolToken gets a token of the identity in ctx (the service identity
// for a plain context).
func mustPoolToken(t *testing.T, p *upstream.Pool, ctx context.Context) *upstream.Token {
	t.Helper()
	tok, err := p.Token(ctx)
	if err != nil {
		t.Fatalf("Token: %v", err)
	}
	return tok
}

// wantMints checks the simulator's generateToken count.
func (e *simEnv) wantMints(t *testing.T, want int) {
	t.Helper()
	if got := e.sim.GenerateTokenCount(); got != want {
		t.Fatalf("generateToken calls = %d, want %d", got, want)
	}
}

func TestPool_TierWindows(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		life                time.Duration
		advisory, mandatory time.Duration
	}{
		{60 * time.Minute, 15 * time.Minute, time.Minute}, // the AWS tiers for a 60-minute token
		{10 * time.Minute, 150 * time.Second, 10 * time.Second},
		{2 * time.Minute, 30 * time.Second, 5 * time.Second},
		{30 * time.Second, 7500 * time.Millisecond, 1875 * time.Millisecond},
		{8 * time.Second, 2 * time.Second, 500 * time.Millisecond},
		{2 * time.Hour, 30 * time.Minute, time.Minute},
		{14 * 24 * time.Hour, time.Hour, time.Minute},
	} {
		a, m := upstream.TierWindows(tc.life)
		if a != tc.advisory || m != tc.mandatory {
			t.Errorf("TierWindows(%v) = %v, %v; want %v, %v", tc.life, a, m, tc.advisory, tc.mandatory)
		}
		if m >= a/2 {
			t.Errorf("TierWindows(%v): mandatory %v must open after the latest advisory start T-%v", tc.life, m, a/2)
		}
	}
}

func TestPool_ColdStampedeMintsOnce(t *testing.T) {
	t.Parallel()
	e := newSimEnv(t, simulator.Config{}, adminCreds)
	e.gate.hold()
	const n = 1000
	var wg sync.WaitGroup
	var failed atomic.Int64
	start := make(chan struct{})
	for range n {
		wg.Go(func() {
			<-start
			if _, err := e.client.SiteInfo(context.Background()); err != nil {
				failed.Add(1)
				t.Errorf("SiteInfo: %v", err)
			}
		})
	}
	close(start)
	<-e.gate.entered // the one refresh is under way; the others pile up behind it
	e.gate.open()
	wg.Wait()
	if failed.Load() != 0 {
		t.Fatalf("%d calls failed", failed.Load())
	}
	e.wantMints(t, 1)
	if s := e.pool.Stats(); s.TokensMinted != 1 || s.Refreshes != 1 || s.RefreshFailures != 0 {
		t.Errorf("Stats = %+v", s)
	}
}

func TestPool_RefreshTiers(t *testing.T) {
	t.Parallel()
	for _, life := range []time.Duration{60 * time.Minute, 10 * time.Minute, 2 * time.Minute, 30 * time.Second} {
		t.Run(life.String(), func(t *testing.T) {
			t.Parallel()
			e := newSimEnv(t, simulator.Config{TokenLifetime: life}, adminCreds)
			ctx := context.Background()
			a, m := upstream.TierWindows(life)

			t1 := mustPoolToken(t, e.pool, ctx)
			if want := e.clock.Now().Add(life); !t1.Expires.Equal(want) {
				t.Fatalf("Expires = %v, want %v (the lifetime the server granted)", t1.Expires, want)
			}

			// Just before the earliest advisory start: cached, nothing runs.
			e.clock.set(t1.Expires.Add(-a - time.Millisecond))
			if got := mustPoolToken(t, e.pool, ctx); got != t1 {
				t.Fatalf("before the advisory window: got another token")
			}
			upstream.WaitRefreshes(e.pool)
			e.wantMints(t, 1)

			// At the latest advisory start: the cached token is served at
			// once while one refresh runs in the background.
			e.gate.hold()
			e.clock.set(t1.Expires.Add(-a / 2))
			for range 10 {
				if got := mustPoolToken(t, e.pool, ctx); got != t1 {
					t.Fatalf("advisory window: got another token while the refresh runs")
				}
			}
			<-e.gate.entered
			if n := e.gate.started.Load(); n != 2 {
				t.Fatalf("generateToken requests = %d, want 2 (one background refresh)", n)
			}
			e.gate.open()
			upstream.WaitRefreshes(e.pool)
			e.wantMints(t, 2)
			t2 := mustPoolToken(t, e.pool, ctx)
			if t2 == t1 || t2.Value == t1.Value {
				t.Fatal("after the background refresh: still the old token")
			}

			// Inside the mandatory window: callers wait for the refresh.
			e.gate.hold()
			e.clock.set(t2.Expires.Add(-m / 2))
			got := make(chan *upstream.Token, 1)
			go func() {
				tok, err := e.pool.Token(ctx)
				if err != nil {
					t.Errorf("Token: %v", err)
				}
				got <- tok
			}()
			<-e.gate.entered
			select {
			case <-got:
				t.Fatal("mandatory window: the caller did not wait for the refresh")
			default:
			}
			e.gate.open()
			if t3 := <-got; t3 == nil || t3.Value == t2.Value {
				t.Fatal("mandatory window: the caller did not get the new token")
			}
			e.wantMints(t, 3)
		})
	}
}

func TestPool_FailedRefreshKeepsServingAndBacksOff(t *testing.T) {
	t.Parallel()
	e := newSimEnv(t, simulator.Config{}, adminCreds)
	ctx := context.Background()
	a, m := upstream.TierWindows(time.Hour)
	t1 := mustPoolToken(t, e.pool, ctx)
	e.sim.FailGenerateToken(1 << 20)

	// A failed advisory refresh: the token is still served.
	e.clock.set(t1.Expires.Add(-a / 2))
	if got := mustPoolToken(t, e.pool, ctx); got != t1 {
		t.Fatal("advisory window: lost the token")
	}
	upstream.WaitRefreshes(e.pool)
	e.wantMints(t, 2)
	if s := e.pool.Stats(); s.RefreshFailures != 1 {
		t.Fatalf("RefreshFailures = %d, want 1", s.RefreshFailures)
	}
	// Backing off for at least a third of the advisory window.
	for range 5 {
		e.clock.Advance(a/3/5 - time.Second)
		if got := mustPoolToken(t, e.pool, ctx); got != t1 {
			t.Fatal("backing off: lost the token")
		}
		upstream.WaitRefreshes(e.pool)
	}
	e.wantMints(t, 2)

	// The mandatory window opens: the next caller waits for a refresh,
	// which fails, and still gets the valid token; further attempts are
	// at least a second apart.
	e.clock.set(t1.Expires.Add(-m))
	if got := mustPoolToken(t, e.pool, ctx); got != t1 {
		t.Fatal("mandatory window: a failed refresh took the valid token away")
	}
	e.wantMints(t, 3)
	for range 30 {
		e.clock.Advance(100 * time.Millisecond)
		if got := mustPoolToken(t, e.pool, ctx); got != t1 {
			t.Fatal("mandatory window: lost the token")
		}
	}
	if n := e.sim.GenerateTokenCount(); n > 3+3 {
		t.Fatalf("generateToken calls = %d over 3 seconds of failures, want at most one per second", n)
	}

	// Expired, still failing: the error, rate-limited.
	e.clock.set(t1.Expires)
	before := e.sim.GenerateTokenCount()
	for range 20 {
		_, err := e.pool.Token(ctx)
		if ue := asError(t, err); ue.Kind != upstream.KindToken || ue.Code != 500 || !upstream.IsAuth(err) {
			t.Fatalf("err = %v, want the token service's code 500 as KindToken", err)
		}
		e.clock.Advance(50 * time.Millisecond)
	}
	if n := e.sim.GenerateTokenCount() - before; n > 2 {
		t.Fatalf("generateToken calls = %d in one second without a valid token, want at most 2", n)
	}

	// The token service recovers: the next attempt (at most 30 s + 25%
	// after the last failure) succeeds.
	e.sim.FailGenerateToken(0)
	e.clock.Advance(38 * time.Second)
	if got := mustPoolToken(t, e.pool, ctx); got.Value == t1.Value {
		t.Fatal("after recovery: still the old token")
	}
}

func TestPool_WrongPasswordUnderLoad(t *testing.T) {
	t.Parallel()
	e := newSimEnv(t, simulator.Config{}, adminCreds)
	e.sim.SetCredentials(simulator.DefaultUsername, "rotated-elsewhere")
	// Five seconds of fake time in 100 ms steps, with 20 concurrent calls
	// at every step.
	var calls atomic.Int64
	for range 50 {
		e.clock.Advance(100 * time.Millisecond)
		var wg sync.WaitGroup
		for range 20 {
			wg.Go(func() {
				_, err := e.client.SiteInfo(context.Background())
				var ue *upstream.Error
				if !errors.As(err, &ue) || ue.Kind != upstream.KindToken || ue.Code != 400 || !upstream.IsAuth(err) ||
					!strings.Contains(err.Error(), "Invalid username or password") {
					t.Errorf("err = %v, want the refused credentials", err)
				}
				if err != nil && strings.Contains(err.Error(), simulator.DefaultPassword) {
					t.Errorf("password leaked: %v", err)
				}
				calls.Add(1)
			})
		}
		wg.Wait()
	}
	n := e.sim.GenerateTokenCount()
	if n < 2 || n > 6 {
		t.Fatalf("generateToken calls = %d for %d calls over 5 seconds, want 2..6 (at most one per second, retried)", n, calls.Load())
	}
	if s := e.pool.Stats(); s.RefreshFailures != uint64(n) || s.TokensMinted != 0 {
		t.Errorf("Stats = %+v", s)
	}
}

func TestPool_FailureIsSharedAndClearsTheSlot(t *testing.T) {
	t.Parallel()
	e := newSimEnv(t, simulator.Config{}, adminCreds)
	e.sim.FailGenerateToken(1)
	e.gate.hold()
	var wg sync.WaitGroup
	errs := make(chan error, 100)
	for range 100 {
		wg.Go(func() {
			_, err := e.pool.Token(context.Background())
			errs <- err
		})
	}
	<-e.gate.entered
	e.gate.open()
	wg.Wait()
	close(errs)
	for err := range errs {
		if ue := asError(t, err); ue.Kind != upstream.KindToken || ue.Code != 500 {
			t.Fatalf("err = %v, want the failed refresh's error", err)
		}
	}
	e.wantMints(t, 1)
	// The failure is not cached beyond the retry interval.
	e.clock.Advance(1250 * time.Millisecond)
	mustPoolToken(t, e.pool, context.Background())
	e.wantMints(t, 2)
}

func TestPool_InvalidateIsCompareAndSwap(t *testing.T) {
	t.Parallel()
	e := newSimEnv(t, simulator.Config{}, adminCreds)
	ctx := context.Background()
	t1 := mustPoolToken(t, e.pool, ctx)
	e.pool.Invalidate(t1)
	t2 := mustPoolToken(t, e.pool, ctx)
	if t2 == t1 {
		t.Fatal("Invalidate did not drop the rejected token")
	}
	e.pool.Invalidate(t1)                               // stale: a newer token is current
	e.pool.Invalidate(&upstream.Token{Value: t2.Value}) // not issued by the pool
	e.pool.Invalidate(nil)
	if got := mustPoolToken(t, e.pool, ctx); got != t2 {
		t.Fatal("a stale invalidation threw the newer token away")
	}
	e.wantMints(t, 2)
	if s := e.pool.Stats(); s.Rejections != 2 {
		t.Errorf("Rejections = %d, want 2", s.Rejections)
	}
}

func TestPool_RevocationRefreshesOnceAndRetries(t *testing.T) {
	t.Parallel()
	e := newSimEnv(t, simulator.Config{}, adminCreds)
	ctx := context.Background()
	if _, err := e.client.SiteInfo(ctx); err != nil {
		t.Fatal(err)
	}
	for round := range 3 {
		e.sim.RevokeAllTokens()
		var wg sync.WaitGroup
		for range 50 {
			wg.Go(func() {
				if _, err := e.client.SiteInfo(ctx); err != nil {
					t.Errorf("after revocation %d: %v", round, err)
				}
			})
		}
		wg.Wait()
		e.wantMints(t, 2+round) // one refresh per revocation, however many callers saw the 498
	}
	if s := e.pool.Stats(); s.Rejections < 3 || s.TokensMinted != 4 {
		t.Errorf("Stats = %+v", s)
	}
}

func TestPool_DelegatedIdentities(t *testing.T) {
	t.Parallel()
	e := newSimEnv(t, simulator.Config{}, adminCreds)
	bg := context.Background()
	if _, err := e.client.SiteInfo(bg); err != nil {
		t.Fatal(err)
	}
	e.wantMints(t, 1)

	// The service account as a delegated identity shares its entry.
	same := upstream.WithIdentity(bg, upstream.CredentialsIdentity(simulator.DefaultUsername, simulator.DefaultPassword))
	if _, err := e.client.SiteInfo(same); err != nil {
		t.Fatal(err)
	}
	e.wantMints(t, 1)

	// Wrong delegated credentials fail on their own.
	const wrongPassword = "delegated-wrong-pw-91c"
	wrong := upstream.WithIdentity(bg, upstream.CredentialsIdentity(simulator.DefaultUsername, wrongPassword))
	_, err := e.client.SiteInfo(wrong)
	if ue := asError(t, err); ue.Kind != upstream.KindToken || !upstream.IsAuth(err) || strings.Contains(err.Error(), wrongPassword) {
		t.Fatalf("wrong delegated password: err = %v", err)
	}
	e.wantMints(t, 2)
	if _, err := e.client.SiteInfo(bg); err != nil {
		t.Fatalf("the service identity broke: %v", err)
	}

	// A delegated token is used as is: no generateToken.
	tok := e.sim.IssueToken(time.Hour)
	byToken := upstream.WithIdentity(bg, upstream.TokenIdentity(tok))
	if _, err := e.client.SiteInfo(byToken); err != nil {
		t.Fatal(err)
	}
	e.wantMints(t, 2)
	if s := e.pool.Stats(); s.Identities != 3 {
		t.Errorf("Identities = %d, want 3 (service, wrong, token)", s.Identities)
	}

	// Once the upstream rejects it, the call fails without a pointless
	// retry, and the token never appears in the error.
	e.sim.RevokeAllTokens()
	e.sim.ResetRequests()
	_, err = e.client.SiteInfo(byToken)
	if ue := asError(t, err); ue.Code != 498 || !upstream.IsAuth(err) || strings.Contains(err.Error(), tok) {
		t.Fatalf("revoked delegated token: err = %v", err)
	}
	if n := e.sim.RequestCount(); n != 1 {
		t.Errorf("upstream requests = %d, want 1", n)
	}
	e.wantMints(t, 2)
	if _, err := e.client.SiteInfo(bg); err != nil {
		t.Fatalf("the service identity did not recover: %v", err)
	}
	e.wantMints(t, 3)

	// Unusable identities never reach the upstream.
	e.sim.ResetRequests()
	for _, id := range []upstream.Identity{
		upstream.CredentialsIdentity("", "x"), upstream.CredentialsIdentity("u", ""),
		upstream.TokenIdentity(""), upstream.TokenIdentity(strings.Repeat("t", 9000)),
	} {
		if _, err := e.client.SiteInfo(upstream.WithIdentity(bg, id)); asError(t, err).Kind != upstream.KindToken {
			t.Errorf("%v: err = %v, want KindToken", id, err)
		}
	}
	if n := e.sim.RequestCount(); n != 0 {
		t.Errorf("upstream requests = %d, want 0", n)
	}
}

// countingMinter mints "<user>-<n>" tokens living an hour on clock.
type countingMinter struct {
	clock *fakeClock
	mu    sync.Mutex
	n     map[string]int
}

func (m *countingMinter) mint(_ context.Context, id upstream.Identity) (*upstream.Token, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.n[id.Username()]++
	return &upstream.Token{Value: fmt.Sprintf("%s-%d", id.Username(), m.n[id.Username()]), Expires: m.clock.Now().Add(time.Hour)}, nil
}

func (m *countingMinter) count(user string) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.n[user]
}

func TestPool_EvictionLRUAndIdle(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	m := &countingMinter{clock: clock, n: map[string]int{}}
	p := upstream.NewPool(upstream.MinterFunc(m.mint), upstream.PoolConfig{
		Service: upstream.CredentialsIdentity("svc", "pw"), Size: 2, IdleTimeout: 10 * time.Minute, Clock: clock.Now})
	t.Cleanup(p.Close)
	bg := context.Background()
	as := func(user string) context.Context {
		return upstream.WithIdentity(bg, upstream.CredentialsIdentity(user, "pw-"+user))
	}
	use := func(user string) {
		t.Helper()
		ctx := bg
		if user != "svc" {
			ctx = as(user)
		}
		mustPoolToken(t, p, ctx)
		clock.Advance(2 * time.Second)
	}
	want := func(identities int, evictions uint64, counts map[string]int) {
		t.Helper()
		if s := p.Stats(); s.Identities != identities || s.Evictions != evictions {
			t.Fatalf("Stats = %+v, want %d identities, %d evictions", s, identities, evictions)
		}
		for u, n := range counts {
			if got := m.count(u); got != n {
				t.Fatalf("tokens minted for %s = %d, want %d", u, got, n)
			}
		}
	}
	use("svc")
	use("a")
	use("b")
	use("a")
	want(3, 0, map[string]int{"svc": 1, "a": 1, "b": 1})
	use("c") // full: b is the least recently used
	want(3, 1, map[string]int{"a": 1, "b": 1, "c": 1})
	use("a")
	use("b") // b is back (minted again); c goes
	want(3, 2, map[string]int{"a": 1, "b": 2, "c": 1})
	use("c") // c is back; a goes
	want(3, 3, map[string]int{"a": 1, "b": 2, "c": 2})

	// Idle entries are swept when a new identity arrives; the service
	// identity stays, however idle.
	clock.Advance(11 * time.Minute)
	use("d")
	want(2, 5, map[string]int{"d": 1})
	use("svc")
	want(2, 5, map[string]int{"svc": 1})
}

func TestPool_TokenIdentityIsNeverRefreshed(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	p := upstream.NewPool(nil, upstream.PoolConfig{Service: upstream.TokenIdentity("operator-token"), Clock: clock.Now})
	t.Cleanup(p.Close)
	ctx := context.Background()
	t1 := mustPoolToken(t, p, ctx)
	if t1.Value != "operator-token" || !t1.Expires.IsZero() {
		t.Fatalf("token = %q, expires %v", t1.Value, t1.Expires)
	}
	clock.Advance(24 * 365 * time.Hour)
	if got := mustPoolToken(t, p, ctx); got != t1 {
		t.Fatal("a fixed token was refreshed")
	}
	p.Invalidate(t1)
	if got := mustPoolToken(t, p, ctx); got.Value != "operator-token" {
		t.Fatalf("after a rejection: %q", got.Value)
	}
	// Credentials cannot be minted without a minter.
	_, err := p.Token(upstream.WithIdentity(ctx, upstream.CredentialsIdentity("u", "p")))
	if asError(t, err).Kind != upstream.KindToken {
		t.Fatalf("err = %v", err)
	}
	if s := p.Stats(); s.TokensMinted != 0 || s.Rejections != 1 {
		t.Errorf("Stats = %+v", s)
	}
}

func TestPool_RefusesExpiredTokens(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	var calls atomic.Int64
	p := upstream.NewPool(upstream.MinterFunc(func(context.Context, upstream.Identity) (*upstream.Token, error) {
		calls.Add(1)
		return &upstream.Token{Value: "stale", Expires: clock.Now().Add(-time.Second)}, nil
	}), upstream.PoolConfig{Service: upstream.CredentialsIdentity("u", "p"), Clock: clock.Now})
	t.Cleanup(p.Close)
	for range 10 {
		_, err := p.Token(context.Background())
		if ue := asError(t, err); ue.Kind != upstream.KindToken || !strings.Contains(err.Error(), "check the clocks") {
			t.Fatalf("err = %v", err)
		}
		clock.Advance(50 * time.Millisecond)
	}
	if calls.Load() != 1 {
		t.Fatalf("mint calls = %d within half a second, want 1", calls.Load())
	}
}

func TestPool_NoIdentity(t *testing.T) {
	t.Parallel()
	p := upstream.NewPool(nil, upstream.PoolConfig{})
	t.Cleanup(p.Close)
	if _, err := p.Token(context.Background()); asError(t, err).Kind != upstream.KindToken {
		t.Fatalf("err = %v", err)
	}
}

func TestPool_CallerGivingUpDoesNotCancelTheRefresh(t *testing.T) {
	t.Parallel()
	e := newSimEnv(t, simulator.Config{}, adminCreds)
	e.gate.hold()
	ctx, cancel := context.WithCancel(context.Background())
	first := make(chan error, 1)
	go func() {
		_, err := e.pool.Token(ctx)
		first <- err
	}()
	<-e.gate.entered
	second := make(chan *upstream.Token, 1)
	go func() {
		tok, err := e.pool.Token(context.Background())
		if err != nil {
			t.Errorf("second caller: %v", err)
		}
		second <- tok
	}()
	cancel()
	err := <-first
	if !errors.Is(err, context.Canceled) || upstream.IsAuth(err) {
		t.Fatalf("canceled caller: err = %v, want context.Canceled and not an auth failure", err)
	}
	e.gate.open()
	if tok := <-second; tok == nil {
		t.Fatal("second caller got no token")
	}
	e.wantMints(t, 1)
}

func TestPool_CloseStopsRefreshes(t *testing.T) {
	t.Parallel()
	e := newSimEnv(t, simulator.Config{}, adminCreds)
	ctx := context.Background()
	t1 := mustPoolToken(t, e.pool, ctx)
	a, _ := upstream.TierWindows(time.Hour)
	e.gate.hold()
	e.clock.set(t1.Expires.Add(-a / 2))
	mustPoolToken(t, e.pool, ctx) // starts a background refresh, held at the gate
	<-e.gate.entered
	e.pool.Close() // cancels it and waits
	e.pool.Close()
	if got := mustPoolToken(t, e.pool, ctx); got != t1 {
		t.Fatal("after Close: the valid token is no longer served")
	}
	e.clock.set(t1.Expires)
	if _, err := e.pool.Token(ctx); err == nil || !strings.Contains(err.Error(), "closed") {
		t.Fatalf("after Close and expiry: err = %v", err)
	}
}

func TestPool_StatsLatency(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	fail := atomic.Bool{}
	p := upstream.NewPool(upstream.MinterFunc(func(context.Context, upstream.Identity) (*upstream.Token, error) {
		clock.Advance(250 * time.Millisecond)
		if fail.Load() {
			return nil, &upstream.Error{Kind: upstream.KindToken, Code: 500}
		}
		return &upstream.Token{Value: "t", Expires: clock.Now().Add(time.Hour)}, nil
	}), upstream.PoolConfig{Service: upstream.CredentialsIdentity("u", "p"), Clock: clock.Now})
	t.Cleanup(p.Close)
	mustPoolToken(t, p, context.Background())
	p.Invalidate(mustPoolToken(t, p, context.Background()))
	fail.Store(true)
	if _, err := p.Token(context.Background()); err == nil {
		t.Fatal("want an error")
	}
	want := upstream.PoolStats{Identities: 1, TokensMinted: 1, Refreshes: 2, RefreshFailures: 1, Rejections: 1,
		RefreshLatencySum: 500 * time.Millisecond, RefreshLatencyMax: 250 * time.Millisecond}
	if got := p.Stats(); got != want {
		t.Fatalf("Stats = %+v\nwant    %+v", got, want)
	}
}

func TestIdentity(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	if got := upstream.WithIdentity(ctx, upstream.Identity{}); got != ctx {
		t.Error("WithIdentity with the zero Identity changed the context")
	}
	if _, ok := upstream.IdentityFromContext(ctx); ok {
		t.Error("IdentityFromContext found an identity in a plain context")
	}
	id := upstream.CredentialsIdentity("alice", "pw")
	got, ok := upstream.IdentityFromContext(upstream.WithIdentity(ctx, id))
	if !ok || got.Username() != "alice" || got.IsToken() || got.IsZero() {
		t.Errorf("IdentityFromContext = %v, %v", got, ok)
	}
	for _, tc := range []struct {
		id   upstream.Identity
		want string // "" for valid
	}{
		{upstream.CredentialsIdentity("alice", "pw"), ""},
		{upstream.TokenIdentity("tok"), ""},
		{upstream.Identity{}, "no identity"},
		{upstream.CredentialsIdentity("", "pw"), "username is empty"},
		{upstream.CredentialsIdentity("alice", ""), "password is empty"},
		{upstream.CredentialsIdentity(strings.Repeat("u", 257), "pw"), "username is longer"},
		{upstream.CredentialsIdentity("alice", strings.Repeat("p", 1025)), "password is longer"},
		{upstream.TokenIdentity(""), "token is empty"},
		{upstream.TokenIdentity(strings.Repeat("t", 8193)), "token is longer"},
	} {
		err := tc.id.Validate()
		if (tc.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("%v.Validate() = %v, want %q", tc.id, err, tc.want)
		}
	}
}
