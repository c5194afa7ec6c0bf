// Command arcgate serves a typed gRPC API, and a REST API through
// grpc-gateway, in front of the ArcGIS Server Administrator REST API.
//
// With no upstream configured it starts an embedded simulator of the admin
// API on loopback and fronts it, so that it works at once:
//
//	go run ./cmd/arcgate
//
// The REST listener serves an API reference at /docs (Swagger UI, built
// in), e.g. http://127.0.0.1:8080/docs, rendered from /openapi.json.
//
// Against a real site, with an API key for its callers (arcgate keygen
// prints the key and adds its hash to the callers file):
//
//	KEY=$(go run ./cmd/arcgate keygen --identity deployer --scope admin --callers-file callers)
//	ARCGATE_PASSWORD_FILE=/run/secrets/arcgis go run ./cmd/arcgate \
//	    --upstream-url https://gis.example.com/arcgis --username siteadmin --callers-file callers
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/arcgate/arcgate/internal/app"
	"github.com/arcgate/arcgate/internal/telemetry"
	"github.com/arcgate/arcgate/internal/version"
	"github.com/arcgate/arcgate/rpc"
	"github.com/arcgate/arcgate/statestore"
	"github.com/arcgate/arcgate/upstream"
)

// processDefaults makes run apply app.SetProcessDefaults: main sets it, the
// tests (which call run in the test process) do not.
var processDefaults bool

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	processDefaults = true
	code := realMain(ctx, os.Args[1:], os.Getenv, os.Stderr)
	stop()
	os.Exit(code)
}

// realMain runs arcgate until ctx ends and returns its exit status: 0, or
// 1 after one line on stderr naming the cause ("arcgate: " and the error,
// e.g. a listen address in use or a file not found).
func realMain(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) int {
	err := run(ctx, args, getenv, stderr, nil)
	if err == nil || errors.Is(err, flag.ErrHelp) || errors.Is(err, errVersion) {
		return 0
	}
	fmt.Fprintln(stderr, "arcgate:", strings.ReplaceAll(err.Error(), "\n", "; "))
	return 1
}

// config is arcgate's configuration: the flags of settings, each with an
// ARCGATE_* environment variable that sets its default.
type config struct {
	// App is what app.Start gets: parseConfig sets the fields the flags
	// set (and the password and token), run the ones built from files
	// (Credentials, TLS, UpstreamRootCAs), Logger, Telemetry and Store.
	// Its Password and Token are never printed.
	App app.Config

	// Settings app.Config has no field for.
	PasswordFile   string
	LogFormat      string
	TokenSource    string // admin, tokens, portal or fixed
	TokenClient    string // requestip or referer
	TokenFile      string
	DelegatedAuth  string // off, optional or required
	CallersFile    string
	TLSCert        string
	TLSKey         string
	ClientCA       string
	UpstreamCAFile string
	Tracing        bool
	StateStore     string // memory or a Redis URL; may hold a password: never printed
	UpstreamFlavor string // server or kubernetes
	MemoryLimit    byteSize
	GCPercent      int

	given map[string]bool // the settings given, by flag or environment variable
}

// String describes the configuration without its secrets: the password
// and the operator token are never shown.
func (c *config) String() string {
	return fmt.Sprintf("config{grpc %s, http %s, upstream %q, user %q, password %s, token source %s, token client %s, token %s, delegated auth %s}",
		c.App.GRPCAddr, c.App.HTTPAddr, c.App.UpstreamURL, c.App.Username, app.SecretState(c.App.Password), c.TokenSource, c.TokenClient, app.SecretState(c.App.Token), c.DelegatedAuth)
}

// GoString is String, for %#v.
func (c *config) GoString() string { return c.String() }

// Format implements fmt.Formatter so that no verb prints a secret.
func (c *config) Format(f fmt.State, _ rune) { _, _ = fmt.Fprint(f, c.String()) }

// LogValue implements slog.LogValuer without the secrets.
func (c *config) LogValue() slog.Value { return slog.StringValue(c.String()) }

// MarshalJSON encodes String: the configuration without its secrets.
func (c *config) MarshalJSON() ([]byte, error) { return json.Marshal(c.String()) }

// errVersion ends parseConfig after --version printed the version.
var errVersion = errors.New("version printed")

// stdout receives --version's output and keygen's key; tests replace it.
var stdout io.Writer = os.Stdout

// loopbackAddr reports whether addr listens on a loopback address only.
func loopbackAddr(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	ip := net.ParseIP(host)
	return host == "localhost" || (ip != nil && ip.IsLoopback())
}

func parseConfig(args []string, getenv func(string) string, stderr io.Writer) (*config, error) {
	c := &config{given: map[string]bool{}}
	fs := flag.NewFlagSet("arcgate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	for _, s := range c.settings() {
		if err := s.register(fs, getenv); err != nil {
			return nil, err
		}
		c.given[s.name] = getenv(envName(s.name)) != ""
	}
	showVersion := fs.Bool("version", false, "print the version and exit")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if *showVersion {
		fmt.Fprintln(stdout, "arcgate", version.String())
		return nil, errVersion
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments: %q", fs.Args())
	}
	fs.Visit(func(f *flag.Flag) { c.given[f.Name] = true })
	if c.LogFormat != "text" && c.LogFormat != "json" {
		return nil, fmt.Errorf("--log-format must be text or json, got %q", c.LogFormat)
	}
	if c.App.RequestIDTTL <= 0 {
		return nil, fmt.Errorf("--request-id-ttl must be positive, not %v", c.App.RequestIDTTL)
	}
	var err error
	if c.App.UpstreamFlavor, err = upstream.ParseFlavor(c.UpstreamFlavor); err != nil {
		return nil, fmt.Errorf("--upstream-flavor: %w", err)
	}
	c.App.Password = getenv(passwordEnv)
	if c.PasswordFile != "" {
		b, err := os.ReadFile(c.PasswordFile)
		if err != nil {
			return nil, fmt.Errorf("reading --password-file: %w", err)
		}
		c.App.Password = strings.TrimRight(string(b), "\r\n")
	}
	if err := c.parseTokenSettings(getenv); err != nil {
		return nil, err
	}
	if c.App.UpstreamURL != "" && c.TokenSource != "fixed" && (c.App.Username == "" || c.App.Password == "") {
		return nil, errors.New("--upstream-url needs --username and a password (ARCGATE_PASSWORD_FILE, --password-file or ARCGATE_PASSWORD)")
	}
	if err := c.checkSecurity(); err != nil {
		return nil, err
	}
	c.App.RateLimit = c.rateLimit()
	if c.App.MaxConcurrentPerCaller == 0 {
		c.App.MaxConcurrentPerCaller = -1 // no cap
	}
	return c, nil
}

// maxHeaderBytesLimit is the largest --max-header-bytes: 16 MiB, grpc-go's
// own default.
const maxHeaderBytesLimit = 16 << 20

// checkSecurity checks the caller-authentication and TLS flags. Outside
// demo mode arcgate holds administrator credentials of a real site, so it
// refuses to start without caller authentication unless told otherwise;
// demo mode listens on loopback only.
func (c *config) checkSecurity() error {
	a := &c.App
	switch {
	case (c.TLSCert == "") != (c.TLSKey == ""):
		return errors.New("--tls-cert and --tls-key go together")
	case c.ClientCA != "" && c.TLSCert == "":
		return errors.New("--client-ca needs --tls-cert")
	case c.CallersFile != "" && a.InsecureNoCallerAuth:
		return errors.New("--callers-file and --insecure-no-caller-auth exclude each other")
	case a.UpstreamURL != "" && c.CallersFile == "" && !a.InsecureNoCallerAuth:
		return errors.New("refusing to start: --upstream-url is set but no caller authentication: give --callers-file (ARCGATE_CALLERS_FILE), or --insecure-no-caller-auth behind an authenticating proxy")
	case a.RateLimit.PerSecond < 0 || a.RateLimit.Burst < 0 || a.MaxBodyBytes <= 0 || a.Resilience.MaxConcurrent <= 0:
		return errors.New("--rate-limit and --rate-burst must not be negative; --max-body-bytes and --upstream-max-concurrent must be positive")
	case a.MaxConcurrentPerCaller < 0:
		return errors.New("--max-concurrent-per-caller must not be negative")
	case a.MaxHeaderBytes <= 0 || a.MaxHeaderBytes > maxHeaderBytesLimit:
		return fmt.Errorf("--max-header-bytes must be between 1 and %d", maxHeaderBytesLimit)
	}
	if a.PprofAddr != "" && !loopbackAddr(a.PprofAddr) {
		return fmt.Errorf("--pprof-addr listens on loopback only (profiles expose internals), not %q", a.PprofAddr)
	}
	if a.UpstreamURL == "" {
		for _, a := range []string{a.GRPCAddr, a.HTTPAddr} {
			if !loopbackAddr(a) {
				return fmt.Errorf("demo mode (no --upstream-url) listens on loopback only, not %q", a)
			}
		}
	}
	return nil
}

// rateLimit is the per-caller rate limit: --rate-limit and --rate-burst
// (rpc.DefaultRateLimit by default) with a real upstream; none in demo
// mode unless one is set, since its only upstream is the embedded
// simulator; none with --rate-limit 0.
func (c *config) rateLimit() rpc.RateLimit {
	r := c.App.RateLimit
	if r.PerSecond <= 0 || (c.App.UpstreamURL == "" && !c.given["rate-limit"] && !c.given["rate-burst"]) {
		return rpc.NoRateLimit
	}
	return r
}

// parseTokenSettings checks the token flags and reads the fixed token.
// Its errors never contain a secret.
func (c *config) parseTokenSettings(getenv func(string) string) error {
	a := &c.App
	var err error
	a.FixedToken = c.TokenSource == "fixed"
	if !a.FixedToken {
		if a.TokenService, err = upstream.ParseTokenService(c.TokenSource); err != nil {
			return fmt.Errorf("--token-source must be admin, tokens, portal or fixed, not %q", c.TokenSource)
		}
	}
	if a.TokenClient, err = upstream.ParseTokenClient(c.TokenClient); err != nil {
		return fmt.Errorf("--token-client: %w", err)
	}
	if a.DelegatedAuth, err = rpc.ParseDelegatedAuth(c.DelegatedAuth); err != nil {
		return fmt.Errorf("--delegated-auth: %w", err)
	}
	switch {
	case a.TokenClient == upstream.TokenClientReferer && a.TokenReferer == "":
		return errors.New("--token-client referer needs --token-referer")
	case a.TokenClient != upstream.TokenClientReferer && a.TokenReferer != "":
		return errors.New("--token-referer is only used with --token-client referer")
	case c.TokenSource == "portal" && a.PortalURL == "" && a.UpstreamURL != "":
		return errors.New("--token-source portal needs --portal-url")
	case c.TokenSource != "portal" && a.PortalURL != "":
		return errors.New("--portal-url is only used with --token-source portal")
	case a.TokenPoolSize < 1:
		return fmt.Errorf("--token-pool-size must be at least 1, not %d", a.TokenPoolSize)
	case a.TokenIdleTimeout <= 0:
		return fmt.Errorf("--token-idle-timeout must be positive, not %v", a.TokenIdleTimeout)
	case a.OperationTimeout <= 0:
		return fmt.Errorf("--operation-timeout must be positive, not %v", a.OperationTimeout)
	case c.GCPercent < 10 || c.GCPercent > 10000:
		return fmt.Errorf("--gc-percent must be between 10 and 10000, not %d", c.GCPercent)
	}
	a.Token = getenv(tokenEnv)
	if c.TokenFile != "" {
		b, err := os.ReadFile(c.TokenFile)
		if err != nil {
			return fmt.Errorf("reading --token-file: %w", err)
		}
		a.Token = strings.TrimSpace(string(b))
	}
	switch {
	case c.TokenSource == "fixed" && a.Token == "" && a.UpstreamURL != "":
		return errors.New("--token-source fixed needs a token (--token-file, ARCGATE_TOKEN_FILE or ARCGATE_TOKEN)")
	case c.TokenSource != "fixed" && a.Token != "":
		return errors.New("a token (--token-file, ARCGATE_TOKEN_FILE or ARCGATE_TOKEN) is only used with --token-source fixed")
	}
	return nil
}

// readable checks that each named file (flag, path pairs; empty paths
// skipped) can be opened, so that a missing one is reported with the flag
// that names it: "--tls-key: open /x: no such file or directory".
func readable(flagsAndPaths ...string) error {
	for i := 0; i+1 < len(flagsAndPaths); i += 2 {
		if flagsAndPaths[i+1] == "" {
			continue
		}
		f, err := os.Open(flagsAndPaths[i+1])
		if err != nil {
			return fmt.Errorf("%s: %w", flagsAndPaths[i], err)
		}
		_ = f.Close()
	}
	return nil
}

func run(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer, onReady func(*app.App)) error {
	if len(args) > 0 && args[0] == "keygen" {
		return keygen(args[1:], stdout, stderr)
	}
	cfg, err := parseConfig(args, getenv, stderr)
	if err != nil {
		return err
	}
	var h slog.Handler = slog.NewTextHandler(stderr, nil)
	if cfg.LogFormat == "json" {
		h = slog.NewJSONHandler(stderr, nil)
	}
	logger := slog.New(h)
	if processDefaults {
		app.SetProcessDefaults(cfg.App.PprofAddr, logger)
		app.SetMemoryLimit(int64(cfg.MemoryLimit), getenv, logger)
		app.SetGCPercent(cfg.GCPercent, getenv, logger)
		statestore.SetRedisLogger(logger)
	}
	cfg.App.Logger = logger
	if cfg.CallersFile != "" {
		if cfg.App.Credentials, err = rpc.LoadCredentials(cfg.CallersFile); err != nil {
			return err
		}
	}
	if cfg.TLSCert != "" {
		if err := readable("--tls-cert", cfg.TLSCert, "--tls-key", cfg.TLSKey, "--client-ca", cfg.ClientCA); err != nil {
			return err
		}
		if cfg.App.TLS, err = rpc.ServerTLSConfig(cfg.TLSCert, cfg.TLSKey, cfg.ClientCA); err != nil {
			return err
		}
	}
	if cfg.UpstreamCAFile != "" {
		if cfg.App.UpstreamRootCAs, err = upstream.LoadRootCAs(cfg.UpstreamCAFile); err != nil {
			return err
		}
	}
	tel, err := telemetry.Setup(ctx, telemetry.Config{Enabled: cfg.Tracing, Version: version.String(), Getenv: getenv, Logger: logger})
	if err != nil {
		return err
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = tel.Shutdown(sctx) // flush the last spans
	}()
	store, err := statestore.Open(ctx, cfg.StateStore)
	if err != nil {
		return err
	}
	defer store.Close() // after the App's shutdown: its last calls may hold locks
	logger.Info("state store", "store", store.String())
	cfg.App.Telemetry, cfg.App.Store = tel, store
	a, err := app.Start(cfg.App)
	if err != nil {
		return err
	}
	if onReady != nil {
		onReady(a)
	}
	select {
	case <-ctx.Done():
	case err = <-a.Err():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if serr := a.Shutdown(sctx); err == nil {
		err = serr
	}
	return err
}
