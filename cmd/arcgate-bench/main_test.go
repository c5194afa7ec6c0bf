package main

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"

	"go.uber.org/goleak"
)

// The benchmark re-executes its own binary as child processes. Under `go
// test` that binary is the test binary, so TestMain turns into a child when
// asked to.
func TestMain(m *testing.M) {
	for i, a := range os.Args {
		if a == "-child" && i+1 < len(os.Args) {
			if err := run(context.Background(), os.Args[i:], os.Stdout); err != nil {
				os.Exit(1)
			}
			os.Exit(0)
		}
	}
	goleak.VerifyTestMain(m)
}

// TestBenchPrintsTheTable runs a very short benchmark and checks the table
// has every row and scenario, with no failed calls.
func TestBenchPrintsTheTable(t *testing.T) {
	if testing.Short() {
		t.Skip("starts child processes")
	}
	var out bytes.Buffer
	err := run(context.Background(), []string{"-duration", "200ms", "-rounds", "1", "-concurrency", "4", "-services", "20",
		"-inflight", "20", "-rss-inflight", "20", "-scenario-duration", "200ms", "-latency", "5ms"}, &out)
	if err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	s := out.String()
	for _, want := range []string{"1. direct REST to upstream", "2. httputil.ReverseProxy", "3. arcgate gRPC", "4. arcgate REST",
		"GetService (small read)", "ListServices (20 services)", "(a) 20 GetService in flight", "upstream reads per call", "(b) 100 identical", "(c) 20 GetService in flight, 20 services in turn, arcgate as in (a)", "(c) 20 GetService in flight, 20 services in turn, arcgate's defaults", "sent directly by the same client", "peak RSS", "CPUs", "1 call in flight"} {
		if !strings.Contains(s, want) {
			t.Errorf("output lacks %q:\n%s", want, s)
		}
	}
	for _, line := range strings.Split(s, "\n") {
		if strings.HasPrefix(line, "| 1.") || strings.HasPrefix(line, "| 2.") || strings.HasPrefix(line, "| 3.") || strings.HasPrefix(line, "| 4.") {
			cols := strings.Split(line, "|")
			if len(cols) > 6 && strings.TrimSpace(cols[6]) != "0" {
				t.Errorf("errors in row: %s", line)
			}
		}
	}
}
