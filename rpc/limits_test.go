package rpc

import (
	"context"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"

	adminv1 "github.com/arcgate/arcgate/gen/go/arcgate/admin/v1"
)

// fakeClock is a clock tests move by hand.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// errorInfo returns the ErrorInfo detail of err.
func errorInfo(err error) *errdetails.ErrorInfo {
	for _, d := range status.Convert(err).Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok {
			return info
		}
	}
	return nil
}

// TestDefaultRateLimit checks the default per-caller rate: bursts of 200,
// then 100 calls a second, which a service's burst of concurrent calls
// fits (the old 20/s, burst 40 refused 156 of 200).
func TestDefaultRateLimit(t *testing.T) {
	if DefaultRateLimit != (RateLimit{PerSecond: 100, Burst: 200}) {
		t.Fatalf("DefaultRateLimit = %+v, want 100/s, burst 200", DefaultRateLimit)
	}
	clock := newFakeClock()
	r := newRateLimiter(RateLimit{}, DefaultRateLimit, clock.Now) // zero: the default
	for i := range 200 {
		if ok, _ := r.allow("svc"); !ok {
			t.Fatalf("call %d of a burst of 200 refused", i+1)
		}
	}
	if ok, wait := r.allow("svc"); ok || wait != 10*time.Millisecond {
		t.Fatalf("call 201: allowed %t, wait %v; want refused, 10ms", ok, wait)
	}
	clock.Add(time.Second) // 100 tokens back
	for i := range 100 {
		if ok, _ := r.allow("svc"); !ok {
			t.Fatalf("call %d of the next second refused", i+1)
		}
	}
	if ok, _ := r.allow("svc"); ok {
		t.Fatal("call 101 of the next second allowed")
	}
	if ok, _ := r.allow("other"); !ok {
		t.Fatal("another caller shares the bucket")
	}
	if newRateLimiter(NoRateLimit, DefaultRateLimit, clock.Now) != nil {
		t.Fatal("NoRateLimit still limits")
	}
}

// openStream opens a call of GetService and sends nothing: grpc-go on the
// server waits for the request message, so the call stays open (an
// abandoned stream) until ctx ends.
func openStream(ctx context.Context, t *testing.T, conn *grpc.ClientConn) grpc.ClientStream {
	t.Helper()
	s, err := conn.NewStream(ctx, &grpc.StreamDesc{ClientStreams: true, ServerStreams: true}, adminv1.ServicesService_GetService_FullMethodName)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestGuardCapsOpenCallsPerCaller checks the per-caller cap on open calls:
// streams a caller opens and abandons count from their headers on (before
// any request message), the call over the cap is refused with
// RESOURCE_EXHAUSTED (RATE_LIMITED) while other callers are served, and
// ending the streams gives the slots back.
func TestGuardCapsOpenCallsPerCaller(t *testing.T) {
	const max = 3
	e := newGuardEnv(t, GuardConfig{Credentials: testCredentials(t), RateLimit: NoRateLimit, MaxConcurrentPerCaller: max})
	svc := adminv1.NewServicesServiceClient(e.conn)
	get := func(kv ...string) error {
		_, err := svc.GetService(withMD(kv...), &adminv1.GetServiceRequest{Name: "services/A.MapServer"})
		return err
	}
	ctx, cancel := context.WithCancel(withMD("x-api-key", readKey))
	defer cancel()
	for range max {
		openStream(ctx, t, e.conn)
	}
	// The call over the cap: refused when its headers arrive, on the same
	// connection, after the open streams' headers.
	s := openStream(ctx, t, e.conn)
	errc := make(chan error, 1)
	go func() { errc <- s.RecvMsg(&adminv1.Service{}) }()
	var err error
	select {
	case err = <-errc:
	case <-time.After(10 * time.Second): // a failure, not a hang
		err = status.Error(codes.DeadlineExceeded, "the server kept the stream open")
	}
	info := errorInfo(err)
	if status.Code(err) != codes.ResourceExhausted || info.GetReason() != reasonRateLimited ||
		info.GetMetadata()["maxConcurrentCalls"] != strconv.Itoa(max) || info.GetMetadata()["caller"] != "reader" {
		t.Fatalf("call %d of one caller: %v (%v), want RESOURCE_EXHAUSTED, RATE_LIMITED", max+1, err, info)
	}
	if err := get("x-api-key", readKey); status.Code(err) != codes.ResourceExhausted {
		t.Fatalf("a unary call of the same caller: %v", err)
	}
	// Other callers, and calls without credentials (counted by address),
	// are not affected.
	if err := get("x-api-key", writeKey); err != nil {
		t.Fatalf("another caller: %v", err)
	}
	if err := get(); status.Code(err) != codes.Unauthenticated {
		t.Fatalf("a call without credentials: %v", err)
	}
	cancel() // the client resets its streams: the slots come back
	for i := 0; ; i++ {
		err := get("x-api-key", readKey)
		if err == nil {
			break
		}
		if status.Code(err) != codes.ResourceExhausted || i == 1000 {
			t.Fatalf("after the streams ended: %v", err)
		}
		time.Sleep(time.Millisecond)
	}
	if !strings.Contains(e.log.String(), "calls open") {
		t.Fatalf("the refusal was not logged:\n%s", e.log.String())
	}
}

// TestGuardCountsInProcessCalls checks that in-process calls (the REST
// gateway's), which no tap sees, are counted by the interceptors, and that
// calls TapHandle counted are not counted twice.
func TestGuardCountsInProcessCalls(t *testing.T) {
	g, err := NewGuard(GuardConfig{Credentials: testCredentials(t), RateLimit: NoRateLimit, MaxConcurrentPerCaller: 1})
	if err != nil {
		t.Fatal(err)
	}
	const method = adminv1.ServicesService_GetService_FullMethodName
	ctx := peer.NewContext(metadata.NewIncomingContext(context.Background(), metadata.Pairs("x-api-key", readKey)),
		&peer.Peer{Addr: &net.TCPAddr{IP: net.IPv4(192, 0, 2, 1), Port: 1}})
	r := g.rule(method)
	_, _, release, err := g.check(ctx, method, r)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := g.check(ctx, method, r); status.Code(err) != codes.ResourceExhausted {
		t.Fatalf("second open in-process call: %v", err)
	}
	release()
	if g.calls.inFlight("reader") != 0 {
		t.Fatal("release did not end the count")
	}
	// A gRPC call is counted once, by the tap.
	tctx, err := g.TapHandle(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, _, release, err = g.check(tctx, method, r)
	if err != nil {
		t.Fatalf("the interceptor counted a tapped call again: %v", err)
	}
	release()
	if g.calls.inFlight("reader") != 1 {
		t.Fatalf("%d calls open, want the tapped one", g.calls.inFlight("reader"))
	}
}

// logLines returns the log lines at Info level or above.
func logLines(t *testing.T, logs string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(logs), "\n") {
		if line == "" {
			continue
		}
		m := decodeJSONLine(t, line)
		if m["level"] != slog.LevelDebug.String() {
			out = append(out, m)
		}
	}
	return out
}

// TestGuardUnauthenticatedFlood checks that calls without valid
// credentials are rate-limited per client address and that their
// refusals are logged once per interval with a count: 1 000 anonymous
// calls made 2 000 lines.
func TestGuardUnauthenticatedFlood(t *testing.T) {
	clock := newFakeClock()
	e := newGuardEnv(t, GuardConfig{Credentials: testCredentials(t), Clock: clock.Now})
	svc := adminv1.NewServicesServiceClient(e.conn)
	codesSeen := map[codes.Code]int{}
	const calls = 1000
	for range calls {
		_, err := svc.GetService(withMD("x-api-key", "not-a-known-key"), &adminv1.GetServiceRequest{Name: "services/A.MapServer"})
		codesSeen[status.Code(err)]++
		if c := status.Code(err); c == codes.ResourceExhausted && reason(err) != reasonRateLimited {
			t.Fatalf("refused with %v", err)
		}
	}
	burst := DefaultUnauthenticatedRateLimit.Burst
	if codesSeen[codes.Unauthenticated] != burst || codesSeen[codes.ResourceExhausted] != calls-burst {
		t.Fatalf("codes %v, want %d UNAUTHENTICATED then RESOURCE_EXHAUSTED", codesSeen, burst)
	}
	// A known caller from the same address is not affected.
	if _, err := svc.GetService(withMD("x-api-key", readKey), &adminv1.GetServiceRequest{Name: "services/A.MapServer"}); err != nil {
		t.Fatalf("known caller from the flooding address: %v", err)
	}
	// Two lines for the refused calls (one per code; their own "rpc" lines
	// are at Debug level), and the known caller's "rpc" line.
	lines := logLines(t, e.log.String())
	if len(lines) != 3 || lines[2]["msg"] != "rpc" || lines[2]["code"] != "OK" {
		t.Fatalf("%d log lines for %d refused calls and one let in, want 3 (one per code, then the call let in):\n%s", len(lines), calls, e.log.String())
	}
	// After the interval, the next refusal is logged with the count of
	// those not logged.
	clock.Add(DefaultRejectLogInterval)
	_, err := svc.GetService(withMD(), &adminv1.GetServiceRequest{Name: "services/A.MapServer"})
	if status.Code(err) != codes.Unauthenticated {
		t.Fatalf("after the interval: %v", err)
	}
	lines = logLines(t, e.log.String())
	if len(lines) != 4 {
		t.Fatalf("%d log lines, want 4:\n%s", len(lines), e.log.String())
	}
	last := lines[3]
	if last["msg"] != "rpc rejected" || last["code"] != "Unauthenticated" || last["suppressed"] != float64(burst-1) ||
		last["caller"] != "(unauthenticated)" || last["peer"] != "127.0.0.1" {
		t.Fatalf("line after the interval: %v, want suppressed %d", last, burst-1)
	}
	if strings.Contains(e.log.String(), "not-a-known-key") {
		t.Fatal("a presented key reached the log")
	}
}

// TestRejectLogIsBounded checks that the rejection log keeps a bounded
// number of kinds and still logs new ones when full.
func TestRejectLogIsBounded(t *testing.T) {
	clock := newFakeClock()
	logs := &syncBuffer{}
	l := newRejectLog(slog.New(slog.NewJSONHandler(logs, nil)), clock.Now, time.Minute)
	refused := status.Error(codes.Unauthenticated, "no")
	for i := range maxRejectKinds + 100 {
		l.note(context.Background(), "/m", "(unauthenticated)", "198.51.100."+strconv.Itoa(i), refused)
	}
	if n := len(l.kinds); n > maxRejectKinds+1 {
		t.Fatalf("%d kinds kept, want at most %d", n, maxRejectKinds+1)
	}
	if n := strings.Count(logs.String(), "\n"); n != maxRejectKinds+1 {
		t.Fatalf("%d lines, want one per kind and one for the overflow", n)
	}
	clock.Add(time.Minute)
	l.note(context.Background(), "/m", "(unauthenticated)", "203.0.113.1", refused)
	if n := len(l.kinds); n != 1 {
		t.Fatalf("%d kinds after the interval, want the expired ones swept", n)
	}
}
