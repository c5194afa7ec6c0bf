package app

import (
	"math"
	"runtime/debug"
	"testing"
)

// TestMemoryLimit: arcgate sets its soft memory limit (none for 0 or
// less) unless the environment sets GOMEMLIMIT, which wins; SetMemoryLimit
// applies it to the process.
func TestMemoryLimit(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	for _, tc := range []struct {
		limit   int64
		env     map[string]string
		want    int64
		wantSet bool
	}{
		{limit: DefaultMemoryLimit, want: DefaultMemoryLimit, wantSet: true},
		{limit: 64 << 20, want: 64 << 20, wantSet: true},
		{limit: 0, want: math.MaxInt64, wantSet: true},
		{limit: -1, want: math.MaxInt64, wantSet: true},
		{limit: DefaultMemoryLimit, env: map[string]string{"GOMEMLIMIT": "200MiB"}, wantSet: false},
		{limit: 0, env: map[string]string{"GOMEMLIMIT": "off"}, wantSet: false},
	} {
		got, set := MemoryLimit(tc.limit, env(tc.env))
		if set != tc.wantSet || (set && got != tc.want) {
			t.Errorf("MemoryLimit(%d, %v) = %d, %t; want %d, %t", tc.limit, tc.env, got, set, tc.want, tc.wantSet)
		}
	}

	old := debug.SetMemoryLimit(-1)
	t.Cleanup(func() { debug.SetMemoryLimit(old) })
	SetMemoryLimit(123<<20, env(nil), nil)
	if got := debug.SetMemoryLimit(-1); got != 123<<20 {
		t.Errorf("after SetMemoryLimit(123 MiB): the process's limit is %d", got)
	}
	SetMemoryLimit(456<<20, env(map[string]string{"GOMEMLIMIT": "1GiB"}), nil)
	if got := debug.SetMemoryLimit(-1); got != 123<<20 {
		t.Errorf("SetMemoryLimit with GOMEMLIMIT set changed the process's limit to %d", got)
	}
}

func TestSizeText(t *testing.T) {
	for _, c := range []struct {
		n    int64
		want string
	}{{40 << 20, "40MiB"}, {1 << 30, "1GiB"}, {3 << 10, "3KiB"}, {1500, "1500B"}, {268435456 + 1, "268435457B"}} {
		if got := sizeText(c.n); got != c.want {
			t.Errorf("sizeText(%d) = %q, want %q", c.n, got, c.want)
		}
	}
}

// TestSetGCPercent: arcgate sets its GC target unless GOGC is set, which
// wins.
func TestSetGCPercent(t *testing.T) {
	old := debug.SetGCPercent(100)
	t.Cleanup(func() { debug.SetGCPercent(old) })
	SetGCPercent(DefaultGCPercent, func(string) string { return "" }, nil)
	if got := debug.SetGCPercent(100); got != DefaultGCPercent {
		t.Errorf("after SetGCPercent(%d): GOGC is %d", DefaultGCPercent, got)
	}
	SetGCPercent(250, func(k string) string {
		if k == "GOGC" {
			return "150"
		}
		return ""
	}, nil)
	if got := debug.SetGCPercent(100); got != 100 {
		t.Errorf("with GOGC set, SetGCPercent changed the target to %d", got)
	}
}
