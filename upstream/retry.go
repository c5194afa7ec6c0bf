package upstream

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// This file holds the resilient transport that WithResilience installs
// under the client's *http.Client: retries of idempotent reads with backoff,
// a retry budget, Retry-After, and a cap on concurrent requests per site
// (the circuit breaker it consults is in breaker.go, TLS and connection
// tuning in transport.go). The request code (do, token, send) knows nothing
// of it beyond marking reads idempotent.

// Defaults of ResilienceConfig, from the anchors in PEERS.md §4 and §(c):
// gRPC A6 (backoff 0.1 s → 1 s, ×2, full jitter), Envoy (retry budget 20 %
// of active requests, min 3 concurrent retries; 5 consecutive 5xx eject a
// host).
const (
	DefaultMaxAttempts         = 3
	DefaultInitialBackoff      = 100 * time.Millisecond
	DefaultMaxBackoff          = time.Second
	DefaultMaxRetryAfter       = 5 * time.Second
	DefaultRetryBudgetPercent  = 20
	DefaultMinRetryConcurrency = 3
	DefaultBreakerThreshold    = 5
	DefaultBreakerCooldown     = 30 * time.Second
	DefaultMaxConcurrent       = 64
	// maxAttemptsLimit is the most attempts WithResilience accepts.
	maxAttemptsLimit = 3
)

// DefaultBreakerInitialCooldown is the circuit breaker's first open period;
// it doubles with each failed probe up to DefaultBreakerCooldown (see
// ResilienceConfig.BreakerInitialCooldown).
const DefaultBreakerInitialCooldown = time.Second

// ResilienceConfig configures WithResilience. Zero fields take the
// Default* values; a negative BreakerThreshold or MaxConcurrent turns that
// mechanism off.
type ResilienceConfig struct {
	// MaxAttempts is the most attempts of an idempotent read, the first
	// included: 1 to 3 (default 3). Writes (start, stop, create, edit,
	// delete, cancel, generateToken, ...) are never retried.
	MaxAttempts int
	// InitialBackoff and MaxBackoff bound the wait before retry n:
	// random(0, min(InitialBackoff·2^(n-1), MaxBackoff)) ("full jitter").
	InitialBackoff time.Duration
	MaxBackoff     time.Duration
	// MaxRetryAfter caps the wait a Retry-After header (seconds or an HTTP
	// date) on a 429 or 503 can ask for; the header replaces the jittered
	// backoff. No retry is made when the wait would not end before the
	// caller's deadline.
	MaxRetryAfter time.Duration
	// RetryBudgetPercent and MinRetryConcurrency bound the retries in
	// progress at once: at most max(MinRetryConcurrency,
	// RetryBudgetPercent % of the requests in flight), so that retries
	// cannot multiply the load on a struggling site.
	RetryBudgetPercent  int
	MinRetryConcurrency int
	// BreakerThreshold is the number of consecutive failed requests
	// (connection errors, HTTP 5xx, truncated bodies) that opens the
	// circuit breaker; while it is open every request fails at once with a
	// *CircuitOpenError. When the open period ends one probe request is
	// let through (half-open): its success closes the breaker, its failure
	// opens it again for twice as long as the last time.
	BreakerThreshold int
	// BreakerInitialCooldown is the first open period (default 1 s), used
	// each time the breaker opens from closed. BreakerCooldown caps it as
	// it doubles with each failed probe (default 30 s); an upstream that
	// comes back is thus probed within about the time it was down, and
	// never later than BreakerCooldown. A BreakerInitialCooldown above
	// BreakerCooldown is lowered to it (equal values give a fixed period).
	BreakerInitialCooldown time.Duration
	BreakerCooldown        time.Duration
	// MaxConcurrent caps the requests in flight to the site; more wait
	// (until their context ends) for a slot.
	MaxConcurrent int
	// OnStateChange, when set, is called with the breaker's new state after
	// each change, including open → half-open when the cool-down ends (a
	// timer fires then). Use it to drive health reporting. It is called
	// without locks held and must not block.
	OnStateChange func(BreakerState)
}

// normalized returns cfg with defaults applied, or an error.
func (cfg ResilienceConfig) normalized() (ResilienceConfig, error) {
	def := func(v *time.Duration, d time.Duration) {
		if *v == 0 {
			*v = d
		}
	}
	switch {
	case cfg.MaxAttempts == 0:
		cfg.MaxAttempts = DefaultMaxAttempts
	case cfg.MaxAttempts < 1 || cfg.MaxAttempts > maxAttemptsLimit:
		return cfg, fmt.Errorf("upstream: WithResilience: MaxAttempts %d is not between 1 and %d", cfg.MaxAttempts, maxAttemptsLimit)
	}
	if cfg.InitialBackoff < 0 || cfg.MaxBackoff < 0 || cfg.MaxRetryAfter < 0 || cfg.BreakerCooldown < 0 || cfg.BreakerInitialCooldown < 0 ||
		cfg.RetryBudgetPercent < 0 || cfg.RetryBudgetPercent > 100 || cfg.MinRetryConcurrency < 0 {
		return cfg, errors.New("upstream: WithResilience: negative duration, budget or concurrency")
	}
	def(&cfg.InitialBackoff, DefaultInitialBackoff)
	def(&cfg.MaxBackoff, DefaultMaxBackoff)
	def(&cfg.MaxRetryAfter, DefaultMaxRetryAfter)
	def(&cfg.BreakerCooldown, DefaultBreakerCooldown)
	def(&cfg.BreakerInitialCooldown, DefaultBreakerInitialCooldown)
	cfg.BreakerInitialCooldown = min(cfg.BreakerInitialCooldown, cfg.BreakerCooldown)
	if cfg.MaxBackoff < cfg.InitialBackoff {
		cfg.MaxBackoff = cfg.InitialBackoff
	}
	if cfg.RetryBudgetPercent == 0 {
		cfg.RetryBudgetPercent = DefaultRetryBudgetPercent
	}
	if cfg.MinRetryConcurrency == 0 {
		cfg.MinRetryConcurrency = DefaultMinRetryConcurrency
	}
	if cfg.BreakerThreshold == 0 {
		cfg.BreakerThreshold = DefaultBreakerThreshold
	}
	if cfg.MaxConcurrent == 0 {
		cfg.MaxConcurrent = DefaultMaxConcurrent
	}
	return cfg, nil
}

// WithResilience installs retries of idempotent reads, a retry budget, a
// circuit breaker and a concurrency cap under the client's HTTP client
// (see ResilienceConfig; ResilienceConfig{} gives the defaults). It applies
// to every request of the client, generateToken included; only GET
// requests and POST reads marked idempotent are ever retried. Client.Health
// reports the breaker's state.
func WithResilience(cfg ResilienceConfig) Option {
	return func(c *Client) error {
		n, err := cfg.normalized()
		if err != nil {
			return err
		}
		c.hard.resilience = &n
		return nil
	}
}

// postRead performs a form-encoded POST that changes nothing upstream
// (the roles store's getRoles, search, getPrivilege, getRolesByPrivilege,
// getUsersWithinRole and getRolesForUser): it is marked idempotent, so that
// WithResilience retries it like a GET. Use post for everything else.
func (c *Client) postRead(ctx context.Context, op, path string, form url.Values, v any) error {
	return c.do(ctx, &request{op: op, method: http.MethodPost, path: path, form: form, idempotent: true}, v)
}

// idempotentKey marks a request context with whether its request may be
// retried.
type idempotentKey struct{}

// markIdempotent returns the context for sending r. A POST carries the
// mark the resilient transport looks for: true for a read marked
// idempotent, false otherwise. A GET, always a read, goes unmarked (no
// context to allocate per read): the transport takes an unmarked GET as
// idempotent. A request that a redirect makes of r keeps r's context, so a
// POST turned into a GET keeps the POST's mark.
func markIdempotent(ctx context.Context, r *request) context.Context {
	if r.method == http.MethodGet {
		return ctx
	}
	return context.WithValue(ctx, idempotentKey{}, r.idempotent)
}

// isIdempotent reports whether req may be retried: its mark
// (markIdempotent), else whether it is a GET.
func isIdempotent(req *http.Request) bool {
	if v, ok := req.Context().Value(idempotentKey{}).(bool); ok {
		return v
	}
	return req.Method == http.MethodGet
}

// resilientTransport is the http.RoundTripper installed by WithResilience.
type resilientTransport struct {
	base  http.RoundTripper
	cfg   ResilienceConfig
	sem   chan struct{} // concurrency cap; nil: none
	br    *breaker      // nil: no breaker
	sleep func(ctx context.Context, d time.Duration) error
	now   func() time.Time // the client's clock, for Retry-After dates
	// bufLimit is how much of a read's body is buffered: one byte more than
	// the client reads, so that its size check still works.
	bufLimit int64

	inFlight atomic.Int64 // RoundTrip calls in progress
	retries  atomic.Int64 // retries (backoff and attempt) in progress
}

func newResilientTransport(base http.RoundTripper, cfg ResilienceConfig, now func() time.Time, maxBytes int64) *resilientTransport {
	t := &resilientTransport{base: base, cfg: cfg, sleep: sleepCtx, now: now, bufLimit: maxBytes}
	if t.bufLimit < math.MaxInt64 {
		t.bufLimit++
	}
	if cfg.MaxConcurrent > 0 {
		t.sem = make(chan struct{}, cfg.MaxConcurrent)
	}
	if cfg.BreakerThreshold > 0 {
		t.br = &breaker{threshold: cfg.BreakerThreshold, initial: cfg.BreakerInitialCooldown, maxOpen: cfg.BreakerCooldown,
			now: now, onChange: cfg.OnStateChange}
	}
	return t
}

func (t *resilientTransport) health() Health {
	h := Health{InFlight: int(t.inFlight.Load())}
	if t.br != nil {
		h.Breaker, h.ConsecutiveFailures, h.RetryAfter = t.br.snapshot()
	}
	return h
}

// sleepCtx waits d or until ctx ends.
func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-tm.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// RoundTrip sends req, retrying idempotent reads that failed in a way worth
// retrying, within the caller's deadline and the retry budget.
func (t *resilientTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	t.inFlight.Add(1)
	defer t.inFlight.Add(-1)
	ctx := req.Context()
	idem := isIdempotent(req)
	maxAttempts := 1
	if idem {
		maxAttempts = t.cfg.MaxAttempts
	}
	cur := req
	retrying := false
	defer func() {
		if retrying {
			t.retries.Add(-1)
		}
	}()
	for attempt := 1; ; attempt++ {
		res := t.attempt(cur, idem)
		if !res.again || attempt >= maxAttempts {
			return res.resp, res.err
		}
		wait := t.backoff(attempt)
		if res.retryAfter >= 0 {
			wait = min(res.retryAfter, t.cfg.MaxRetryAfter)
		}
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) <= wait {
			return res.resp, res.err // the retry could not finish in time
		}
		next, ok := rewind(req)
		if !ok {
			return res.resp, res.err
		}
		if !retrying {
			if !t.takeRetry() {
				_ = next.Body.Close()
				return res.resp, res.err // over the retry budget
			}
			retrying = true
		}
		if res.resp != nil {
			_ = res.resp.Body.Close()
		}
		if err := t.sleep(ctx, wait); err != nil {
			_ = next.Body.Close()
			return nil, err
		}
		cur = next
	}
}

// attemptResult is the outcome of one attempt: the response or error to
// hand back, whether another attempt is worth making (for an idempotent
// request), and the wait the upstream asked for (-1 if none).
type attemptResult struct {
	resp       *http.Response
	err        error
	again      bool
	retryAfter time.Duration
}

// takeRetry reserves a place in the retry budget.
func (t *resilientTransport) takeRetry() bool {
	limit := max(int64(t.cfg.MinRetryConcurrency), t.inFlight.Load()*int64(t.cfg.RetryBudgetPercent)/100)
	for {
		n := t.retries.Load()
		if n >= limit {
			return false
		}
		if t.retries.CompareAndSwap(n, n+1) {
			return true
		}
	}
}

// backoff is the full-jitter wait before retry number attempt (1-based).
func (t *resilientTransport) backoff(attempt int) time.Duration {
	d := t.cfg.InitialBackoff
	for i := 1; i < attempt && d < t.cfg.MaxBackoff; i++ {
		d *= 2
	}
	d = min(d, t.cfg.MaxBackoff)
	if d <= 0 {
		return 0
	}
	return rand.N(d + 1)
}

// rewind returns a fresh copy of req for another attempt, with a new body.
func rewind(req *http.Request) (*http.Request, bool) {
	next := req.Clone(req.Context())
	if req.Body == nil || req.Body == http.NoBody {
		next.Body = http.NoBody
		return next, true
	}
	if req.GetBody == nil {
		return nil, false
	}
	b, err := req.GetBody()
	if err != nil {
		return nil, false
	}
	next.Body = b
	return next, true
}

// attempt sends req once.
func (t *resilientTransport) attempt(req *http.Request, idem bool) attemptResult {
	ctx := req.Context()
	if t.sem != nil {
		select {
		case t.sem <- struct{}{}:
		case <-ctx.Done():
			closeBody(req)
			return attemptResult{err: &notSentError{ctx.Err()}, retryAfter: -1}
		}
	}
	release := func() {
		if t.sem != nil {
			<-t.sem
		}
	}
	if t.br != nil {
		if err := t.br.allow(); err != nil {
			release()
			closeBody(req)
			return attemptResult{err: err, retryAfter: -1}
		}
	}
	resp, err := t.base.RoundTrip(req)
	if err != nil {
		release()
		t.record(ctx, outcomeFailure)
		return attemptResult{err: err, again: idem && ctx.Err() == nil, retryAfter: -1}
	}
	status := resp.StatusCode
	if !idem {
		// The outcome is known once the caller has read the body.
		resp.Body = &trackedBody{rc: resp.Body, done: func(readErr bool) {
			release()
			if readErr || status >= 500 {
				t.record(ctx, outcomeFailure)
			} else {
				t.record(ctx, outcomeSuccess)
			}
		}}
		return attemptResult{resp: resp, retryAfter: -1}
	}
	// An idempotent read: read the body now (as far as the client would) to
	// see whether it arrived whole.
	data, readErr := readLimited(resp.Body, resp.ContentLength, t.bufLimit)
	_ = resp.Body.Close()
	release()
	truncated := readErr == nil && status >= 200 && status <= 299 && cutShort(data)
	if readErr != nil || truncated || status >= 500 {
		t.record(ctx, outcomeFailure)
	} else {
		t.record(ctx, outcomeSuccess)
	}
	resp.Body = newBufferedBody(data, readErr)
	if readErr == nil {
		resp.ContentLength = int64(len(data)) // so that the client reads it in one go
	}
	res := attemptResult{resp: resp, retryAfter: -1}
	switch {
	case readErr != nil:
		res.again = ctx.Err() == nil
	case truncated, status == http.StatusBadGateway, status == http.StatusGatewayTimeout:
		res.again = true
	case status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable:
		res.again = true
		if d, ok := parseRetryAfter(resp.Header.Get("Retry-After"), t.now()); ok {
			res.retryAfter = d
		}
	}
	return res
}

// closeBody closes the body of a request that is not sent, as a
// RoundTripper must.
func closeBody(req *http.Request) {
	if req.Body != nil {
		_ = req.Body.Close()
	}
}

type outcome int

const (
	outcomeSuccess outcome = iota
	outcomeFailure
)

// record reports an attempt's outcome to the breaker; an attempt cut short
// by its caller's context says nothing about the upstream.
func (t *resilientTransport) record(ctx context.Context, o outcome) {
	if t.br == nil {
		return
	}
	if ctx.Err() != nil {
		t.br.abandon()
		return
	}
	t.br.record(o)
}

// cutShort reports whether data, a 2xx body, starts like a JSON object or
// array but does not end with its closing bracket: it arrived cut short,
// and another attempt is worth making. It looks at the two ends only.
// Whether a body is JSON is decided in one place, where the client decodes
// it (decodeResponse); a body cut right after an inner closing bracket is
// a decode error there, not a retry here.
func cutShort(data []byte) bool {
	t := bytes.TrimSpace(data)
	if len(t) == 0 || (t[0] != '{' && t[0] != '[') {
		return false
	}
	closer := byte('}')
	if t[0] == '[' {
		closer = ']'
	}
	return t[len(t)-1] != closer
}

// bufferedBody is the body of a read's response, read by attempt: its
// bytes, then err (nil: io.EOF). readBody takes the bytes as they are
// rather than copying them.
type bufferedBody struct {
	r    bytes.Reader
	data []byte
	err  error
}

func newBufferedBody(data []byte, err error) *bufferedBody {
	b := &bufferedBody{data: data, err: err}
	b.r.Reset(data)
	return b
}

func (b *bufferedBody) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if err == io.EOF && b.err != nil {
		err = b.err
	}
	return n, err
}

func (b *bufferedBody) Close() error { return nil }

// take returns the bytes not read yet and the error that follows them,
// and leaves the body read.
func (b *bufferedBody) take() ([]byte, error) {
	rest := b.data[len(b.data)-b.r.Len():]
	b.r.Reset(nil)
	return rest, b.err
}

// trackedBody reports, once, whether reading the body failed when the
// caller closes it (or reads it to the end).
type trackedBody struct {
	rc      io.ReadCloser
	once    sync.Once
	readErr bool
	done    func(readErr bool)
}

func (b *trackedBody) Read(p []byte) (int, error) {
	n, err := b.rc.Read(p)
	if err != nil && err != io.EOF {
		b.readErr = true
	}
	return n, err
}

func (b *trackedBody) Close() error {
	err := b.rc.Close()
	b.once.Do(func() { b.done(b.readErr) })
	return err
}

// parseRetryAfter parses a Retry-After header: delay seconds or an HTTP
// date (relative to now). Negative or unparsable values are not honoured;
// a date in the past means 0.
func parseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n < 0 {
			return 0, false
		}
		if n > int64(24*time.Hour/time.Second) {
			n = int64(24 * time.Hour / time.Second)
		}
		return time.Duration(n) * time.Second, true
	}
	at, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	d := at.Sub(now)
	if d < 0 {
		d = 0
	}
	return min(d, 24*time.Hour), true
}
