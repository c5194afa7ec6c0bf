package statestore

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// refs returns how many callers hold or wait for key's lock.
func (m *Memory) refs(key string) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	if l, ok := m.m[key]; ok {
		return l.refs
	}
	return 0
}

// waitRefs waits until n callers hold or wait for key's lock.
func waitRefs(t *testing.T, m *Memory, key string, n int) {
	t.Helper()
	for m.refs(key) != n {
		runtime.Gosched()
	}
}

func TestMemorySerialises(t *testing.T) {
	for _, tc := range []struct {
		name    string
		keys    int // distinct keys
		workers int // per key
	}{
		{"one key", 1, 50},
		{"several keys", 8, 20},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := NewMemory()
			inside := make([]int, tc.keys) // guarded by each key's lock only
			total := make([]int, tc.keys)
			var wg sync.WaitGroup
			var bad sync.Once
			var errBad error
			for k := range tc.keys {
				for range tc.workers {
					wg.Add(1)
					go func() {
						defer wg.Done()
						_, unlock, err := m.Lock(context.Background(), fmt.Sprint("k", k))
						if err != nil {
							bad.Do(func() { errBad = err })
							return
						}
						defer unlock()
						inside[k]++
						if inside[k] != 1 {
							bad.Do(func() { errBad = fmt.Errorf("key %d: %d holders at once", k, inside[k]) })
						}
						runtime.Gosched()
						total[k]++
						inside[k]--
					}()
				}
			}
			wg.Wait()
			if errBad != nil {
				t.Fatal(errBad)
			}
			for k, n := range total {
				if n != tc.workers {
					t.Errorf("key %d: %d critical sections ran, want %d", k, n, tc.workers)
				}
			}
			if n := m.keys(); n != 0 {
				t.Errorf("%d keys left after every unlock, want 0", n)
			}
		})
	}
}

func TestMemoryWaitEnds(t *testing.T) {
	type when int
	const (
		beforeAsking when = iota
		whileWaiting
		deadlinePassed
	)
	for _, tc := range []struct {
		name string
		end  when
		want error
	}{
		{"cancelled before asking", beforeAsking, context.Canceled},
		{"cancelled while waiting", whileWaiting, context.Canceled},
		{"deadline passed", deadlinePassed, context.DeadlineExceeded},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := NewMemory()
			_, unlock, err := m.Lock(context.Background(), "k")
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			switch tc.end {
			case beforeAsking:
				cancel()
			case deadlinePassed:
				ctx, cancel = context.WithDeadline(ctx, time.Unix(0, 0))
				defer cancel()
			}
			done := make(chan error, 1)
			go func() {
				_, u, err := m.Lock(ctx, "k")
				if u != nil {
					u()
				}
				done <- err
			}()
			if tc.end == whileWaiting {
				waitRefs(t, m, "k", 2)
				cancel()
			}
			if err := <-done; !errors.Is(err, tc.want) {
				t.Fatalf("Lock = %v, want %v", err, tc.want)
			}
			if n := m.refs("k"); n != 1 {
				t.Errorf("refs after the waiter gave up = %d, want 1 (the holder)", n)
			}
			unlock()
			if n := m.keys(); n != 0 {
				t.Errorf("%d keys left, want 0", n)
			}
		})
	}
}

func TestMemoryHandOver(t *testing.T) {
	m := NewMemory()
	held, unlock, err := m.Lock(context.Background(), "k")
	if err != nil {
		t.Fatal(err)
	}
	other, unlockOther, err := m.Lock(context.Background(), "other") // another key: not blocked
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan func(), 1)
	go func() {
		_, u, err := m.Lock(context.Background(), "k")
		if err != nil {
			t.Error(err)
			u = func() {}
		}
		got <- u
	}()
	waitRefs(t, m, "k", 2)
	select {
	case <-got:
		t.Fatal("a second holder got the lock while the first held it")
	default:
	}
	if held.Err() != nil {
		t.Fatalf("held context ended while held: %v", held.Err())
	}
	unlock()
	unlock() // again: harmless, must not release the next holder's lock
	if !errors.Is(held.Err(), context.Canceled) {
		t.Errorf("held context after unlock: %v, want canceled", held.Err())
	}
	u := <-got
	if n := m.refs("k"); n != 1 {
		t.Errorf("refs = %d, want 1 after the hand-over", n)
	}
	u()
	if other.Err() != nil {
		t.Errorf("other key's context ended: %v", other.Err())
	}
	unlockOther()
	if n := m.keys(); n != 0 {
		t.Errorf("%d keys left, want 0", n)
	}
}

func TestMemoryHeldFollowsParent(t *testing.T) {
	m := NewMemory()
	ctx, cancel := context.WithCancel(context.Background())
	held, unlock, err := m.Lock(ctx, "k")
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	cancel()
	<-held.Done()
	if !errors.Is(held.Err(), context.Canceled) {
		t.Errorf("held.Err() = %v", held.Err())
	}
}

func TestMemoryZeroValue(t *testing.T) {
	var m Memory
	_, unlock, err := m.Lock(context.Background(), "k")
	if err != nil {
		t.Fatal(err)
	}
	unlock()
}
