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
	// clientCPU is the CPU µs per call of the load generator (this
	// process); < 0 when unknown. On a machine the client, the simulator
	// and the server share, what all three spend per call bounds calls/s.
	clientCPU float64
}

// tableHeader is the header of writeTable's tables.
const tableHeader = "| row | calls/s | p50 | p99 | server CPU µs/call | CPU ÷ Go proxy | calls/s ÷ Go proxy | server allocs/call | simulator CPU µs/call | client CPU µs/call | all three ÷ Go proxy | errors |\n" +
	"|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n"

// writeTable writes rows as a markdown table; the ratios are to
// rows[base], the Go ReverseProxy.
func writeTable(w io.Writer, rows []tableRow, base int) {
	var b strings.Builder
	b.WriteString(tableHeader)
	ref := rows[base]
	for _, r := range rows {
		if r.skipped != "" {
			fmt.Fprintf(&b, "| %s | %s | | | | | | | | | | |\n", r.name, r.skipped)
			continue
		}
		fmt.Fprintf(&b, "| %s | %.0f | %s | %s | %.1f | %s | %s | %s | %s | %s | %s | %d |\n",
			r.name, r.rps, fmtDur(r.p50), fmtDur(r.p99), r.serverCPU,
			ratio(r.serverCPU, ref.serverCPU), ratio(r.rps, ref.rps), orDash(r.allocs, "%.0f"), orDash(r.simCPU, "%.1f"),
			orDash(r.clientCPU, "%.1f"), ratio(r.allCPU(), ref.allCPU()), r.errors)
	}
	_, _ = io.WriteString(w, b.String())
}

// ratio is a ÷ b with two decimals, "–" when a is unknown (negative) or
// b is not positive.
func ratio(a, b float64) string {
	if a < 0 || b <= 0 {
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

// allCPU is the CPU µs per call of the client, the server and the
// simulator (once when it is the server); -1 when the client's is unknown.
func (r tableRow) allCPU() float64 {
	if r.clientCPU < 0 {
		return -1
	}
	return r.clientCPU + r.serverCPU + max(r.simCPU, 0)
}
