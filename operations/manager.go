package operations

import (
	"context"
	crand "crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"cloud.google.com/go/longrunning/autogen/longrunningpb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/timestamppb"

	adminv1 "github.com/arcgate/arcgate/gen/go/arcgate/admin/v1"
	"github.com/arcgate/arcgate/statestore"
)

// Defaults of Options.
const (
	// DefaultTimeout bounds an operation's work (ArcGIS itself gives a
	// service 300 s to start by default).
	DefaultTimeout = 10 * time.Minute
	// DefaultRetention is how long a finished operation stays readable.
	DefaultRetention = 7 * 24 * time.Hour
	// DefaultLeaseTTL is how long a running operation outlives its
	// runner's last lease renewal.
	DefaultLeaseTTL = 15 * time.Second
	// DefaultLeaseRenew is how often a runner renews its lease.
	DefaultLeaseRenew = 5 * time.Second
	// DefaultProgressInterval is the least time between two progress
	// writes of one operation.
	DefaultProgressInterval = time.Second
	// DefaultMaxRunning is how many operations one Manager runs at once.
	DefaultMaxRunning = 1000
	// DefaultMaxWait bounds a WaitOperation that names no timeout and has
	// no deadline.
	DefaultMaxWait = time.Minute
	// DefaultPollInterval is the longest pause between two reads of an
	// operation that another replica runs, while waiting for it.
	DefaultPollInterval = 2 * time.Second
	// DefaultStoreTimeout bounds each state store call a runner makes.
	DefaultStoreTimeout = 5 * time.Second
)

// abandonGrace is how long a runner waits, after the work's timeout, for a
// work function that ignores its context, before it records the timeout
// without it.
const abandonGrace = 5 * time.Second

// Options configure a Manager. Zero values take the defaults.
type Options struct {
	// Timeout bounds an operation's work when its Spec names none.
	Timeout time.Duration
	// Retention is how long a finished operation is kept.
	Retention time.Duration
	// LeaseTTL and LeaseRenew: a runner renews its operation's lease every
	// LeaseRenew, each renewal lasting LeaseTTL (it must be longer).
	LeaseTTL, LeaseRenew time.Duration
	// ProgressInterval is the least time between two progress writes.
	ProgressInterval time.Duration
	// MaxRunning caps the operations this Manager runs at once; Start
	// refuses more with RESOURCE_EXHAUSTED.
	MaxRunning int
	// MaxWait bounds WaitOperation when neither the request's timeout nor
	// the call's deadline does.
	MaxWait time.Duration
	// PollInterval is the longest pause between two reads of an operation
	// run by another replica, while waiting for it.
	PollInterval time.Duration
	// StoreTimeout bounds each state store call made by a runner.
	StoreTimeout time.Duration
	// CallerOf returns the identity of the caller of a call, and whether it
	// may see every caller's operations (an admin). An operation is
	// visible only to the caller that started it (Spec.Caller) and to
	// callers for whom all is true; others get NOT_FOUND. Nil: every
	// caller sees every operation.
	CallerOf func(ctx context.Context) (caller string, all bool)
	// Logger gets the runners' problems (store errors, panics). Nil: discard.
	Logger *slog.Logger
	// Now is the clock of the operations' timestamps. Nil: time.Now.
	Now func() time.Time
}

func (o *Options) defaults() {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&o.Timeout, DefaultTimeout)
	def(&o.Retention, DefaultRetention)
	def(&o.LeaseTTL, DefaultLeaseTTL)
	def(&o.LeaseRenew, DefaultLeaseRenew)
	if o.LeaseRenew >= o.LeaseTTL {
		o.LeaseRenew = o.LeaseTTL / 3
	}
	def(&o.ProgressInterval, DefaultProgressInterval)
	def(&o.MaxWait, DefaultMaxWait)
	def(&o.PollInterval, DefaultPollInterval)
	def(&o.StoreTimeout, DefaultStoreTimeout)
	if o.MaxRunning <= 0 {
		o.MaxRunning = DefaultMaxRunning
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
}

// Spec describes an operation to Start.
type Spec struct {
	// Target is the resource name the operation acts on (required).
	Target string
	// Verb is what it does to Target, e.g. "start" (required).
	Verb string
	// Caller is the identity that may see the operation; empty: the
	// caller of Start's ctx according to Options.CallerOf.
	Caller string
	// Timeout bounds the work; 0: Options.Timeout.
	Timeout time.Duration
	// Cancellable makes the operation cancellable from its start:
	// CancelOperation, on any replica, cancels the work's context with the
	// cause ErrCancelled, until the work calls Progress.EndCancel (or
	// SetCancel).
	Cancellable bool
}

// ErrCancelled is the cause of the context of a Spec.Cancellable
// operation's work that CancelOperation cancelled.
var ErrCancelled = errors.New("operations: the operation was cancelled")

// Work is an operation's work. ctx is detached from the caller of Start
// (it keeps its values, not its cancellation or deadline) and ends at the
// operation's timeout, or when arcgate shuts down; the work must return
// soon after ctx ends. It returns the operation's response (nil: Empty) or
// its error (a gRPC status error is recorded as is).
type Work func(ctx context.Context, p Progress) (proto.Message, error)

// Progress is how a running operation's work reports what it sees. Its
// methods are safe to call from any goroutine while the work runs.
type Progress interface {
	// Name is the operation's name, operations/{id}.
	Name() string
	// SetUpstreamState records the upstream state or step last seen
	// (metadata upstream_state). Writes to the store are rate-limited; the
	// last value is always recorded.
	SetUpstreamState(state string)
	// SetUpstreamJob records the id of the upstream job the operation
	// follows (metadata upstream_job_id).
	SetUpstreamJob(id string)
	// SetCancel makes the operation cancellable: CancelOperation, on any
	// replica, then calls cancel once (on this replica; within about a
	// lease renewal when the request reaches another replica). cancel
	// should ask the upstream to stop the work and return; the work then
	// returns as it sees fit (an error wrapping context.Canceled, or a
	// CANCELLED status, is recorded as CANCELLED). SetCancel(nil) makes
	// the operation not cancellable again; EndCancel does so and also
	// says whether a cancellation came first.
	SetCancel(cancel func())
	// EndCancel makes the operation not cancellable, as SetCancel(nil)
	// does, and reports whether it was cancelled first: its cancel
	// function was called, or a CancelOperation was accepted on another
	// replica that the runner had not seen yet. The decision is the same
	// on every replica: when EndCancel returns false, no CancelOperation
	// succeeded before and none succeeds after; later ones answer
	// FAILED_PRECONDITION with why (a sentence saying why the work
	// cannot be stopped now). The work calls it just before it begins
	// what cannot be stopped (e.g. sends an upstream write), and does not
	// begin it when it returns true. When the operation may have been
	// seen as cancellable by another replica, EndCancel checks its record
	// in the state store, bounded by ctx and Options.StoreTimeout; when
	// the store does not answer, it returns an error (UNAVAILABLE, or
	// ctx's error when ctx ended) and the work must not begin either.
	EndCancel(ctx context.Context, why string) (cancelled bool, err error)
}

// Manager starts operations and answers about them. It is safe for
// concurrent use.
type Manager struct {
	store    statestore.Store
	opts     Options
	instance string // this Manager's id, the value of its leases

	mu      sync.Mutex
	running map[string]*runner // by operation id
	closing bool

	wg     sync.WaitGroup // runners and their work
	killed atomic.Bool    // kill: stop writing, as a crashed process would
	killCh chan struct{}  // closed by kill
}

// New returns a Manager keeping its operations in store.
func New(store statestore.Store, opts Options) *Manager {
	opts.defaults()
	return &Manager{store: store, opts: opts, instance: newID(), running: map[string]*runner{}, killCh: make(chan struct{})}
}

// Errors that end a work's context early.
var (
	errShutdown = errors.New("operations: arcgate is shutting down")
	errKilled   = errors.New("operations: runner killed")
)

// runner is one running operation on this Manager.
type runner struct {
	m                *Manager
	id, name, target string
	deadline         time.Time // the work's timeout, for the record's TTL
	timeout          time.Duration
	cancelBase       context.CancelCauseFunc
	done             chan struct{} // closed once the outcome is recorded (or abandoned)
	kick             chan struct{} // progress to write (capacity 1)

	mu              sync.Mutex
	state, job      string
	cancel          func()
	cancelRequested bool
	cancelCalled    bool
	advertised      bool   // the record may say cancellable
	ended           bool   // EndCancel was called
	why             string // EndCancel's reason
}

func (r *runner) Name() string { return r.name }

func (r *runner) SetUpstreamState(s string) {
	r.mu.Lock()
	r.state = clip(s)
	r.mu.Unlock()
	r.poke()
}

func (r *runner) SetUpstreamJob(id string) {
	r.mu.Lock()
	r.job = clip(id)
	r.mu.Unlock()
	r.poke()
}

func (r *runner) SetCancel(cancel func()) {
	r.mu.Lock()
	r.cancel = cancel
	fn := r.takeCancel()
	r.mu.Unlock()
	r.poke()
	if fn != nil {
		fn()
	}
}

func (r *runner) EndCancel(ctx context.Context, why string) (bool, error) {
	r.mu.Lock()
	r.cancel = nil
	cancelled, advertised, ended := r.cancelCalled, r.advertised, r.ended
	r.ended, r.why = true, clip(why)
	r.mu.Unlock()
	if cancelled || ended || !advertised {
		// No replica but this one can have accepted a cancellation:
		// r.mu decided.
		if !cancelled {
			r.poke()
		}
		return cancelled, nil
	}
	// Another replica may have accepted a cancellation through the
	// record, which said cancellable: the record decides, under its lock.
	sctx, cancel := context.WithTimeout(ctx, r.m.opts.StoreTimeout)
	defer cancel()
	requested := false
	_, err := r.m.update(sctx, r.id, func(rec *record) bool {
		if rec.md.GetRequestedCancellation() {
			requested = true
			return false
		}
		r.snapshot(rec)
		return true
	})
	switch {
	case err != nil && ctx.Err() != nil:
		return false, ctx.Err()
	case errors.Is(err, errDone), errors.Is(err, statestore.ErrNotFound):
		return false, status.Error(codes.Aborted, "the operation was finished or deleted meanwhile (its runner's lease had lapsed)")
	case err != nil:
		r.m.opts.Logger.Warn("cannot end an operation's cancellable phase: the state store did not answer", "operation", r.name, "error", err)
		return false, status.Error(codes.Unavailable, "cannot make sure that the operation was not cancelled: the state store did not answer")
	}
	if requested {
		r.mu.Lock()
		r.cancelRequested, r.cancelCalled = true, true
		r.mu.Unlock()
	}
	return requested, nil
}

// maxProgressLen bounds the progress strings an operation records.
const maxProgressLen = 1024

// clip cuts s to at most maxProgressLen bytes of valid UTF-8.
func clip(s string) string {
	if len(s) <= maxProgressLen {
		return s
	}
	return strings.ToValidUTF8(s[:maxProgressLen], "")
}

func (r *runner) poke() {
	select {
	case r.kick <- struct{}{}:
	default:
	}
}

// requestCancel notes a cancellation request and calls the cancel function
// if there is one.
func (r *runner) requestCancel() {
	r.mu.Lock()
	r.cancelRequested = true
	fn := r.takeCancel()
	r.mu.Unlock()
	if fn != nil {
		fn()
	}
}

// tryCancel is requestCancel if the operation is cancellable now; it
// reports whether it was (then its cancel function is called, or was).
func (r *runner) tryCancel() bool {
	r.mu.Lock()
	if r.cancel == nil {
		r.mu.Unlock()
		return false
	}
	r.cancelRequested = true
	fn := r.takeCancel()
	r.mu.Unlock()
	if fn != nil {
		fn()
	}
	return true
}

// takeCancel returns the cancel function to call, once, if cancellation
// was requested and there is one; r.mu is held.
func (r *runner) takeCancel() func() {
	if !r.cancelRequested || r.cancel == nil || r.cancelCalled {
		return nil
	}
	r.cancelCalled = true
	return r.cancel
}

// notCancellableWhy is why EndCancel said the operation cannot be
// cancelled now, if it was called.
func (r *runner) notCancellableWhy() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.why
}

func (r *runner) cancellable() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.cancel != nil
}

// snapshot copies the progress into rec.
func (r *runner) snapshot(rec *record) {
	r.mu.Lock()
	defer r.mu.Unlock()
	md := rec.md
	md.UpstreamState = r.state
	md.UpstreamJobId = r.job
	md.Cancellable = r.cancel != nil
	if md.Cancellable {
		r.advertised = true
	}
	if r.cancelRequested {
		md.RequestedCancellation = true
	}
	if r.why != "" {
		rec.NotCancellable = r.why
	}
}

// newID returns a random (version 4) UUID.
func newID() string {
	var b [16]byte
	_, _ = crand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// Start records a new operation and runs work for it, detached from ctx's
// cancellation and deadline, and returns the operation at once (not done).
// It fails, without running work, when the store does not answer
// (UNAVAILABLE), when this Manager is shutting down (UNAVAILABLE, reason
// SHUTTING_DOWN) or runs as many operations as it may (RESOURCE_EXHAUSTED).
func (m *Manager) Start(ctx context.Context, spec Spec, work Work) (*longrunningpb.Operation, error) {
	if spec.Target == "" || spec.Verb == "" || work == nil {
		return nil, status.Error(codes.Internal, "operations: Start needs a target, a verb and the work")
	}
	timeout := spec.Timeout
	if timeout <= 0 {
		timeout = m.opts.Timeout
	}
	caller := spec.Caller
	if caller == "" && m.opts.CallerOf != nil {
		caller, _ = m.opts.CallerOf(ctx)
	}
	id := newID()
	now := m.opts.Now()
	base, cancelBase := context.WithCancelCause(context.WithoutCancel(ctx))
	r := &runner{
		m: m, id: id, name: namePrefix + id, target: spec.Target,
		deadline: now.Add(timeout), timeout: timeout, cancelBase: cancelBase,
		done: make(chan struct{}), kick: make(chan struct{}, 1),
	}
	if spec.Cancellable {
		r.cancel = func() { cancelBase(ErrCancelled) }
		r.advertised = true
	}
	m.mu.Lock()
	switch {
	case m.closing:
		m.mu.Unlock()
		cancelBase(nil)
		return nil, newStatus(codes.Unavailable, reasonShuttingDown, "arcgate is shutting down: it starts no new operation; retry on another instance", nil).Err()
	case len(m.running) >= m.opts.MaxRunning:
		m.mu.Unlock()
		cancelBase(nil)
		return nil, newStatus(codes.ResourceExhausted, reasonRateLimited, fmt.Sprintf("this arcgate already runs %d operations, as many as it may; retry later", m.opts.MaxRunning),
			map[string]string{"maxRunningOperations": fmt.Sprint(m.opts.MaxRunning)}).Err()
	}
	m.running[id] = r
	m.mu.Unlock()

	md := &adminv1.OperationMetadata{
		Target: spec.Target, Verb: spec.Verb, Cancellable: spec.Cancellable,
		CreateTime: timestamppb.New(now), UpdateTime: timestamppb.New(now),
	}
	rec := &record{Caller: caller, Deadline: r.deadline, op: &longrunningpb.Operation{Name: r.name}, md: md}
	sctx, cancel := context.WithTimeout(ctx, m.opts.StoreTimeout)
	err := m.create(sctx, rec)
	cancel()
	if err != nil {
		m.mu.Lock()
		delete(m.running, id)
		m.mu.Unlock()
		cancelBase(nil)
		m.opts.Logger.WarnContext(ctx, "operation not started: the state store did not answer", "target", spec.Target, "verb", spec.Verb, "error", err)
		return nil, storeError(ctx, err, "start the operation")
	}
	out, err := rec.operation()
	if err != nil {
		return nil, status.Error(codes.Internal, "operations: "+err.Error())
	}
	m.wg.Add(1)
	go m.run(base, r, work)
	return out, nil
}

// create writes a new operation's lease, then its record (so that its
// record never lacks a lease while the runner lives).
func (m *Manager) create(ctx context.Context, rec *record) error {
	id := rec.op.GetName()[len(namePrefix):]
	if err := m.store.Put(ctx, leaseKey(id), []byte(m.instance), m.opts.LeaseTTL); err != nil {
		return err
	}
	b, err := rec.encode()
	if err != nil {
		return err
	}
	ok, err := m.store.PutNew(ctx, recordKey(id), b, m.runningTTL(rec))
	if err != nil {
		return err
	}
	if !ok {
		return errors.New("operation id already in use")
	}
	return nil
}

// runningTTL is how long a record of a running operation is kept: past its
// work's deadline, for as long as a finished one.
func (m *Manager) runningTTL(rec *record) time.Duration {
	return max(time.Until(rec.Deadline), 0) + m.opts.LeaseTTL + m.opts.Retention
}

// run runs an operation's work, keeps its lease and progress while it
// runs, and records its outcome.
func (m *Manager) run(base context.Context, r *runner, work Work) {
	defer m.wg.Done()
	defer r.cancelBase(nil)
	ctx, cancel := context.WithTimeout(base, r.timeout)
	defer cancel()

	type result struct {
		resp proto.Message
		err  error
	}
	results := make(chan result, 1)
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		var res result
		defer func() {
			if p := recover(); p != nil {
				m.opts.Logger.Error("operation work panicked", "operation", r.name, "panic", fmt.Sprint(p))
				res = result{err: status.Error(codes.Internal, "the operation failed: internal error")}
			}
			results <- res
		}()
		res.resp, res.err = work(ctx, r)
	}()

	stop := make(chan struct{})
	kept := make(chan struct{})
	go func() {
		defer close(kept)
		m.keep(r, stop)
	}()

	var res result
	select {
	case res = <-results:
	case <-ctx.Done():
		grace := time.NewTimer(abandonGrace)
		select {
		case res = <-results:
		case <-grace.C:
			// The work ignores its context: record the timeout without it.
			m.opts.Logger.Error("operation work did not return after its context ended; recording the operation as failed", "operation", r.name)
			res = result{err: context.Cause(ctx)}
		}
		grace.Stop()
	}
	close(stop)
	<-kept
	m.finish(ctx, r, res.resp, res.err)
}

// keep renews r's lease and writes its progress (at most once per
// ProgressInterval) until stop is closed or the Manager is killed. It
// also picks up cancellation requested through another replica.
func (m *Manager) keep(r *runner, stop <-chan struct{}) {
	renew := time.NewTicker(m.opts.LeaseRenew)
	defer renew.Stop()
	var last time.Time
	var flush <-chan time.Time
	var flushTimer *time.Timer
	defer func() {
		if flushTimer != nil {
			flushTimer.Stop()
		}
	}()
	for {
		select {
		case <-stop:
			return
		case <-m.killCh:
			return
		case <-renew.C:
			ctx, cancel := context.WithTimeout(context.Background(), m.opts.StoreTimeout)
			if err := m.store.Put(ctx, leaseKey(r.id), []byte(m.instance), m.opts.LeaseTTL); err != nil {
				m.opts.Logger.Warn("cannot renew an operation's lease: the state store did not answer", "operation", r.name, "error", err)
			}
			if r.cancellable() {
				// A cancellation requested through another replica is
				// in the record.
				m.flushProgress(ctx, r)
				last = time.Now()
			}
			cancel()
		case <-r.kick:
			if wait := m.opts.ProgressInterval - time.Since(last); wait > 0 {
				if flush == nil {
					flushTimer = time.NewTimer(wait)
					flush = flushTimer.C
				}
				continue
			}
			m.flushNow(r)
			last = time.Now()
		case <-flush:
			flush, flushTimer = nil, nil
			m.flushNow(r)
			last = time.Now()
		}
	}
}

func (m *Manager) flushNow(r *runner) {
	ctx, cancel := context.WithTimeout(context.Background(), m.opts.StoreTimeout)
	defer cancel()
	m.flushProgress(ctx, r)
}

// flushProgress writes r's progress into its record, and notes a
// cancellation requested through another replica.
func (m *Manager) flushProgress(ctx context.Context, r *runner) {
	if m.killed.Load() {
		return
	}
	var requested bool
	_, err := m.update(ctx, r.id, func(rec *record) bool {
		requested = rec.md.GetRequestedCancellation()
		before, why := proto.Clone(rec.md), rec.NotCancellable
		r.snapshot(rec)
		return !proto.Equal(before, rec.md) || why != rec.NotCancellable
	})
	if err != nil && !errors.Is(err, errDone) {
		m.opts.Logger.Warn("cannot record an operation's progress", "operation", r.name, "error", err)
	}
	if requested {
		r.requestCancel()
	}
}

// finish records the outcome of r's work and releases r.
func (m *Manager) finish(ctx context.Context, r *runner, resp proto.Message, workErr error) {
	defer func() {
		m.mu.Lock()
		delete(m.running, r.id)
		m.mu.Unlock()
		close(r.done)
	}()
	if m.killed.Load() {
		return
	}
	result, st := m.outcome(ctx, r, resp, workErr)
	// Retry the write for about half a lease: past that, the lease lapses
	// and readers finish the operation as outcome unknown.
	give := time.Now().Add(m.opts.LeaseTTL / 2)
	for pause := 50 * time.Millisecond; ; pause = min(2*pause, time.Second) {
		sctx, cancel := context.WithTimeout(context.Background(), m.opts.StoreTimeout)
		_, err := m.update(sctx, r.id, func(rec *record) bool {
			r.snapshot(rec)
			rec.md.Cancellable = false
			now := m.opts.Now()
			rec.md.EndTime = timestamppb.New(now)
			rec.op.Done = true
			if st != nil {
				rec.op.Result = &longrunningpb.Operation_Error{Error: st.Proto()}
			} else {
				rec.op.Result = &longrunningpb.Operation_Response{Response: result}
			}
			return true
		})
		if err == nil {
			_ = m.store.Delete(sctx, leaseKey(r.id))
			cancel()
			return
		}
		cancel()
		if errors.Is(err, errDone) || errors.Is(err, statestore.ErrNotFound) {
			// Finished meanwhile as outcome unknown (the lease had
			// lapsed), or deleted: the first outcome stays.
			m.opts.Logger.Warn("operation outcome not recorded: the operation was already finished", "operation", r.name, "error", workErr)
			return
		}
		if m.killed.Load() || time.Now().After(give) {
			m.opts.Logger.Error("cannot record an operation's outcome: the state store did not answer; readers will report the outcome as unknown", "operation", r.name, "error", err)
			return
		}
		time.Sleep(pause)
	}
}

// outcome turns the work's result into the operation's response or error.
func (m *Manager) outcome(ctx context.Context, r *runner, resp proto.Message, err error) (*anypb.Any, *status.Status) {
	if err == nil {
		if resp == nil {
			resp = &emptypb.Empty{}
		}
		a, aerr := anypb.New(resp)
		if aerr != nil {
			return nil, status.New(codes.Internal, "the operation's response could not be recorded")
		}
		return a, nil
	}
	md := map[string]string{"resource": r.target}
	cause := context.Cause(ctx)
	switch {
	case errors.Is(cause, errShutdown):
		return nil, newStatus(codes.Unavailable, reasonOutcomeUnknown,
			"arcgate shut down before this operation finished; it may or may not have taken effect: read "+r.target+" to check", md)
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		if st, ok := status.FromError(err); ok && reasonOf(st) == reasonOutcomeUnknown {
			return nil, st
		}
		return nil, newStatus(codes.DeadlineExceeded, reasonOutcomeUnknown,
			fmt.Sprintf("the operation did not finish within its timeout (%v); it may or may not have taken effect: read %s to check", r.timeout, r.target), md)
	}
	r.mu.Lock()
	cancelled := r.cancelRequested
	r.mu.Unlock()
	if cancelled && (errors.Is(err, context.Canceled) || status.Code(err) == codes.Canceled) {
		if st, ok := status.FromError(err); ok && st.Code() == codes.Canceled {
			return nil, st
		}
		return nil, status.New(codes.Canceled, "the operation was cancelled")
	}
	if st, ok := status.FromError(err); ok {
		return nil, st
	}
	return nil, status.New(codes.Unknown, err.Error())
}

// Shutdown stops starting operations and waits for the running ones to
// finish until ctx ends. Then it cancels their work, records them as failed
// with the reason UPSTREAM_OUTCOME_UNKNOWN, and returns ctx's error once
// they are recorded (or after a lease, for work that ignores its context).
func (m *Manager) Shutdown(ctx context.Context) error {
	m.mu.Lock()
	m.closing = true
	m.mu.Unlock()
	idle := make(chan struct{})
	go func() {
		m.wg.Wait()
		close(idle)
	}()
	select {
	case <-idle:
		return nil
	case <-ctx.Done():
	}
	m.cancelAll(errShutdown)
	t := time.NewTimer(m.opts.LeaseTTL)
	defer t.Stop()
	select {
	case <-idle:
	case <-t.C:
	}
	return ctx.Err()
}

// cancelAll cancels the work of every running operation with cause.
func (m *Manager) cancelAll(cause error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, r := range m.running {
		r.cancelBase(cause)
	}
}

// kill makes m behave as a crashed process: it stops renewing leases and
// writing to the store, and ends its runners without recording anything.
// Tests use it.
func (m *Manager) kill() {
	m.mu.Lock()
	m.closing = true
	m.mu.Unlock()
	if m.killed.Swap(true) {
		return
	}
	close(m.killCh)
	m.cancelAll(errKilled)
	m.wg.Wait()
}

// local returns the runner of operation id if this Manager runs it.
func (m *Manager) local(id string) *runner {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.running[id]
}
