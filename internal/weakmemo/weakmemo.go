// Package weakmemo keeps a value derived from an object (its encoding,
// say) for as long as the object lives, and no longer: entries are keyed
// by weak pointers and dropped when their object is collected. It serves
// objects that are shared and never modified, such as the service messages
// converted once from an unchanged listing.
package weakmemo

import (
	"runtime"
	"sync"
	"weak"
)

// Memo maps live objects of type K to values of type V. The zero Memo is
// ready to use; it must not be copied after first use.
type Memo[K, V any] struct {
	mu sync.Mutex
	m  map[weak.Pointer[K]]V
}

// Get returns the value of k, computing it with derive when k has none
// yet. An error from derive is returned and nothing is kept. derive may
// run more than once for the same k under concurrent calls; one value is
// kept.
func (c *Memo[K, V]) Get(k *K, derive func(*K) (V, error)) (V, error) {
	key := weak.Make(k)
	c.mu.Lock()
	v, ok := c.m[key]
	c.mu.Unlock()
	if ok {
		return v, nil
	}
	v, err := derive(k)
	if err != nil {
		return v, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if kept, ok := c.m[key]; ok {
		return kept, nil
	}
	if c.m == nil {
		c.m = map[weak.Pointer[K]]V{}
	}
	c.m[key] = v
	runtime.AddCleanup(k, c.forget, key)
	return v, nil
}

// Len returns the number of values kept.
func (c *Memo[K, V]) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.m)
}

// forget drops the entry of a collected object.
func (c *Memo[K, V]) forget(key weak.Pointer[K]) {
	c.mu.Lock()
	delete(c.m, key)
	c.mu.Unlock()
}
