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
