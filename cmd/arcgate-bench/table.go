package main

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// tableRow is one row of a side-by-side table, as measured.
type tableRow struct {
	name string
	// skipped, when set, says why the row was not measured.
	skipped   string
	rps       float64
	p50, p99  time.Duration
	errors    int64
	serverCPU float64 // CPU µs per call of the row's server process
	simCPU    float64 // CPU µs per call of the simulator; < 0 when the simulator is the row's server
	allocs    float64 // heap allocations per call of the row's server; < 0 when unknown
}

// tableHeader is the header of writeTable's tables.
const tableHeader = "| row | calls/s | p50 | p99 | server CPU µs/call | CPU ÷ Go proxy | calls/s ÷ Go proxy | server allocs/call | simulator CPU µs/call | errors |\n" +
	"|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n"

// writeTable writes rows as a markdown table; the ratios are to
// rows[base], the Go ReverseProxy.
func writeTable(w io.Writer, rows []tableRow, base int) {
	var b strings.Builder
	b.WriteString(tableHeader)
	ref := rows[base]
	for _, r := range rows {
		if r.skipped != "" {
			fmt.Fprintf(&b, "| %s | %s | | | | | | | | |\n", r.name, r.skipped)
			continue
		}
		fmt.Fprintf(&b, "| %s | %.0f | %s | %s | %.1f | %s | %s | %s | %s | %d |\n",
			r.name, r.rps, fmtDur(r.p50), fmtDur(r.p99), r.serverCPU,
			ratio(r.serverCPU, ref.serverCPU), ratio(r.rps, ref.rps), orDash(r.allocs, "%.0f"), orDash(r.simCPU, "%.1f"), r.errors)
	}
	_, _ = io.WriteString(w, b.String())
}

// ratio is a ÷ b with two decimals, "–" when b is not positive.
func ratio(a, b float64) string {
	if b <= 0 {
		return "–"
	}
	return fmt.Sprintf("%.2f", a/b)
}

// orDash formats v, or "–" when v is negative (unknown or not applicable).
func orDash(v float64, format string) string {
	if v < 0 {
		return "–"
	}
	return fmt.Sprintf(format, v)
}
