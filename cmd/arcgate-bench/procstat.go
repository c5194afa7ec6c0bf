package main

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"time"
)

// clockTicksPerSecond is Linux's USER_HZ, the unit of utime and stime in
// /proc/<pid>/stat: sysconf(_SC_CLK_TCK), which is 100 on every Linux
// architecture Go supports (it is fixed by the kernel's ABI, not by HZ).
const clockTicksPerSecond = 100

// procCPU returns the CPU time (user + system, all threads) a process has
// used so far, from /proc/<pid>/stat.
func procCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	ticks, err := parseStatCPU(b)
	if err != nil {
		return 0, fmt.Errorf("/proc/%d/stat: %w", pid, err)
	}
	return time.Duration(ticks) * time.Second / clockTicksPerSecond, nil
}

// parseStatCPU returns utime + stime, in clock ticks, from the text of
// /proc/<pid>/stat. The second field, the command name in parentheses, may
// itself hold spaces and parentheses, so the fields are counted from the
// last ')': the state is field 3, utime field 14 and stime field 15.
func parseStatCPU(stat []byte) (int64, error) {
	end := bytes.LastIndexByte(stat, ')')
	if end < 0 || bytes.IndexByte(stat, '(') < 0 {
		return 0, fmt.Errorf("no command name in %.80q", stat)
	}
	fields := bytes.Fields(stat[end+1:]) // fields[0] is field 3
	const utime, stime = 14 - 3, 15 - 3
	if len(fields) <= stime {
		return 0, fmt.Errorf("%d fields after the command name, want at least %d", len(fields), stime+1)
	}
	var sum int64
	for _, i := range []int{utime, stime} {
		v, err := strconv.ParseInt(string(fields[i]), 10, 64)
		if err != nil || v < 0 {
			return 0, fmt.Errorf("field %d is %q, want a tick count", i+3, fields[i])
		}
		sum += v
	}
	return sum, nil
}
