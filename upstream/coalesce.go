package upstream

import (
	"context"
	"encoding/json"
	"net/url"
	"strings"
	"sync"
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

// flightTimeout bounds a flight that its waiters never give up on.
const flightTimeout = 2 * time.Minute

// sharedBody receives the checked body of a coalesced response (send checks
// it for error envelopes and that it is JSON; each caller decodes it).
type sharedBody struct{ data []byte }

type readFlights struct {
	mu sync.Mutex
	m  map[string]*readFlight
}

type readFlight struct {
	done    chan struct{}
	data    []byte
	err     error
	waiters int
	cancel  context.CancelFunc
}

// do runs fn once for all callers of key that arrive while it runs.
func (g *readFlights) do(ctx context.Context, key string, fn func(context.Context) ([]byte, error)) ([]byte, error) {
	g.mu.Lock()
	f, ok := g.m[key]
	if !ok {
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), flightTimeout)
		f = &readFlight{done: make(chan struct{}), cancel: cancel}
		if g.m == nil {
			g.m = map[string]*readFlight{}
		}
		g.m[key] = f
		go func() {
			f.data, f.err = fn(fctx)
			g.mu.Lock()
			if g.m[key] == f {
				delete(g.m, key)
			}
			g.mu.Unlock()
			cancel()
			close(f.done)
		}()
	}
	f.waiters++
	g.mu.Unlock()

	select {
	case <-f.done:
		return f.data, f.err
	case <-ctx.Done():
		g.mu.Lock()
		f.waiters--
		abandoned := f.waiters == 0
		if abandoned && g.m[key] == f {
			delete(g.m, key) // a caller arriving now must not join a cancelled flight
		}
		g.mu.Unlock()
		if abandoned {
			f.cancel()
		}
		return nil, ctx.Err()
	}
}

// coalesceKey is the key of a coalescible request, or "" when r must be
// sent on its own: the identity's key, then requestKey.
func (c *Client) coalesceKey(ctx context.Context, r *request) string {
	if c.noCoalesce || (r.method != "GET" && !r.idempotent) || len(r.files) > 0 {
		return ""
	}
	var b strings.Builder
	if id := identityFromContext(ctx); id != nil {
		k, _ := id.key.(string)
		b.WriteString(k)
	}
	b.WriteByte(0)
	b.WriteString(requestKey(r))
	return b.String()
}

// requestKey names what r reads, whoever reads it: the method, the path and
// the parameters.
func requestKey(r *request) string {
	params := r.query
	if r.method != "GET" {
		params = r.form
	}
	return r.method + "\x00" + r.path + "\x00" + url.Values(params).Encode() // sorted by key
}

// doCoalesced sends r through the flight group and decodes the shared body
// into v.
func (c *Client) doCoalesced(ctx context.Context, key string, r *request, v any) error {
	data, err := c.flights.do(ctx, key, func(fctx context.Context) ([]byte, error) {
		var sb sharedBody
		err := c.doOnce(fctx, r, &sb)
		return sb.data, err
	})
	if err != nil {
		if ctx.Err() != nil && err == ctx.Err() {
			return &Error{Kind: KindTransport, Op: r.op, Method: r.method, Path: r.path, Err: contextError(ctx, err)}
		}
		return err
	}
	if v == nil {
		return nil
	}
	if m, ok := v.(memoizable); ok && c.memo != nil {
		// The memo's key leaves the identity out: a value decoded from
		// the same bytes is the same whoever read them.
		err = c.memo.decode(requestKey(r), data, m)
	} else {
		err = json.Unmarshal(data, v)
	}
	if err != nil {
		return &Error{Kind: KindDecode, Op: r.op, Method: r.method, Path: r.path, HTTPStatus: 200, Err: err}
	}
	return nil
}

// WithoutCoalescing makes every read its own upstream request, even when
// an identical one is in flight (coalescing is on by default).
func WithoutCoalescing() Option {
	return func(c *Client) error {
		c.noCoalesce = true
		return nil
	}
}
