package statestore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"
)

// recordStores returns the Records implementations to test: memory (with a
// clock the test moves) and, when redis-server is installed, Redis.
func recordStores(t *testing.T) map[string]struct {
	r       Records
	advance func(time.Duration) // moves past a time to live
} {
	t.Helper()
	now := time.Unix(1_700_000_000, 0)
	mem := NewMemory()
	mem.memRecords.now = func() time.Time { return now }
	stores := map[string]struct {
		r       Records
		advance func(time.Duration)
	}{
		"memory": {mem, func(d time.Duration) { now = now.Add(d) }},
	}
	a, _, _ := newRedisPair(t)
	stores["redis"] = struct {
		r       Records
		advance func(time.Duration)
	}{a, func(d time.Duration) { time.Sleep(d) }}
	return stores
}

func TestRecords(t *testing.T) {
	ctx := context.Background()
	for name, s := range recordStores(t) {
		t.Run(name, func(t *testing.T) {
			r := s.r
			if _, err := r.Get(ctx, "rid/a"); !errors.Is(err, ErrNotFound) {
				t.Fatalf("Get of a missing key: %v, want ErrNotFound", err)
			}
			if err := r.Put(ctx, "rid/a", []byte("one"), time.Minute); err != nil {
				t.Fatal(err)
			}
			if ok, err := r.PutNew(ctx, "rid/a", []byte("two"), time.Minute); ok || err != nil {
				t.Fatalf("PutNew over a live record = %v, %v; want false, nil", ok, err)
			}
			if got, err := r.Get(ctx, "rid/a"); err != nil || string(got) != "one" {
				t.Fatalf("Get = %q, %v; want one", got, err)
			}
			if ok, err := r.PutNew(ctx, "rid/b", []byte("b"), time.Minute); !ok || err != nil {
				t.Fatalf("PutNew of a new key = %v, %v; want true, nil", ok, err)
			}
			if err := r.Put(ctx, "op/c", []byte("c"), time.Minute); err != nil {
				t.Fatal(err)
			}
			// A prefix with glob characters matches only itself.
			if err := r.Put(ctx, "rid*x", []byte("x"), time.Minute); err != nil {
				t.Fatal(err)
			}
			keys, err := r.Keys(ctx, "rid/")
			slices.Sort(keys)
			if err != nil || !slices.Equal(keys, []string{"rid/a", "rid/b"}) {
				t.Fatalf("Keys(rid/) = %v, %v", keys, err)
			}
			if err := r.Delete(ctx, "rid/a"); err != nil {
				t.Fatal(err)
			}
			if _, err := r.Get(ctx, "rid/a"); !errors.Is(err, ErrNotFound) {
				t.Fatalf("Get after Delete: %v", err)
			}
			if err := r.Put(ctx, "rid/a", nil, 0); err == nil {
				t.Fatal("Put with no time to live: no error")
			}
		})
	}
}

func TestRecordsExpire(t *testing.T) {
	ctx := context.Background()
	for name, s := range recordStores(t) {
		t.Run(name, func(t *testing.T) {
			r := s.r
			if err := r.Put(ctx, "short", []byte("v"), 50*time.Millisecond); err != nil {
				t.Fatal(err)
			}
			s.advance(120 * time.Millisecond)
			if _, err := r.Get(ctx, "short"); !errors.Is(err, ErrNotFound) {
				t.Fatalf("Get after the time to live: %v, want ErrNotFound", err)
			}
			if keys, _ := r.Keys(ctx, "short"); len(keys) != 0 {
				t.Fatalf("Keys lists an expired record: %v", keys)
			}
			if ok, err := r.PutNew(ctx, "short", []byte("w"), time.Minute); !ok || err != nil {
				t.Fatalf("PutNew over an expired record = %v, %v; want true", ok, err)
			}
		})
	}
}

// TestMemoryRecordsSweep checks that expired records do not pile up in
// memory: the map shrinks back to the live records.
func TestMemoryRecordsSweep(t *testing.T) {
	ctx := context.Background()
	now := time.Unix(0, 0)
	m := NewMemory()
	m.memRecords.now = func() time.Time { return now }
	for i := range 5000 {
		if err := m.Put(ctx, fmt.Sprint("k", i), []byte("v"), time.Second); err != nil {
			t.Fatal(err)
		}
		now = now.Add(time.Millisecond) // the oldest expire as we go
	}
	m.memRecords.mu.Lock()
	n := len(m.memRecords.m)
	m.memRecords.mu.Unlock()
	if n > 2100 {
		t.Fatalf("%d records kept in memory; at most ~1000 are live", n)
	}
}
