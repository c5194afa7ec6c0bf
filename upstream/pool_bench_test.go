package upstream_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/arcgate/arcgate/upstream"
)

// The token pool's cached path, against baselines measured in the same
// run. Run with:
//
//	go test -run '^$' -bench 'Pool|Baseline' -benchmem -cpu 1,2 ./upstream/

// benchPool returns a pool whose tokens live a day, warmed for the service
// identity and for the delegated identity in the returned context. With
// fixedClock the pool reads a constant time instead of time.Now, which
// isolates the pool's own work from the cost of the platform clock.
func benchPool(b *testing.B, fixedClock bool) (*upstream.Pool, context.Context) {
	b.Helper()
	clock := time.Now
	if fixedClock {
		t0 := time.Now()
		clock = func() time.Time { return t0 }
	}
	p := upstream.NewPool(upstream.MinterFunc(func(context.Context, upstream.Identity) (*upstream.Token, error) {
		return &upstream.Token{Value: "bench-token", Expires: clock().Add(24 * time.Hour)}, nil
	}), upstream.PoolConfig{Service: upstream.CredentialsIdentity("svc", "pw"), Clock: clock})
	b.Cleanup(p.Close)
	delegated := upstream.WithIdentity(context.Background(), upstream.CredentialsIdentity("alice", "pw"))
	for _, ctx := range []context.Context{context.Background(), delegated} {
		if _, err := p.Token(ctx); err != nil {
			b.Fatal(err)
		}
	}
	return p, delegated
}

// BenchmarkPoolCached is the cached path of the service identity: no map
// lookup, the entry's lock, one clock read.
func BenchmarkPoolCached(b *testing.B) { benchToken(b, false, false) }

// BenchmarkPoolCachedDelegated is the cached path of a delegated identity:
// the context lookup and the pool's map lookup (under its lock) on top.
func BenchmarkPoolCachedDelegated(b *testing.B) { benchToken(b, true, false) }

// BenchmarkPoolCachedFixedClock is BenchmarkPoolCached without the cost of
// time.Now.
func BenchmarkPoolCachedFixedClock(b *testing.B) { benchToken(b, false, true) }

// BenchmarkPoolCachedDelegatedFixedClock is BenchmarkPoolCachedDelegated
// without the cost of time.Now.
func BenchmarkPoolCachedDelegatedFixedClock(b *testing.B) { benchToken(b, true, true) }

func benchToken(b *testing.B, delegated, fixedClock bool) {
	p, ctx := benchPool(b, fixedClock)
	if !delegated {
		ctx = context.Background()
	}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := p.Token(ctx); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// mutexCache is the baseline: a token cache as a map guarded by a mutex.
type mutexCache struct {
	mu sync.Mutex
	m  map[string]*upstream.Token
}

// read is a plain guarded map read.
func (c *mutexCache) read(key string) *upstream.Token {
	c.mu.Lock()
	t := c.m[key]
	c.mu.Unlock()
	return t
}

// get adds the expiry check a token cache needs (one clock read, as in
// the pool).
func (c *mutexCache) get(key string) *upstream.Token {
	t := c.read(key)
	if t == nil || !time.Now().Before(t.Expires) {
		return nil
	}
	return t
}

// rwCache is the same with a sync.RWMutex read lock.
type rwCache struct {
	mu sync.RWMutex
	m  map[string]*upstream.Token
}

func (c *rwCache) get(key string) *upstream.Token {
	c.mu.RLock()
	t := c.m[key]
	c.mu.RUnlock()
	if t == nil || !time.Now().Before(t.Expires) {
		return nil
	}
	return t
}

func baselineTokens() map[string]*upstream.Token {
	return map[string]*upstream.Token{"svc": {Value: "bench-token", Expires: time.Now().Add(24 * time.Hour)}}
}

// BenchmarkBaselineMutexMap is a plain mutex-guarded map read.
func BenchmarkBaselineMutexMap(b *testing.B) {
	c := &mutexCache{m: baselineTokens()}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if c.read("svc") == nil {
				b.Fatal("miss")
			}
		}
	})
}

// BenchmarkBaselineMutexMapExpiry is a mutex-guarded map read plus the
// expiry check (a clock read).
func BenchmarkBaselineMutexMapExpiry(b *testing.B) {
	c := &mutexCache{m: baselineTokens()}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if c.get("svc") == nil {
				b.Fatal("miss")
			}
		}
	})
}

// BenchmarkBaselineRWMutexMapExpiry is an RWMutex-guarded map read plus
// the expiry check.
func BenchmarkBaselineRWMutexMapExpiry(b *testing.B) {
	c := &rwCache{m: baselineTokens()}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if c.get("svc") == nil {
				b.Fatal("miss")
			}
		}
	})
}

// clockSink keeps the clock read of BenchmarkBaselineClock alive.
var clockSink atomic.Int64

// BenchmarkBaselineClock is the clock read alone (time.Now), the floor of
// any cache that checks expiry.
func BenchmarkBaselineClock(b *testing.B) {
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		var n int64
		for pb.Next() {
			n += time.Now().UnixNano() & 1
		}
		clockSink.Add(n)
	})
}
