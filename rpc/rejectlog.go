package rpc

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"google.golang.org/grpc/status"
)

// DefaultRejectLogInterval is how often, at most, the Guard writes an
// "rpc rejected" line for the refusals of one kind (client address, caller
// and code) when GuardConfig.RejectLogInterval is zero.
const DefaultRejectLogInterval = 10 * time.Second

// maxRejectKinds bounds the kinds of refusal rejectLog keeps; beyond it,
// kinds whose interval is over are forgotten, and new ones share one entry
// per code.
const maxRejectKinds = 10_000

// rejectLog writes the "rpc rejected" lines of refused calls so that a
// flood of refused calls cannot flood the log: the first refusal of a kind
// is logged at once, later ones of the same kind only once per interval,
// with the number of refusals of that kind not logged since the previous
// line (suppressed). The count is written with the next line of that kind.
type rejectLog struct {
	log      *slog.Logger
	now      func() time.Time
	interval time.Duration

	mu    sync.Mutex
	kinds map[rejectKind]*rejectCount
}

// rejectKind is what makes refusals the same for rejectLog.
type rejectKind struct{ peer, caller, code string }

// rejectCount is the state of one kind of refusal.
type rejectCount struct {
	until      time.Time // no line for this kind before then
	suppressed int       // refusals not logged since the last line
}

func newRejectLog(log *slog.Logger, now func() time.Time, interval time.Duration) *rejectLog {
	if interval <= 0 {
		interval = DefaultRejectLogInterval
	}
	return &rejectLog{log: log, now: now, interval: interval, kinds: map[rejectKind]*rejectCount{}}
}

// note records a refused call of method by caller (a name for log lines)
// from address peer, and logs it unless a line of its kind was written
// less than an interval ago.
func (l *rejectLog) note(ctx context.Context, method, caller, peer string, err error) {
	st := status.Convert(err)
	k := rejectKind{peer: peer, caller: caller, code: st.Code().String()}
	now := l.now()
	l.mu.Lock()
	c, ok := l.kinds[k]
	if !ok {
		if len(l.kinds) >= maxRejectKinds {
			l.sweep(now)
		}
		if len(l.kinds) >= maxRejectKinds {
			k = rejectKind{peer: "(many)", caller: "(many)", code: k.code}
			c, ok = l.kinds[k]
		}
		if !ok {
			c = &rejectCount{}
			l.kinds[k] = c
		}
	}
	if now.Before(c.until) {
		c.suppressed++
		l.mu.Unlock()
		return
	}
	suppressed := c.suppressed
	c.until, c.suppressed = now.Add(l.interval), 0
	l.mu.Unlock()
	attrs := []slog.Attr{
		slog.String("method", method),
		slog.String("caller", caller),
		slog.String("peer", peer),
		slog.String("code", k.code),
		slog.String("error", st.Message()),
	}
	if suppressed > 0 {
		attrs = append(attrs, slog.Int("suppressed", suppressed))
	}
	l.log.LogAttrs(ctx, slog.LevelWarn, "rpc rejected", attrs...)
}

// sweep forgets the kinds whose interval is over. Call with mu held.
func (l *rejectLog) sweep(now time.Time) {
	for k, c := range l.kinds {
		if !now.Before(c.until) {
			delete(l.kinds, k)
		}
	}
}
