package upstream

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// This file holds what keeps a sick upstream from taking arcgate down or
// making it lie: verified TLS with configurable roots, retries of
// idempotent reads with backoff and a budget, a circuit breaker and a cap on
// concurrent requests per site. All of it lives in an http.RoundTripper
// installed under the client's *http.Client, so the request code (do,
// token, send) knows nothing of it beyond marking reads idempotent.

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

// WithRootCAs makes the client verify the upstream's TLS certificate
// against pool instead of the system roots (see LoadRootCAs to add a
// private CA to the system roots). It builds the client's HTTP transport
// and so cannot be combined with WithHTTPClient. Certificate verification
// itself can never be turned off.
func WithRootCAs(pool *x509.CertPool) Option {
	return func(c *Client) error {
		if pool == nil {
			return errors.New("upstream: WithRootCAs: nil pool")
		}
		c.hard.rootCAs = pool
		return nil
	}
}

// LoadRootCAs returns the system's root certificates plus the PEM
// certificates in file (for a site whose certificate is issued by a private
// CA), for WithRootCAs. It fails when file holds no certificate.
func LoadRootCAs(file string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("upstream: reading CA file: %w", err)
	}
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("upstream: CA file %s holds no PEM certificate", file)
	}
	return pool, nil
}

// hardening is the Client's TLS and resilience configuration, applied by
// harden once every option has run.
type hardening struct {
	rootCAs    *x509.CertPool
	maxConns   int // per host, for the transport New builds
	resilience *ResilienceConfig
	rt         *resilientTransport // nil without WithResilience
}

// harden builds the client's HTTP client from the options: a transport
// trusting the configured roots, wrapped by the resilient transport. It
// refuses a caller-supplied transport that skips certificate verification.
func (c *Client) harden() error {
	if c.wire.hc != nil && (c.hard.rootCAs != nil || c.hard.maxConns != 0) {
		return errors.New("upstream: WithRootCAs and WithMaxConnsPerHost cannot be combined with WithHTTPClient (configure your own transport)")
	}
	if c.wire.hc == nil {
		maxConns := c.hard.maxConns
		if maxConns == 0 {
			maxConns = DefaultMaxConcurrent
			if c.hard.resilience != nil && c.hard.resilience.MaxConcurrent > 0 {
				maxConns = c.hard.resilience.MaxConcurrent
			}
		}
		c.wire.hc = &http.Client{Transport: NewTransport(c.hard.rootCAs, maxConns)}
		if maxConns > 0 {
			c.flights.limit = maxConns // more would wait for a connection
		}
	}
	if skipsVerification(c.wire.hc.Transport) {
		return errors.New("upstream: the HTTP client's transport skips TLS certificate verification, which arcgate never allows")
	}
	if c.hard.resilience != nil {
		base := c.wire.hc.Transport
		if base == nil {
			base = http.DefaultTransport
		}
		c.hard.rt = newResilientTransport(base, *c.hard.resilience, c.now, c.wire.maxBytes)
		if n := c.hard.resilience.MaxConcurrent; n > 0 && (c.flights.limit == 0 || n < c.flights.limit) {
			c.flights.limit = n // more would wait for a place
		}
		hc := *c.wire.hc
		hc.Transport = c.hard.rt
		c.wire.hc = &hc
	}
	return nil
}

// transportWriteBuffer is the write buffer of each upstream connection.
const transportWriteBuffer = 1 << 10

// NewTransport returns the transport of a client New builds: a copy of
// http.DefaultTransport that verifies server certificates (against roots
// when not nil, else the system's), with TLS 1.2 at least, and that keeps
// as many idle connections to the site as it may open (maxConns), each with
// a 1 KiB write buffer. Go's default keeps 2 idle connections per host, so
// under concurrent load every other request would open, and then close, a
// new TCP (and TLS) connection.
func NewTransport(roots *x509.CertPool, maxConns int) *http.Transport {
	if maxConns == 0 {
		maxConns = DefaultMaxConcurrent
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}
	// A request is mostly a GET's line and headers, well under 1 KiB; a
	// larger one (a form POST) is written in several pieces. Go's default
	// of 4 KiB is kept by every idle connection.
	tr.WriteBufferSize = transportWriteBuffer
	if maxConns > 0 {
		tr.MaxConnsPerHost = maxConns
		tr.MaxIdleConnsPerHost = maxConns
		tr.MaxIdleConns = maxConns
	}
	return tr
}

// WithMaxConnsPerHost bounds the connections the client opens to the site
// and keeps that many idle for reuse (default: the resilience
// MaxConcurrent, else DefaultMaxConcurrent; negative: no bound, Go's
// defaults for idle connections). Build the same transport with
// NewTransport to wrap it in a client of your own. It applies to the transport New builds,
// so it cannot be combined with WithHTTPClient.
func WithMaxConnsPerHost(n int) Option {
	return func(c *Client) error {
		c.hard.maxConns = n
		return nil
	}
}

// skipsVerification reports whether rt is an *http.Transport (or our
// wrapper around one) configured with InsecureSkipVerify.
func skipsVerification(rt http.RoundTripper) bool {
	if r, ok := rt.(*resilientTransport); ok {
		rt = r.base
	}
	tr, ok := rt.(*http.Transport)
	return ok && tr.TLSClientConfig != nil && tr.TLSClientConfig.InsecureSkipVerify
}

// postRead performs a form-encoded POST that changes nothing upstream
// (the roles store's getRoles, search, getPrivilege, getRolesByPrivilege,
// getUsersWithinRole and getRolesForUser): it is marked idempotent, so that
// WithResilience retries it like a GET. Use post for everything else.
func (c *Client) postRead(ctx context.Context, op, path string, form url.Values, v any) error {
	return c.do(ctx, &request{op: op, method: http.MethodPost, path: path, form: form, idempotent: true}, v)
}

// idempotentKey marks a request context whose request may be retried.
type idempotentKey struct{}

// markIdempotent returns the context for sending r: GET requests and reads
// marked idempotent carry the mark the resilient transport looks for.
func markIdempotent(ctx context.Context, r *request) context.Context {
	if r.idempotent || r.method == http.MethodGet {
		return context.WithValue(ctx, idempotentKey{}, true)
	}
	return ctx
}

// isIdempotent reports whether req was marked by markIdempotent.
func isIdempotent(req *http.Request) bool {
	v, _ := req.Context().Value(idempotentKey{}).(bool)
	return v
}

// ErrCircuitOpen is matched (errors.Is) by the error of a request refused
// because the site's circuit breaker is open.
var ErrCircuitOpen = errors.New("upstream: circuit breaker open")

// CircuitOpenError is the error of a request refused without being sent
// because the site's circuit breaker is open (or a half-open probe is
// already in flight). It reaches callers as the Err of an *Error of Kind
// KindTransport; errors.As and errors.Is(err, ErrCircuitOpen) find it.
type CircuitOpenError struct {
	// RetryAfter is the time left before a probe request is let through
	// (0 when a probe is in flight now).
	RetryAfter time.Duration
}

// Error describes the refusal.
func (e *CircuitOpenError) Error() string {
	if e.RetryAfter > 0 {
		return fmt.Sprintf("circuit breaker open after repeated upstream failures; next probe in %s", e.RetryAfter.Round(time.Millisecond))
	}
	return "circuit breaker open after repeated upstream failures; a probe request is in flight"
}

// Is makes errors.Is(err, ErrCircuitOpen) true.
func (e *CircuitOpenError) Is(target error) bool { return target == ErrCircuitOpen }

// IsCircuitOpen reports whether err says the circuit breaker refused the
// request, and for how long it will.
func IsCircuitOpen(err error) (time.Duration, bool) {
	var e *CircuitOpenError
	if errors.As(err, &e) {
		return e.RetryAfter, true
	}
	return 0, false
}

// BreakerState is the state of a site's circuit breaker.
type BreakerState int

const (
	// BreakerClosed lets every request through (also reported when
	// WithResilience is not used).
	BreakerClosed BreakerState = iota
	// BreakerOpen refuses every request until the cool-down ends.
	BreakerOpen
	// BreakerHalfOpen lets one probe request through; its outcome closes or
	// reopens the breaker.
	BreakerHalfOpen
)

// String returns "closed", "open" or "half-open".
func (s BreakerState) String() string {
	switch s {
	case BreakerClosed:
		return "closed"
	case BreakerOpen:
		return "open"
	case BreakerHalfOpen:
		return "half-open"
	default:
		return "BreakerState(" + strconv.Itoa(int(s)) + ")"
	}
}

// Health is a snapshot of the client's view of its upstream site.
type Health struct {
	// Breaker is the circuit breaker's state.
	Breaker BreakerState
	// ConsecutiveFailures counts the failed requests since the last success.
	ConsecutiveFailures int
	// RetryAfter is, while the breaker is open, the time before a probe.
	RetryAfter time.Duration
	// InFlight is the number of requests to the site in progress.
	InFlight int
}

// Health reports the state of the site's circuit breaker and the requests
// in flight. Without WithResilience it reports a closed breaker.
func (c *Client) Health() Health {
	if c.hard.rt == nil {
		return Health{}
	}
	return c.hard.rt.health()
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
	data, readErr := io.ReadAll(io.LimitReader(resp.Body, t.bufLimit))
	_ = resp.Body.Close()
	release()
	truncated := readErr == nil && status >= 200 && status <= 299 && truncatedJSON(data)
	if readErr != nil || truncated || status >= 500 {
		t.record(ctx, outcomeFailure)
	} else {
		t.record(ctx, outcomeSuccess)
	}
	if readErr != nil {
		resp.Body = io.NopCloser(io.MultiReader(bytes.NewReader(data), errReader{readErr}))
	} else {
		resp.Body = &bufferedBody{Reader: bytes.NewReader(data), data: data, validJSON: !truncated && jsonStart(data)}
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

// truncatedJSON reports whether data looks like the start of a JSON
// object or array that ends too early (or is otherwise broken). Bodies that
// are not JSON at all (an HTML page) are not truncated JSON: retrying a
// misconfigured proxy does not help.
func truncatedJSON(data []byte) bool {
	return jsonStart(data) && !json.Valid(data)
}

// jsonStart reports whether data starts (after spaces) like a JSON object
// or array.
func jsonStart(data []byte) bool {
	t := bytes.TrimLeft(data, " \t\r\n")
	return len(t) > 0 && (t[0] == '{' || t[0] == '[')
}

// bufferedBody is a response body the resilient transport read whole. It
// gives send the bytes and whether they are valid JSON, so that send
// neither copies them nor checks them again.
type bufferedBody struct {
	*bytes.Reader
	data      []byte
	validJSON bool
}

// Close implements io.Closer.
func (*bufferedBody) Close() error { return nil }

// errReader returns err after the buffered part of a body that failed.
type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) { return 0, r.err }

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

// breaker is a consecutive-failure circuit breaker for one site. Its open
// period starts at initial and doubles with each failed probe, up to
// maxOpen; a successful probe resets it.
type breaker struct {
	threshold int
	initial   time.Duration
	maxOpen   time.Duration
	now       func() time.Time
	onChange  func(BreakerState)

	mu        sync.Mutex
	state     BreakerState
	failures  int
	openUntil time.Time
	period    time.Duration // the last open period; 0 once closed
	probing   bool

	notifyMu sync.Mutex   // serialises onChange calls
	notified BreakerState // last state passed to onChange
}

// current returns the state, moving open to half-open once the cool-down
// is over. Call with mu held.
func (b *breaker) current() BreakerState {
	if b.state == BreakerOpen && !b.now().Before(b.openUntil) {
		b.state, b.probing = BreakerHalfOpen, false
	}
	return b.state
}

// allow admits a request or refuses it with a *CircuitOpenError.
func (b *breaker) allow() error {
	b.mu.Lock()
	var err error
	switch b.current() {
	case BreakerOpen:
		err = &CircuitOpenError{RetryAfter: b.openUntil.Sub(b.now())}
	case BreakerHalfOpen:
		if b.probing {
			err = &CircuitOpenError{}
		} else {
			b.probing = true
		}
	}
	b.mu.Unlock()
	b.notify()
	return err
}

// record counts the outcome of an admitted request.
func (b *breaker) record(o outcome) {
	b.mu.Lock()
	opened := false
	st := b.current()
	if o == outcomeSuccess {
		b.failures = 0
		if st == BreakerHalfOpen {
			b.state, b.probing, b.period = BreakerClosed, false, 0
		}
	} else {
		b.failures++
		if st == BreakerHalfOpen || (st == BreakerClosed && b.failures >= b.threshold) {
			b.state, b.probing = BreakerOpen, false
			b.period = b.nextPeriod(st)
			b.openUntil = b.now().Add(b.period)
			opened = true
		}
	}
	period := b.period
	b.mu.Unlock()
	if opened && b.onChange != nil {
		// Report half-open when the cool-down ends, without waiting for a
		// request to notice it.
		time.AfterFunc(period, b.notify)
	}
	b.notify()
}

// nextPeriod returns the open period that starts now, the breaker being in
// state from: the initial period when it opens from closed, else (a probe
// failed) twice the last one, capped at maxOpen. Call with mu held.
func (b *breaker) nextPeriod(from BreakerState) time.Duration {
	if from != BreakerHalfOpen || b.period <= 0 {
		return b.initial
	}
	if b.period >= b.maxOpen/2 {
		return b.maxOpen
	}
	return 2 * b.period
}

// abandon frees the probe slot of a request whose caller gave up.
func (b *breaker) abandon() {
	b.mu.Lock()
	if b.current() == BreakerHalfOpen {
		b.probing = false
	}
	b.mu.Unlock()
}

func (b *breaker) snapshot() (BreakerState, int, time.Duration) {
	b.mu.Lock()
	defer b.mu.Unlock()
	st := b.current()
	var wait time.Duration
	if st == BreakerOpen {
		wait = b.openUntil.Sub(b.now())
	}
	return st, b.failures, wait
}

// notify passes the current state to onChange if it differs from the last
// state passed.
func (b *breaker) notify() {
	if b.onChange == nil {
		return
	}
	b.notifyMu.Lock()
	defer b.notifyMu.Unlock()
	b.mu.Lock()
	st := b.current()
	b.mu.Unlock()
	if st != b.notified {
		b.notified = st
		b.onChange(st)
	}
}
