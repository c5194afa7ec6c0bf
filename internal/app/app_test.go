package app

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	adminv1 "github.com/arcgate/arcgate/gen/go/arcgate/admin/v1"
	"github.com/arcgate/arcgate/server"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestConfigRedaction(t *testing.T) {
	const password, token = "app-password-do-not-leak", "app-token-do-not-leak"
	c := Config{Username: "siteadmin", Password: password, FixedToken: true, Token: token}
	var logs bytes.Buffer
	slog.New(slog.NewJSONHandler(&logs, nil)).Info("start", "config", c)
	slog.New(slog.NewTextHandler(&logs, nil)).Info("start", "config", c)
	b, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	for how, s := range map[string]string{
		"%v": fmt.Sprintf("%v", c), "%+v": fmt.Sprintf("%+v", c), "%#v": fmt.Sprintf("%#v", c),
		"%s": fmt.Sprintf("%s", c), "%q": fmt.Sprintf("%q", c), "*Config %+v": fmt.Sprintf("%+v", &c),
		"slog": logs.String(), "json": string(b),
	} {
		if strings.Contains(s, password) || strings.Contains(s, token) {
			t.Errorf("%s leaks a secret: %s", how, s)
		}
		if !strings.Contains(s, "siteadmin") {
			t.Errorf("%s lost the non-secret fields: %s", how, s)
		}
	}
}

// TestShutdownCutsOpenStreams opens a REST WatchJob stream that never ends
// on its own (the simulated job does not progress) and checks that Shutdown
// with a short deadline returns nil, not a failure (the watch ends when the
// shutdown begins: TestShutdownEndsWatchesAndFinishesCalls).
func TestShutdownCutsOpenStreams(t *testing.T) {
	a, err := Start(Config{GRPCAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	id, err := a.Simulator.SubmitJob("System/PublishingTools.GPServer", "esriJobSucceeded")
	if err != nil {
		t.Fatal(err)
	}
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr}).Get("http://" + a.HTTPAddr + "/v1/folders/System/services/PublishingTools.GPServer/jobs/" + id + ":watch")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	first := make([]byte, 1)
	if _, err := resp.Body.Read(first); err != nil { // the stream is open: the first message arrived
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if err := a.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown with an open stream: %v", err)
	}
	_, _ = io.Copy(io.Discard, resp.Body) // the stream was cut
}

// With PprofAddr, the runtime profiles are served on their own listener,
// not on the REST one.
func TestPprofListener(t *testing.T) {
	a, err := Start(Config{GRPCAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0", PprofAddr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	tr := &http.Transport{}
	t.Cleanup(func() {
		tr.CloseIdleConnections()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = a.Shutdown(ctx)
	})
	hc := &http.Client{Transport: tr}
	for _, tc := range []struct {
		url  string
		want int
	}{
		{"http://" + a.PprofAddr + "/debug/pprof/heap?debug=1", http.StatusOK},
		{"http://" + a.PprofAddr + "/debug/pprof/goroutine?debug=1", http.StatusOK},
		{"http://" + a.HTTPAddr + "/debug/pprof/heap", http.StatusNotFound},
	} {
		resp, err := hc.Get(tc.url)
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		if resp.StatusCode != tc.want {
			t.Errorf("GET %s: %d, want %d", tc.url, resp.StatusCode, tc.want)
		}
	}
}

func TestSetProcessDefaultsKeepsHeapProfilingForPprofOnly(t *testing.T) {
	saved := runtime.MemProfileRate
	t.Cleanup(func() { runtime.MemProfileRate = saved })
	runtime.MemProfileRate = 512 << 10
	SetProcessDefaults("127.0.0.1:6060", nil)
	if runtime.MemProfileRate != 512<<10 {
		t.Fatalf("with pprof served: MemProfileRate = %d, want it kept", runtime.MemProfileRate)
	}
	SetProcessDefaults("", nil)
	if runtime.MemProfileRate != 0 {
		t.Fatalf("without pprof: MemProfileRate = %d, want 0 (no reader for the samples)", runtime.MemProfileRate)
	}
}

// gateTransport holds the upstream requests whose path contains one of
// its names until release is closed, announcing each on entered: it keeps
// unary calls in flight for as long as a test needs.
type gateTransport struct {
	next    http.RoundTripper
	names   []string
	entered chan string
	release chan struct{}
}

func (g *gateTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	for _, n := range g.names {
		if strings.Contains(req.URL.Path, n) {
			g.entered <- n
			select {
			case <-g.release:
			case <-req.Context().Done():
				return nil, req.Context().Err()
			}
			break
		}
	}
	return g.next.RoundTrip(req)
}

// TestShutdownEndsWatchesAndFinishesCalls: Shutdown ends the open WatchJob
// streams at once, over gRPC with UNAVAILABLE (SHUTTING_DOWN and a
// RetryInfo) and over REST with a final error line of code 14, lets the
// unary calls in flight finish, and then returns without waiting for its
// drain deadline.
func TestShutdownEndsWatchesAndFinishesCalls(t *testing.T) {
	upTr := &http.Transport{}
	defer upTr.CloseIdleConnections()
	gate := &gateTransport{next: upTr, names: []string{"SampleWorldCities.MapServer", "Roads.MapServer"},
		entered: make(chan string, 16), release: make(chan struct{})}
	a, err := Start(Config{GRPCAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0", HTTPClient: &http.Client{Transport: gate}})
	if err != nil {
		t.Fatal(err)
	}
	id, err := a.Simulator.SubmitJob("System/PublishingTools.GPServer", "esriJobSucceeded") // stays NEW
	if err != nil {
		t.Fatal(err)
	}
	job := "folders/System/services/PublishingTools.GPServer/jobs/" + id
	// The test's bound: Shutdown must return well before its drain
	// deadline, which is only its failure path.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	conn, err := grpc.NewClient(a.GRPCAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	stream, err := adminv1.NewJobsServiceClient(conn).WatchJob(ctx, &adminv1.WatchJobRequest{Name: job})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := stream.Recv(); err != nil { // the gRPC watch is open
		t.Fatal(err)
	}
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr}
	resp, err := hc.Get("http://" + a.HTTPAddr + "/v1/" + job + ":watch")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	lines := bufio.NewScanner(resp.Body)
	if !lines.Scan() { // the REST watch is open
		t.Fatalf("REST watch: %v", lines.Err())
	}

	// A unary call over each API, held upstream while Shutdown begins.
	grpcCall := make(chan error, 1)
	go func() {
		_, err := adminv1.NewServicesServiceClient(conn).GetService(ctx, &adminv1.GetServiceRequest{Name: "services/SampleWorldCities.MapServer"})
		grpcCall <- err
	}()
	restCall := make(chan error, 1)
	go func() {
		resp, err := hc.Get("http://" + a.HTTPAddr + "/v1/folders/Maps/services/Roads.MapServer")
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				err = fmt.Errorf("HTTP %d: %s", resp.StatusCode, body)
			}
		}
		restCall <- err
	}()
	for seen := map[string]bool{}; len(seen) < 2; {
		select {
		case n := <-gate.entered:
			seen[n] = true
		case <-ctx.Done():
			t.Fatal("the unary calls never reached the upstream")
		}
	}

	done := make(chan error, 1)
	go func() { done <- a.Shutdown(ctx) }()

	_, err = stream.Recv()
	st := status.Convert(err)
	var reason string
	var retry *errdetails.RetryInfo
	for _, d := range st.Details() {
		switch d := d.(type) {
		case *errdetails.ErrorInfo:
			reason = d.GetReason()
		case *errdetails.RetryInfo:
			retry = d
		}
	}
	if st.Code() != codes.Unavailable || reason != server.ReasonShuttingDown || retry.GetRetryDelay().AsDuration() <= 0 {
		t.Errorf("gRPC watch ended with %v (reason %q, retry %v), want UNAVAILABLE, %s and a RetryInfo", err, reason, retry, server.ReasonShuttingDown)
	}

	var last string
	for lines.Scan() {
		last = lines.Text()
	}
	var end struct {
		Error *struct {
			Code    int `json:"code"`
			Details []struct {
				Type   string `json:"@type"`
				Reason string `json:"reason"`
			} `json:"details"`
		} `json:"error"`
	}
	if err := json.Unmarshal([]byte(last), &end); err != nil || end.Error == nil || end.Error.Code != int(codes.Unavailable) ||
		len(end.Error.Details) == 0 || end.Error.Details[0].Reason != server.ReasonShuttingDown {
		t.Errorf("REST watch: last line %q (read error %v), want an error of code 14 and reason %s", last, lines.Err(), server.ReasonShuttingDown)
	}

	select {
	case err := <-done:
		t.Fatalf("Shutdown returned (%v) while unary calls were in flight", err)
	default:
	}
	close(gate.release)
	if err := <-grpcCall; err != nil {
		t.Errorf("gRPC unary call in flight at shutdown: %v", err)
	}
	if err := <-restCall; err != nil {
		t.Errorf("REST unary call in flight at shutdown: %v", err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Shutdown: %v", err)
		}
	case <-ctx.Done():
		t.Fatal("Shutdown waited for its drain deadline")
	}
}
