package upstream

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultPoolSize is PoolConfig.Size's default, DefaultPoolIdleTimeout
// IdleTimeout's (cmd/arcgate's --token-pool-size and --token-idle-timeout).
const (
	DefaultPoolSize        = 1000
	DefaultPoolIdleTimeout = 30 * time.Minute
)

// Pool defaults and tier bounds. The tiers follow the AWS SDK's advisory
// and mandatory windows, scaled with the token's real lifetime L:
//
//	advisory window  A = min(L/4, 1h); refresh in the background from a
//	                 point drawn uniformly in [T−A, T−A/2] (T = expiry)
//	mandatory window M = min(max(L/60, 5s), 1m, A/4); callers wait for a
//	                 refresh from T−M
//
// so a 60-minute token is refreshed in the background between T−15 and
// T−7.5 minutes, and callers block only from T−1 minute.
const (
	defaultRefreshTimeout = 30 * time.Second
	maxAdvisoryWindow     = time.Hour
	minMandatoryWindow    = 5 * time.Second
	maxMandatoryWindow    = time.Minute
	// minRetryInterval is the least time between two refresh attempts of
	// one identity after a failure while no valid token exists (and in the
	// mandatory window): at most one generateToken per identity per second.
	minRetryInterval = time.Second
	// maxRetryInterval caps the doubling of minRetryInterval.
	maxRetryInterval = 30 * time.Second
)

// farFuture stands for "never" in token states of tokens without expiry.
var farFuture = time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)

// TokenFunc mints one new token. The pool calls it from one goroutine at a
// time per identity, with a context that ends when the refresh times out or
// the pool is closed.
type TokenFunc func(ctx context.Context) (*Token, error)

// Minter makes the token functions of a Pool: one per identity with a
// username and password (identities holding a token are served by the pool
// itself). A TokenFunc may keep state between calls, such as the portal
// token of the federated flow. NewMinter builds the three ArcGIS flows.
type Minter interface {
	NewTokenFunc(id Identity) TokenFunc
}

// MinterFunc adapts a function to Minter: each identity's TokenFunc calls
// f with that identity.
type MinterFunc func(ctx context.Context, id Identity) (*Token, error)

// NewTokenFunc implements Minter.
func (f MinterFunc) NewTokenFunc(id Identity) TokenFunc {
	return func(ctx context.Context) (*Token, error) { return f(ctx, id) }
}

// PoolConfig configures a Pool. Zero fields take their defaults.
type PoolConfig struct {
	// Service is the gateway's own identity, used for requests whose
	// context carries none (see WithIdentity). Its entry is never evicted.
	// Zero: such requests fail with an error of Kind KindToken.
	Service Identity
	// Size bounds the number of delegated identities held (the service
	// identity is not counted); beyond it the least recently used one is
	// evicted. Default 1000.
	Size int
	// IdleTimeout evicts a delegated identity unused for this long. Idle
	// entries are swept when a new identity is added and after refreshes.
	// Default 30 minutes.
	IdleTimeout time.Duration
	// RefreshTimeout bounds one refresh (one generateToken call, or the two
	// calls of the federated flow). Default 30 seconds.
	RefreshTimeout time.Duration
	// Clock returns the current time. Default time.Now.
	Clock func() time.Time `json:"-"`
}

// Pool holds the upstream tokens of one ArcGIS site, one entry per
// identity (the service identity, plus each delegated identity), and
// implements TokenSource. It is safe for concurrent use.
//
// The cached path (a token outside its refresh windows) takes short
// locks: the pool's map lookup for a delegated identity (none for the
// service identity) and the entry's own, plus a clock read. They are
// plain mutexes, not lock-free structures: with a fixed clock and two
// goroutines reading one identity, BenchmarkPoolCachedFixedClock and
// BenchmarkPoolCachedDelegatedFixedClock measured them 30 to 80 ns a call
// slower than the sync.Map and atomics they replace, against the ~200 µs
// of the upstream call each token is for. Refresh rules:
//
//   - advisory window (see the tier formula above): the token is served
//     and one background refresh runs; a failure is retried after a
//     jittered third to two thirds of the advisory window, but at the
//     latest when the mandatory window opens;
//   - mandatory window: callers wait for the refresh; if it fails they
//     still get the old token while it is valid;
//   - no valid token: callers wait for the refresh; after a failure every
//     caller gets that error until the next attempt is allowed, one second
//     later, doubling with each consecutive failure up to 30 seconds (plus
//     up to 25% jitter), so bad credentials can never cause a storm.
//
// Exactly one refresh per identity is in flight at a time; it runs in its
// own goroutine with a context detached from the callers (ended by
// RefreshTimeout or Close), so a caller giving up does not cancel the
// refresh others wait for, and its slot is cleared on success and on
// failure. Invalidate drops a rejected token only if it is still the
// current one.
type Pool struct {
	minter  Minter
	cfg     PoolConfig
	now     func() time.Time
	service *poolEntry // nil without a service identity

	mu        sync.Mutex         // guards the fields below
	entries   map[any]*poolEntry // identity key → entry, the service identity's included
	count     int                // delegated entries in entries
	nextSweep time.Time

	ctx     context.Context // ends on Close; parent of every refresh
	cancel  context.CancelFunc
	closeMu sync.RWMutex // guards closed against wg.Add racing Close
	closed  bool
	wg      sync.WaitGroup // running refreshes

	minted       atomic.Uint64
	refreshes    atomic.Uint64
	failures     atomic.Uint64
	rejections   atomic.Uint64
	evictions    atomic.Uint64
	latencySum   atomic.Int64
	latencyMax   atomic.Int64
	latencyCount atomic.Uint64
}

// poolEntry is one identity's token state.
type poolEntry struct {
	pool     *Pool
	id       Identity
	mint     TokenFunc
	minted   bool  // mint calls the upstream (credentials), as opposed to a fixed token
	pinned   bool  // the service identity: never evicted
	lastUsed int64 // clock UnixNano of the last use; guarded by pool.mu

	mu          sync.Mutex  // guards the fields below; held briefly, never during a fetch
	state       *tokenState // the current token, nil if none
	flight      *flight     // refresh in progress, nil if none
	failures    int         // consecutive failed refreshes
	lastErr     error       // error of the last failed refresh
	lastFailAt  time.Time   // when it failed
	nextAttempt time.Time   // no refresh before this (zero: any time)
}

// tokenState is an immutable snapshot of an entry's current token.
type tokenState struct {
	tok       *Token
	advisory  time.Time     // refresh in the background from here
	mandatory time.Time     // callers wait for a refresh from here
	expires   time.Time     // the token is invalid from here
	window    time.Duration // the advisory window A, for the backoff
}

// flight is one refresh that callers wait for.
type flight struct {
	done chan struct{}
	tok  *Token
	err  error
}

// NewPool returns a pool that mints tokens with m. Call Close when done,
// to stop background refreshes.
func NewPool(m Minter, cfg PoolConfig) *Pool {
	if cfg.Size <= 0 {
		cfg.Size = DefaultPoolSize
	}
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = DefaultPoolIdleTimeout
	}
	if cfg.RefreshTimeout <= 0 {
		cfg.RefreshTimeout = defaultRefreshTimeout
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	p := &Pool{minter: m, cfg: cfg, now: cfg.Clock, entries: map[any]*poolEntry{}}
	p.ctx, p.cancel = context.WithCancel(context.Background())
	if !cfg.Service.IsZero() {
		p.service = p.newEntry(cfg.Service, true)
		p.entries[cfg.Service.key] = p.service
	}
	return p
}

// newEntry makes the entry of id.
func (p *Pool) newEntry(id Identity, pinned bool) *poolEntry {
	e := &poolEntry{pool: p, id: id, pinned: pinned}
	if id.kind == identityToken {
		tok := id.token()
		e.mint = func(context.Context) (*Token, error) { return &Token{Value: tok}, nil }
	} else if p.minter != nil {
		e.mint = p.minter.NewTokenFunc(id)
		e.minted = true
	} else {
		e.mint = func(context.Context) (*Token, error) {
			return nil, &Error{Kind: KindToken, Op: "generateToken", Messages: []string{"the token pool has no minter"}}
		}
	}
	return e
}

// Token returns a valid token for the identity in ctx (see WithIdentity),
// or for the service identity when ctx carries none. It implements
// TokenSource.
func (p *Pool) Token(ctx context.Context) (*Token, error) {
	var e *poolEntry
	if id := identityFromContext(ctx); id != nil {
		var err error
		if e, err = p.lookup(id); err != nil {
			return nil, err
		}
	} else if e = p.service; e == nil {
		return nil, &Error{Kind: KindToken, Op: "token", Err: errNoIdentity}
	}
	return p.tokenOf(ctx, e)
}

// tokenOf returns a valid token of e: the cached one outside its refresh
// windows, else as the refresh rules say.
func (p *Pool) tokenOf(ctx context.Context, e *poolEntry) (*Token, error) {
	e.mu.Lock()
	now := p.now()
	st := e.state
	if st != nil && now.Before(st.advisory) {
		e.mu.Unlock()
		return st.tok, nil
	}
	valid := st != nil && now.Before(st.expires)
	if valid && now.Before(st.mandatory) {
		// Advisory window: serve the token; one background refresh.
		if e.flight == nil && !now.Before(e.nextAttempt) {
			_, _ = p.startFlight(e)
		}
		e.mu.Unlock()
		return st.tok, nil
	}
	f := e.flight
	if f == nil {
		if now.Before(e.nextAttempt) {
			// Backing off after a failure.
			err := e.lastErr
			e.mu.Unlock()
			if valid {
				return st.tok, nil
			}
			return nil, err
		}
		var err error
		if f, err = p.startFlight(e); err != nil {
			e.mu.Unlock()
			if valid {
				return st.tok, nil
			}
			return nil, err
		}
	}
	e.mu.Unlock()

	select {
	case <-f.done:
	case <-ctx.Done():
		if valid && p.now().Before(st.expires) {
			return st.tok, nil
		}
		return nil, &Error{Kind: KindTransport, Op: "generateToken", Err: ctx.Err()}
	}
	if f.err == nil {
		return f.tok, nil
	}
	if valid && p.now().Before(st.expires) {
		return st.tok, nil // a failed refresh never takes a valid token away
	}
	return nil, f.err
}

// startFlight starts a refresh of e in the background. e.mu must be held.
func (p *Pool) startFlight(e *poolEntry) (*flight, error) {
	p.closeMu.RLock()
	defer p.closeMu.RUnlock()
	if p.closed {
		return nil, &Error{Kind: KindToken, Op: "generateToken", Messages: []string{"the token pool is closed"}}
	}
	f := &flight{done: make(chan struct{})}
	e.flight = f
	p.wg.Add(1)
	go p.refresh(e, f)
	return f, nil
}

// refresh runs one flight: mint, then publish the token or the failure,
// clear the slot, and wake the waiters.
func (p *Pool) refresh(e *poolEntry, f *flight) {
	defer p.wg.Done()
	ctx, cancel := context.WithTimeout(p.ctx, p.cfg.RefreshTimeout)
	start := p.now()
	tok, err := e.mint(ctx)
	cancel()
	now := p.now()
	if e.minted {
		p.refreshes.Add(1)
		p.observeLatency(now.Sub(start))
	}
	var st *tokenState
	if err == nil {
		st, err = newTokenState(e, tok, now)
	}

	e.mu.Lock()
	e.flight = nil
	if err == nil {
		e.state = st
		e.failures, e.lastErr, e.lastFailAt, e.nextAttempt = 0, nil, time.Time{}, time.Time{}
		f.tok = st.tok
		if e.minted {
			p.minted.Add(1)
		}
	} else {
		if e.minted {
			p.failures.Add(1)
		}
		e.failures++
		e.lastErr, e.lastFailAt = err, now
		e.nextAttempt = now.Add(e.backoff(now))
		f.err = err
	}
	e.mu.Unlock()
	close(f.done)
	p.sweepIdle(now)
}

// backoff is how long e waits after a failed refresh at now. e.mu must be
// held and e.failures already counts the failure.
func (e *poolEntry) backoff(now time.Time) time.Duration {
	if st := e.state; st != nil && now.Before(st.mandatory) {
		// A valid token is still served: retry after a third to two
		// thirds of the advisory window, at the latest when the mandatory
		// window opens.
		d := st.window/3 + jitter(st.window/3)
		return max(min(d, st.mandatory.Sub(now)), 0)
	}
	return retryInterval(e.failures)
}

// retryInterval is the wait after the n-th consecutive failure while no
// valid token exists: one second doubling up to 30 seconds, plus up to 25%.
func retryInterval(n int) time.Duration {
	d := maxRetryInterval
	if n >= 1 && n <= 6 {
		d = min(minRetryInterval<<(n-1), maxRetryInterval)
	}
	return d + jitter(d/4)
}

// jitter returns a uniformly random duration in [0, d].
func jitter(d time.Duration) time.Duration {
	if d <= 0 {
		return 0
	}
	return time.Duration(rand.Int64N(int64(d) + 1))
}

// newTokenState computes the refresh tiers of tok, received at now.
func newTokenState(e *poolEntry, tok *Token, now time.Time) (*tokenState, error) {
	if tok == nil || tok.Value == "" {
		return nil, &Error{Kind: KindToken, Op: "generateToken", Messages: []string{"the token source returned an empty token"}}
	}
	t := &Token{Value: tok.Value, Expires: tok.Expires, entry: e}
	if t.Expires.IsZero() {
		return &tokenState{tok: t, advisory: farFuture, mandatory: farFuture, expires: farFuture}, nil
	}
	life := t.Expires.Sub(now)
	if life <= 0 {
		return nil, &Error{Kind: KindToken, Op: "generateToken", Messages: []string{
			"generateToken returned a token that expires at " + t.Expires.UTC().Format(time.RFC3339) +
				", which is not in the future: check the clocks of arcgate and the upstream"}}
	}
	a, m := tierWindows(life)
	off := a/2 + jitter(a/2)
	return &tokenState{tok: t, advisory: t.Expires.Add(-off), mandatory: t.Expires.Add(-m), expires: t.Expires, window: a}, nil
}

// tierWindows returns the advisory window A and the mandatory window M of
// a token living life (see the formula at the top of this file).
func tierWindows(life time.Duration) (advisory, mandatory time.Duration) {
	advisory = min(life/4, maxAdvisoryWindow)
	mandatory = min(max(life/60, minMandatoryWindow), maxMandatoryWindow, advisory/4)
	return advisory, mandatory
}

// Invalidate tells the pool that the upstream rejected t (code 498 or
// 499): the entry that issued t drops it only if it is still t
// (compare-and-swap), so that a newer token fetched meanwhile is kept. It
// implements TokenSource and counts the rejection in Stats.
func (p *Pool) Invalidate(t *Token) {
	if t == nil || t.entry == nil || t.entry.pool != p {
		return
	}
	p.rejections.Add(1)
	e := t.entry
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.state == nil || e.state.tok != t {
		return
	}
	e.state = nil
	// With no valid token left, a long advisory backoff must not keep
	// callers from a refresh: cap it to the no-valid-token retry interval.
	if !e.lastFailAt.IsZero() {
		if limit := e.lastFailAt.Add(retryInterval(e.failures)); e.nextAttempt.After(limit) {
			e.nextAttempt = limit
		}
	}
}

// lookup returns the entry of a delegated identity, adding it if needed,
// and records its use (for eviction).
func (p *Pool) lookup(id *Identity) (*poolEntry, error) {
	now := p.now()
	p.mu.Lock()
	if e, ok := p.entries[id.key]; ok {
		if !e.pinned {
			e.lastUsed = now.UnixNano()
		}
		p.mu.Unlock()
		return e, nil
	}
	p.mu.Unlock()
	if err := id.validate(); err != nil {
		return nil, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if e, ok := p.entries[id.key]; ok {
		if !e.pinned {
			e.lastUsed = now.UnixNano()
		}
		return e, nil
	}
	p.sweepIdleLocked(now)
	for p.count >= p.cfg.Size && p.evictLRULocked() {
	}
	e := p.newEntry(*id, false)
	e.lastUsed = now.UnixNano()
	p.entries[id.key] = e
	p.count++
	return e, nil
}

// sweepIdle evicts idle delegated entries, at most every IdleTimeout/4.
func (p *Pool) sweepIdle(now time.Time) {
	p.mu.Lock()
	p.sweepIdleLocked(now)
	p.mu.Unlock()
}

// sweepIdleLocked is sweepIdle with p.mu held.
func (p *Pool) sweepIdleLocked(now time.Time) {
	if now.Before(p.nextSweep) || p.count == 0 {
		return
	}
	p.nextSweep = now.Add(p.cfg.IdleTimeout / 4)
	cutoff := now.Add(-p.cfg.IdleTimeout).UnixNano()
	for k, e := range p.entries {
		if !e.pinned && e.lastUsed <= cutoff {
			delete(p.entries, k)
			p.count--
			p.evictions.Add(1)
		}
	}
}

// evictLRULocked evicts the least recently used delegated entry; it
// reports false when there is none. p.mu must be held.
func (p *Pool) evictLRULocked() bool {
	var (
		oldKey any
		found  bool
		oldest int64
	)
	for k, e := range p.entries {
		if !e.pinned && (!found || e.lastUsed < oldest) {
			oldKey, oldest, found = k, e.lastUsed, true
		}
	}
	if !found {
		return false
	}
	delete(p.entries, oldKey)
	p.count--
	p.evictions.Add(1)
	return true
}

// observeLatency records the duration of one refresh.
func (p *Pool) observeLatency(d time.Duration) {
	d = max(d, 0)
	p.latencySum.Add(int64(d))
	p.latencyCount.Add(1)
	for {
		cur := p.latencyMax.Load()
		if int64(d) <= cur || p.latencyMax.CompareAndSwap(cur, int64(d)) {
			return
		}
	}
}

// Close stops the pool: running refreshes are cancelled and waited for,
// and no new refresh starts (tokens already cached are still served until
// they expire). Close is idempotent.
func (p *Pool) Close() {
	p.closeMu.Lock()
	p.closed = true
	p.closeMu.Unlock()
	p.cancel()
	p.wg.Wait()
}

// PoolStats is a snapshot of a pool's counters, for metrics. Counters
// count since NewPool; refreshes of identities that hold a fixed token
// are not counted.
type PoolStats struct {
	// Identities is the number of identities held, the service identity
	// included.
	Identities int `json:"identities"`
	// TokensMinted counts tokens obtained from the upstream.
	TokensMinted uint64 `json:"tokensMinted"`
	// Refreshes counts refresh attempts (generateToken flows), successful
	// or not.
	Refreshes uint64 `json:"refreshes"`
	// RefreshFailures counts failed refresh attempts.
	RefreshFailures uint64 `json:"refreshFailures"`
	// Rejections counts tokens the upstream rejected with 498 or 499
	// (reported through Invalidate).
	Rejections uint64 `json:"rejections"`
	// Evictions counts delegated identities dropped for idleness or size.
	Evictions uint64 `json:"evictions"`
	// RefreshLatencySum is the total duration of the Refreshes, measured
	// with the pool's clock; with Refreshes it gives the mean.
	RefreshLatencySum time.Duration `json:"refreshLatencySum"`
	// RefreshLatencyMax is the longest refresh.
	RefreshLatencyMax time.Duration `json:"refreshLatencyMax"`
}

// Stats returns a snapshot of the pool's counters.
func (p *Pool) Stats() PoolStats {
	p.mu.Lock()
	n := p.count
	p.mu.Unlock()
	if p.service != nil {
		n++
	}
	return PoolStats{
		Identities:        n,
		TokensMinted:      p.minted.Load(),
		Refreshes:         p.refreshes.Load(),
		RefreshFailures:   p.failures.Load(),
		Rejections:        p.rejections.Load(),
		Evictions:         p.evictions.Load(),
		RefreshLatencySum: time.Duration(p.latencySum.Load()),
		RefreshLatencyMax: time.Duration(p.latencyMax.Load()),
	}
}

// String describes the pool by its size; it never shows a secret.
func (p *Pool) String() string {
	return "Pool{identities: " + strconv.Itoa(p.Stats().Identities) + "}"
}

// GoString is String, for %#v.
func (p *Pool) GoString() string { return "upstream." + p.String() }

// Format implements fmt.Formatter so that no verb prints the pool's
// fields, which hold identities and tokens.
func (p *Pool) Format(f fmt.State, verb rune) { formatRedacted(f, verb, p.String(), p.GoString()) }

// LogValue logs the pool's counters, never a secret.
func (p *Pool) LogValue() slog.Value {
	s := p.Stats()
	return slog.GroupValue(
		slog.Int("identities", s.Identities),
		slog.Uint64("tokensMinted", s.TokensMinted),
		slog.Uint64("refreshFailures", s.RefreshFailures),
		slog.Uint64("rejections", s.Rejections),
	)
}

// MarshalJSON encodes the pool's counters, never a secret.
func (p *Pool) MarshalJSON() ([]byte, error) { return json.Marshal(p.Stats()) }

// poolSettings are the client options that shape its pool (see
// WithServiceIdentity, WithPoolConfig, WithTokenConfig).
type poolSettings struct {
	service Identity
	pool    PoolConfig
	tokens  TokenConfig
}

// WithServiceIdentity sets the gateway's own identity: a CredentialsIdentity
// (tokens minted and refreshed by the pool) or a TokenIdentity (a fixed
// operator token, never refreshed). It cannot be combined with
// WithCredentials or WithTokenSource.
func WithServiceIdentity(id Identity) Option {
	return func(c *Client) error {
		if err := id.validate(); err != nil {
			return fmt.Errorf("upstream: WithServiceIdentity: %w", err)
		}
		c.auth.service = id
		return nil
	}
}

// WithPoolConfig sets the size, idle timeout and refresh timeout of the
// client's token pool. Its Service and Clock fields are ignored: use
// WithServiceIdentity (or WithCredentials) and WithClock.
func WithPoolConfig(cfg PoolConfig) Option {
	return func(c *Client) error {
		if cfg.Size < 0 || cfg.IdleTimeout < 0 || cfg.RefreshTimeout < 0 {
			return fmt.Errorf("upstream: WithPoolConfig: negative size or timeout")
		}
		c.auth.pool = cfg
		return nil
	}
}

// initTokens builds the client's token pool (New calls it after the
// options): a minter for site from the token configuration, the service
// identity from WithCredentials or WithServiceIdentity, and the Referer
// header. The pool serves delegated identities (WithIdentity) whatever
// the service token source is.
func (c *Client) initTokens(site string) error {
	cfg := c.auth.tokens
	if err := cfg.normalize(); err != nil {
		return err
	}
	if cfg.Client == TokenClientReferer {
		c.wire.referer = cfg.Referer
	}
	service := c.auth.service
	if c.creds != nil {
		if !service.IsZero() {
			return fmt.Errorf("upstream: WithCredentials and WithServiceIdentity cannot be combined")
		}
		service = CredentialsIdentity(c.creds.username, c.creds.password())
	}
	if c.tokens != nil && !service.IsZero() {
		if c.creds != nil {
			return fmt.Errorf("upstream: WithCredentials and WithTokenSource cannot be combined")
		}
		return fmt.Errorf("upstream: WithServiceIdentity and WithTokenSource cannot be combined")
	}
	m, err := newMinter(c.wire, site, cfg, c.now)
	if err != nil {
		return err
	}
	pc := c.auth.pool
	pc.Service, pc.Clock = service, c.now
	c.pool = NewPool(m, pc)
	if c.tokens == nil && !service.IsZero() {
		c.tokens = c.pool
	}
	return nil
}

// Pool returns the client's token pool: its Stats feed metrics.
func (c *Client) Pool() *Pool { return c.pool }

// Close stops the client's token pool (background refreshes). Requests
// still work with cached tokens, but no new token is minted.
func (c *Client) Close() {
	if c.pool != nil {
		c.pool.Close()
	}
}
