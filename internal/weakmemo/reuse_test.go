package weakmemo

import (
	"runtime"
	"testing"
	"unsafe"
	"weak"
)

// An entry left at an address by an object since collected (its cleanup
// not yet run) is never taken for the new object at that address, and the
// late cleanup does not drop the new object's entry.
func TestAddressReusedByANewObject(t *testing.T) {
	type obj struct{ n int }
	var m Memo[obj, int]
	old, k := &obj{1}, &obj{2}
	addr := uintptr(unsafe.Pointer(k))
	stale := gone[obj]{addr, weak.Make(old)}
	m.m = map[uintptr]entry[obj, int]{addr: {wp: stale.wp, v: 1}} // as if old had lived at addr
	v, err := m.Get(k, func(o *obj) (int, error) { return o.n, nil })
	if err != nil || v != 2 {
		t.Fatalf("Get = %d, %v; want 2 (derived for the new object)", v, err)
	}
	m.forget(stale) // the old object's cleanup, run late
	if v, _ := m.Get(k, func(*obj) (int, error) { return -1, nil }); v != 2 || m.Len() != 1 {
		t.Fatalf("after the stale cleanup: %d, %d kept; want the new entry kept", v, m.Len())
	}
	runtime.KeepAlive(old)
	runtime.KeepAlive(k)
}
