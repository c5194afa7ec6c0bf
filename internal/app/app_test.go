package app

import (
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
// returns nil once its deadline cuts it, instead of failing the shutdown.
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
