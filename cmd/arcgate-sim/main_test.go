package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// syncBuffer is a bytes.Buffer safe for concurrent writes and reads.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

var addrRE = regexp.MustCompile(`msg="arcgate-sim listening" addr=(\S+)`)

// start runs run in the background and returns the bound address, a cancel
// function and a channel with run's result.
func start(t *testing.T, args []string, env map[string]string) (string, *syncBuffer, context.CancelFunc, <-chan error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	out := &syncBuffer{}
	done := make(chan error, 1)
	go func() { done <- run(ctx, args, func(k string) string { return env[k] }, out) }()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if m := addrRE.FindStringSubmatch(out.String()); m != nil {
			return m[1], out, cancel, done
		}
		select {
		case err := <-done:
			cancel()
			t.Fatalf("run returned early: %v\n%s", err, out.String())
		case <-time.After(10 * time.Millisecond):
		}
	}
	cancel()
	<-done
	t.Fatalf("no listening line in output:\n%s", out.String())
	return "", nil, nil, nil
}

// generateToken asks the running simulator for a token.
func generateToken(t *testing.T, client *http.Client, base, user, pw string) map[string]any {
	t.Helper()
	res, err := client.PostForm(base+"/arcgis/admin/generateToken", url.Values{
		"username": {user}, "password": {pw}, "client": {"requestip"}, "f": {"json"},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var m map[string]any
	if err := json.NewDecoder(res.Body).Decode(&m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestRunServesAndStops(t *testing.T) {
	pwFile := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(pwFile, []byte("file-Secret-1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	addr, out, cancel, done := start(t, []string{
		"--addr", "127.0.0.1:0", "--password-file", pwFile, "--extra-services", "3", "--root-folder-name", "/",
	}, map[string]string{passwordEnv: "env-ignored"})
	defer cancel()

	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	base := "http://" + addr
	m := generateToken(t, client, base, "admin", "file-Secret-1")
	tok, _ := m["token"].(string)
	if tok == "" {
		t.Fatalf("generateToken: %v", m)
	}
	res, err := client.Get(base + "/arcgis/admin/services/Bulk?f=json&token=" + url.QueryEscape(tok))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	_ = res.Body.Close()
	if res.StatusCode != 200 || res.Header.Get("Content-Type") != "text/plain;charset=UTF-8" ||
		!strings.Contains(string(body), `"serviceName":"Bulk_0003"`) {
		t.Fatalf("GET services/Bulk: %d %s", res.StatusCode, body)
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("run did not stop")
	}
	log := out.String()
	if strings.Contains(log, "file-Secret-1") || strings.Contains(log, tok) {
		t.Fatalf("log leaks a secret:\n%s", log)
	}
	if !strings.Contains(log, "username=admin") || !strings.Contains(log, "password_source=\"file "+pwFile+"\"") {
		t.Fatalf("log lacks username or password source:\n%s", log)
	}
}

func TestRunPasswordFromEnv(t *testing.T) {
	addr, out, cancel, done := start(t, []string{"--addr", "127.0.0.1:0", "--username", "boss", "--verbose"},
		map[string]string{passwordEnv: "env-Secret-2"})
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	if m := generateToken(t, client, "http://"+addr, "boss", "env-Secret-2"); m["token"] == nil {
		t.Fatalf("generateToken: %v", m)
	}
	if m := generateToken(t, client, "http://"+addr, "admin", "admin-password"); m["token"] != nil {
		t.Fatalf("default credentials accepted: %v", m)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	log := out.String()
	if strings.Contains(log, "env-Secret-2") || !strings.Contains(log, "environment variable "+passwordEnv) {
		t.Fatalf("log:\n%s", log)
	}
	if !strings.Contains(log, "/arcgis/admin/generateToken") {
		t.Fatalf("--verbose did not log requests:\n%s", log)
	}
}

func TestRunRejectsBadArguments(t *testing.T) {
	for _, args := range [][]string{
		{"--no-such-flag"},
		{"--root-folder-name", "root"},
		{"--extra-services", "-1"},
		{"--token-lifetime", "0s"},
		{"--flavor", "k8s"},
		{"--job-duration", "-1s"},
		{"--password-file", filepath.Join(t.TempDir(), "missing")},
		{"--addr", "127.0.0.1:-5"},
		{"stray"},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			var out bytes.Buffer
			if err := run(context.Background(), args, func(string) string { return "" }, &out); err == nil {
				t.Fatalf("run accepted %v", args)
			}
		})
	}
	var out bytes.Buffer
	if err := run(context.Background(), []string{"-h"}, func(string) string { return "" }, &out); err != nil ||
		!strings.Contains(out.String(), "-extra-services") {
		t.Fatalf("-h: %v %s", err, out.String())
	}
}

// TestRunKubernetesFlavor: --flavor kubernetes runs a service operation
// sent with async=true as a job read at admin/jobs/<id>.
func TestRunKubernetesFlavor(t *testing.T) {
	addr, _, cancel, done := start(t, []string{"--addr", "127.0.0.1:0", "--flavor", "kubernetes"}, nil)
	defer func() { cancel(); <-done }()
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{}}
	defer client.CloseIdleConnections()
	base := "http://" + addr
	tok, _ := generateToken(t, client, base, "admin", "admin-password")["token"].(string)
	post := func(path string, form url.Values) map[string]any {
		form.Set("f", "json")
		form.Set("token", tok)
		res, err := client.PostForm(base+"/arcgis/admin/"+path, form)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var m map[string]any
		if err := json.NewDecoder(res.Body).Decode(&m); err != nil {
			t.Fatal(err)
		}
		return m
	}
	m := post("services/SampleWorldCities.MapServer/stop", url.Values{"async": {"true"}})
	id, _ := m["jobid"].(string)
	if id == "" {
		t.Fatalf("stop with async=true: %v", m)
	}
	res, err := client.Get(base + "/arcgis/admin/jobs/" + id + "?f=json&token=" + url.QueryEscape(tok))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var j map[string]any
	if err := json.NewDecoder(res.Body).Decode(&j); err != nil || j["status"] != "COMPLETED" {
		t.Fatalf("job: %v, %v", j, err)
	}
}
