package weakmemo_test

import (
	"errors"
	"runtime"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/arcgate/arcgate/internal/weakmemo"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

type object struct{ name string }

func TestGetDerivesOncePerLiveObject(t *testing.T) {
	var m weakmemo.Memo[object, string]
	calls := 0
	derive := func(o *object) (string, error) { calls++; return "v:" + o.name, nil }
	a, b := &object{"a"}, &object{"a"} // equal, but distinct objects
	for range 3 {
		if v, err := m.Get(a, derive); err != nil || v != "v:a" {
			t.Fatalf("Get(a) = %q, %v", v, err)
		}
	}
	if v, _ := m.Get(b, derive); v != "v:a" || calls != 2 || m.Len() != 2 {
		t.Fatalf("after a and b: %q, %d derivations, %d kept; want 2 and 2", v, calls, m.Len())
	}
	runtime.KeepAlive(a)
	runtime.KeepAlive(b)
}

func TestGetKeepsNoError(t *testing.T) {
	var m weakmemo.Memo[object, string]
	o := &object{"x"}
	boom := errors.New("boom")
	if _, err := m.Get(o, func(*object) (string, error) { return "", boom }); !errors.Is(err, boom) || m.Len() != 0 {
		t.Fatalf("err %v, %d kept", err, m.Len())
	}
	if v, err := m.Get(o, func(*object) (string, error) { return "ok", nil }); err != nil || v != "ok" {
		t.Fatalf("after the error: %q, %v", v, err)
	}
	runtime.KeepAlive(o)
}

func TestEntriesGoWithTheirObjects(t *testing.T) {
	var m weakmemo.Memo[object, []byte]
	for i := range 100 {
		if _, err := m.Get(&object{name: string(rune('a' + i%26))}, func(o *object) ([]byte, error) { return []byte(o.name), nil }); err != nil {
			t.Fatal(err)
		}
	}
	for deadline := time.Now().Add(10 * time.Second); m.Len() > 0; time.Sleep(10 * time.Millisecond) {
		runtime.GC()
		if time.Now().After(deadline) {
			t.Fatalf("%d entries left for collected objects", m.Len())
		}
	}
}
