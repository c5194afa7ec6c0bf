// Command arcgate-bench measures what arcgate costs per call, side by side
// with what a client does without it and with two reverse proxies, in one
// run:
//
//	go run ./cmd/arcgate-bench
//
// It starts the simulator, a Go httputil.ReverseProxy in front of it,
// nginx when it is installed (/usr/sbin/nginx, Debian's nginx-light) and
// arcgate, each as its own process on loopback. The headline reads
// distinct resources, in turn: GetService and GetItemInfo of -services
// services, and ListServices of -folders folders of -folder-services
// services each, so that neither coalescing nor a memo of the last answer
// read from a path serves a call. Each is measured, interleaved in rounds
// so that machine noise hits every row alike, as
//
//  1. direct REST calls to the simulator (the upstream calls arcgate makes),
//  2. the same calls through the Go ReverseProxy (the baseline of the ratios),
//  3. the same calls through nginx (skipped, with a note, when not installed),
//  4. arcgate over gRPC (Go client),
//  5. arcgate over REST.
//
// Each row reports calls/s, p50, p99 and, for the process that serves it
// (the simulator in row 1, the proxy or arcgate otherwise), its CPU time
// per call, read from /proc/<pid>/stat around every measured slice (the
// process's own time, whatever else the machine runs), and its heap
// allocations per call (Go processes: runtime.MemStats.Mallocs, read from
// the child over loopback); the simulator's CPU per call is reported
// beside it. The same rows then read one service 16 calls at a time, a
// separate section that shows what coalescing adds (most calls share an
// upstream request), not what a call costs.
//
// Then it runs three scenarios: (a) 20 ms of upstream latency at 500 calls
// in flight, reporting throughput against the ideal (in flight ÷ latency)
// and the upstream TCP connections opened, next to the same reads sent
// directly at the same load (what the machine allows); (b) 100 identical
// concurrent reads, reporting how many reached the upstream; (c) arcgate's
// peak RSS with 1000 calls in flight, as configured for (a) and with its
// default settings.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	adminv1 "github.com/arcgate/arcgate/gen/go/arcgate/admin/v1"
	"github.com/arcgate/arcgate/internal/app"
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
	duration       time.Duration
	rounds         int
	concurrency    int
	services       int
	folders        int
	folderServices int
	latency        time.Duration
	inflight       int
	rssInflight    int
	scenarioDur    time.Duration
	profileDir     string
	profileDur     time.Duration
	clientProfile  string
}

func run(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("arcgate-bench", flag.ContinueOnError)
	var o options
	var childRole string
	var co childOptions
	fs.DurationVar(&o.duration, "duration", 4*time.Second, "measuring time per row and workload, split over -rounds")
	fs.IntVar(&o.rounds, "rounds", 4, "interleaved rounds")
	fs.IntVar(&o.concurrency, "concurrency", 16, "calls in flight for the side-by-side rows")
	fs.IntVar(&o.services, "services", 200, "services in the simulator's Bulk folder, read in turn by GetService and GetItemInfo")
	fs.IntVar(&o.folders, "folders", 100, "folders listed in turn by ListServices (more than arcgate remembers listings of)")
	fs.IntVar(&o.folderServices, "folder-services", 20, "services in each listed folder")
	fs.DurationVar(&o.latency, "latency", 20*time.Millisecond, "upstream latency of scenario (a) and (c)")
	fs.IntVar(&o.inflight, "inflight", 500, "calls in flight in scenario (a)")
	fs.IntVar(&o.rssInflight, "rss-inflight", 1000, "calls in flight in scenario (c)")
	fs.DurationVar(&o.scenarioDur, "scenario-duration", 3*time.Second, "measuring time of scenarios (a) and (c)")
	fs.StringVar(&o.profileDir, "cpuprofile-dir", "", "after the tables, write a CPU profile of arcgate for each arcgate row of the headline into this directory (implies -pprof)")
	fs.DurationVar(&o.profileDur, "cpuprofile-duration", 5*time.Second, "length of each profile of -cpuprofile-dir")
	fs.StringVar(&o.clientProfile, "client-cpuprofile", "", "write a CPU profile of the load generator (this process) over the whole run to this file: what the client, which shares the machine, spends per call")
	fs.StringVar(&childRole, "child", "", "internal: run as a child process (sim, proxy, arcgate)")
	fs.StringVar(&co.upstream, "child-upstream", "", "internal")
	fs.DurationVar(&co.latency, "child-latency", 0, "internal")
	fs.IntVar(&co.upstreamConns, "upstream-conns", 1024, "arcgate's --upstream-max-concurrent: upstream requests and connections in flight")
	fs.BoolVar(&co.pprof, "pprof", false, "serve pprof from each arcgate child on loopback and print its address (to profile a run: go tool pprof http://ADDR/debug/pprof/profile)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if childRole != "" {
		co.services, co.folders, co.folderServices = o.services, o.folders, o.folderServices
		return runChild(childRole, co)
	}
	if o.rounds < 1 || o.concurrency < 1 || o.duration <= 0 {
		return fmt.Errorf("-rounds, -concurrency and -duration must be positive")
	}
	if o.services < 1 || o.folders < 1 || o.folderServices < 1 {
		return fmt.Errorf("-services, -folders and -folder-services must be positive")
	}
	if o.profileDir != "" {
		co.pprof = true
	}
	if o.clientProfile != "" {
		f, err := os.Create(o.clientProfile)
		if err != nil {
			return err
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			_ = f.Close()
			return err
		}
		defer func() { pprof.StopCPUProfile(); _ = f.Close() }()
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
	nginx    *nginxProc
	conns    []*grpc.ClientConn
	hc       *http.Client
}

func (b *bench) close() {
	for _, c := range b.conns {
		_ = c.Close()
	}
	if b.nginx != nil {
		b.nginx.stop()
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

// server is a process that serves a row: its CPU time is read from /proc,
// and its allocations from allocsURL (Go children; "" for nginx).
type server struct {
	pid       int
	allocsURL string
}

// serverOf is the server of a child.
func serverOf(c *child) *server {
	return &server{pid: c.info.Pid, allocsURL: "http://" + c.info.StatsAddr + "/_bench/allocs"}
}

// sample is a server's counters at one moment.
type sample struct {
	cpu    time.Duration
	allocs uint64
}

func (b *bench) sample(ctx context.Context, s *server) (sample, error) {
	cpu, err := procCPU(s.pid)
	if err != nil {
		return sample{}, err
	}
	smp := sample{cpu: cpu}
	if s.allocsURL != "" {
		smp.allocs, err = readAllocs(ctx, b.hc, s.allocsURL)
	}
	return smp, err
}

// row is one measured way of making a call.
type row struct {
	name    string
	skipped string // why the row is not measured, or ""
	call    func(ctx context.Context, i int) error
	server  *server
	res     result
}

// result accumulates one row's measurements over the rounds.
type result struct {
	calls, errors int64
	elapsed       time.Duration
	latencies     []time.Duration
	firstErr      error
	// seq is the number of calls started so far, so that each slice goes
	// on reading where the last one stopped.
	seq int64
	// The server's and the simulator's CPU time and the server's
	// allocations during the measured slices.
	cpu, simCPU, clientCPU time.Duration
	allocs                 uint64
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

// load runs call from n workers for d and adds to res. Call i is the
// res.seq+i-th of the row.
func load(ctx context.Context, d time.Duration, n int, call func(ctx context.Context, i int) error, res *result) {
	deadline := time.Now().Add(d)
	ctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	var (
		wg     sync.WaitGroup
		mu     sync.Mutex
		calls  atomic.Int64
		errs   atomic.Int64
		seq    atomic.Int64
		allLat []time.Duration
	)
	base := res.seq
	start := time.Now()
	for w := 0; w < n; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			lat := make([]time.Duration, 0, 4096)
			for ctx.Err() == nil {
				i := int(base + seq.Add(1))
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
	res.seq += seq.Load()
	res.calls += calls.Load()
	res.errors += errs.Load()
	res.latencies = append(res.latencies, allLat...)
}

// measure runs one slice of r and adds the CPU time its server and the
// simulator used, and its server's allocations, to r.res. Calls cut off at
// the end of the slice are not counted but their cost is: a small bias
// against every row alike.
func (b *bench) measure(ctx context.Context, r *row, sim *server, d time.Duration, n int) error {
	s0, err := b.sample(ctx, r.server)
	if err != nil {
		return err
	}
	sim0, err := procCPU(sim.pid)
	if err != nil {
		return err
	}
	c0, err := procCPU(os.Getpid())
	if err != nil {
		return err
	}
	load(ctx, d, n, r.call, &r.res)
	c1, err := procCPU(os.Getpid())
	if err != nil {
		return err
	}
	s1, err := b.sample(ctx, r.server)
	if err != nil {
		return err
	}
	sim1, err := procCPU(sim.pid)
	if err != nil {
		return err
	}
	r.res.cpu += s1.cpu - s0.cpu
	r.res.simCPU += sim1 - sim0
	r.res.clientCPU += c1 - c0
	r.res.allocs += s1.allocs - s0.allocs
	return nil
}

// tableRow is what r measured, for writeTable.
func (r *row) tableRow(sim *server) tableRow {
	if r.skipped != "" {
		return tableRow{name: r.name, skipped: r.skipped}
	}
	calls := float64(max(r.res.calls, 1))
	t := tableRow{name: r.name, rps: r.res.rps(), p50: r.res.pct(0.50), p99: r.res.pct(0.99), errors: r.res.errors,
		serverCPU: float64(r.res.cpu.Microseconds()) / calls, simCPU: float64(r.res.simCPU.Microseconds()) / calls, allocs: -1,
		clientCPU: float64(r.res.clientCPU.Microseconds()) / calls}
	if r.server.allocsURL != "" {
		t.allocs = float64(r.res.allocs) / calls
	}
	if r.server.pid == sim.pid {
		t.simCPU = -1
	}
	return t
}

// workload is one kind of call, made every way a row can.
type workload struct {
	name string
	rows []*row
}

// Indexes of the rows of every workload.
const (
	rowDirect = iota
	rowGoProxy
	rowNginx
	rowGRPC
	rowREST
)

func (b *bench) run(ctx context.Context) error {
	o := b.o
	memLimit := fmt.Sprintf("--memory-limit %dMiB", app.DefaultMemoryLimit>>20)
	if e := os.Getenv("GOMEMLIMIT"); e != "" {
		memLimit = "GOMEMLIMIT=" + e
	}
	gcPercent := fmt.Sprintf("--gc-percent %d", app.DefaultGCPercent)
	if e := os.Getenv("GOGC"); e != "" {
		gcPercent = "GOGC=" + e
	}
	fmt.Fprintf(b.out, "arcgate-bench: %s; arcgate --upstream-max-concurrent %d, %s, %s\n\n", machine(), b.co.upstreamConns, memLimit, gcPercent)
	simChild, err := b.start("-child", "sim", "-services", fmt.Sprint(o.services), "-folders", fmt.Sprint(o.folders), "-folder-services", fmt.Sprint(o.folderServices))
	if err != nil {
		return err
	}
	sim := serverOf(simChild)
	simURL := "http://" + simChild.info.HTTPAddr
	proxy, err := b.start("-child", "proxy", "-child-upstream", simURL)
	if err != nil {
		return err
	}
	b.nginx, err = startNginx(simChild.info.HTTPAddr)
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
	items := adminv1.NewItemInfoServiceClient(conn)
	gateURL := "http://" + gate.info.HTTPAddr
	gateServer := serverOf(gate)

	// rows makes the five rows of a workload: direct(base) calls the
	// upstream at base (the simulator or a proxy in front of it).
	rows := func(direct func(base string) func(ctx context.Context, i int) error, grpcCall, restCall func(ctx context.Context, i int) error) []*row {
		rs := []*row{
			{name: "1. direct REST to upstream", call: direct(simURL), server: sim},
			{name: "2. Go httputil.ReverseProxy", call: direct("http://" + proxy.info.HTTPAddr), server: serverOf(proxy)},
			{name: "3. nginx", skipped: nginxSkipped},
			{name: "4. arcgate gRPC", call: grpcCall, server: gateServer},
			{name: "5. arcgate REST", call: restCall, server: gateServer},
		}
		if b.nginx != nil {
			rs[rowNginx] = &row{name: "3. nginx", call: direct("http://" + b.nginx.addr), server: &server{pid: b.nginx.pid()}}
		}
		return rs
	}
	bulk := func(i int) string { return fmt.Sprintf("Bulk_%04d.MapServer", 1+i%o.services) }
	listed := func(i int) string { return fmt.Sprintf("List%04d", 1+i%o.folders) }
	getCall := func(service func(i int) string) (func(string) func(context.Context, int) error, func(context.Context, int) error, func(context.Context, int) error) {
		return func(base string) func(ctx context.Context, i int) error {
				return func(ctx context.Context, i int) error { return b.directGet(ctx, base, service(i), token) }
			}, func(ctx context.Context, i int) error {
				_, err := svc.GetService(ctx, &adminv1.GetServiceRequest{Name: serviceName(service(i))})
				return err
			}, func(ctx context.Context, i int) error {
				return httpGet(ctx, b.hc, gateURL+"/v1/"+serviceName(service(i)), `"realTimeState"`)
			}
	}
	const one = "SampleWorldCities.MapServer"
	headline := []*workload{
		{fmt.Sprintf("GetService, %d services in turn", o.services), rows(getCall(func(i int) string { return "Bulk/" + bulk(i) }))},
		{fmt.Sprintf("GetItemInfo, %d services in turn", o.services), rows(
			func(base string) func(ctx context.Context, i int) error {
				return func(ctx context.Context, i int) error {
					return httpGet(ctx, b.hc, base+"/arcgis/admin/services/Bulk/"+bulk(i)+"/iteminfo?f=json&token="+token, `"title"`)
				}
			}, func(ctx context.Context, i int) error {
				_, err := items.GetItemInfo(ctx, &adminv1.GetItemInfoRequest{Name: "folders/Bulk/services/" + bulk(i) + "/itemInfo"})
				return err
			}, func(ctx context.Context, i int) error {
				return httpGet(ctx, b.hc, gateURL+"/v1/folders/Bulk/services/"+bulk(i)+"/itemInfo", `"title"`)
			})},
		{fmt.Sprintf("ListServices, %d folders of %d services in turn", o.folders, o.folderServices), rows(
			func(base string) func(ctx context.Context, i int) error {
				return func(ctx context.Context, i int) error {
					return httpGet(ctx, b.hc, base+"/arcgis/admin/services/"+listed(i)+"?f=json&token="+token, `"services"`)
				}
			}, func(ctx context.Context, i int) error {
				_, err := svc.ListServices(ctx, &adminv1.ListServicesRequest{Parent: "folders/" + listed(i), PageSize: 1000})
				return err
			}, func(ctx context.Context, i int) error {
				return httpGet(ctx, b.hc, gateURL+"/v1/folders/"+listed(i)+"/services?pageSize=1000", `"services"`)
			})},
	}
	oneService := &workload{"GetService of one service (" + one + ")", rows(getCall(func(int) string { return one }))}
	all := append(append([]*workload{}, headline...), oneService)

	// Warm up every row (connections, token, caches).
	for _, w := range all {
		for _, r := range w.rows {
			if r.skipped != "" {
				continue
			}
			var warm result
			load(ctx, 300*time.Millisecond, o.concurrency, r.call, &warm)
			if warm.calls == 0 || warm.errors == warm.calls {
				return fmt.Errorf("%s / %s does not work: %v", w.name, r.name, warm.firstErr)
			}
		}
	}
	slice := o.duration / time.Duration(o.rounds)
	for round := 0; round < o.rounds; round++ {
		for _, w := range all {
			for _, r := range w.rows {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				if r.skipped == "" {
					if err := b.measure(ctx, r, sim, slice, o.concurrency); err != nil {
						return err
					}
				}
			}
		}
	}
	fmt.Fprintf(b.out, "Per-call cost: distinct resources read in turn, %d calls in flight, %d interleaved rounds of %s per row. "+
		"Server CPU is the CPU time (user + system, from /proc/<pid>/stat) of the process that serves the row: the simulator in row 1, "+
		"the proxy or arcgate otherwise; the simulator's own is in its column. Allocations: the server's heap allocations (Go processes).\n\n",
		o.concurrency, o.rounds, slice)
	if b.nginx == nil {
		fmt.Fprintf(b.out, "nginx: %s\n\n", nginxSkipped)
	}
	for _, w := range headline {
		b.writeWorkload(w, sim)
	}
	fmt.Fprintf(b.out, "What coalescing adds (not a per-call cost): one service read by %d calls in flight, so that most calls share an upstream request.\n\n", o.concurrency)
	b.writeWorkload(oneService, sim)

	// Per-call latency: the same rows one call at a time, where p50 is
	// what a call takes rather than how long it queued.
	fmt.Fprintf(b.out, "Per-call latency, 1 call in flight (%s per row)\n\n| workload | direct p50 | Go proxy p50 | nginx p50 | arcgate gRPC p50 | arcgate REST p50 |\n|---|---:|---:|---:|---:|---:|\n", slice)
	for _, w := range headline {
		fmt.Fprintf(b.out, "| %s |", w.name)
		for _, r := range w.rows {
			if r.skipped != "" {
				fmt.Fprint(b.out, " – |")
				continue
			}
			var res result
			load(ctx, slice, 1, r.call, &res)
			fmt.Fprintf(b.out, " %s |", fmtDur(res.pct(0.5)))
		}
		fmt.Fprintln(b.out)
	}
	fmt.Fprintln(b.out)
	if o.profileDir != "" {
		if err := b.profiles(ctx, headline, gate.info.PprofAddr); err != nil {
			return err
		}
	}
	return b.scenarios(ctx)
}

func (b *bench) writeWorkload(w *workload, sim *server) {
	fmt.Fprintf(b.out, "%s\n\n", w.name)
	trs := make([]tableRow, len(w.rows))
	for i, r := range w.rows {
		trs[i] = r.tableRow(sim)
	}
	writeTable(b.out, trs, rowGoProxy)
	fmt.Fprintln(b.out)
}

// serviceName is the resource name of a service given as
// [<folder>/]<name>.<type>.
func serviceName(service string) string {
	if folder, name, ok := strings.Cut(service, "/"); ok {
		return "folders/" + folder + "/services/" + name
	}
	return "services/" + service
}

// profiles writes a CPU profile of arcgate (its pprof at addr) while it
// serves each arcgate row of the headline, alone, into -cpuprofile-dir.
func (b *bench) profiles(ctx context.Context, headline []*workload, addr string) error {
	if err := os.MkdirAll(b.o.profileDir, 0o755); err != nil {
		return err
	}
	for _, w := range headline {
		for _, r := range []*row{w.rows[rowGRPC], w.rows[rowREST]} {
			name := strings.NewReplacer(" ", "-", ",", "", ".", "").Replace(strings.ToLower(strings.Fields(w.name)[0] + "-" + r.name))
			path := filepath.Join(b.o.profileDir, name+".pprof")
			var res result
			done := make(chan struct{})
			go func() { defer close(done); load(ctx, b.o.profileDur+time.Second, b.o.concurrency, r.call, &res) }()
			u := fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", addr, int(b.o.profileDur.Seconds()))
			err := download(ctx, u, path)
			<-done
			if err != nil {
				return err
			}
			fmt.Fprintf(b.out, "CPU profile of arcgate, %s / %s (%.0f calls/s): %s\n", w.name, r.name, res.rps(), path)
		}
	}
	fmt.Fprintln(b.out)
	return nil
}

// download writes what GET u answers to path.
func download(ctx context.Context, u, path string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", u, resp.Status)
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	return os.WriteFile(path, body, 0o644)
}

// readAllocs reads a child's count of heap allocations.
func readAllocs(ctx context.Context, hc *http.Client, u string) (uint64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return 0, err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, err
	}
	return strconv.ParseUint(strings.TrimSpace(string(body)), 10, 64)
}

// scenarios runs (a), (b) and (c) against a slow upstream.
func (b *bench) scenarios(ctx context.Context) error {
	o := b.o
	slowSim, err := b.start("-child", "sim", "-services", fmt.Sprint(o.services), "-folders", "0", "-child-latency", o.latency.String())
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
