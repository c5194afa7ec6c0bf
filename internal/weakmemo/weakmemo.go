// Package weakmemo keeps a value derived from an object (its encoding,
// say) for as long as the object lives, and no longer: entries are keyed
// by weak pointers and dropped when their object is collected. It serves
// objects that are shared and never modified, such as the service messages
// converted once from an unchanged listing.
package weakmemo

import (
	"runtime"
	"sync"
	"unsafe"
	"weak"
)

// Memo maps live objects of type K to values of type V. The zero Memo is
// ready to use; it must not be copied after first use.
//
// Entries are found by the object's address, which stays the same for the
// object's life (Go's heap does not move objects), and checked against a
// weak pointer: an address reused by a new object after the old one was
// collected never finds the old value. A lookup so costs a map read and an
// atomic load, not the weak.Make a key of weak pointers would need.
type Memo[K, V any] struct {
	mu sync.Mutex
	m  map[uintptr]entry[K, V]
}

type entry[K, V any] struct {
	wp weak.Pointer[K]
	v  V
}

// gone identifies the entry of a collected object.
type gone[K any] struct {
	addr uintptr
	wp   weak.Pointer[K]
}

// Get returns the value of k, computing it with derive when k has none
// yet. An error from derive is returned and nothing is kept. derive may
// run more than once for the same k under concurrent calls; one value is
// kept.
func (c *Memo[K, V]) Get(k *K, derive func(*K) (V, error)) (V, error) {
	addr := uintptr(unsafe.Pointer(k))
	c.mu.Lock()
	e, ok := c.m[addr]
	c.mu.Unlock()
	if ok && e.wp.Value() == k {
		return e.v, nil
	}
	v, err := derive(k)
	if err != nil {
		return v, err
	}
	wp := weak.Make(k)
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.m[addr]; ok && e.wp == wp {
		return e.v, nil // stored meanwhile
	}
	if c.m == nil {
		c.m = map[uintptr]entry[K, V]{}
	}
	c.m[addr] = entry[K, V]{wp: wp, v: v}
	runtime.AddCleanup(k, c.forget, gone[K]{addr, wp})
	return v, nil
}

// Len returns the number of values kept.
func (c *Memo[K, V]) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.m)
}

// forget drops the entry of a collected object, unless a new object at the
// same address has replaced it.
func (c *Memo[K, V]) forget(g gone[K]) {
	c.mu.Lock()
	if e, ok := c.m[g.addr]; ok && e.wp == g.wp {
		delete(c.m, g.addr)
	}
	c.mu.Unlock()
}
