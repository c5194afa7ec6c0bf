package server

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	adminv1 "github.com/arcgate/arcgate/gen/go/arcgate/admin/v1"
	"github.com/arcgate/arcgate/upstream"
)

// fakeUpstream is a job whose state the test sets, counting polls.
type fakeUpstream struct {
	mu    sync.Mutex
	state adminv1.JobState
	err   error
	polls atomic.Int64
}

func (f *fakeUpstream) set(st adminv1.JobState, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.state, f.err = st, err
}

func (f *fakeUpstream) poll(ctx context.Context) (*adminv1.Job, error) {
	f.polls.Add(1)
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return nil, f.err
	}
	raw := upstreamJobStatus[f.state]
	return &adminv1.Job{Name: "services/A.GPServer/jobs/j1", State: f.state, StateRaw: raw}, nil
}

// fakeTimer replaces the hub's sleep: the hub announces each sleep on
// waiting (with its duration) and sleeps until the test sends on tick.
type fakeTimer struct {
	waiting chan time.Duration
	tick    chan struct{}
}

func newFakeTimer() *fakeTimer {
	return &fakeTimer{waiting: make(chan time.Duration), tick: make(chan struct{})}
}

func (f *fakeTimer) wait(ctx context.Context, d time.Duration) bool {
	select {
	case f.waiting <- d:
	case <-ctx.Done():
		return false
	}
	select {
	case <-f.tick:
		return true
	case <-ctx.Done():
		return false
	}
}

// nextSleep returns the duration of the hub's next sleep.
func (f *fakeTimer) nextSleep(t *testing.T) time.Duration {
	t.Helper()
	select {
	case d := <-f.waiting:
		return d
	case <-time.After(10 * time.Second):
		t.Fatal("the poll never went to sleep")
		return 0
	}
}

func newTestHub(timer *fakeTimer) *watchHub {
	h := newWatchHub(100*time.Millisecond, 700*time.Millisecond, time.Second)
	h.wait = timer.wait
	return h
}

// watcher runs hub.watch in a goroutine and collects what it sends.
type watcher struct {
	got    chan adminv1.JobState
	done   chan error
	cancel context.CancelFunc
}

func startWatcher(h *watchHub, key string, poll pollFunc) *watcher {
	ctx, cancel := context.WithCancel(context.Background())
	w := &watcher{got: make(chan adminv1.JobState, 64), done: make(chan error, 1), cancel: cancel}
	go func() {
		w.done <- h.watch(ctx, key, poll, func(j *adminv1.Job) error {
			w.got <- j.GetState()
			return nil
		})
	}()
	return w
}

func (w *watcher) next(t *testing.T) adminv1.JobState {
	t.Helper()
	select {
	case st := <-w.got: // sent before the watch ended
		return st
	default:
	}
	select {
	case st := <-w.got:
		return st
	case err := <-w.done:
		select {
		case st := <-w.got:
			w.done <- err
			return st
		default:
		}
		t.Fatalf("watch ended with %v before sending", err)
	case <-time.After(10 * time.Second):
		t.Fatal("no message")
	}
	return 0
}

func (w *watcher) end(t *testing.T) error {
	t.Helper()
	select {
	case err := <-w.done:
		return err
	case st := <-w.got:
		t.Fatalf("unexpected message %v", st)
	case <-time.After(10 * time.Second):
		t.Fatal("watch never ended")
	}
	return nil
}

func (h *watchHub) activePolls() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.polls)
}

// TestWatchHubSharesOnePoll: 50 watchers of one job cause one upstream poll
// per interval, and each sees every state exactly once, in order.
func TestWatchHubSharesOnePoll(t *testing.T) {
	const watchers = 50
	timer := newFakeTimer()
	h := newTestHub(timer)
	up := &fakeUpstream{}
	up.set(adminv1.JobState_JOB_STATE_SUBMITTED, nil)

	ws := []*watcher{startWatcher(h, "k", up.poll)}
	if st := ws[0].next(t); st != adminv1.JobState_JOB_STATE_SUBMITTED {
		t.Fatalf("first message %v", st)
	}
	if d := timer.nextSleep(t); d != 100*time.Millisecond {
		t.Fatalf("first sleep %v, want the minimum", d)
	}
	for range watchers - 1 { // later watchers get the current state without a poll
		w := startWatcher(h, "k", up.poll)
		if st := w.next(t); st != adminv1.JobState_JOB_STATE_SUBMITTED {
			t.Fatalf("first message %v", st)
		}
		ws = append(ws, w)
	}
	if n := up.polls.Load(); n != 1 {
		t.Fatalf("%d polls for %d watchers joining within one interval, want 1", n, watchers)
	}

	// Nothing changes: one poll per interval, the interval doubling to the cap.
	for i, want := range []time.Duration{200, 400, 700, 700} {
		timer.tick <- struct{}{}
		if d := timer.nextSleep(t); d != want*time.Millisecond {
			t.Fatalf("sleep %d: %v, want %v", i, d, want*time.Millisecond)
		}
		if n := up.polls.Load(); n != int64(i+2) {
			t.Fatalf("after %d intervals: %d polls", i+1, n)
		}
	}
	// A change resets the interval and reaches every watcher once.
	up.set(adminv1.JobState_JOB_STATE_EXECUTING, nil)
	timer.tick <- struct{}{}
	if d := timer.nextSleep(t); d != 100*time.Millisecond {
		t.Fatalf("sleep after a change: %v, want the minimum", d)
	}
	for _, w := range ws {
		if st := w.next(t); st != adminv1.JobState_JOB_STATE_EXECUTING {
			t.Fatalf("got %v, want EXECUTING", st)
		}
	}
	// A terminal state ends every watch and the poll.
	up.set(adminv1.JobState_JOB_STATE_SUCCEEDED, nil)
	timer.tick <- struct{}{}
	for _, w := range ws {
		if st := w.next(t); st != adminv1.JobState_JOB_STATE_SUCCEEDED {
			t.Fatalf("got %v, want SUCCEEDED", st)
		}
		if err := w.end(t); err != nil {
			t.Fatalf("watch ended with %v", err)
		}
	}
	if n := up.polls.Load(); n != 7 {
		t.Fatalf("%d polls, want 7 (one per interval)", n)
	}
	if n := h.activePolls(); n != 0 {
		t.Fatalf("%d polls still registered", n)
	}
}

// TestWatchHubCancelledWatcher: a watcher that leaves stops nothing while
// others remain; the last one to leave stops the poll, whose goroutine has
// returned by the time watch returns.
func TestWatchHubCancelledWatcher(t *testing.T) {
	timer := newFakeTimer()
	h := newTestHub(timer)
	up := &fakeUpstream{}
	up.set(adminv1.JobState_JOB_STATE_EXECUTING, nil)

	a := startWatcher(h, "k", up.poll)
	a.next(t)
	timer.nextSleep(t)
	b := startWatcher(h, "k", up.poll)
	b.next(t)

	a.cancel()
	if err := a.end(t); status.Code(err) != codes.Canceled {
		t.Fatalf("cancelled watch returned %v", err)
	}
	if h.activePolls() != 1 {
		t.Fatal("the poll stopped although a watcher remains")
	}
	timer.tick <- struct{}{} // b's poll goes on
	timer.nextSleep(t)
	if n := up.polls.Load(); n != 2 {
		t.Fatalf("%d polls", n)
	}

	b.cancel()
	if err := b.end(t); status.Code(err) != codes.Canceled {
		t.Fatalf("cancelled watch returned %v", err)
	}
	if h.activePolls() != 0 {
		t.Fatal("the poll outlived its last watcher")
	}
	// The goroutine is gone: nobody waits to sleep, nobody polls.
	select {
	case d := <-timer.waiting:
		t.Fatalf("a poll is still sleeping (%v)", d)
	default:
	}
	if n := up.polls.Load(); n != 2 {
		t.Fatalf("%d polls after the last watcher left", n)
	}
}

// TestWatchHubErrorEndsWatch: an upstream error ends every watch of the
// job with that status, after the states already seen.
func TestWatchHubErrorEndsWatch(t *testing.T) {
	timer := newFakeTimer()
	h := newTestHub(timer)
	up := &fakeUpstream{}
	up.set(adminv1.JobState_JOB_STATE_SUBMITTED, nil)
	w := startWatcher(h, "k", up.poll)
	w.next(t)
	timer.nextSleep(t)
	up.set(0, status.Error(codes.NotFound, "gone"))
	timer.tick <- struct{}{}
	if err := w.end(t); status.Code(err) != codes.NotFound {
		t.Fatalf("watch ended with %v, want NOT_FOUND", err)
	}
	if h.activePolls() != 0 {
		t.Fatal("a failed poll stayed registered")
	}
	// A first poll that fails ends the watch at once.
	v := startWatcher(h, "k", up.poll)
	if err := v.end(t); status.Code(err) != codes.NotFound {
		t.Fatalf("watch ended with %v, want NOT_FOUND", err)
	}
}

// TestWatchHubTerminalAtOnce: a job already finished is sent once, and a
// watcher that comes later starts a poll of its own.
func TestWatchHubTerminalAtOnce(t *testing.T) {
	h := newTestHub(newFakeTimer()) // never sleeps: the first poll ends it
	up := &fakeUpstream{}
	up.set(adminv1.JobState_JOB_STATE_FAILED, nil)
	for i := range 2 {
		w := startWatcher(h, "k", up.poll)
		if st := w.next(t); st != adminv1.JobState_JOB_STATE_FAILED {
			t.Fatalf("got %v", st)
		}
		if err := w.end(t); err != nil {
			t.Fatal(err)
		}
		if n := up.polls.Load(); n != int64(i+1) {
			t.Fatalf("%d polls", n)
		}
	}
}

// TestWatchHubSendError: a failed send ends that watch only.
func TestWatchHubSendError(t *testing.T) {
	h := newTestHub(newFakeTimer())
	up := &fakeUpstream{}
	up.set(adminv1.JobState_JOB_STATE_NEW, nil)
	errGone := errors.New("client gone")
	err := h.watch(context.Background(), "k", up.poll, func(*adminv1.Job) error { return errGone })
	if !errors.Is(err, errGone) {
		t.Fatalf("watch returned %v", err)
	}
	if h.activePolls() != 0 {
		t.Fatal("poll outlived its only watcher")
	}
}

// TestWatchHubStopEndsWatches: StopWatches ends every open watch, and
// refuses later ones, with UNAVAILABLE (SHUTTING_DOWN) and a RetryInfo,
// and the shared poll stops with its last watcher.
func TestWatchHubStopEndsWatches(t *testing.T) {
	s := New(nil)
	h := newJobsServer(s).hub
	timer := newFakeTimer()
	h.wait = timer.wait
	up := &fakeUpstream{}
	up.set(adminv1.JobState_JOB_STATE_EXECUTING, nil)
	ws := []*watcher{startWatcher(h, "k", up.poll), startWatcher(h, "k2", up.poll)}
	for _, w := range ws {
		w.next(t)
	}
	s.StopWatches()
	s.StopWatches() // a second call is harmless
	ws = append(ws, startWatcher(h, "k", up.poll))
	for i, w := range ws {
		checkShuttingDown(t, fmt.Sprintf("watch %d", i), w.end(t))
	}
	if h.activePolls() != 0 {
		t.Fatal("a poll outlived its watchers")
	}
}

// checkShuttingDown checks that err is the status that ends watches at
// shutdown.
func checkShuttingDown(t *testing.T, what string, err error) {
	t.Helper()
	st := status.Convert(err)
	var reason string
	var retry *errdetails.RetryInfo
	for _, d := range st.Details() {
		switch d := d.(type) {
		case *errdetails.ErrorInfo:
			reason = d.GetReason()
		case *errdetails.RetryInfo:
			retry = d
		}
	}
	if st.Code() != codes.Unavailable || reason != ReasonShuttingDown || retry.GetRetryDelay().AsDuration() <= 0 {
		t.Fatalf("%s ended with %v (reason %q, retry %v), want UNAVAILABLE, %s and a RetryInfo", what, err, reason, retry, ReasonShuttingDown)
	}
}

// TestWatchHubSeparateKeys: different jobs (or identities) do not share.
func TestWatchHubSeparateKeys(t *testing.T) {
	timer := newFakeTimer()
	h := newTestHub(timer)
	up := &fakeUpstream{}
	up.set(adminv1.JobState_JOB_STATE_WAITING, nil)
	var ws []*watcher
	for i := range 3 {
		w := startWatcher(h, fmt.Sprint("k", i), up.poll)
		w.next(t)
		timer.nextSleep(t)
		ws = append(ws, w)
	}
	if n := up.polls.Load(); n != 3 || h.activePolls() != 3 {
		t.Fatalf("%d polls, %d active", n, h.activePolls())
	}
	for _, w := range ws {
		w.cancel()
		w.end(t)
	}
	if h.activePolls() != 0 {
		t.Fatal("polls left")
	}
}

// TestWatchHubSlowWatcher: a watcher slow to send still gets every state,
// in order.
func TestWatchHubSlowWatcher(t *testing.T) {
	timer := newFakeTimer()
	h := newTestHub(timer)
	up := &fakeUpstream{}
	up.set(adminv1.JobState_JOB_STATE_NEW, nil)
	release := make(chan struct{})
	var got []adminv1.JobState
	done := make(chan error, 1)
	go func() {
		done <- h.watch(context.Background(), "k", up.poll, func(j *adminv1.Job) error {
			if len(got) == 0 {
				<-release // hold the first send while the job moves on
			}
			got = append(got, j.GetState())
			return nil
		})
	}()
	timer.nextSleep(t)
	for _, st := range []adminv1.JobState{adminv1.JobState_JOB_STATE_SUBMITTED, adminv1.JobState_JOB_STATE_WAITING, adminv1.JobState_JOB_STATE_EXECUTING} {
		up.set(st, nil)
		timer.tick <- struct{}{}
		timer.nextSleep(t)
	}
	up.set(adminv1.JobState_JOB_STATE_TIMED_OUT, nil)
	timer.tick <- struct{}{}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	want := []adminv1.JobState{1, 2, 3, 4, 7}
	if !slices.Equal(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
}

func TestWithJobPollInterval(t *testing.T) {
	for _, tc := range []struct {
		min, max         time.Duration
		wantMin, wantMax time.Duration
	}{
		{0, 0, DefaultJobPollMin, DefaultJobPollMax},
		{10 * time.Millisecond, 50 * time.Millisecond, 10 * time.Millisecond, 50 * time.Millisecond},
		{time.Second, time.Millisecond, time.Second, time.Second},
		{-1, -1, DefaultJobPollMin, DefaultJobPollMax},
	} {
		s := New(nil, WithJobPollInterval(tc.min, tc.max))
		h := newJobsServer(s).hub
		if h.minInterval != tc.wantMin || h.maxInterval != tc.wantMax {
			t.Errorf("WithJobPollInterval(%v, %v): %v..%v, want %v..%v", tc.min, tc.max, h.minInterval, h.maxInterval, tc.wantMin, tc.wantMax)
		}
	}
}

// TestWatchKeyDelegated: watchers acting as the service identity share a
// poll key; a delegated watcher never shares one, since the poll runs with
// its first watcher's credentials.
func TestWatchKeyDelegated(t *testing.T) {
	const name = "services/A.GPServer/jobs/j0123456789abcdef0123456789abcdef"
	plain := context.Background()
	if k1, k2 := watchKey(plain, name), watchKey(plain, name); k1 != k2 {
		t.Errorf("service-identity watchers do not share a poll key: %q, %q", k1, k2)
	}
	a := upstream.WithIdentity(plain, upstream.TokenIdentity("token-a"))
	b := upstream.WithIdentity(plain, upstream.TokenIdentity("token-b"))
	keys := map[string]bool{watchKey(plain, name): true}
	for _, ctx := range []context.Context{a, a, b} {
		k := watchKey(ctx, name)
		if keys[k] {
			t.Errorf("delegated watcher got a shared poll key %q", k)
		}
		keys[k] = true
	}
}
