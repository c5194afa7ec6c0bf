package rpc

import (
	"context"
	"strconv"
	"sync"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/tap"

	"github.com/arcgate/arcgate/apierr"
	adminv1 "github.com/arcgate/arcgate/gen/go/arcgate/admin/v1"
)

// DefaultMaxConcurrentPerCaller is the number of calls one caller may have
// open at once when GuardConfig.MaxConcurrentPerCaller is zero. A gRPC call
// counts from the moment its headers arrive, before its request message is
// read, so that streams opened and abandoned count too.
const DefaultMaxConcurrentPerCaller = 500

// concurrencyRetry is the RetryInfo delay of a call refused because its
// caller has too many calls open: a guess, since the wait depends on the
// caller's own calls ending.
const concurrencyRetry = time.Second

// callCounter counts the calls each caller key has open. Its map holds
// only keys with calls open, so it is bounded by the calls in flight.
type callCounter struct {
	max int

	mu   sync.Mutex
	open map[string]int
}

// newCallCounter returns a counter allowing max calls per key, max when
// positive, DefaultMaxConcurrentPerCaller when zero; nil (no cap) when
// negative.
func newCallCounter(max int) *callCounter {
	if max == 0 {
		max = DefaultMaxConcurrentPerCaller
	}
	if max < 0 {
		return nil
	}
	return &callCounter{max: max, open: map[string]int{}}
}

// acquire counts one more open call of key, unless key already has max
// open. A true result must be paired with release.
func (c *callCounter) acquire(key string) bool {
	if c == nil {
		return true
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.open[key] >= c.max {
		return false
	}
	c.open[key]++
	return true
}

// release ends one open call of key.
func (c *callCounter) release(key string) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if n := c.open[key]; n > 1 {
		c.open[key] = n - 1
	} else {
		delete(c.open, key)
	}
}

// inFlight returns the calls key has open (tests).
func (c *callCounter) inFlight(key string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.open[key]
}

// tooManyCalls is the RESOURCE_EXHAUSTED error of a call refused because
// its caller already has the most calls open it may.
func tooManyCalls(caller string, max int) error {
	return apierr.Retry(codes.ResourceExhausted, reasonRateLimited,
		"caller "+caller+" already has "+strconv.Itoa(max)+" calls open, the most one caller may; retry when some have ended",
		map[string]string{"caller": caller, "maxConcurrentCalls": strconv.Itoa(max)}, concurrencyRetry)
}

// countedKey marks the context of a call already counted by TapHandle, so
// that the interceptors do not count it again. Its value is the *tapped
// outcome of authenticating the call there.
type countedKey struct{}

// tapped is what TapHandle found out about a call's caller, so that the
// Guard's interceptor does not authenticate the same credentials again
// (hashing the key, copying the call's metadata).
type tapped struct {
	caller Caller
	err    error
}

// identifyOnce is identify, reusing what TapHandle found out for the call.
func (g *Guard) identifyOnce(ctx context.Context) (Caller, error) {
	if t, ok := ctx.Value(countedKey{}).(*tapped); ok {
		return t.caller, t.err
	}
	return g.identify(ctx)
}

// callerKey returns the key the call in ctx is counted and rate-limited
// under, with the caller's name for errors and log lines: the caller's
// identity when authenticated, "anonymous@<address>" without caller
// authentication, and "unauthenticated@<address>" for a call whose
// credentials are missing or wrong.
func (g *Guard) callerKey(ctx context.Context) (key, name string, caller Caller, err error) {
	caller, err = g.identify(ctx)
	if err != nil {
		return g.keyOf(ctx, caller, err), callerName(Caller{}, false), Caller{}, err
	}
	return g.keyOf(ctx, caller, nil), caller.ID, caller, nil
}

// anonymous is the caller of every call without caller authentication.
var anonymous = Caller{ID: "anonymous", Scope: adminv1.Scope_SCOPE_ADMIN, Auth: authNone}

// identify authenticates the caller of the call in ctx (anonymous
// without caller authentication).
func (g *Guard) identify(ctx context.Context) (Caller, error) {
	if g.insecure {
		return anonymous, nil
	}
	return g.creds.authenticate(ctx)
}

// keyOf is the key of callerKey for the outcome of identify. A key with
// the client's address costs a few allocations: check asks for it only
// when a limit uses it.
func (g *Guard) keyOf(ctx context.Context, c Caller, err error) string {
	switch {
	case err != nil:
		return "unauthenticated@" + peerHost(ctx)
	case g.insecure:
		return "anonymous@" + peerHost(ctx)
	}
	return c.ID
}

// TapHandle is a grpc.InTapHandle that caps the gRPC calls each caller
// has open (GuardConfig.MaxConcurrentPerCaller): it runs when a call's
// headers arrive, before grpc-go reads the request message or starts a
// handler, and counts the call until its stream ends. A call over the cap
// is refused there with RESOURCE_EXHAUSTED (RATE_LIMITED, RetryInfo). The
// caller is the authenticated identity, or the client address for calls
// without valid credentials (and without caller authentication). Health
// checks count too. Install it on the gRPC server:
//
//	grpc.NewServer(grpc.InTapHandle(guard.TapHandle), ...)
//
// In-process calls (the REST gateway) do not pass here; the interceptors
// count them.
func (g *Guard) TapHandle(ctx context.Context, info *tap.Info) (context.Context, error) {
	if g.calls == nil {
		return ctx, nil
	}
	key, name, caller, err := g.callerKey(ctx)
	if !g.calls.acquire(key) {
		refused := tooManyCalls(name, g.calls.max)
		g.rejects.note(ctx, info.FullMethodName, name, peerHost(ctx), refused)
		return nil, refused
	}
	// grpc-go cancels the stream's context when the stream ends, however
	// it ends (status written, reset by the client, connection closed).
	context.AfterFunc(ctx, func() { g.calls.release(key) })
	return context.WithValue(ctx, countedKey{}, &tapped{caller: caller, err: err}), nil
}

// countCall counts an in-process call of key against the cap, unless
// TapHandle already counted it. It returns the release function, nil when
// the caller already has the most calls open.
func (g *Guard) countCall(ctx context.Context, key string) func() {
	if g.calls == nil || ctx.Value(countedKey{}) != nil {
		return func() {}
	}
	if !g.calls.acquire(key) {
		return nil
	}
	return func() { g.calls.release(key) }
}
