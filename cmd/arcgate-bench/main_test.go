package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

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
	err := run(context.Background(), []string{"-duration", "200ms", "-rounds", "1", "-concurrency", "4", "-services", "20", "-folders", "5", "-folder-services", "3",
		"-inflight", "20", "-rss-inflight", "20", "-scenario-duration", "200ms", "-latency", "5ms"}, &out)
	if err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	s := out.String()
	for _, want := range []string{"1. direct REST to upstream", "2. Go httputil.ReverseProxy", "3. nginx", "4. arcgate gRPC", "5. arcgate REST",
		"GetService, 20 services in turn", "GetItemInfo, 20 services in turn", "ListServices, 5 folders of 3 services in turn", "What coalescing adds", "GetService of one service",
		"server CPU µs/call", "server allocs/call", "(a) 20 GetService in flight", "upstream reads per call", "(b) 100 identical", "(c) 20 GetService in flight, 20 services in turn, arcgate as in (a)", "(c) 20 GetService in flight, 20 services in turn, arcgate's defaults", "sent directly by the same client", "peak RSS", "CPUs", "1 call in flight"} {
		if !strings.Contains(s, want) {
			t.Errorf("output lacks %q:\n%s", want, s)
		}
	}
	measured := 0
	for _, line := range strings.Split(s, "\n") {
		if len(line) < 4 || line[0] != '|' || line[2] < '1' || line[2] > '5' || line[3] != '.' {
			continue
		}
		cols := strings.Split(line, "|")
		if strings.Contains(line, "skipped") {
			continue
		}
		measured++
		if len(cols) != 14 || strings.TrimSpace(cols[12]) != "0" {
			t.Errorf("errors in row, or not 12 columns: %s", line)
		}
	}
	if measured < 4*4 {
		t.Errorf("%d measured rows, want at least 16 (4 tables of 4 or 5 rows):\n%s", measured, s)
	}
}

// TestParseStatCPU reads utime + stime from /proc/<pid>/stat lines, whose
// command name may hold spaces and parentheses.
func TestParseStatCPU(t *testing.T) {
	// Fields 3 to 15 (state ... stime) and a few after, as Linux writes them.
	const rest = " S 1 1234 1234 0 -1 4194560 5120 0 0 0 %s %s 0 0 20 0 7 0 123456 1234567 890 18446744073709551615"
	line := func(comm, utime, stime string) string {
		return "4242 (" + comm + ")" + fmt.Sprintf(rest, utime, stime) + "\n"
	}
	for _, tc := range []struct {
		name    string
		stat    string
		want    int64
		wantErr bool
	}{
		{name: "plain", stat: line("arcgate-bench", "150", "25"), want: 175},
		{name: "spaces in comm", stat: line("nginx: worker", "7", "3"), want: 10},
		{name: "parentheses in comm", stat: line("a) S 1 2 (b", "1000", "1"), want: 1001},
		{name: "comm of only parentheses", stat: line(")) ((", "3", "4"), want: 7},
		{name: "large", stat: line("x", "123456789012", "1"), want: 123456789013},
		{name: "no comm", stat: "4242 S 1 2 3", wantErr: true},
		{name: "truncated", stat: "4242 (x) S 1 1234 1234 0 -1 4194560 5120 0 0 0 150", wantErr: true},
		{name: "not a number", stat: line("x", "15o", "2"), wantErr: true},
		{name: "negative", stat: line("x", "-1", "2"), wantErr: true},
		{name: "empty", stat: "", wantErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseStatCPU([]byte(tc.stat))
			if tc.wantErr {
				if err == nil {
					t.Fatalf("parseStatCPU(%q) = %d, want an error", tc.stat, got)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("parseStatCPU(%q) = %d, %v; want %d", tc.stat, got, err, tc.want)
			}
		})
	}
}

// TestProcCPUOfSelf reads this process's own /proc/<pid>/stat.
func TestProcCPUOfSelf(t *testing.T) {
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("no /proc")
	}
	if _, err := procCPU(os.Getpid()); err != nil {
		t.Fatal(err)
	}
}

// TestWriteTable checks the table's columns, ratios to the Go proxy row,
// unknown values and a skipped row.
func TestWriteTable(t *testing.T) {
	rows := []tableRow{
		{name: "1. direct REST to upstream", rps: 9000, p50: 900 * time.Microsecond, p99: 3 * time.Millisecond, serverCPU: 40, simCPU: -1, allocs: 41, clientCPU: 20},
		{name: "2. Go httputil.ReverseProxy", rps: 4000, p50: 2500 * time.Microsecond, p99: 12 * time.Millisecond, serverCPU: 80, simCPU: 45.25, allocs: 77, clientCPU: 24.75},
		{name: "3. nginx", skipped: nginxSkipped},
		{name: "4. arcgate gRPC", rps: 3000, p50: 3 * time.Millisecond, p99: 11 * time.Millisecond, serverCPU: 240, simCPU: 50, allocs: 296, errors: 2, clientCPU: 60},
		{name: "5. nginx measured", rps: 8000, p50: 1100 * time.Microsecond, p99: 8 * time.Millisecond, serverCPU: 20, simCPU: 47, allocs: -1, clientCPU: -1},
	}
	var b strings.Builder
	writeTable(&b, rows, 1)
	want := tableHeader +
		"| 1. direct REST to upstream | 9000 | 900 µs | 3.00 ms | 40.0 | 0.50 | 2.25 | 41 | – | 20.0 | 0.40 | 0 |\n" +
		"| 2. Go httputil.ReverseProxy | 4000 | 2.50 ms | 12.00 ms | 80.0 | 1.00 | 1.00 | 77 | 45.2 | 24.8 | 1.00 | 0 |\n" +
		"| 3. nginx | skipped (not installed: apt-get install nginx-light) | | | | | | | | | | |\n" +
		"| 4. arcgate gRPC | 3000 | 3.00 ms | 11.00 ms | 240.0 | 3.00 | 0.75 | 296 | 50.0 | 60.0 | 2.33 | 2 |\n" +
		"| 5. nginx measured | 8000 | 1.10 ms | 8.00 ms | 20.0 | 0.25 | 2.00 | – | 47.0 | – | – | 0 |\n"
	if got := b.String(); got != want {
		t.Errorf("writeTable:\n%s\nwant:\n%s", got, want)
	}
	for i, line := range strings.Split(strings.TrimSpace(b.String()), "\n") {
		if n := strings.Count(line, "|"); n != 13 {
			t.Errorf("line %d has %d bars, want 13 (12 columns): %s", i, n, line)
		}
	}
	// A proxy row that measured nothing gives no ratio rather than Inf.
	b.Reset()
	writeTable(&b, []tableRow{{name: "p", allocs: -1, simCPU: -1, clientCPU: -1}}, 0)
	if !strings.Contains(b.String(), "| p | 0 | 0 µs | 0 µs | 0.0 | – | – | – | – | – | – | 0 |") {
		t.Errorf("empty proxy row:\n%s", b.String())
	}
}

// TestNginxConfig checks the generated configuration keeps nginx in one
// foreground process, writing only under its directory.
func TestNginxConfig(t *testing.T) {
	c := nginxConfig("/tmp/x", "127.0.0.1:1234", "127.0.0.1:5678")
	for _, want := range []string{"daemon off;", "master_process off;", "pid /tmp/x/nginx.pid;", "error_log /tmp/x/error.log", "listen 127.0.0.1:1234;", "server 127.0.0.1:5678;", "proxy_pass http://sim;", "proxy_temp_path /tmp/x/proxy;"} {
		if !strings.Contains(c, want) {
			t.Errorf("config lacks %q:\n%s", want, c)
		}
	}
	if strings.Contains(c, "DIR") || strings.Contains(c, "LISTEN") || strings.Contains(c, "UPSTREAM") {
		t.Errorf("placeholder left in:\n%s", c)
	}
}

// TestStartNginxNotInstalled: without nginx the row is skipped, not an
// error.
func TestStartNginxNotInstalled(t *testing.T) {
	defer func(b string) { nginxBinary = b }(nginxBinary)
	nginxBinary = filepath.Join(t.TempDir(), "nginx")
	n, err := startNginx("127.0.0.1:1")
	if n != nil || err != nil {
		t.Fatalf("startNginx without nginx = %v, %v; want nil, nil", n, err)
	}
}
