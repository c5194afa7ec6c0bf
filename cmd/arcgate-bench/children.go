package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync/atomic"
	"time"

	"github.com/arcgate/arcgate/internal/app"
	"github.com/arcgate/arcgate/simulator"
	"github.com/arcgate/arcgate/upstream"
)

// Each measured server runs in a child process (this same binary, started
// with -child), so that the client's load does not share a heap, a garbage
// collector or a scheduler with the server it measures, and so that
// arcgate's peak RSS is its own.

// childInfo is what a child prints, as one JSON line, once it serves.
type childInfo struct {
	HTTPAddr  string `json:"httpAddr"`
	GRPCAddr  string `json:"grpcAddr,omitempty"`
	PprofAddr string `json:"pprofAddr,omitempty"`
	// StatsAddr serves /_bench/allocs: the child's heap allocations so far.
	StatsAddr string `json:"statsAddr"`
	Pid       int    `json:"pid"`
}

// child is a running child process.
type child struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	info  childInfo
}

func startChild(args ...string) (*child, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(exe, args...)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	c := &child{cmd: cmd, stdin: stdin}
	line, err := bufio.NewReader(stdout).ReadBytes('\n')
	if err != nil {
		c.stop()
		return nil, fmt.Errorf("child %v: %w", args, err)
	}
	if err := json.Unmarshal(line, &c.info); err != nil {
		c.stop()
		return nil, fmt.Errorf("child %v said %q: %w", args, line, err)
	}
	go func() { _, _ = io.Copy(io.Discard, stdout) }()
	return c, nil
}

// stop closes the child's stdin (it exits when stdin closes) and waits.
func (c *child) stop() {
	_ = c.stdin.Close()
	done := make(chan struct{})
	go func() { _ = c.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		_ = c.cmd.Process.Kill()
		<-done
	}
}

// peakRSS reads the child's peak resident set size (VmHWM) in bytes.
func (c *child) peakRSS() (int64, error) { return peakRSSOf(c.info.Pid) }

// countingListener counts accepted TCP connections.
type countingListener struct {
	net.Listener
	accepted atomic.Int64
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.accepted.Add(1)
	}
	return c, err
}

// latency delays every request by d before the handler runs, like a remote
// upstream would.
func latency(d time.Duration, h http.Handler) http.Handler {
	if d <= 0 {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
			h.ServeHTTP(w, r)
		case <-r.Context().Done():
		}
	})
}

// runChild serves one role until stdin closes.
func runChild(role string, opts childOptions) error {
	announce := func(info childInfo) error {
		info.Pid = os.Getpid()
		b, _ := json.Marshal(info)
		_, err := fmt.Fprintf(os.Stdout, "%s\n", b)
		return err
	}
	stdinClosed := make(chan struct{})
	go func() { _, _ = io.Copy(io.Discard, os.Stdin); close(stdinClosed) }()

	switch role {
	case "sim":
		sim := simulator.New(simulator.Config{ExtraServices: opts.services})
		if err := seedListFolders(sim, opts.folders, opts.folderServices); err != nil {
			return err
		}
		lis, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return err
		}
		cl := &countingListener{Listener: lis}
		mux := http.NewServeMux()
		mux.HandleFunc("/_bench/stats", func(w http.ResponseWriter, _ *http.Request) {
			_ = json.NewEncoder(w).Encode(map[string]int64{"connections": cl.accepted.Load(), "requests": int64(sim.RequestCount())})
		})
		mux.HandleFunc("/_bench/allocs", serveAllocs)
		mux.Handle("/", latency(opts.latency, sim))
		hs := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
		go func() { _ = hs.Serve(cl) }()
		if err := announce(childInfo{HTTPAddr: lis.Addr().String(), StatsAddr: lis.Addr().String()}); err != nil {
			return err
		}
		<-stdinClosed
		return hs.Close()
	case "proxy":
		target, err := url.Parse(opts.upstream)
		if err != nil {
			return err
		}
		rp := httputil.NewSingleHostReverseProxy(target)
		rp.Transport = &http.Transport{MaxIdleConnsPerHost: 1024, IdleConnTimeout: 90 * time.Second}
		rp.ErrorLog = log.New(io.Discard, "", 0) // calls cut off at the end of a slice are expected
		lis, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return err
		}
		hs := &http.Server{Handler: rp, ReadHeaderTimeout: 10 * time.Second}
		go func() { _ = hs.Serve(lis) }()
		stats, err := serveStats()
		if err != nil {
			return err
		}
		if err := announce(childInfo{HTTPAddr: lis.Addr().String(), StatsAddr: stats.Addr}); err != nil {
			return err
		}
		<-stdinClosed
		_ = stats.Close()
		return hs.Close()
	case "arcgate":
		pprofAddr := ""
		if opts.pprof {
			pprofAddr = "127.0.0.1:0"
		}
		logger := slog.New(slog.DiscardHandler)
		app.SetProcessDefaults(pprofAddr, logger) // as cmd/arcgate's main does
		// and its default --memory-limit and --gc-percent (GOMEMLIMIT and GOGC,
		// when set, win).
		app.SetMemoryLimit(app.DefaultMemoryLimit, os.Getenv, logger)
		app.SetGCPercent(app.DefaultGCPercent, os.Getenv, logger)
		a, err := app.Start(app.Config{
			GRPCAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0",
			UpstreamURL: opts.upstream + "/arcgis", Username: simulator.DefaultUsername, Password: simulator.DefaultPassword,
			// The benchmark's caller is trusted (the measured path is the
			// gateway's, not caller authentication's), and the upstream
			// may have as many requests in flight as the benchmark sends.
			InsecureNoCallerAuth: true,
			Resilience:           upstream.ResilienceConfig{MaxConcurrent: opts.upstreamConns},
			Logger:               logger,
			PprofAddr:            pprofAddr,
			// Its one caller sends 1 000 calls at once in scenario (c).
			MaxConcurrentPerCaller: -1,
		})
		if err != nil {
			return err
		}
		stats, err := serveStats()
		if err != nil {
			return err
		}
		defer stats.Close()
		if err := announce(childInfo{HTTPAddr: a.HTTPAddr, GRPCAddr: a.GRPCAddr, PprofAddr: a.PprofAddr, StatsAddr: stats.Addr}); err != nil {
			return err
		}
		<-stdinClosed
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return a.Shutdown(ctx)
	}
	return errors.New("unknown child role " + role)
}

type childOptions struct {
	upstreamConns  int
	pprof          bool
	services       int
	folders        int
	folderServices int
	latency        time.Duration
	upstream       string
}

// serveAllocs answers the process's heap allocations so far
// (runtime.MemStats.Mallocs: exact, at the cost of a short stop of the
// world per read, once per measured slice).
func serveAllocs(w http.ResponseWriter, _ *http.Request) {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	fmt.Fprintf(w, "%d\n", ms.Mallocs)
}

// serveStats serves /_bench/allocs on a loopback port of its own, apart
// from the measured server's handlers.
func serveStats() (*http.Server, error) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/_bench/allocs", serveAllocs)
	hs := &http.Server{Addr: lis.Addr().String(), Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = hs.Serve(lis) }()
	return hs, nil
}

// seedListFolders creates, through the simulator's own admin API (in
// process), folders List0001... each holding services S_001.MapServer...,
// for the ListServices rows to list in turn.
func seedListFolders(sim http.Handler, folders, services int) error {
	do := func(path string, form url.Values) (string, error) {
		req := httptest.NewRequest(http.MethodPost, "/arcgis/admin/"+path, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		rec := httptest.NewRecorder()
		sim.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK || strings.Contains(rec.Body.String(), `"error"`) {
			return "", fmt.Errorf("seeding the simulator: %s: %d %.200s", path, rec.Code, rec.Body.String())
		}
		return rec.Body.String(), nil
	}
	if folders <= 0 {
		return nil
	}
	body, err := do("generateToken", url.Values{"username": {simulator.DefaultUsername}, "password": {simulator.DefaultPassword}, "client": {"requestip"}, "expiration": {"60"}, "f": {"json"}})
	if err != nil {
		return err
	}
	var tok struct {
		Token string `json:"token"`
	}
	if err := json.Unmarshal([]byte(body), &tok); err != nil || tok.Token == "" {
		return fmt.Errorf("seeding the simulator: no token in %.200s", body)
	}
	for f := 1; f <= folders; f++ {
		folder := fmt.Sprintf("List%04d", f)
		if _, err := do("services/createFolder", url.Values{"folderName": {folder}, "f": {"json"}, "token": {tok.Token}}); err != nil {
			return err
		}
		for i := 1; i <= services; i++ {
			svc := fmt.Sprintf(`{"serviceName":"S_%03d","type":"MapServer"}`, i)
			if _, err := do("services/"+folder+"/createService", url.Values{"service": {svc}, "f": {"json"}, "token": {tok.Token}}); err != nil {
				return err
			}
		}
	}
	return nil
}
