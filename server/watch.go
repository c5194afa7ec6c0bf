package server

import (
	"context"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"

	"github.com/arcgate/arcgate/apierr"
	adminv1 "github.com/arcgate/arcgate/gen/go/arcgate/admin/v1"
	"github.com/arcgate/arcgate/upstream"
)

// Default intervals of the upstream poll behind WatchJob: the first poll
// runs at once, the next after DefaultJobPollMin; each poll that sees no
// change doubles the interval up to DefaultJobPollMax, and a change resets
// it to DefaultJobPollMin.
const (
	DefaultJobPollMin = 250 * time.Millisecond
	DefaultJobPollMax = 5 * time.Second
)

// WithJobPollInterval sets the shortest and longest interval between two
// upstream polls of a watched job (defaults DefaultJobPollMin and
// DefaultJobPollMax). A value of 0 or less keeps the default; max is raised
// to min when smaller.
func WithJobPollInterval(minInterval, maxInterval time.Duration) Option {
	return func(s *Server) { s.jobPollMin, s.jobPollMax = minInterval, maxInterval }
}

// watchKey returns the hub key of a watch of the job name: the upstream
// identity the poll runs as, and the job. Watchers share a poll only when
// both match.
func watchKey(ctx context.Context, name string) string {
	return watchIdentity(ctx) + "\x00" + name
}

// delegatedWatches numbers the watches made as delegated identities.
var delegatedWatches atomic.Uint64

// watchIdentity is the upstream identity of a call's poll: "" for the
// gateway's service identity, shared by all such watchers. A poll runs with
// its first watcher's context, so a watcher acting upstream as itself
// (delegated mode) gets a poll of its own: sharing it would show one
// caller what another's credentials can read. (upstream.Identity exposes no
// key that would let equal identities share.)
func watchIdentity(ctx context.Context) string {
	if _, ok := upstream.IdentityFromContext(ctx); ok {
		return "delegated#" + strconv.FormatUint(delegatedWatches.Add(1), 10)
	}
	return ""
}

// pollFunc reads the watched job once. Its errors are gRPC status errors.
type pollFunc func(ctx context.Context) (*adminv1.Job, error)

// maxWatchHistory bounds the states a poll keeps for watchers that have
// not sent them yet; a watcher further behind skips to the oldest kept.
const maxWatchHistory = 32

// watchHub shares one upstream poll among all watchers of the same key.
// A poll starts with its first watcher and stops when its last watcher
// leaves, its job reaches a terminal state, or a poll fails; the last
// watcher to leave waits for the poll's goroutine to end, so no goroutine
// outlives its watchers.
type watchHub struct {
	minInterval, maxInterval time.Duration
	pollTimeout              time.Duration // bound of one upstream poll; 0: none

	// wait sleeps d and reports whether ctx is still live (a test hook).
	wait func(ctx context.Context, d time.Duration) bool

	// stopping, when closed, ends every watch with shuttingDown (nil:
	// never); Server.StopWatches closes it.
	stopping <-chan struct{}

	mu    sync.Mutex
	polls map[string]*jobPoll
}

// jobPoll is one shared poll. Its fields are guarded by the hub's mu,
// except done and cancel, which are set before the poll is shared.
type jobPoll struct {
	history  []*adminv1.Job // the distinct states seen, oldest first
	base     int            // sequence number of history[0]
	ended    bool           // terminal state reached, or err set
	err      error          // the error that ended the poll
	changed  chan struct{}  // closed and replaced when history or ended change
	watchers int

	cancel context.CancelFunc
	done   chan struct{} // closed when the poll goroutine has returned
}

// newWatchHub returns a hub polling at the given intervals (defaults for
// values of 0 or less), each poll bounded by pollTimeout (0: unbounded).
func newWatchHub(minInterval, maxInterval, pollTimeout time.Duration) *watchHub {
	if minInterval <= 0 {
		minInterval = DefaultJobPollMin
	}
	if maxInterval <= 0 {
		maxInterval = DefaultJobPollMax
	}
	maxInterval = max(maxInterval, minInterval)
	return &watchHub{
		minInterval: minInterval,
		maxInterval: maxInterval,
		pollTimeout: max(pollTimeout, 0),
		wait:        sleepContext,
		polls:       make(map[string]*jobPoll),
	}
}

// sleepContext sleeps d, or less if ctx ends first; it reports whether ctx
// is still live.
func sleepContext(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// shutdownRetryDelay is the RetryInfo delay of the error that ends watches
// at shutdown: by then another instance, or this one restarted, answers.
const shutdownRetryDelay = time.Second

// shuttingDown is the error that ends watches when the hub stops.
func shuttingDown() error {
	return apierr.Retry(codes.Unavailable, ReasonShuttingDown,
		"arcgate is shutting down: watch the job again (another instance answers)", nil, shutdownRetryDelay)
}

// stopped reports whether the hub's stopping channel is closed.
func (h *watchHub) stopped() bool {
	select {
	case <-h.stopping:
		return true
	default:
		return false
	}
}

// watch joins the poll of key (starting it with poll if there is none) and
// calls send with the job's current state, then with every new state,
// until the job reaches a terminal state (nil), the poll fails (its
// error), send fails (its error), ctx ends (CANCELED or DEADLINE_EXCEEDED)
// or the hub stops (shuttingDown). send runs on the caller's goroutine.
func (h *watchHub) watch(ctx context.Context, key string, poll pollFunc, send func(*adminv1.Job) error) error {
	if h.stopped() {
		return shuttingDown()
	}
	p, next := h.join(ctx, key, poll) // next: sequence number of the next state to send
	defer h.leave(key, p)
	for {
		if h.stopped() {
			return shuttingDown()
		}
		h.mu.Lock()
		var batch []*adminv1.Job
		if end := p.base + len(p.history); next < end {
			next = max(next, p.base)
			batch = slices.Clone(p.history[next-p.base:])
			next = end
		}
		ended, err, changed := p.ended, p.err, p.changed
		h.mu.Unlock()
		for _, j := range batch {
			if err := send(proto.Clone(j).(*adminv1.Job)); err != nil {
				return err
			}
		}
		if ended {
			return err
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return Status(ctx.Err(), "")
		case <-h.stopping:
			return shuttingDown()
		}
	}
}

// join adds a watcher to the poll of key, starting the poll if needed, and
// returns the sequence number of the first state the watcher sends: the
// latest one seen (the job's current state), or the first one to come when
// nothing was seen yet. The poll's context keeps the first watcher's values
// but not its cancellation: it ends when the last watcher leaves.
func (h *watchHub) join(ctx context.Context, key string, poll pollFunc) (*jobPoll, int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if p := h.polls[key]; p != nil {
		p.watchers++
		return p, p.base + max(len(p.history)-1, 0)
	}
	pctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	p := &jobPoll{changed: make(chan struct{}), watchers: 1, cancel: cancel, done: make(chan struct{})}
	h.polls[key] = p
	go h.run(pctx, key, p, poll)
	return p, 0
}

// leave removes a watcher; the last one stops the poll and waits for its
// goroutine to return.
func (h *watchHub) leave(key string, p *jobPoll) {
	h.mu.Lock()
	p.watchers--
	last := p.watchers == 0
	if last && h.polls[key] == p {
		delete(h.polls, key)
	}
	h.mu.Unlock()
	if last {
		p.cancel()
		<-p.done
	}
}

// run is the poll loop of p: poll at once, then after minInterval,
// doubling the interval while nothing changes (up to maxInterval) and
// resetting it on every change.
func (h *watchHub) run(ctx context.Context, key string, p *jobPoll, poll pollFunc) {
	defer close(p.done)
	interval := h.minInterval
	for {
		job, err := h.pollOnce(ctx, poll)
		if ctx.Err() != nil {
			return // every watcher left
		}
		h.mu.Lock()
		changed := false
		if err != nil {
			p.err, p.ended = err, true
		} else {
			n := len(p.history)
			if n == 0 || p.history[n-1].GetStateRaw() != job.GetStateRaw() || p.history[n-1].GetState() != job.GetState() {
				p.history = append(p.history, job)
				if drop := len(p.history) - maxWatchHistory; drop > 0 {
					p.history = slices.Clone(p.history[drop:])
					p.base += drop
				}
				changed = true
			}
			p.ended = isTerminalJobState(job.GetState())
		}
		if changed || p.ended {
			close(p.changed)
			p.changed = make(chan struct{})
		}
		ended := p.ended
		if ended && h.polls[key] == p {
			delete(h.polls, key) // later watchers start a poll of their own
		}
		h.mu.Unlock()
		if ended {
			return
		}
		if changed {
			interval = h.minInterval
		} else {
			interval = min(2*interval, h.maxInterval)
		}
		if !h.wait(ctx, interval) {
			return
		}
	}
}

// pollOnce runs poll with the hub's per-poll timeout.
func (h *watchHub) pollOnce(ctx context.Context, poll pollFunc) (*adminv1.Job, error) {
	if h.pollTimeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, h.pollTimeout)
		defer cancel()
	}
	return poll(ctx)
}
