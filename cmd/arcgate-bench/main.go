// Command arcgate-bench measures what arcgate adds to every call, side by
// side with what a client does without it, in one run:
//
//	go run ./cmd/arcgate-bench
//
// It starts the simulator, an httputil.ReverseProxy in front of it and
// arcgate as child processes on loopback, then measures, interleaved in
// rounds so that machine noise hits every row alike, a small read
// (GetService) and a list (ListServices of a folder of -services services):
//
//  1. direct REST calls to the simulator (the upstream calls arcgate makes),
//  2. the same calls through the reverse proxy (the least any proxy adds),
//  3. arcgate over gRPC,
//  4. arcgate over REST.
//
// Each row reports requests/s, p50, p99, the client's allocations per call,
// and its throughput as a ratio to row 2. Then it runs three scenarios:
// (a) 20 ms of upstream latency at 500 calls in flight, reporting throughput
// against the ideal (in flight ÷ latency) and the upstream TCP connections
// opened, next to the same reads sent directly at the same load (what the
// machine allows); (b) 100 identical concurrent reads, reporting how many
// reached the upstream; (c) arcgate's peak RSS with 1000 calls in flight,
// as configured for (a) and with its default settings.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	adminv1 "github.com/arcgate/arcgate/gen/go/arcgate/admin/v1"
	"github.com/arcgate/arcgate/upstream"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "arcgate-bench:", err)
		os.Exit(1)
	}
}

type options struct {
	duration    time.Duration
	rounds      int
	concurrency int
	services    int
	latency     time.Duration
	inflight    int
	rssInflight int
	scenarioDur time.Duration
}

func run(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("arcgate-bench", flag.ContinueOnError)
	var o options
	var childRole string
	var co childOptions
	fs.DurationVar(&o.duration, "duration", 4*time.Second, "measuring time per row and workload, split over -rounds")
	fs.IntVar(&o.rounds, "rounds", 4, "interleaved rounds")
	fs.IntVar(&o.concurrency, "concurrency", 16, "calls in flight for the side-by-side rows")
	fs.IntVar(&o.services, "services", 200, "services in the listed folder")
	fs.DurationVar(&o.latency, "latency", 20*time.Millisecond, "upstream latency of scenario (a) and (c)")
	fs.IntVar(&o.inflight, "inflight", 500, "calls in flight in scenario (a)")
	fs.IntVar(&o.rssInflight, "rss-inflight", 1000, "calls in flight in scenario (c)")
	fs.DurationVar(&o.scenarioDur, "scenario-duration", 3*time.Second, "measuring time of scenarios (a) and (c)")
	fs.StringVar(&childRole, "child", "", "internal: run as a child process (sim, proxy, arcgate)")
	fs.StringVar(&co.upstream, "child-upstream", "", "internal")
	fs.DurationVar(&co.latency, "child-latency", 0, "internal")
	fs.IntVar(&co.upstreamConns, "upstream-conns", 1024, "arcgate's --upstream-max-concurrent: upstream requests and connections in flight")
	fs.BoolVar(&co.pprof, "pprof", false, "serve pprof from each arcgate child on loopback and print its address (to profile a run: go tool pprof http://ADDR/debug/pprof/profile)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if childRole != "" {
		co.services = o.services
		return runChild(childRole, co)
	}
	if o.rounds < 1 || o.concurrency < 1 || o.duration <= 0 {
		return fmt.Errorf("-rounds, -concurrency and -duration must be positive")
	}
	b := &bench{o: o, co: co, out: out}
	defer b.close()
	return b.run(ctx)
}

type bench struct {
	o        options
	co       childOptions
	out      io.Writer
	children []*child
	conns    []*grpc.ClientConn
	hc       *http.Client
}

func (b *bench) close() {
	for _, c := range b.conns {
		_ = c.Close()
	}
	for i := len(b.children) - 1; i >= 0; i-- {
		b.children[i].stop()
	}
}

func (b *bench) start(args ...string) (*child, error) {
	c, err := startChild(args...)
	if err != nil {
		return nil, err
	}
	b.children = append(b.children, c)
	return c, nil
}

// directGet reads what arcgate's GetService asks upstream for service
// (a path under admin/services): the configuration and the status.
func (b *bench) directGet(ctx context.Context, base, service, token string) error {
	u := base + "/arcgis/admin/services/" + service
	if err := httpGet(ctx, b.hc, u+"?f=json&token="+token, `"serviceName"`); err != nil {
		return err
	}
	return httpGet(ctx, b.hc, u+"/status?f=json&token="+token, `"realTimeState"`)
}

// startGate starts an arcgate child in front of upstream.
func (b *bench) startGate(upstream string, conns int) (*child, error) {
	c, err := b.start("-child", "arcgate", "-child-upstream", upstream, "-upstream-conns", fmt.Sprint(conns), fmt.Sprintf("-pprof=%t", b.co.pprof))
	if err == nil && c.info.PprofAddr != "" {
		fmt.Fprintf(os.Stderr, "arcgate-bench: arcgate (upstream %s) serves pprof at http://%s/debug/pprof/\n", upstream, c.info.PprofAddr)
	}
	return c, err
}

func (b *bench) dial(addr string) (*grpc.ClientConn, error) {
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err == nil {
		b.conns = append(b.conns, conn)
	}
	return conn, err
}

// row is one measured way of making a call.
type row struct {
	name string
	call func(ctx context.Context, i int) error
	res  result
}

// result accumulates one row's measurements over the rounds.
type result struct {
	calls, errors int64
	elapsed       time.Duration
	latencies     []time.Duration
	mallocs       uint64
	firstErr      error
}

func (r *result) rps() float64 {
	if r.elapsed <= 0 {
		return 0
	}
	return float64(r.calls) / r.elapsed.Seconds()
}

func (r *result) pct(p float64) time.Duration {
	if len(r.latencies) == 0 {
		return 0
	}
	sort.Slice(r.latencies, func(i, j int) bool { return r.latencies[i] < r.latencies[j] })
	return r.latencies[int(p*float64(len(r.latencies)-1))]
}

// load runs call from n workers for d and adds to res.
func load(ctx context.Context, d time.Duration, n int, call func(ctx context.Context, i int) error, res *result) {
	deadline := time.Now().Add(d)
	ctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	var ms0, ms1 runtime.MemStats
	runtime.ReadMemStats(&ms0)
	var (
		wg     sync.WaitGroup
		mu     sync.Mutex
		calls  atomic.Int64
		errs   atomic.Int64
		seq    atomic.Int64
		allLat []time.Duration
	)
	start := time.Now()
	for w := 0; w < n; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			lat := make([]time.Duration, 0, 4096)
			for ctx.Err() == nil {
				i := int(seq.Add(1))
				t0 := time.Now()
				err := call(ctx, i)
				if ctx.Err() != nil || !time.Now().Before(deadline) {
					// Cut off by the end of the slice (gRPC's own deadline
					// timer may fire before ctx reports it): not counted.
					break
				}
				lat = append(lat, time.Since(t0))
				calls.Add(1)
				if err != nil {
					errs.Add(1)
					mu.Lock()
					if res.firstErr == nil {
						res.firstErr = err
					}
					mu.Unlock()
				}
			}
			mu.Lock()
			allLat = append(allLat, lat...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	res.elapsed += time.Since(start)
	runtime.ReadMemStats(&ms1)
	res.calls += calls.Load()
	res.errors += errs.Load()
	res.mallocs += ms1.Mallocs - ms0.Mallocs
	res.latencies = append(res.latencies, allLat...)
}

func (b *bench) run(ctx context.Context) error {
	o := b.o
	fmt.Fprintf(b.out, "arcgate-bench: %s; arcgate --upstream-max-concurrent %d\n\n", machine(), b.co.upstreamConns)
	sim, err := b.start("-child", "sim", "-services", fmt.Sprint(o.services))
	if err != nil {
		return err
	}
	simURL := "http://" + sim.info.HTTPAddr
	proxy, err := b.start("-child", "proxy", "-child-upstream", simURL)
	if err != nil {
		return err
	}
	gate, err := b.startGate(simURL, b.co.upstreamConns)
	if err != nil {
		return err
	}
	b.hc = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4096, MaxIdleConns: 4096, IdleConnTimeout: 90 * time.Second}, Timeout: 60 * time.Second}
	token, err := getToken(ctx, b.hc, simURL)
	if err != nil {
		return err
	}
	conn, err := b.dial(gate.info.GRPCAddr)
	if err != nil {
		return err
	}
	svc := adminv1.NewServicesServiceClient(conn)
	gateURL := "http://" + gate.info.HTTPAddr

	const one = "SampleWorldCities.MapServer"
	directGet := func(base string) func(ctx context.Context, i int) error {
		return func(ctx context.Context, _ int) error { return b.directGet(ctx, base, one, token) }
	}
	directList := func(base string) func(ctx context.Context, i int) error {
		u := base + "/arcgis/admin/services/Bulk?f=json&token=" + token
		return func(ctx context.Context, _ int) error { return httpGet(ctx, b.hc, u, `"services"`) }
	}
	workloads := []struct {
		name string
		rows []*row
	}{
		{"GetService (small read)", []*row{
			{name: "1. direct REST to upstream", call: directGet(simURL)},
			{name: "2. httputil.ReverseProxy", call: directGet("http://" + proxy.info.HTTPAddr)},
			{name: "3. arcgate gRPC", call: func(ctx context.Context, _ int) error {
				_, err := svc.GetService(ctx, &adminv1.GetServiceRequest{Name: "services/" + one})
				return err
			}},
			{name: "4. arcgate REST", call: func(ctx context.Context, _ int) error {
				return httpGet(ctx, b.hc, gateURL+"/v1/services/"+one, `"realTimeState"`)
			}},
		}},
		{fmt.Sprintf("ListServices (%d services)", o.services), []*row{
			{name: "1. direct REST to upstream", call: directList(simURL)},
			{name: "2. httputil.ReverseProxy", call: directList("http://" + proxy.info.HTTPAddr)},
			{name: "3. arcgate gRPC", call: func(ctx context.Context, _ int) error {
				_, err := svc.ListServices(ctx, &adminv1.ListServicesRequest{Parent: "folders/Bulk", PageSize: 1000})
				return err
			}},
			{name: "4. arcgate REST", call: func(ctx context.Context, _ int) error {
				return httpGet(ctx, b.hc, gateURL+"/v1/folders/Bulk/services?pageSize=1000", `"services"`)
			}},
		}},
	}
	// Warm up every row (connections, token, caches).
	for _, w := range workloads {
		for _, r := range w.rows {
			var warm result
			load(ctx, 300*time.Millisecond, o.concurrency, r.call, &warm)
			if warm.calls == 0 || warm.errors == warm.calls {
				return fmt.Errorf("%s / %s does not work: %v", w.name, r.name, warm.firstErr)
			}
		}
	}
	slice := o.duration / time.Duration(o.rounds)
	for round := 0; round < o.rounds; round++ {
		for _, w := range workloads {
			for _, r := range w.rows {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				load(ctx, slice, o.concurrency, r.call, &r.res)
			}
		}
	}
	fmt.Fprintf(b.out, "Side by side: %d calls in flight, %d interleaved rounds of %s per row.\n\n", o.concurrency, o.rounds, slice)
	for _, w := range workloads {
		fmt.Fprintf(b.out, "%s\n\n", w.name)
		fmt.Fprintf(b.out, "| row | req/s | p50 | p99 | client allocs/call | errors | req/s ÷ row 2 |\n|---|---:|---:|---:|---:|---:|---:|\n")
		base := w.rows[1].res.rps()
		for _, r := range w.rows {
			allocs := float64(r.res.mallocs) / float64(max(r.res.calls, 1))
			fmt.Fprintf(b.out, "| %s | %.0f | %s | %s | %.0f | %d | %.2f |\n", r.name, r.res.rps(), fmtDur(r.res.pct(0.50)), fmtDur(r.res.pct(0.99)), allocs, r.res.errors, r.res.rps()/base)
		}
		d50 := w.rows[0].res.pct(0.50)
		fmt.Fprintf(b.out, "\nAdded p50 over direct: proxy %s, arcgate gRPC %s, arcgate REST %s.\n\n",
			fmtDur(w.rows[1].res.pct(0.50)-d50), fmtDur(w.rows[2].res.pct(0.50)-d50), fmtDur(w.rows[3].res.pct(0.50)-d50))
	}
	// Per-call cost: the same rows one call at a time, where p50 is what a
	// call costs rather than how long it queued.
	fmt.Fprintf(b.out, "Per-call latency, 1 call in flight (%s per row)\n\n| workload | direct p50 | proxy p50 | arcgate gRPC p50 | arcgate REST p50 | added over direct: proxy / gRPC / REST |\n|---|---:|---:|---:|---:|---|\n", slice)
	for _, w := range workloads {
		var res [4]result
		for i, r := range w.rows {
			load(ctx, slice, 1, r.call, &res[i])
		}
		d := res[0].pct(0.5)
		fmt.Fprintf(b.out, "| %s | %s | %s | %s | %s | %s / %s / %s |\n", w.name, fmtDur(d), fmtDur(res[1].pct(0.5)), fmtDur(res[2].pct(0.5)), fmtDur(res[3].pct(0.5)),
			fmtDur(res[1].pct(0.5)-d), fmtDur(res[2].pct(0.5)-d), fmtDur(res[3].pct(0.5)-d))
	}
	fmt.Fprintln(b.out)
	return b.scenarios(ctx)
}

// scenarios runs (a), (b) and (c) against a slow upstream.
func (b *bench) scenarios(ctx context.Context) error {
	o := b.o
	slowSim, err := b.start("-child", "sim", "-services", fmt.Sprint(o.services), "-child-latency", o.latency.String())
	if err != nil {
		return err
	}
	slowURL := "http://" + slowSim.info.HTTPAddr
	gate, err := b.startGate(slowURL, b.co.upstreamConns)
	if err != nil {
		return err
	}
	conn, err := b.dial(gate.info.GRPCAddr)
	if err != nil {
		return err
	}
	svc := adminv1.NewServicesServiceClient(conn)
	// The services of the Bulk folder in turn: call i reads service i mod
	// -services, so that with more calls in flight than services a few
	// callers read the same service at once (and share its upstream
	// reads, which each row reports as upstream reads per call).
	inTurnOn := func(svc adminv1.ServicesServiceClient) func(ctx context.Context, i int) error {
		return func(ctx context.Context, i int) error {
			_, err := svc.GetService(ctx, &adminv1.GetServiceRequest{Name: fmt.Sprintf("folders/Bulk/services/Bulk_%04d.MapServer", 1+i%o.services)})
			return err
		}
	}
	inTurn := inTurnOn(svc)
	var warm result
	load(ctx, 500*time.Millisecond, 8, inTurn, &warm)
	if warm.errors > 0 {
		return fmt.Errorf("slow upstream: %v", warm.firstErr)
	}
	before, err := simStats(ctx, b.hc, slowURL)
	if err != nil {
		return err
	}
	var a result
	load(ctx, o.scenarioDur, o.inflight, inTurn, &a)
	after, err := simStats(ctx, b.hc, slowURL)
	if err != nil {
		return err
	}
	// What the machine allows: the same reads sent straight to the slow
	// upstream by the same client, at the same load.
	token, err := getToken(ctx, b.hc, slowURL)
	if err != nil {
		return err
	}
	directInTurn := func(ctx context.Context, i int) error {
		return b.directGet(ctx, slowURL, fmt.Sprintf("Bulk/Bulk_%04d.MapServer", 1+i%o.services), token)
	}
	var direct result
	load(ctx, o.scenarioDur, o.inflight, directInTurn, &direct)
	ideal := float64(o.inflight) / o.latency.Seconds()
	fmt.Fprintf(b.out, "Scenarios (upstream latency %s)\n\n| scenario | measured | target |\n|---|---|---|\n", o.latency)
	fmt.Fprintf(b.out, "| (a) %d GetService in flight, %d services in turn | %.0f req/s = %.2f× ideal (%.0f); p50 %s; %d errors; %.2f upstream reads per call (2 without coalescing); upstream TCP connections opened: %d during the run, %d in all. The same two reads sent directly by the same client at the same load: %.0f req/s = %.2f× ideal, so arcgate = %.2f× direct | ≥ 0.95× ideal, bounded connections |\n",
		o.inflight, o.services, a.rps(), a.rps()/ideal, ideal, fmtDur(a.pct(0.5)), a.errors, perCall(after["requests"]-before["requests"], a.calls), after["connections"]-before["connections"], after["connections"],
		direct.rps(), direct.rps()/ideal, a.rps()/max(direct.rps(), 1))

	// (b) identical concurrent reads, once the calls cut off at the end of
	// (a) have drained from the upstream.
	time.Sleep(4 * o.latency)
	before, err = simStats(ctx, b.hc, slowURL)
	if err != nil {
		return err
	}
	var wg sync.WaitGroup
	var failed atomic.Int64
	const identical = 100
	for i := 0; i < identical; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := svc.GetService(ctx, &adminv1.GetServiceRequest{Name: "folders/Bulk/services/Bulk_0001.MapServer"}); err != nil {
				failed.Add(1)
			}
		}()
	}
	wg.Wait()
	after, err = simStats(ctx, b.hc, slowURL)
	if err != nil {
		return err
	}
	// GetService makes two upstream reads (configuration and status).
	fmt.Fprintf(b.out, "| (b) %d identical GetService at once | %d upstream requests (GetService reads 2 resources, so %d without coalescing); %d failed | ≤ 2 |\n",
		identical, after["requests"]-before["requests"], 2*identical, failed.Load())

	// (c) peak RSS with many calls in flight: arcgate as configured for
	// (a), and a fresh arcgate with its default settings (whose upstream
	// concurrency cap queues what (a)'s raised cap lets through).
	var c result
	reads, err := b.upstreamReads(ctx, slowURL, func() { load(ctx, o.scenarioDur, o.rssInflight, inTurn, &c) })
	if err != nil {
		return err
	}
	rss, err := gate.peakRSS()
	if err != nil {
		return err
	}
	fmt.Fprintf(b.out, "| (c) %d GetService in flight, %d services in turn, arcgate as in (a) (--upstream-max-concurrent %d) | arcgate peak RSS %.1f MiB (%.0f req/s, %d errors, %.2f upstream reads per call) | ≤ 64 MiB |\n", o.rssInflight, o.services, b.co.upstreamConns, float64(rss)/(1<<20), c.rps(), c.errors, perCall(reads, c.calls))
	defGate, err := b.startGate(slowURL, upstream.DefaultMaxConcurrent)
	if err != nil {
		return err
	}
	defConn, err := b.dial(defGate.info.GRPCAddr)
	if err != nil {
		return err
	}
	var cd result
	reads, err = b.upstreamReads(ctx, slowURL, func() {
		load(ctx, o.scenarioDur, o.rssInflight, inTurnOn(adminv1.NewServicesServiceClient(defConn)), &cd)
	})
	if err != nil {
		return err
	}
	rss, err = defGate.peakRSS()
	if err != nil {
		return err
	}
	fmt.Fprintf(b.out, "| (c) %d GetService in flight, %d services in turn, arcgate's defaults (--upstream-max-concurrent %d) | arcgate peak RSS %.1f MiB (%.0f req/s, %d errors, %.2f upstream reads per call) | ≤ 64 MiB |\n\n", o.rssInflight, o.services, upstream.DefaultMaxConcurrent, float64(rss)/(1<<20), cd.rps(), cd.errors, perCall(reads, cd.calls))
	return nil
}

// upstreamReads runs fn and returns how many requests the simulator at
// simURL received meanwhile.
func (b *bench) upstreamReads(ctx context.Context, simURL string, fn func()) (int64, error) {
	before, err := simStats(ctx, b.hc, simURL)
	if err != nil {
		return 0, err
	}
	fn()
	after, err := simStats(ctx, b.hc, simURL)
	if err != nil {
		return 0, err
	}
	return after["requests"] - before["requests"], nil
}

// perCall is n per call, 0 without calls.
func perCall(n, calls int64) float64 {
	if calls == 0 {
		return 0
	}
	return float64(n) / float64(calls)
}

func fmtDur(d time.Duration) string {
	switch {
	case d < 0:
		return "-" + fmtDur(-d)
	case d < time.Millisecond:
		return fmt.Sprintf("%d µs", d.Microseconds())
	default:
		return fmt.Sprintf("%.2f ms", float64(d.Microseconds())/1000)
	}
}

// machine describes where the run happened.
func machine() string {
	model := "unknown CPU"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(l, "model name"); ok {
				model = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
				break
			}
		}
	}
	return fmt.Sprintf("%s, %d CPUs (GOMAXPROCS %d), %s %s/%s", model, runtime.NumCPU(), runtime.GOMAXPROCS(0), runtime.Version(), runtime.GOOS, runtime.GOARCH)
}
