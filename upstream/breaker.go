package upstream

import (
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"
)

// This file holds the circuit breaker of the resilient transport (retry.go)
// and the health it reports. It is hand-written rather than taken from a
// library: after a failed probe its open period backs off (doubling up to
// BreakerCooldown) and it reports half-open when the cool-down ends, which
// the tests rely on and the common breaker packages do not offer.

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
