package statestore

import (
	"context"
	"errors"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// ErrNotFound is returned by Records.Get for a key that holds no record
// (never written, deleted, or expired).
var ErrNotFound = errors.New("statestore: no such record")

// Records keeps small values (a request id's first outcome, a long-running
// operation) under string keys, each for a time to live. Every replica
// that shares the store sees the same records.
type Records interface {
	// Get returns key's value, or ErrNotFound.
	Get(ctx context.Context, key string) ([]byte, error)
	// Put writes key's value, replacing any, to expire after ttl (> 0).
	Put(ctx context.Context, key string, value []byte, ttl time.Duration) error
	// PutNew writes key's value only if key holds none, and reports
	// whether it did.
	PutNew(ctx context.Context, key string, value []byte, ttl time.Duration) (bool, error)
	// Delete removes key's record, if any.
	Delete(ctx context.Context, key string) error
	// Keys returns the keys that start with prefix, in no particular order.
	Keys(ctx context.Context, prefix string) ([]string, error)
}

// memRecords is the in-memory Records. An expired record is invisible at
// once and dropped by a sweep that runs when the map has doubled since the
// last one, so that memory follows the live records.
type memRecords struct {
	mu        sync.Mutex
	now       func() time.Time
	m         map[string]memRecord
	sweepSize int
}

type memRecord struct {
	value   []byte
	expires time.Time
}

func (r *memRecords) clock() time.Time {
	if r.now != nil {
		return r.now()
	}
	return time.Now()
}

// live returns key's record if it has not expired. r.mu is held.
func (r *memRecords) live(key string, now time.Time) (memRecord, bool) {
	rec, ok := r.m[key]
	if !ok || !now.Before(rec.expires) {
		return memRecord{}, false
	}
	return rec, true
}

// set stores a record, sweeping expired ones when the map has grown. r.mu
// is held.
func (r *memRecords) set(key string, value []byte, ttl time.Duration, now time.Time) {
	if r.m == nil {
		r.m = map[string]memRecord{}
	}
	r.m[key] = memRecord{value: append([]byte(nil), value...), expires: now.Add(ttl)}
	if len(r.m) >= 2*max(r.sweepSize, 512) {
		for k, rec := range r.m {
			if !now.Before(rec.expires) {
				delete(r.m, k)
			}
		}
		r.sweepSize = len(r.m)
	}
}

func (r *memRecords) Get(ctx context.Context, key string) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	rec, ok := r.live(key, r.clock())
	if !ok {
		return nil, ErrNotFound
	}
	return append([]byte(nil), rec.value...), nil
}

func (r *memRecords) Put(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	if err := checkTTL(ctx, ttl); err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.set(key, value, ttl, r.clock())
	return nil
}

func (r *memRecords) PutNew(ctx context.Context, key string, value []byte, ttl time.Duration) (bool, error) {
	if err := checkTTL(ctx, ttl); err != nil {
		return false, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.clock()
	if _, ok := r.live(key, now); ok {
		return false, nil
	}
	r.set(key, value, ttl, now)
	return true, nil
}

func (r *memRecords) Delete(ctx context.Context, key string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.m, key)
	return nil
}

func (r *memRecords) Keys(ctx context.Context, prefix string) ([]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.clock()
	var keys []string
	for k, rec := range r.m {
		if strings.HasPrefix(k, prefix) && now.Before(rec.expires) {
			keys = append(keys, k)
		}
	}
	return keys, nil
}

// checkTTL refuses a record that would never expire or is already gone.
func checkTTL(ctx context.Context, ttl time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if ttl <= 0 {
		return errors.New("statestore: a record's time to live must be positive")
	}
	return nil
}

// recordPrefix namespaces arcgate's records in a Redis database it may
// share with other programs.
const recordPrefix = "arcgate:rec:"

// redisRecords is the Redis Records: one string key per record, with
// Redis's own expiry.
type redisRecords struct{ client *redis.Client }

func (r redisRecords) Get(ctx context.Context, key string) ([]byte, error) {
	b, err := r.client.Get(ctx, recordPrefix+key).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, ErrNotFound
	}
	return b, err
}

func (r redisRecords) Put(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	if err := checkTTL(ctx, ttl); err != nil {
		return err
	}
	return r.client.Set(ctx, recordPrefix+key, value, ttl).Err()
}

func (r redisRecords) PutNew(ctx context.Context, key string, value []byte, ttl time.Duration) (bool, error) {
	if err := checkTTL(ctx, ttl); err != nil {
		return false, err
	}
	err := r.client.SetArgs(ctx, recordPrefix+key, value, redis.SetArgs{Mode: "NX", TTL: ttl}).Err()
	if errors.Is(err, redis.Nil) {
		return false, nil
	}
	return err == nil, err
}

func (r redisRecords) Delete(ctx context.Context, key string) error {
	return r.client.Del(ctx, recordPrefix+key).Err()
}

func (r redisRecords) Keys(ctx context.Context, prefix string) ([]string, error) {
	var keys []string
	iter := r.client.Scan(ctx, 0, escapeGlob(recordPrefix+prefix)+"*", 256).Iterator()
	for iter.Next(ctx) {
		keys = append(keys, strings.TrimPrefix(iter.Val(), recordPrefix))
	}
	return keys, iter.Err()
}

// escapeGlob escapes the characters that Redis's MATCH patterns treat
// specially, so that a prefix matches only itself.
func escapeGlob(s string) string {
	var b strings.Builder
	for _, c := range s {
		switch c {
		case '*', '?', '[', ']', '\\', '^', '-':
			b.WriteByte('\\')
		}
		b.WriteRune(c)
	}
	return b.String()
}
