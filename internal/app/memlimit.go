package app

import (
	"log/slog"
	"math"
	"runtime/debug"
	"strconv"
)

// DefaultMemoryLimit is arcgate's soft memory limit (--memory-limit): what
// the Go runtime may hold (heap, goroutine stacks, its own metadata; not
// the binary's pages) before its garbage collector works harder to stay
// under it. Chosen from arcgate-bench's scenario (c), 1 000 calls in flight
// with the defaults: they keep about 25 MiB live (heap, a stack per call,
// the runtime's own), and the collector's default pacing (GOGC=100, whose
// goal adds the live heap and the stacks again) let it reach 45-50 MiB.
// Under the limit, as at the headline's 16 calls in flight, it changes
// nothing; above it the runtime caps the collector at half the CPU.
const DefaultMemoryLimit int64 = 40 << 20

// memoryLimitEnv is the Go runtime's own variable; when set it wins.
const memoryLimitEnv = "GOMEMLIMIT"

// MemoryLimit is the soft memory limit arcgate sets for limit (0 or
// negative: none) and whether it sets one: not when the process's
// environment sets GOMEMLIMIT, which the runtime has applied already (a
// container's memory limit, as deploy/ does, is better than any default).
func MemoryLimit(limit int64, getenv func(string) string) (int64, bool) {
	if getenv(memoryLimitEnv) != "" {
		return 0, false
	}
	if limit <= 0 {
		return math.MaxInt64, true // the runtime's default: no limit
	}
	return limit, true
}

// SetMemoryLimit sets the process's soft memory limit as MemoryLimit says
// and logs it. Process-wide, like SetProcessDefaults: cmd/arcgate's main
// calls it, tests do not.
func SetMemoryLimit(limit int64, getenv func(string) string, log *slog.Logger) {
	l, ok := MemoryLimit(limit, getenv)
	if ok {
		debug.SetMemoryLimit(l)
	}
	if log == nil {
		return
	}
	switch cur := debug.SetMemoryLimit(-1); {
	case !ok:
		log.Info("memory limit", "limit", sizeText(cur), "from", memoryLimitEnv)
	case cur == math.MaxInt64:
		log.Info("memory limit", "limit", "off", "from", "--memory-limit")
	default:
		log.Info("memory limit", "limit", sizeText(cur), "from", "--memory-limit")
	}
}

// sizeText writes n bytes as a start-up line reads best: in GiB, MiB or
// KiB when it is a whole number of them, else in bytes.
func sizeText(n int64) string {
	for _, u := range []struct {
		shift uint
		name  string
	}{{30, "GiB"}, {20, "MiB"}, {10, "KiB"}} {
		if n > 0 && n%(1<<u.shift) == 0 {
			return strconv.FormatInt(n>>u.shift, 10) + u.name
		}
	}
	return strconv.FormatInt(n, 10) + "B"
}

// DefaultGCPercent is arcgate's garbage collection target (--gc-percent,
// Go's GOGC): the heap may grow to 5 times what is live before a
// collection, instead of Go's default 2 times. Under load arcgate keeps
// little live (about 4 MiB at 16 calls in flight) and allocates a few tens
// of KiB per call, so at GOGC=100 it collected every hundred or so calls,
// and each collection's fixed work (scanning every goroutine's stack) was
// a fifth of a ListServices call's CPU. The memory limit still bounds the
// heap: at 1 000 calls in flight it, not this, decides when to collect.
// arcgate-bench, ListServices of 100 folders in turn, 2 interleaved runs on
// the 2-CPU VM: CPU per call gRPC 172-188 -> 147-158 µs, REST 216-222 ->
// 173-203 µs; peak RSS at 1 000 in flight 55.2-56.3 -> 56.1-56.2 MiB.
const DefaultGCPercent = 400

// gcPercentEnv is the Go runtime's own variable; when set it wins.
const gcPercentEnv = "GOGC"

// SetGCPercent sets the process's garbage collection target to percent,
// unless the environment sets GOGC (which the runtime has applied
// already), and logs which one holds. Process-wide, like SetMemoryLimit.
func SetGCPercent(percent int, getenv func(string) string, log *slog.Logger) {
	if v := getenv(gcPercentEnv); v != "" {
		if log != nil {
			log.Info("gc percent", "percent", v, "from", gcPercentEnv)
		}
		return
	}
	debug.SetGCPercent(percent)
	if log != nil {
		log.Info("gc percent", "percent", percent, "from", "--gc-percent")
	}
}
