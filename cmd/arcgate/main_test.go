package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	adminv1 "github.com/arcgate/arcgate/gen/go/arcgate/admin/v1"
	"github.com/arcgate/arcgate/internal/app"
	"github.com/arcgate/arcgate/internal/testredis"
	"github.com/arcgate/arcgate/rpc"
	"github.com/arcgate/arcgate/statestore"
	"github.com/arcgate/arcgate/upstream"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestParseConfig(t *testing.T) {
	dir := t.TempDir()
	pw := filepath.Join(dir, "pw")
	if err := os.WriteFile(pw, []byte("s3cret-from-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tok := filepath.Join(dir, "token")
	if err := os.WriteFile(tok, []byte("  s3cret-token-from-file\n"), 0o600); err != nil {
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
			return c.App.GRPCAddr == "127.0.0.1:9090" && c.App.HTTPAddr == "127.0.0.1:8080" && c.App.UpstreamURL == "" && c.App.DefaultTimeout == 15*time.Second
		}},
		{name: "env sets defaults", env: map[string]string{"ARCGATE_GRPC_ADDR": "127.0.0.1:1", "ARCGATE_UPSTREAM_URL": "https://h/arcgis", "ARCGATE_USERNAME": "u", "ARCGATE_PASSWORD": "p"},
			check: func(c *config) bool {
				return c.App.GRPCAddr == "127.0.0.1:1" && c.App.UpstreamURL == "https://h/arcgis" && c.App.Password == "p"
			}},
		{name: "flags beat env", args: []string{"--grpc-addr", "127.0.0.1:2"}, env: map[string]string{"ARCGATE_GRPC_ADDR": "127.0.0.1:1"},
			check: func(c *config) bool { return c.App.GRPCAddr == "127.0.0.1:2" }},
		{name: "password file", args: []string{"--upstream-url", "https://h/arcgis", "--username", "u", "--password-file", pw},
			check: func(c *config) bool { return c.App.Password == "s3cret-from-file" }},
		{name: "password file from env", env: map[string]string{"ARCGATE_UPSTREAM_URL": "https://h/arcgis", "ARCGATE_USERNAME": "u", "ARCGATE_PASSWORD_FILE": pw},
			check: func(c *config) bool { return c.App.Password == "s3cret-from-file" }},
		{name: "upstream without credentials", args: []string{"--upstream-url", "https://h/arcgis"}, wantErr: "needs --username"},
		{name: "no password flag", args: []string{"--password", "x"}, wantErr: "not defined"},
		{name: "missing password file", args: []string{"--password-file", filepath.Join(dir, "none")}, wantErr: "password-file"},
		{name: "bad log format", args: []string{"--log-format", "xml"}, wantErr: "log-format"},
		{name: "stray argument", args: []string{"extra"}, wantErr: "unexpected"},
		{name: "token defaults", check: func(c *config) bool {
			return c.App.TokenService == upstream.TokenServiceAdmin && c.App.TokenClient == upstream.TokenClientRequestIP &&
				c.App.DelegatedAuth == rpc.DelegatedAuthOff && c.App.TokenPoolSize == 1000 && c.App.TokenIdleTimeout == 30*time.Minute
		}},
		{name: "token flags", args: []string{"--token-source", "tokens", "--token-client", "referer", "--token-referer", "https://gw",
			"--delegated-auth", "required", "--token-pool-size", "5", "--token-idle-timeout", "2m"},
			check: func(c *config) bool {
				return c.App.TokenService == upstream.TokenServiceTokens && c.App.TokenClient == upstream.TokenClientReferer &&
					c.App.TokenReferer == "https://gw" && c.App.DelegatedAuth == rpc.DelegatedAuthRequired &&
					c.App.TokenPoolSize == 5 && c.App.TokenIdleTimeout == 2*time.Minute
			}},
		{name: "token env", env: map[string]string{"ARCGATE_TOKEN_SOURCE": "portal", "ARCGATE_PORTAL_URL": "https://h/portal",
			"ARCGATE_DELEGATED_AUTH": "optional", "ARCGATE_TOKEN_POOL_SIZE": "7", "ARCGATE_TOKEN_IDLE_TIMEOUT": "90s"},
			check: func(c *config) bool {
				return c.App.TokenService == upstream.TokenServicePortal && c.App.PortalURL == "https://h/portal" &&
					c.App.DelegatedAuth == rpc.DelegatedAuthOptional && c.App.TokenPoolSize == 7 && c.App.TokenIdleTimeout == 90*time.Second
			}},
		{name: "fixed token from a file, no password needed", args: []string{"--upstream-url", "https://h/arcgis", "--token-source", "fixed", "--token-file", tok},
			check: func(c *config) bool { return c.TokenSource == "fixed" && c.App.Token == "s3cret-token-from-file" }},
		{name: "fixed token from env", env: map[string]string{"ARCGATE_UPSTREAM_URL": "https://h/arcgis", "ARCGATE_TOKEN_SOURCE": "fixed", "ARCGATE_TOKEN": "s3cret-env-token"},
			check: func(c *config) bool { return c.App.Token == "s3cret-env-token" }},
		{name: "fixed without a token", args: []string{"--upstream-url", "https://h/arcgis", "--token-source", "fixed"}, wantErr: "needs a token"},
		{name: "token without fixed", env: map[string]string{"ARCGATE_TOKEN": "s3cret-env-token"}, wantErr: "only used with --token-source fixed"},
		{name: "missing token file", args: []string{"--token-source", "fixed", "--token-file", filepath.Join(dir, "none")}, wantErr: "token-file"},
		{name: "bad token source", args: []string{"--token-source", "oauth"}, wantErr: "--token-source"},
		{name: "bad token client", args: []string{"--token-client", "ip"}, wantErr: "--token-client"},
		{name: "referer client without referer", args: []string{"--token-client", "referer"}, wantErr: "needs --token-referer"},
		{name: "referer without referer client", args: []string{"--token-referer", "https://gw"}, wantErr: "only used with --token-client referer"},
		{name: "portal without URL", args: []string{"--upstream-url", "https://h/arcgis", "--username", "u", "--token-source", "portal"},
			env: map[string]string{"ARCGATE_PASSWORD": "p"}, wantErr: "needs --portal-url"},
		{name: "portal URL without portal", args: []string{"--portal-url", "https://h/portal"}, wantErr: "only used with --token-source portal"},
		{name: "bad delegated auth", args: []string{"--delegated-auth", "yes"}, wantErr: "--delegated-auth"},
		{name: "bad pool size", args: []string{"--token-pool-size", "0"}, wantErr: "--token-pool-size"},
		{name: "bad pool size env", env: map[string]string{"ARCGATE_TOKEN_POOL_SIZE": "many"}, wantErr: "ARCGATE_TOKEN_POOL_SIZE"},
		{name: "bad idle timeout", args: []string{"--token-idle-timeout", "0s"}, wantErr: "--token-idle-timeout"},
		{name: "bad idle timeout env", env: map[string]string{"ARCGATE_TOKEN_IDLE_TIMEOUT": "soon"}, wantErr: "ARCGATE_TOKEN_IDLE_TIMEOUT"},
		{name: "request id ttl default", check: func(c *config) bool { return c.App.RequestIDTTL == 24*time.Hour }},
		{name: "request id ttl env", env: map[string]string{"ARCGATE_REQUEST_ID_TTL": "90m"}, check: func(c *config) bool { return c.App.RequestIDTTL == 90*time.Minute }},
		{name: "request id ttl flag beats env", args: []string{"--request-id-ttl", "2h"}, env: map[string]string{"ARCGATE_REQUEST_ID_TTL": "90m"},
			check: func(c *config) bool { return c.App.RequestIDTTL == 2*time.Hour }},
		{name: "bad request id ttl", args: []string{"--request-id-ttl", "0s"}, wantErr: "--request-id-ttl"},
		{name: "bad request id ttl env", env: map[string]string{"ARCGATE_REQUEST_ID_TTL": "a day"}, wantErr: "ARCGATE_REQUEST_ID_TTL"},
		{name: "operation timeout default", check: func(c *config) bool { return c.App.OperationTimeout == 10*time.Minute }},
		{name: "operation timeout flag", args: []string{"--operation-timeout", "90s"}, check: func(c *config) bool { return c.App.OperationTimeout == 90*time.Second }},
		{name: "operation timeout env", env: map[string]string{"ARCGATE_OPERATION_TIMEOUT": "20m"}, check: func(c *config) bool { return c.App.OperationTimeout == 20*time.Minute }},
		{name: "bad operation timeout", args: []string{"--operation-timeout", "0s"}, wantErr: "--operation-timeout"},
		{name: "bad operation timeout env", env: map[string]string{"ARCGATE_OPERATION_TIMEOUT": "soon"}, wantErr: "ARCGATE_OPERATION_TIMEOUT"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := parseConfig(callerAuthOff(tc.args, tc.env))
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
		"-username", "ARCGATE_USERNAME", "-password-file", "ARCGATE_PASSWORD_FILE", "ARCGATE_PASSWORD",
		"-token-source", "ARCGATE_TOKEN_SOURCE", "-token-client", "ARCGATE_TOKEN_CLIENT", "-token-referer", "ARCGATE_TOKEN_REFERER",
		"-portal-url", "ARCGATE_PORTAL_URL", "-token-file", "ARCGATE_TOKEN_FILE", "ARCGATE_TOKEN)",
		"-delegated-auth", "ARCGATE_DELEGATED_AUTH", "-token-pool-size", "ARCGATE_TOKEN_POOL_SIZE",
		"-token-idle-timeout", "ARCGATE_TOKEN_IDLE_TIMEOUT", "-default-timeout", "ARCGATE_DEFAULT_TIMEOUT",
		"-operation-timeout", "ARCGATE_OPERATION_TIMEOUT",
		"-callers-file", "ARCGATE_CALLERS_FILE", "-insecure-no-caller-auth", "ARCGATE_INSECURE_NO_CALLER_AUTH",
		"-tls-cert", "ARCGATE_TLS_CERT", "-tls-key", "ARCGATE_TLS_KEY", "-client-ca", "ARCGATE_CLIENT_CA",
		"-upstream-ca-file", "ARCGATE_UPSTREAM_CA_FILE", "-rate-limit", "ARCGATE_RATE_LIMIT", "-rate-burst", "ARCGATE_RATE_BURST",
		"-max-body-bytes", "ARCGATE_MAX_BODY_BYTES", "-max-header-bytes", "ARCGATE_MAX_HEADER_BYTES",
		"-max-concurrent-per-caller", "ARCGATE_MAX_CONCURRENT_PER_CALLER", "-upstream-max-concurrent", "ARCGATE_UPSTREAM_MAX_CONCURRENT",
		"-tracing", "ARCGATE_TRACING", "-request-id-ttl", "ARCGATE_REQUEST_ID_TTL", "-version"} {
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

func TestConfigRedaction(t *testing.T) {
	c, err := parseConfig([]string{"--upstream-url", "https://h/arcgis", "--token-source", "fixed", "--insecure-no-caller-auth"},
		env(map[string]string{"ARCGATE_TOKEN": "s3cret-cmd-token", "ARCGATE_USERNAME": "u"}), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	c.App.Password = "s3cret-cmd-password"
	var logs bytes.Buffer
	slog.New(slog.NewJSONHandler(&logs, nil)).Info("config", "c", c)
	slog.New(slog.NewTextHandler(&logs, nil)).Info("config", "c", c)
	b, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	for how, s := range map[string]string{
		"%v": fmt.Sprintf("%v", c), "%+v": fmt.Sprintf("%+v", c), "%#v": fmt.Sprintf("%#v", c),
		"struct": fmt.Sprintf("%+v", struct{ C *config }{c}), "slog": logs.String(), "json": string(b),
	} {
		if strings.Contains(s, "s3cret") {
			t.Errorf("%s leaks a secret: %s", how, s)
		}
	}
}

// TestRunDemoModeTokenSources runs the entry point in demo mode with each
// token source and delegated mode on, and calls it over REST with and
// without delegated credentials.
func TestRunDemoModeTokenSources(t *testing.T) {
	for _, args := range [][]string{
		{"--token-source", "fixed"},
		{"--token-source", "portal", "--token-client", "referer", "--token-referer", "https://gw.example"},
		{"--token-source", "tokens", "--delegated-auth", "optional"},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			ready := make(chan *app.App, 1)
			done := make(chan error, 1)
			go func() {
				done <- run(ctx, append([]string{"--grpc-addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0"}, args...), env(nil), io.Discard,
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
			for _, hdr := range [][]string{nil, {"X-ArcGIS-Token", a.Simulator.IssueToken(time.Hour)}} {
				req, _ := http.NewRequest(http.MethodGet, "http://"+a.HTTPAddr+"/v1/services/SampleWorldCities.MapServer", nil)
				want := http.StatusOK
				if hdr != nil {
					req.Header.Set(hdr[0], hdr[1])
					if !strings.Contains(strings.Join(args, " "), "delegated-auth") {
						want = http.StatusBadRequest // delegated mode is off
					}
				}
				resp, err := (&http.Client{Transport: tr}).Do(req)
				if err != nil {
					t.Fatal(err)
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != want {
					t.Fatalf("GET with %v: %d %s, want %d", hdr, resp.StatusCode, body, want)
				}
			}
			cancel()
			if err := <-done; err != nil {
				t.Fatalf("run: %v", err)
			}
		})
	}
}

// callerAuthOff adds --insecure-no-caller-auth to a configuration that
// names an upstream, for the tests of other settings: outside demo mode
// arcgate refuses to start without caller authentication.
func callerAuthOff(args []string, m map[string]string) ([]string, func(string) string, io.Writer) {
	named := m["ARCGATE_UPSTREAM_URL"] != ""
	for _, a := range args {
		named = named || a == "--upstream-url"
	}
	if named {
		args = append(append([]string(nil), args...), "--insecure-no-caller-auth")
	}
	return args, env(m), io.Discard
}

func TestCallerAuthenticationRules(t *testing.T) {
	dir := t.TempDir()
	callers := filepath.Join(dir, "callers")
	if err := os.WriteFile(callers, []byte("ci-bot read sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	up := []string{"--upstream-url", "https://h/arcgis", "--username", "u"}
	pw := map[string]string{"ARCGATE_PASSWORD": "p"}
	for _, tc := range []struct {
		name    string
		args    []string
		env     map[string]string
		wantErr string
	}{
		{"real upstream without caller auth is refused", up, pw, "refusing to start"},
		{"real upstream with a callers file", append(up, "--callers-file", callers), pw, ""},
		{"callers file from env", up, map[string]string{"ARCGATE_PASSWORD": "p", "ARCGATE_CALLERS_FILE": callers}, ""},
		{"real upstream, explicitly insecure", append(up, "--insecure-no-caller-auth"), pw, ""},
		{"both is a contradiction", append(up, "--callers-file", callers, "--insecure-no-caller-auth"), pw, "exclude each other"},
		{"demo mode on loopback", nil, nil, ""},
		{"demo mode on every interface is refused", []string{"--http-addr", "0.0.0.0:8080"}, nil, "loopback only"},
		{"demo mode on a LAN address is refused", []string{"--grpc-addr", "10.0.0.5:9090"}, nil, "loopback only"},
		{"pprof on loopback", []string{"--pprof-addr", "127.0.0.1:6060"}, nil, ""},
		{"pprof from env on loopback", nil, map[string]string{"ARCGATE_PPROF_ADDR": "localhost:6060"}, ""},
		{"pprof on every interface is refused", append(up, "--callers-file", callers, "--pprof-addr", ":6060"), pw, "--pprof-addr listens on loopback only"},
		{"tls cert without key", []string{"--tls-cert", "c.pem"}, nil, "go together"},
		{"client CA without TLS", []string{"--client-ca", "ca.pem"}, nil, "needs --tls-cert"},
		{"negative rate", []string{"--rate-limit", "-1"}, nil, "must not be negative"},
		{"negative open-call cap", []string{"--max-concurrent-per-caller", "-1"}, nil, "--max-concurrent-per-caller"},
		{"zero header cap", []string{"--max-header-bytes", "0"}, nil, "--max-header-bytes"},
		{"header cap over grpc-go's", nil, map[string]string{"ARCGATE_MAX_HEADER_BYTES": "16777217"}, "--max-header-bytes"},
		{"bad header cap from env", nil, map[string]string{"ARCGATE_MAX_HEADER_BYTES": "big"}, "ARCGATE_MAX_HEADER_BYTES"},
		{"bad rate from env", nil, map[string]string{"ARCGATE_RATE_LIMIT": "lots"}, "ARCGATE_RATE_LIMIT"},
		{"insecure mode from env as 1", up, map[string]string{"ARCGATE_PASSWORD": "p", "ARCGATE_INSECURE_NO_CALLER_AUTH": "1"}, ""},
		{"a boolean env var that is not one", up, map[string]string{"ARCGATE_PASSWORD": "p", "ARCGATE_INSECURE_NO_CALLER_AUTH": "yes please"}, "must be true or false"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseConfig(tc.args, env(tc.env), io.Discard)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("unexpected error %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("err = %v, want %q", err, tc.wantErr)
			}
		})
	}
}

func TestVersionFlag(t *testing.T) {
	var out bytes.Buffer
	old := stdout
	stdout = &out
	t.Cleanup(func() { stdout = old })
	_, err := parseConfig([]string{"--version"}, env(nil), io.Discard)
	if !errors.Is(err, errVersion) || !strings.HasPrefix(out.String(), "arcgate ") || strings.Count(out.String(), "\n") != 1 {
		t.Fatalf("--version: err %v, output %q", err, out.String())
	}
}

func TestDefaultTimeoutAndTracingFromEnvironment(t *testing.T) {
	c, err := parseConfig(nil, env(map[string]string{"ARCGATE_DEFAULT_TIMEOUT": "3s", "ARCGATE_TRACING": "true"}), io.Discard)
	if err != nil || c.App.DefaultTimeout != 3*time.Second || !c.Tracing {
		t.Fatalf("config %+v, err %v", c, err)
	}
	if _, err := parseConfig(nil, env(map[string]string{"ARCGATE_DEFAULT_TIMEOUT": "soon"}), io.Discard); err == nil {
		t.Fatal("bad ARCGATE_DEFAULT_TIMEOUT accepted")
	}
}

// TestStartupFailures: a start-up failure (a listen address in use, a TLS
// file missing) exits 1 with one line naming the cause, not a panic.
func TestStartupFailures(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	busy := taken.Addr().String()
	dir := t.TempDir()
	cert := filepath.Join(dir, "cert.pem")
	if err := os.WriteFile(cert, []byte("not read: the key is missing\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "missing.pem")
	free := []string{"--grpc-addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0"}
	for _, tc := range []struct {
		name string
		args []string
		want string // in the one line
	}{
		{"gRPC port taken", []string{"--grpc-addr", busy, "--http-addr", "127.0.0.1:0"}, "listen tcp " + busy + ": bind: address already in use"},
		{"HTTP port taken", []string{"--grpc-addr", "127.0.0.1:0", "--http-addr", busy}, "listen tcp " + busy + ": bind: address already in use"},
		{"pprof port taken", append(free, "--pprof-addr", busy), "listen tcp " + busy + ": bind: address already in use"},
		{"TLS certificate missing", append(free, "--tls-cert", missing, "--tls-key", cert), "--tls-cert: open " + missing + ": no such file or directory"},
		{"TLS key missing", append(free, "--tls-cert", cert, "--tls-key", missing), "--tls-key: open " + missing + ": no such file or directory"},
		{"client CA missing", append(free, "--tls-cert", cert, "--tls-key", cert, "--client-ca", missing), "--client-ca: open " + missing + ": no such file or directory"},
		{"state store not answering", append(free, "--state-store", "redis://127.0.0.1:1/0"), "statestore: redis at 127.0.0.1:1 did not answer"},
		{"state store not a URL", append(free, "--state-store", "redis://h:port"), "statestore: the state store is not a valid URL"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			code := func() (code int) {
				defer func() {
					if p := recover(); p != nil {
						t.Fatalf("panic: %v\noutput:\n%s", p, out.String())
					}
				}()
				return realMain(context.Background(), tc.args, env(nil), &out)
			}()
			var causes []string
			for _, line := range strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n") {
				if !strings.HasPrefix(line, "time=") { // not a log line
					causes = append(causes, line)
				}
			}
			if code != 1 || len(causes) != 1 || !strings.HasPrefix(causes[0], "arcgate: ") || !strings.Contains(causes[0], tc.want) ||
				strings.Contains(out.String(), "panic") {
				t.Fatalf("exit %d, output:\n%s\nwant exit 1 and one line (besides log lines) with %q", code, out.String(), tc.want)
			}
		})
	}
}

// TestRunStateStore runs the entry point with a Redis state store named by
// ARCGATE_STATE_STORE, password and all: it logs which store it uses,
// without the password, and its updates (long-running operations) wait
// for a lock held in that store by another replica.
func TestRunStateStore(t *testing.T) {
	srv := testredis.Start(t, "--requirepass", "s3cret-redis")
	storeURL := "redis://:s3cret-redis@" + srv.Addr + "/2"
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var logs syncBuffer
	ready := make(chan *app.App, 1)
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"--grpc-addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0", "--default-timeout", "1s", "--operation-timeout", "1s"},
			env(map[string]string{"ARCGATE_STATE_STORE": storeURL}), &logs,
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
	call := func(method, path, body string) (int, string) {
		t.Helper()
		req, err := http.NewRequest(method, "http://"+a.HTTPAddr+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp, err := (&http.Client{Transport: tr}).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp.StatusCode, string(b)
	}
	// patch updates the service and waits for the operation it returns:
	// 200 and the operation when it is done.
	patch := func() (int, string) {
		t.Helper()
		code, body := call(http.MethodPatch, "/v1/services/SampleWorldCities.MapServer?updateMask=properties.k", `{"properties":{"k":"under a Redis lock"}}`)
		var op struct {
			Name string `json:"name"`
			Done bool   `json:"done"`
		}
		if code != http.StatusOK || json.Unmarshal([]byte(body), &op) != nil || !strings.HasPrefix(op.Name, "operations/") {
			return code, body
		}
		for i := 0; !op.Done && i < 10; i++ {
			code, body = call(http.MethodPost, "/v1/"+op.Name+":wait", `{"timeout":"10s"}`)
			if code != http.StatusOK || json.Unmarshal([]byte(body), &op) != nil {
				return code, body
			}
		}
		return code, body
	}
	// Another replica holds the service's lock (its key is the service's
	// admin path in lower case, see server/locks.go): the update waits
	// for it until the operation's timeout.
	other, err := statestore.Open(context.Background(), storeURL)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	_, unlock, err := other.Lock(context.Background(), "services/sampleworldcities.mapserver")
	if err != nil {
		t.Fatal(err)
	}
	var ended struct {
		Error struct {
			Code    int    `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if code, body := patch(); code != http.StatusOK || json.Unmarshal([]byte(body), &ended) != nil || ended.Error.Code != 4 || !strings.Contains(ended.Error.Message, "timeout") {
		unlock()
		t.Fatalf("PATCH while another replica holds the lock: %d %s, want an operation ended DEADLINE_EXCEEDED (code 4) at its timeout", code, body)
	}
	unlock()
	if code, body := patch(); code != 200 || !strings.Contains(body, "under a Redis lock") {
		t.Fatalf("PATCH: %d %s", code, body)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("run: %v", err)
	}
	if want := `store="redis at ` + srv.Addr + `"`; !strings.Contains(logs.String(), want) {
		t.Errorf("logs do not say %s:\n%s", want, logs.String())
	}
	if strings.Contains(logs.String(), "s3cret") {
		t.Errorf("logs hold the state store's password:\n%s", logs.String())
	}
}

// syncBuffer is a bytes.Buffer safe for the logger and the test at once.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestLimitDefaults checks the defaults and the environment of the limits:
// with a real upstream, 100 calls a second per caller with bursts of 200
// (20/s, burst 40 answered 156 of one service's 200 concurrent calls with
// 429); in demo mode no rate limit unless one is set; 500 open calls per
// caller; 64 KiB of headers, REST's cap, for gRPC metadata too.
func TestLimitDefaults(t *testing.T) {
	up := []string{"--upstream-url", "https://h/arcgis", "--username", "u"}
	for _, tc := range []struct {
		name      string
		args      []string
		env       map[string]string
		rate      rpc.RateLimit
		perCaller int
		header    int
	}{
		{"demo mode", nil, nil, rpc.NoRateLimit, 500, 65536},
		{"demo mode with a rate set", []string{"--rate-limit", "5"}, nil, rpc.RateLimit{PerSecond: 5, Burst: 200}, 500, 65536},
		{"demo mode with a burst set in env", nil, map[string]string{"ARCGATE_RATE_BURST": "7"}, rpc.RateLimit{PerSecond: 100, Burst: 7}, 500, 65536},
		{"real upstream", up, map[string]string{"ARCGATE_PASSWORD": "p"}, rpc.RateLimit{PerSecond: 100, Burst: 200}, 500, 65536},
		{"real upstream, rate off", append(up, "--rate-limit", "0"), map[string]string{"ARCGATE_PASSWORD": "p"}, rpc.NoRateLimit, 500, 65536},
		{"flags", []string{"--max-concurrent-per-caller", "0", "--max-header-bytes", "8192"}, nil, rpc.NoRateLimit, -1, 8192}, // 0: no cap, app.Config's -1
		{"env", nil, map[string]string{"ARCGATE_MAX_CONCURRENT_PER_CALLER": "9", "ARCGATE_MAX_HEADER_BYTES": "4096"}, rpc.NoRateLimit, 9, 4096},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := parseConfig(callerAuthOff(tc.args, tc.env))
			if err != nil {
				t.Fatal(err)
			}
			if got := c.App.RateLimit; got != tc.rate {
				t.Errorf("rate limit %+v, want %+v", got, tc.rate)
			}
			if c.App.MaxConcurrentPerCaller != tc.perCaller || c.App.MaxHeaderBytes != tc.header {
				t.Errorf("open calls per caller %d, header bytes %d; want %d, %d", c.App.MaxConcurrentPerCaller, c.App.MaxHeaderBytes, tc.perCaller, tc.header)
			}
		})
	}
}

// TestRunDemoModeHasNoRateLimit runs the binary's entry point in demo mode
// and makes 200 concurrent gRPC calls as one caller, then 60 REST calls in
// a row as a shell loop of curls would: none is refused (the old default
// rate limit refused 156 of the 200, and the 45th curl).
func TestRunDemoModeHasNoRateLimit(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ready := make(chan *app.App, 1)
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"--grpc-addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0"}, env(nil), io.Discard,
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
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
	}()
	conn, err := grpc.NewClient(a.GRPCAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	svc := adminv1.NewServicesServiceClient(conn)
	errs := make(chan error, 200)
	var wg sync.WaitGroup
	for range 200 {
		wg.Go(func() {
			_, err := svc.GetService(context.Background(), &adminv1.GetServiceRequest{Name: "services/SampleWorldCities.MapServer"})
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("one of 200 concurrent calls: %v", err)
		}
	}
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	for i := range 60 {
		resp, err := (&http.Client{Transport: tr}).Get("http://" + a.HTTPAddr + "/v1/services/SampleWorldCities.MapServer")
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("REST call %d: %d", i+1, resp.StatusCode)
		}
	}
}

func TestHelpMentionsDocs(t *testing.T) {
	var out bytes.Buffer
	if _, err := parseConfig([]string{"--help"}, env(nil), &out); !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("err = %v", err)
	}
	if !strings.Contains(out.String(), "/docs") {
		t.Errorf("--help does not mention /docs:\n%s", out.String())
	}
}
