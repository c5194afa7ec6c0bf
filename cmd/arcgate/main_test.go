package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/arcgate/arcgate/internal/app"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestParseConfig(t *testing.T) {
	dir := t.TempDir()
	pw := filepath.Join(dir, "pw")
	if err := os.WriteFile(pw, []byte("s3cret-from-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		args    []string
		env     map[string]string
		check   func(*config) bool
		wantErr string
	}{
		{name: "defaults", check: func(c *config) bool {
			return c.GRPCAddr == "127.0.0.1:9090" && c.HTTPAddr == "127.0.0.1:8080" && c.UpstreamURL == "" && c.Timeout == 15*time.Second
		}},
		{name: "env sets defaults", env: map[string]string{"ARCGATE_GRPC_ADDR": "127.0.0.1:1", "ARCGATE_UPSTREAM_URL": "https://h/arcgis", "ARCGATE_USERNAME": "u", "ARCGATE_PASSWORD": "p"},
			check: func(c *config) bool { return c.GRPCAddr == "127.0.0.1:1" && c.UpstreamURL == "https://h/arcgis" && c.password == "p" }},
		{name: "flags beat env", args: []string{"--grpc-addr", "127.0.0.1:2"}, env: map[string]string{"ARCGATE_GRPC_ADDR": "127.0.0.1:1"},
			check: func(c *config) bool { return c.GRPCAddr == "127.0.0.1:2" }},
		{name: "password file", args: []string{"--upstream-url", "https://h/arcgis", "--username", "u", "--password-file", pw},
			check: func(c *config) bool { return c.password == "s3cret-from-file" }},
		{name: "password file from env", env: map[string]string{"ARCGATE_UPSTREAM_URL": "https://h/arcgis", "ARCGATE_USERNAME": "u", "ARCGATE_PASSWORD_FILE": pw},
			check: func(c *config) bool { return c.password == "s3cret-from-file" }},
		{name: "upstream without credentials", args: []string{"--upstream-url", "https://h/arcgis"}, wantErr: "needs --username"},
		{name: "no password flag", args: []string{"--password", "x"}, wantErr: "not defined"},
		{name: "missing password file", args: []string{"--password-file", filepath.Join(dir, "none")}, wantErr: "password-file"},
		{name: "bad log format", args: []string{"--log-format", "xml"}, wantErr: "log-format"},
		{name: "stray argument", args: []string{"extra"}, wantErr: "unexpected"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := parseConfig(tc.args, env(tc.env), io.Discard)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				if err != nil && strings.Contains(err.Error(), "s3cret") {
					t.Fatalf("error leaks the password: %v", err)
				}
				return
			}
			if err != nil || !tc.check(c) {
				t.Fatalf("config %+v, err %v", c, err)
			}
		})
	}
}

func TestHelpListsEveryFlagWithItsEnvironmentVariable(t *testing.T) {
	var out bytes.Buffer
	_, err := parseConfig([]string{"--help"}, env(nil), &out)
	if !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("err = %v", err)
	}
	for _, want := range []string{"-grpc-addr", "ARCGATE_GRPC_ADDR", "-http-addr", "ARCGATE_HTTP_ADDR", "-upstream-url", "ARCGATE_UPSTREAM_URL",
		"-username", "ARCGATE_USERNAME", "-password-file", "ARCGATE_PASSWORD_FILE", "ARCGATE_PASSWORD"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("--help does not mention %s", want)
		}
	}
}

// TestRunDemoMode runs the binary's entry point in demo mode, calls it over
// REST, and shuts it down through the context as a signal would.
func TestRunDemoMode(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var logs bytes.Buffer
	ready := make(chan *app.App, 1)
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"--grpc-addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0"}, env(nil), &logs,
			func(a *app.App) { ready <- a })
	}()
	var a *app.App
	select {
	case a = <-ready:
	case err := <-done:
		t.Fatalf("run ended early: %v", err)
	case <-time.After(20 * time.Second):
		t.Fatal("not ready")
	}
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr}).Get("http://" + a.HTTPAddr + "/v1/services/SampleWorldCities.MapServer")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), "SampleWorldCities") {
		t.Fatalf("GET: %d %s", resp.StatusCode, body)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("run: %v", err)
	}
	if !strings.Contains(logs.String(), "embedded ArcGIS Server simulator") {
		t.Fatalf("demo mode not logged: %s", logs.String())
	}
	if strings.Contains(logs.String(), "admin-password") {
		t.Fatalf("logs hold the password: %s", logs.String())
	}
}
