package statestore

import (
	"context"
	"errors"
	"sync"
)

// ErrLockLost is the cause of a held context's cancellation when the lock
// was lost while held (a lease that could not be renewed in time, so that
// another holder may now have it). The in-memory Locker never loses one.
var ErrLockLost = errors.New("statestore: lock lost")

// Locker serialises work on one resource: at most one holder of a key at a
// time.
type Locker interface {
	// Lock waits until it holds key's lock, or until ctx ends (then it
	// returns ctx's error and holds nothing). It returns held, a context
	// derived from ctx that the work under the lock should use: it is
	// cancelled, with cause ErrLockLost, when the lock is lost while held
	// (a lease-based Locker renews its lease while the lock is held, and a
	// holder that crashed keeps it no longer than the lease). unlock
	// releases the lock and cancels held; calling it again does nothing.
	Lock(ctx context.Context, key string) (held context.Context, unlock func(), err error)
}

// Memory is the Store of one process. As a Locker it has one lock per
// key, made when a caller first asks for the key and dropped once no
// caller holds it or waits for it, so that memory grows with the keys in
// use, not the keys ever used. Waiters get the lock in about the order
// they asked for it. Its records expire after their time to live. The
// zero value is ready to use.
type Memory struct {
	mu sync.Mutex
	m  map[string]*memLock

	memRecords // Records, in memory
}

var _ Locker = (*Memory)(nil)

// memLock is one key's lock: a token in sem means held. refs counts the
// callers that hold it or wait for it.
type memLock struct {
	sem  chan struct{}
	refs int
}

// NewMemory returns an empty in-memory Store.
func NewMemory() *Memory { return &Memory{} }

// Lock implements Locker.
func (m *Memory) Lock(ctx context.Context, key string) (context.Context, func(), error) {
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	l := m.ref(key)
	select {
	case l.sem <- struct{}{}:
	case <-ctx.Done():
		m.unref(key, l)
		return nil, nil, ctx.Err()
	}
	held, cancel := context.WithCancelCause(ctx)
	var once sync.Once
	unlock := func() {
		once.Do(func() {
			cancel(context.Canceled)
			<-l.sem
			m.unref(key, l)
		})
	}
	return held, unlock, nil
}

// ref returns key's lock, made if needed, counting the caller in.
func (m *Memory) ref(key string) *memLock {
	m.mu.Lock()
	defer m.mu.Unlock()
	l, ok := m.m[key]
	if !ok {
		if m.m == nil {
			m.m = map[string]*memLock{}
		}
		l = &memLock{sem: make(chan struct{}, 1)}
		m.m[key] = l
	}
	l.refs++
	return l
}

// unref counts a caller out of key's lock, dropping the lock with the last.
func (m *Memory) unref(key string, l *memLock) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if l.refs--; l.refs == 0 {
		delete(m.m, key)
	}
}

// keys returns how many keys have a lock (for tests).
func (m *Memory) keys() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.m)
}
