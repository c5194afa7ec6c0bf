package rpc

import (
	"sync"
	"time"

	"golang.org/x/time/rate"
	"google.golang.org/grpc/codes"

	"github.com/arcgate/arcgate/apierr"
)

// RateLimit is the per-caller request rate: a token bucket holding Burst
// tokens, refilled at PerSecond tokens a second; each call takes one.
type RateLimit struct {
	PerSecond float64
	Burst     int
}

// DefaultRateLimit is the per-caller rate used when GuardConfig.RateLimit
// is zero: 100 calls a second, bursts of 200. It is there to stop a runaway
// caller, not to pace normal use: the upstream is protected by the
// concurrency cap and by coalescing identical reads.
var DefaultRateLimit = RateLimit{PerSecond: 100, Burst: 200}

// DefaultUnauthenticatedRateLimit is the rate of calls whose caller could
// not be authenticated, per client address, used when
// GuardConfig.UnauthenticatedRateLimit is zero: 10 a second, bursts of 20.
// Over it such calls are refused with RESOURCE_EXHAUSTED (RATE_LIMITED)
// rather than UNAUTHENTICATED.
var DefaultUnauthenticatedRateLimit = RateLimit{PerSecond: 10, Burst: 20}

// NoRateLimit turns per-caller rate limiting off.
var NoRateLimit = RateLimit{PerSecond: -1}

// maxBuckets bounds the limiters kept; beyond it, full (idle) ones are
// forgotten, which changes nothing for their callers.
const maxBuckets = 10_000

// rateLimiter keeps one token bucket (a golang.org/x/time/rate.Limiter)
// per caller key. Every limiter is given the injected clock's time, never
// reads the real one.
type rateLimiter struct {
	limit RateLimit
	now   func() time.Time

	mu      sync.Mutex
	buckets map[string]*rate.Limiter
}

// newRateLimiter returns a limiter of l, def when l is zero, nil (no
// limit) when l.PerSecond is negative.
func newRateLimiter(l, def RateLimit, now func() time.Time) *rateLimiter {
	if l.PerSecond == 0 {
		l = def
	}
	if l.PerSecond < 0 {
		return nil
	}
	if l.Burst < 1 {
		l.Burst = 1
	}
	return &rateLimiter{limit: l, now: now, buckets: map[string]*rate.Limiter{}}
}

// allow takes a token from key's bucket. When the bucket is empty it
// returns false and the wait until a token is available.
func (r *rateLimiter) allow(key string) (bool, time.Duration) {
	if r == nil {
		return true, 0
	}
	now := r.now()
	r.mu.Lock()
	defer r.mu.Unlock()
	b, ok := r.buckets[key]
	if !ok {
		if len(r.buckets) >= maxBuckets {
			r.sweep(now)
		}
		b = rate.NewLimiter(rate.Limit(r.limit.PerSecond), r.limit.Burst)
		r.buckets[key] = b
	}
	if b.AllowN(now, 1) {
		return true, 0
	}
	wait := time.Duration((1 - b.TokensAt(now)) / r.limit.PerSecond * float64(time.Second))
	return false, max(wait, time.Millisecond)
}

// sweep forgets the limiters that have refilled completely. Call with mu
// held.
func (r *rateLimiter) sweep(now time.Time) {
	for k, b := range r.buckets {
		if b.TokensAt(now) >= float64(r.limit.Burst) {
			delete(r.buckets, k)
		}
	}
}

// rateLimited is the RESOURCE_EXHAUSTED error of a caller over its rate,
// with a RetryInfo detail.
func rateLimited(caller string, wait time.Duration) error {
	return apierr.Retry(codes.ResourceExhausted, reasonRateLimited,
		"rate limit exceeded for caller "+caller+"; retry after "+wait.Round(time.Millisecond).String(),
		map[string]string{"caller": caller}, wait)
}

// unauthenticatedRateLimited is the RESOURCE_EXHAUSTED error of a call
// without valid credentials from an address over
// DefaultUnauthenticatedRateLimit.
func unauthenticatedRateLimited(wait time.Duration) error {
	return apierr.Retry(codes.ResourceExhausted, reasonRateLimited,
		"too many calls without valid credentials from this address; retry after "+wait.Round(time.Millisecond).String(),
		map[string]string{"caller": callerName(Caller{}, false)}, wait)
}
