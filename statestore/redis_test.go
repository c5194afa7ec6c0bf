package statestore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/arcgate/arcgate/internal/testredis"
)

// newRedisPair returns two Redis Lockers on separate clients of one fresh
// database, as two replicas would have, and a third client to look at and
// meddle with the keys.
func newRedisPair(t *testing.T, opts ...RedisOption) (a, b *Redis, raw *redis.Client) {
	t.Helper()
	srv := testredis.Start(t)
	open := func() *Redis {
		s, err := Open(context.Background(), srv.URL(0), opts...)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.Close() })
		return s.(*Redis)
	}
	o, err := redis.ParseURL(srv.URL(0))
	if err != nil {
		t.Fatal(err)
	}
	raw = redis.NewClient(o)
	t.Cleanup(func() { _ = raw.Close() })
	return open(), open(), raw
}

func TestRedisSerialisesAcrossClients(t *testing.T) {
	a, b, raw := newRedisPair(t)
	const workers = 20    // per client
	var inside, total int // guarded by the lock only
	var wg sync.WaitGroup
	var bad sync.Once
	var errBad error
	for _, l := range []*Redis{a, b} {
		for range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				held, unlock, err := l.Lock(context.Background(), "svc")
				if err != nil {
					bad.Do(func() { errBad = err })
					return
				}
				defer unlock()
				inside++
				if inside != 1 {
					bad.Do(func() { errBad = fmt.Errorf("%d holders at once", inside) })
				}
				runtime.Gosched()
				if held.Err() != nil {
					bad.Do(func() { errBad = fmt.Errorf("held ended while held: %v", context.Cause(held)) })
				}
				total++
				inside--
			}()
		}
	}
	wg.Wait()
	if errBad != nil {
		t.Fatal(errBad)
	}
	if total != 2*workers {
		t.Errorf("%d critical sections ran, want %d", total, 2*workers)
	}
	if keys := raw.Keys(context.Background(), "*").Val(); len(keys) != 0 {
		t.Errorf("keys left after every unlock: %q", keys)
	}
	if n := a.local.keys() + b.local.keys(); n != 0 {
		t.Errorf("%d local locks left, want 0", n)
	}
}

func TestRedisKeysAreNamespaced(t *testing.T) {
	a, _, raw := newRedisPair(t)
	_, unlock, err := a.Lock(context.Background(), "services/x.mapserver")
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	keys := raw.Keys(context.Background(), "*").Val()
	if len(keys) != 1 || keys[0] != "arcgate:lock:services/x.mapserver" {
		t.Errorf("keys = %q, want [arcgate:lock:services/x.mapserver]", keys)
	}
	if ttl := raw.PTTL(context.Background(), keys[0]).Val(); ttl <= 0 || ttl > DefaultLease {
		t.Errorf("lease = %v, want in (0, %v]", ttl, DefaultLease)
	}
}

func TestRedisWaitEnds(t *testing.T) {
	for _, tc := range []struct {
		name   string
		cancel bool // else a deadline
		want   error
	}{
		{"cancelled while waiting", true, context.Canceled},
		{"deadline passed while waiting", false, context.DeadlineExceeded},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, b, raw := newRedisPair(t)
			_, unlock, err := a.Lock(context.Background(), "k")
			if err != nil {
				t.Fatal(err)
			}
			defer unlock()
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			if !tc.cancel {
				ctx, cancel = context.WithTimeout(ctx, 100*time.Millisecond)
				defer cancel()
			}
			done := make(chan error, 1)
			go func() {
				_, u, err := b.Lock(ctx, "k")
				if u != nil {
					u()
				}
				done <- err
			}()
			if tc.cancel {
				cancel()
			}
			if err := <-done; !errors.Is(err, tc.want) {
				t.Fatalf("Lock = %v, want %v", err, tc.want)
			}
			if n := b.local.keys(); n != 0 {
				t.Errorf("the waiter left %d local locks", n)
			}
			if got := raw.Get(context.Background(), "arcgate:lock:k").Val(); got == "" {
				t.Error("the holder's key is gone after a waiter gave up")
			}
		})
	}
}

// TestRedisCrashedHolder: a holder that stops renewing (its client is gone,
// as when its process crashed) loses the lock after the lease: its held
// context ends with ErrLockLost, and another client gets the lock.
func TestRedisCrashedHolder(t *testing.T) {
	const lease = 300 * time.Millisecond
	a, b, _ := newRedisPair(t, WithLease(lease))
	held, _, err := a.Lock(context.Background(), "k")
	if err != nil {
		t.Fatal(err)
	}
	if err := a.client.Close(); err != nil { // renewals fail from now on
		t.Fatal(err)
	}
	<-held.Done()
	if !errors.Is(context.Cause(held), ErrLockLost) {
		t.Errorf("held ended with %v, want ErrLockLost", context.Cause(held))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	held2, unlock2, err := b.Lock(ctx, "k")
	if err != nil {
		t.Fatalf("the crashed holder's lock did not lapse: %v", err)
	}
	unlock2()
	if held2.Err() == nil {
		t.Error("held not ended by unlock")
	}
}

// TestRedisRenews: a lock held for several leases stays held, by its
// holder only.
func TestRedisRenews(t *testing.T) {
	const lease = 600 * time.Millisecond
	a, b, _ := newRedisPair(t, WithLease(lease))
	held, unlock, err := a.Lock(context.Background(), "k")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*lease)
	defer cancel()
	if _, u, err := b.Lock(ctx, "k"); !errors.Is(err, context.DeadlineExceeded) {
		if u != nil {
			u()
		}
		t.Fatalf("another client's Lock while held for 3 leases = %v, want it to wait until its deadline", err)
	}
	if held.Err() != nil {
		t.Fatalf("held ended while held: %v", context.Cause(held))
	}
	unlock()
}

// TestRedisLostWhenTaken: a holder whose key was taken over (its lease
// lapsed while it was paused, say, and another holder set it) sees its held
// context end with ErrLockLost at its next renewal, and its unlock leaves
// the new holder's key alone.
func TestRedisLostWhenTaken(t *testing.T) {
	for _, tc := range []struct {
		name  string
		taken bool // else the key is just gone
	}{
		{"another holder's now", true},
		{"gone", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, _, raw := newRedisPair(t, WithLease(300*time.Millisecond))
			ctx := context.Background()
			held, unlock, err := a.Lock(ctx, "k")
			if err != nil {
				t.Fatal(err)
			}
			if tc.taken {
				raw.Set(ctx, "arcgate:lock:k", "someone-else", time.Minute)
			} else {
				raw.Del(ctx, "arcgate:lock:k")
			}
			<-held.Done()
			if !errors.Is(context.Cause(held), ErrLockLost) {
				t.Errorf("held ended with %v, want ErrLockLost", context.Cause(held))
			}
			unlock()
			unlock() // again: harmless
			got, err := raw.Get(ctx, "arcgate:lock:k").Result()
			switch {
			case tc.taken && got != "someone-else":
				t.Errorf("after the old holder's unlock the key is %q (%v), want the new holder's", got, err)
			case !tc.taken && !errors.Is(err, redis.Nil):
				t.Errorf("key = %q, %v, want none", got, err)
			}
		})
	}
}

// TestRedisCloseEndsHeld: closing the store while a lock is held ends the
// held context (the lease is no longer renewed) and stops the renewal.
func TestRedisCloseEndsHeld(t *testing.T) {
	a, _, _ := newRedisPair(t)
	held, unlock, err := a.Lock(context.Background(), "k")
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if !errors.Is(context.Cause(held), ErrLockLost) {
		t.Errorf("held after Close: %v, want ErrLockLost", context.Cause(held))
	}
	unlock()
}

func TestOpen(t *testing.T) {
	for _, spec := range []string{"", "memory"} {
		s, err := Open(context.Background(), spec)
		if err != nil {
			t.Fatalf("Open(%q): %v", spec, err)
		}
		if _, ok := s.(*Memory); !ok || s.String() != "memory" {
			t.Errorf("Open(%q) = %T %v, want the in-memory store", spec, s, s)
		}
		_ = s.Close()
	}
	srv := testredis.Start(t, "--requirepass", "right-s3cret")
	s, err := Open(context.Background(), "redis://:wrong-s3cret@"+srv.Addr+"/0")
	if err == nil {
		_ = s.Close()
		t.Fatal("Open with the wrong password: no error")
	}
	if !strings.Contains(err.Error(), srv.Addr) || strings.Contains(err.Error(), "s3cret") {
		t.Errorf("error %q: want it to name %s and not the password", err, srv.Addr)
	}
	s, err = Open(context.Background(), "redis://:right-s3cret@"+srv.Addr+"/1")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if got, want := s.String(), "redis at "+srv.Addr; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	_, unlock, err := s.Lock(context.Background(), "k")
	if err != nil {
		t.Fatal(err)
	}
	unlock()
}

func TestOpenErrors(t *testing.T) {
	for _, tc := range []struct {
		spec string
		want string // in the error
	}{
		{"redis://user:s3cret@127.0.0.1:1/0", "127.0.0.1:1 did not answer"},
		{"redis://user:s3cret@127.0.0.1:6379/x", `invalid database number: "x"`},
		{"redis://user:s3cret@127.0.0.1:6379/0/1", "invalid URL path"},
		{"redis://user:s3cret@host:port/0", "not a valid URL"},
		{"redis://user:s3cret@/0", "names no host"},
		{"mysql://user:s3cret@127.0.0.1/0", `unsupported state store "mysql://user:xxxxx@127.0.0.1/0"`},
		{"localhost:6379", "unsupported state store"},
	} {
		t.Run(tc.spec, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			s, err := Open(ctx, tc.spec)
			if err == nil {
				_ = s.Close()
				t.Fatal("no error")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not say %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "s3cret") {
				t.Errorf("error shows the password: %v", err)
			}
		})
	}
}

func TestSetRedisLogger(t *testing.T) {
	var buf strings.Builder
	var mu sync.Mutex
	SetRedisLogger(slog.New(slog.NewTextHandler(writerFunc(func(p []byte) (int, error) {
		mu.Lock()
		defer mu.Unlock()
		return buf.Write(p)
	}), nil)))
	defer redis.SetLogger(redisLogger{slog.New(slog.DiscardHandler)})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if s, err := Open(ctx, "redis://user:s3cret@127.0.0.1:1/0"); err == nil {
		_ = s.Close()
		t.Fatal("no error")
	}
	mu.Lock()
	defer mu.Unlock()
	if !strings.Contains(buf.String(), "level=WARN") || !strings.Contains(buf.String(), "127.0.0.1:1") {
		t.Errorf("log = %q, want the client's warnings naming the address", buf.String())
	}
	if strings.Contains(buf.String(), "s3cret") {
		t.Errorf("log shows the password: %q", buf.String())
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }
