package statestore

import (
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// DefaultLease is how long a Redis lock outlives its holder's last
// renewal: a replica that crashed while holding a lock keeps it no longer
// than this.
const DefaultLease = 15 * time.Second

// lockPrefix namespaces arcgate's lock keys in a Redis database it may
// share with other programs.
const lockPrefix = "arcgate:lock:"

// Waiting for a lock that another replica holds polls Redis, starting at
// minPoll and doubling (with jitter) up to maxPoll.
const (
	minPoll = 2 * time.Millisecond
	maxPoll = 50 * time.Millisecond
)

// extendScript renews a lease if the caller still holds the lock (its
// token is the key's value): 1 if renewed, 0 if the lock is no longer
// the caller's.
var extendScript = redis.NewScript(`
if redis.call("GET", KEYS[1]) == ARGV[1] then
	return redis.call("PEXPIRE", KEYS[1], ARGV[2])
end
return 0`)

// releaseScript deletes a lock if the caller still holds it, so that a
// holder whose lease lapsed cannot release the next holder's lock.
var releaseScript = redis.NewScript(`
if redis.call("GET", KEYS[1]) == ARGV[1] then
	return redis.call("DEL", KEYS[1])
end
return 0`)

// Redis is a Locker shared by the replicas that use the same Redis
// database. A lock is a key ("arcgate:lock:" and the lock's key) whose
// value is a random token of its holder, set only if absent and with a
// lease (an expiry): while the lock is held its holder renews the lease
// every third of it, and releases the lock by deleting the key only if it
// still holds its token. A holder that crashed stops renewing, and its
// lock lapses after the lease. A holder that cannot renew (Redis does not
// answer, or the key is gone or someone else's) has its held context
// cancelled with cause ErrLockLost, before the lease it last set can have
// lapsed.
//
// Within one process the callers for a key queue in an in-memory lock
// first, so that only one of them at a time asks Redis, which it polls
// while another replica holds the lock. Waiters in one process get the
// lock in about the order they asked for it; between replicas there is no
// such order.
type Redis struct {
	client *redis.Client
	lease  time.Duration
	local  Memory

	closing context.Context // ends, with cause errClosed, at Close
	close   context.CancelCauseFunc
	wg      sync.WaitGroup // renewals running

	redisRecords // Records, as keys "arcgate:rec:" and the record's key
}

// errClosed is the cause of a Redis Locker's closing context.
var errClosed = errors.New("statestore: closed")

var _ Store = (*Redis)(nil)

// RedisOption configures a Redis Locker.
type RedisOption func(*Redis)

// WithLease sets the lease of the locks (DefaultLease if unset or not
// positive).
func WithLease(d time.Duration) RedisOption {
	return func(r *Redis) {
		if d > 0 {
			r.lease = d
		}
	}
}

// NewRedis returns a Locker keeping its locks in client's database. The
// Locker owns client: Close closes it.
func NewRedis(client *redis.Client, opts ...RedisOption) *Redis {
	r := &Redis{client: client, lease: DefaultLease, redisRecords: redisRecords{client}}
	r.closing, r.close = context.WithCancelCause(context.Background())
	for _, o := range opts {
		o(r)
	}
	return r
}

// String names the store and its address, never its credentials.
func (r *Redis) String() string { return "redis at " + r.client.Options().Addr }

// Close stops renewing the locks still held (their held contexts are
// cancelled with cause ErrLockLost, and their leases lapse) and closes the
// Redis client.
func (r *Redis) Close() error {
	r.close(errClosed)
	r.wg.Wait()
	return r.client.Close()
}

// Lock implements Locker.
func (r *Redis) Lock(ctx context.Context, key string) (context.Context, func(), error) {
	_, unlockLocal, err := r.local.Lock(ctx, key)
	if err != nil {
		return nil, nil, err
	}
	rkey := lockPrefix + key
	token := newToken()
	acquired, err := r.acquire(ctx, rkey, token)
	if err != nil {
		unlockLocal()
		return nil, nil, err
	}
	held, cancel := context.WithCancelCause(ctx)
	renewing, stopRenewing := context.WithCancel(r.closing)
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		r.renew(renewing, rkey, token, acquired, cancel)
	}()
	var once sync.Once
	unlock := func() {
		once.Do(func() {
			stopRenewing()
			cancel(context.Canceled)
			r.release(rkey, token)
			unlockLocal()
		})
	}
	return held, unlock, nil
}

// acquire sets rkey to token if it is absent, polling while it is not,
// until ctx ends. It returns when the winning request was sent: the lease
// runs from no earlier than that.
func (r *Redis) acquire(ctx context.Context, rkey, token string) (time.Time, error) {
	wait := minPoll
	for {
		sent := time.Now()
		ok, err := r.client.SetNX(ctx, rkey, token, r.lease).Result()
		if ctxErr := ctx.Err(); ctxErr != nil {
			if ok {
				r.release(rkey, token)
			}
			return time.Time{}, ctxErr
		}
		if err != nil {
			return time.Time{}, fmt.Errorf("statestore: %s: locking %q: %w", r, rkey, err)
		}
		if ok {
			return sent, nil
		}
		t := time.NewTimer(wait/2 + rand.N(wait/2+1))
		select {
		case <-ctx.Done():
			t.Stop()
			return time.Time{}, ctx.Err()
		case <-t.C:
		}
		wait = min(2*wait, maxPoll)
	}
}

// renew extends rkey's lease every third of it until ctx ends. When the
// lock turns out to be someone else's, or when no renewal has succeeded
// for two thirds of the lease (so that the last lease set may lapse before
// the next attempt), or when the Locker is closed, it calls lost with
// ErrLockLost and stops. lastOK is when the request that set the lease
// last was sent: the lease runs from no earlier than that.
func (r *Redis) renew(ctx context.Context, rkey, token string, lastOK time.Time, lost context.CancelCauseFunc) {
	t := time.NewTicker(r.lease / 3)
	defer t.Stop()
	defer func() {
		if errors.Is(context.Cause(ctx), errClosed) {
			lost(ErrLockLost)
		}
	}()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		// An answer later than five sixths of the lease after the last
		// renewal is not waited for: the lock must be given up before the
		// lease it set can lapse.
		sent := time.Now()
		deadline := sent.Add(r.lease / 3)
		if d := lastOK.Add(5 * r.lease / 6); d.Before(deadline) {
			deadline = d
		}
		cctx, cancel := context.WithDeadline(ctx, deadline)
		n, err := extendScript.Run(cctx, r.client, []string{rkey}, token, r.lease.Milliseconds()).Int()
		cancel()
		switch {
		case ctx.Err() != nil:
			return
		case err == nil && n == 1:
			lastOK = sent
		case err == nil:
			lost(ErrLockLost)
			return
		case time.Since(lastOK) >= 2*r.lease/3:
			lost(ErrLockLost)
			return
		}
	}
}

// release deletes rkey if it still holds token. It does not wait longer
// than a lease: if Redis does not answer, the lease lapses by itself.
func (r *Redis) release(rkey, token string) {
	ctx, cancel := context.WithTimeout(context.Background(), r.lease)
	defer cancel()
	_ = releaseScript.Run(ctx, r.client, []string{rkey}, token).Err()
}

// newToken returns a random token naming one holding of a lock.
func newToken() string {
	var b [16]byte
	_, _ = crand.Read(b[:])
	return hex.EncodeToString(b[:])
}
