package upstream

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Identical reads in flight at the same time share one upstream request:
// when many callers ask for the same resource at once (a dashboard opening,
// a retry storm), the upstream sees one request, not one per caller.
//
// Only reads are coalesced (GET, and POST reads marked idempotent), and
// only between callers of the same upstream identity: the key is the
// identity's keyed hash, the method, the path and the parameters. A flight
// belongs to no single caller: a caller that gives up (cancelled, deadline)
// leaves the others waiting on it, and the request is cancelled only when
// its last waiter is gone. Its result, error included, goes to the callers
// that waited on that flight only; the next caller starts a new one. The
// request carries the context values (request id, trace) of the caller that
// started the flight.
//
// A read never gets the answer of a request sent before a write that
// completed before the read began: every write through the client (any
// request that is not a read, whatever its resource and its caller's
// identity) counts in readFlights.writes when it starts and when it
// completes, successful or not, and a read joins a flight only if that
// flight's request is still queued or was sent with no write counted
// since. Otherwise the read starts a flight of its own, which later reads
// join. One count for all resources, because a write's effects reach
// beyond its own path: a new folder shows in the root listing, a deleted
// folder takes its services, their item info and jobs with it. Reads that
// overlap writes then share less, which costs upstream requests only
// while writes are under way.

// A flight runs on a goroutine of its own, so that it can outlive the
// caller that started it. Flights beyond the client's concurrency cap
// (ResilienceConfig.MaxConcurrent, else the transport's connections) wait
// in a queue that holds no goroutine: a flight's goroutine, once done,
// runs the oldest queued flight that still has waiters. Under a burst, the
// memory of queued reads is then a few hundred bytes each, not a stack.
// With nothing queued, the goroutine waits a little for a new flight
// before it ends (idleFlightWait).

// flightTimeout bounds a flight that its waiters never give up on.
const flightTimeout = 2 * time.Minute

// A flight goroutine with nothing left to run waits idleFlightWait for a
// new flight before it ends, so that under load flights run on goroutines
// whose stacks have grown already (a new goroutine's stack grows by
// copying as the request and the decoder go deeper: 4 to 6 % of a read's
// CPU in arcgate-bench). At most maxIdleFlightGoroutines wait so.
const (
	idleFlightWait          = 20 * time.Millisecond
	maxIdleFlightGoroutines = 16
)

type readFlights struct {
	mu      sync.Mutex
	m       map[string]*readFlight
	limit   int              // most flights running at once; 0: no limit
	running int              // flight goroutines
	queue   []*readFlight    // flights waiting for a goroutine, oldest first
	stale   int              // flights in queue that every waiter left
	idle    chan *readFlight // hands a new flight to a waiting goroutine
	idleN   int              // goroutines waiting on idle
	spawned int              // flight goroutines started (tests)

	// writes counts the client's writes, once when each starts and once
	// when it completes (see above and wrote).
	writes atomic.Uint64
}

type readFlight struct {
	key     string
	fn      func(context.Context) ([]byte, error)
	ctx     context.Context // fn's: the starter's values, no cancellation of its own
	cancel  context.CancelFunc
	done    chan struct{}
	data    []byte
	err     error
	waiters int
	queued  bool
	// writes is readFlights.writes as it was before the request was sent
	// (set under mu when the flight leaves the queue or starts without
	// waiting); reads join the flight only while it is unchanged.
	writes uint64

	// share decodes data for the callers that take the value shared
	// (request.shared): the flight's goroutine runs it once, before it
	// wakes the callers, into decoded or decodeErr.
	share     func(data []byte) (shareable, error)
	decoded   shareable
	decodeErr error

	// notify are called once the flight is done (doAll's waits).
	notify []func()
}

// join makes the caller a waiter of key's flight, starting one that runs
// fn when none is in flight (or queueing it, at the limit). share, when
// not nil, is how the caller would decode a shared value (the first one
// given is kept); notify, when not nil, is called once the flight is done.
// The caller must then wait (or leave).
func (g *readFlights) join(ctx context.Context, key string, fn func(context.Context) ([]byte, error), share func([]byte) (shareable, error), notify func()) *readFlight {
	g.mu.Lock()
	defer g.mu.Unlock()
	f, ok := g.m[key]
	if ok && !f.queued && f.writes != g.writes.Load() {
		// Sent before a write that started or completed since: its answer
		// may predate the write. f keeps its waiters, and leaves the map
		// to the new flight (run and leave remove only their own).
		ok = false
	}
	if !ok {
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), flightTimeout)
		f = &readFlight{key: key, fn: fn, ctx: fctx, cancel: cancel, done: make(chan struct{})}
		if g.m == nil {
			g.m = map[string]*readFlight{}
		}
		g.m[key] = f
		if g.limit > 0 && g.running >= g.limit {
			f.queued = true
			g.queue = append(g.queue, f)
		} else {
			f.writes = g.writes.Load()
			g.running++
			g.start(f)
		}
	}
	if f.share == nil {
		f.share = share
	}
	if notify != nil {
		f.notify = append(f.notify, notify)
	}
	f.waiters++
	return f
}

// start runs f on a goroutine waiting for one, else on a new one. g.mu
// is held.
func (g *readFlights) start(f *readFlight) {
	if g.idleN > 0 {
		select {
		case g.idle <- f:
			return
		default: // the waiting one is leaving
		}
	}
	g.spawned++
	go g.run(f)
}

// run runs f, then the queued flights, until none is left, then waits a
// little for a new flight (see idleFlightWait).
func (g *readFlights) run(f *readFlight) {
	var idle *time.Timer
	for f != nil {
		g.runFlights(f)
		f = g.waitIdle(&idle)
	}
}

// waitIdle waits for start to hand the goroutine a flight, for at most
// idleFlightWait; nil when none came or enough goroutines wait already.
func (g *readFlights) waitIdle(t **time.Timer) *readFlight {
	g.mu.Lock()
	if g.idleN >= maxIdleFlightGoroutines {
		g.mu.Unlock()
		return nil
	}
	if g.idle == nil {
		g.idle = make(chan *readFlight)
	}
	ch := g.idle
	g.idleN++
	g.mu.Unlock()
	if *t == nil {
		*t = time.NewTimer(idleFlightWait)
	} else {
		(*t).Reset(idleFlightWait)
	}
	var f *readFlight
	select {
	case f = <-ch:
		(*t).Stop()
	case <-(*t).C:
	}
	g.mu.Lock()
	g.idleN--
	g.mu.Unlock()
	return f
}

// runFlights runs f, then the queued flights, until none is left.
func (g *readFlights) runFlights(f *readFlight) {
	for f != nil {
		data, err := f.fn(f.ctx)
		f.cancel()
		g.mu.Lock()
		f.data, f.err = data, err
		if g.m[f.key] == f {
			delete(g.m, f.key) // no one joins f from now on
		}
		share, notify := f.share, f.notify
		next := g.next()
		g.mu.Unlock()
		if err == nil && share != nil {
			// Here rather than on a caller's goroutine, whose deeper
			// stack the decoder would make grow.
			f.decoded, f.decodeErr = share(data)
		}
		close(f.done)
		for _, n := range notify {
			n()
		}
		f = next
	}
}

// next takes the oldest queued flight that still has waiters, or gives up
// the caller's place among the running when there is none. g.mu is held.
func (g *readFlights) next() *readFlight {
	for len(g.queue) > 0 {
		f := g.queue[0]
		g.queue[0] = nil
		g.queue = g.queue[1:]
		f.queued = false
		if f.waiters > 0 {
			f.writes = g.writes.Load()
			return f
		}
		g.stale--
	}
	g.queue = nil
	g.running--
	return nil
}

// wait returns f's result, or leaves f when ctx ends first.
func (g *readFlights) wait(ctx context.Context, key string, f *readFlight) ([]byte, error) {
	select {
	case <-f.done:
		return f.data, f.err
	case <-ctx.Done():
		g.leave(key, f)
		return nil, ctx.Err()
	}
}

// leave removes a waiter from f, cancelling f when it was the last one.
func (g *readFlights) leave(key string, f *readFlight) {
	g.mu.Lock()
	f.waiters--
	abandoned := f.waiters == 0
	if abandoned && g.m[key] == f {
		delete(g.m, key) // a caller arriving now must not join a cancelled flight
	}
	if abandoned && f.queued {
		// Left in the queue, it would hold its request until a running
		// flight ends (up to flightTimeout, if the upstream stalls) while
		// more callers come and give up: drop the stale ones once they
		// are half the queue.
		if g.stale++; g.stale > len(g.queue)/2 {
			g.queue = slices.DeleteFunc(g.queue, func(q *readFlight) bool {
				if q.waiters == 0 {
					q.queued = false
					return true
				}
				return false
			})
			g.stale = 0
		}
	}
	g.mu.Unlock()
	if abandoned {
		f.cancel()
	}
}

// wrote counts a write starting or completing: from then on, no read
// joins a flight sent before.
func (g *readFlights) wrote() { g.writes.Add(1) }

// isWrite reports whether r may change the upstream's state: every
// request but a GET, a POST that only reads (request.idempotent) and
// generateToken, which only issues a token. It is the one place that
// decides what a write is (for coalescing and for Error.Write).
func (r *request) isWrite() bool {
	return r.method != http.MethodGet && !r.idempotent && r.path != "generateToken"
}

// sameType reports whether decoded, a flight's shared value, can be given
// to m (of the same type).
func sameType(decoded, m shareable) bool {
	return decoded != nil && reflect.TypeOf(decoded) == reflect.TypeOf(m)
}

// checkedDecoder is a result type whose one-pass decoder checks that an
// answer is JSON in the same pass (jsonscan.go): an answer it takes needs
// no other check (json.Valid, or the one json.Unmarshal makes first).
type checkedDecoder interface {
	// decodeChecked decodes b into the receiver and reports ok when b, a
	// whole answer, is JSON and the receiver then holds what
	// json.Unmarshal would give; false (the receiver unchanged) for
	// anything else, which the caller then checks and decodes the
	// encoding/json way. envelope reports a top-level key that may make
	// b an error envelope (listingScan.topKey); without one, mayBeEnvelope
	// is false for b.
	decodeChecked(b []byte) (ok, envelope bool)
	// newChecked returns a new, empty value of the receiver's type.
	newChecked() checkedDecoder
	// setChecked makes the receiver the value v (which newChecked made).
	setChecked(v checkedDecoder)
}

func (l *FolderListing) decodeChecked(b []byte) (ok, envelope bool) {
	fast, ok, envelope := scanListing(trimJSONSpace(b))
	if ok {
		*l = fast
	}
	return ok, envelope
}

func (*FolderListing) newChecked() checkedDecoder { return new(FolderListing) }

func (l *FolderListing) setChecked(v checkedDecoder) { *l = *v.(*FolderListing) }

func (c *ServiceConfig) decodeChecked(b []byte) (ok, envelope bool) {
	fast, ok, envelope := scanServiceConfig(trimJSONSpace(b)) // the value's bytes, as json.Unmarshal hands them (Raw)
	if ok {
		*c = fast
	}
	return ok, envelope
}

func (*ServiceConfig) newChecked() checkedDecoder { return new(ServiceConfig) }

func (c *ServiceConfig) setChecked(v checkedDecoder) { *c = *v.(*ServiceConfig) }

func (i *ItemInfo) decodeChecked(b []byte) (ok, envelope bool) {
	fast, ok, envelope := scanItemInfo(trimJSONSpace(b)) // the value's bytes, as json.Unmarshal hands them (Raw)
	if ok {
		*i = fast
	}
	return ok, envelope
}

func (*ItemInfo) newChecked() checkedDecoder { return new(ItemInfo) }

func (i *ItemInfo) setChecked(v checkedDecoder) { *i = *v.(*ItemInfo) }

// unmarshalValid decodes data, which send checked to be JSON, into v. A
// type that decodes itself (json.Unmarshaler, as most answers are) is
// handed the value directly: json.Unmarshal would first check all of data
// again, and then call it with the same bytes.
func unmarshalValid(data []byte, v any) error {
	if u, ok := v.(json.Unmarshaler); ok {
		return u.UnmarshalJSON(bytes.TrimSpace(data)) // JSON's spaces only, around a valid value
	}
	return json.Unmarshal(data, v)
}

// coalesceKey is the key of a coalescible request, or "" when r must be
// sent on its own: the identity's key, then writeRequestKey's.
func (c *Client) coalesceKey(ctx context.Context, r *request) string {
	if c.noCoalesce || (r.method != "GET" && !r.idempotent) || len(r.files) > 0 || isFreshRead(ctx) {
		return ""
	}
	var b strings.Builder
	b.Grow(len(r.method) + len(r.path) + 3 + 64)
	if id := identityFromContext(ctx); id != nil {
		k, _ := id.key.(string)
		b.WriteString(k)
	}
	b.WriteByte(0)
	writeRequestKey(&b, r)
	return b.String()
}

// writeRequestKey writes what names what r reads, whoever reads it: the
// method, the path and the parameters.
func writeRequestKey(b *strings.Builder, r *request) {
	params := r.query
	if r.method != "GET" {
		params = r.form
	}
	b.WriteString(r.method)
	b.WriteByte(0)
	b.WriteString(r.path)
	b.WriteByte(0)
	if len(params) > 0 {
		b.WriteString(url.Values(params).Encode()) // sorted by key
	}
}

// doCoalesced sends r through the flight group and decodes the shared body
// into v.
func (c *Client) doCoalesced(ctx context.Context, key string, r *request, v any) error {
	fc := c.newFlightCall(r, v)
	f := c.flights.join(ctx, key, fc.run, c.sharedDecoder(r, v, fc), nil)
	data, err := c.flights.wait(ctx, key, f)
	return c.finishFlight(ctx, r, f, data, err, v, fc)
}

// sharedDecoder is how a flight decodes r's value once for the callers
// that take it shared (nil unless r.shared and v can be shared): the value
// fc's flight function decoded, when the flight ran it, else a decode of
// the checked body.
func (c *Client) sharedDecoder(r *request, v any, fc *flightCall) func([]byte) (shareable, error) {
	m, ok := v.(shareable)
	if !ok || !r.shared {
		return nil
	}
	return func(data []byte) (shareable, error) {
		if d, ok := fc.checked.(shareable); ok {
			return d, nil
		}
		d := m.fresh()
		return d, unmarshalValid(data, d)
	}
}

// shareable is a result type whose decoded value the callers of one
// flight may share (request.shared): the operation returns it read-only.
type shareable interface {
	// fresh returns a new, empty value of the same type to decode into.
	fresh() shareable
	// setFrom makes the receiver a shallow copy of v, which fresh made.
	setFrom(v shareable)
}

func (*FolderListing) fresh() shareable { return new(FolderListing) }

func (l *FolderListing) setFrom(v shareable) { *l = *v.(*FolderListing) }

func (*ServiceConfig) fresh() shareable { return new(ServiceConfig) }

func (c *ServiceConfig) setFrom(v shareable) { *c = *v.(*ServiceConfig) }

func (*ServiceStatus) fresh() shareable { return new(ServiceStatus) }

func (s *ServiceStatus) setFrom(v shareable) { *s = *v.(*ServiceStatus) }

// flightCall is one caller's flight function: r sent once, its checked
// body kept. When the caller's value decodes checked (checkedDecoder), the
// body is checked by decoding it into a new value, checked, which the
// caller then takes instead of decoding the body again. checked is written
// by the flight's goroutine before the flight is done (and only if the
// flight ran this caller's function, the one of the caller that started
// it), and read by the caller after.
type flightCall struct {
	c       *Client
	r       *request
	check   checkedDecoder // the caller's value, or nil
	checked checkedDecoder
}

func (c *Client) newFlightCall(r *request, v any) *flightCall {
	fc := c.flightCallOf(r, v)
	return &fc
}

func (c *Client) flightCallOf(r *request, v any) flightCall {
	check, _ := v.(checkedDecoder)
	return flightCall{c: c, r: r, check: check}
}

// run is the flight function.
func (fc *flightCall) run(ctx context.Context) ([]byte, error) {
	return fc.c.doShared(ctx, fc.r, fc.check, &fc.checked)
}

// finishFlight turns what flight f of r gave this caller into its error,
// decoding the shared body into v.
func (c *Client) finishFlight(ctx context.Context, r *request, f *readFlight, data []byte, err error, v any, fc *flightCall) error {
	if err != nil {
		if ctx.Err() != nil && err == ctx.Err() {
			return &Error{Kind: KindTransport, Op: r.op, Method: r.method, Path: r.path, Err: contextError(ctx, err)}
		}
		return err
	}
	if v == nil {
		return nil
	}
	if m, ok := v.(shareable); ok && r.shared && (f.decodeErr != nil || sameType(f.decoded, m)) {
		if err = f.decodeErr; err == nil {
			m.setFrom(f.decoded) // decoded by the flight (sharedDecoder)
		}
	} else if fc != nil && fc.checked != nil {
		fc.check.setChecked(fc.checked) // decoded by this caller's flight function
	} else {
		err = unmarshalValid(data, v)
	}
	if err != nil {
		return &Error{Kind: KindDecode, Op: r.op, Method: r.method, Path: r.path, HTTPStatus: 200, Err: err}
	}
	return nil
}

// call is one read of doAll and the value its answer is decoded into.
type call struct {
	r *request
	v any
}

// doAll sends reads at once and waits for all of them. Coalesced reads
// cost the caller no goroutine of its own: each runs in its flight, which
// the caller joins and hears from when it is done. The first read to fail
// ends the wait with its error, and the reads still running are then left
// (each cancelled when no other caller waits on it).
func (c *Client) doAll(ctx context.Context, calls ...call) error {
	// One block for what each read needs here (its flight function
	// included), rather than a slice and an allocation per item.
	type pending struct {
		key      string
		f        *readFlight
		fc       flightCall
		finished bool
	}
	ps := make([]pending, len(calls))
	for i, cl := range calls {
		if ps[i].key = c.coalesceKey(ctx, cl.r); ps[i].key == "" {
			return c.doEach(ctx, calls)
		}
	}
	ended := make(chan int, len(calls)) // never blocks a flight
	for i, cl := range calls {
		p := &ps[i]
		p.fc = c.flightCallOf(cl.r, cl.v)
		p.f = c.flights.join(ctx, p.key, p.fc.run, c.sharedDecoder(cl.r, cl.v, &p.fc), func() { ended <- i })
	}
	var first error
	for n := 0; n < len(calls) && first == nil; n++ {
		select {
		case i := <-ended:
			p := &ps[i]
			p.finished = true
			first = c.finishFlight(ctx, calls[i].r, p.f, p.f.data, p.f.err, calls[i].v, &p.fc)
		case <-ctx.Done():
			for i := range ps {
				if !ps[i].finished {
					first = c.finishFlight(ctx, calls[i].r, ps[i].f, nil, ctx.Err(), nil, nil)
					break
				}
			}
		}
	}
	if first != nil {
		for i := range ps {
			if !ps[i].finished {
				c.flights.leave(ps[i].key, ps[i].f)
			}
		}
	}
	return first
}

// doEach is doAll for reads that are not coalesced: each but the last on
// a goroutine of its own, the last on the caller's. The first read to fail
// cancels the others, and its error is returned.
func (c *Client) doEach(ctx context.Context, calls []call) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg    sync.WaitGroup
		once  sync.Once
		first error
	)
	for i, cl := range calls {
		run := func() {
			if err := c.do(ctx, cl.r, cl.v); err != nil {
				once.Do(func() { first = err; cancel() })
			}
		}
		if i == len(calls)-1 {
			run()
			break
		}
		wg.Add(1)
		go func() { defer wg.Done(); run() }()
	}
	wg.Wait()
	return first
}

// WithoutCoalescing makes every read its own upstream request, even when
// an identical one is in flight (coalescing is on by default).
func WithoutCoalescing() Option {
	return func(c *Client) error {
		c.noCoalesce = true
		return nil
	}
}
