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
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/arcgate/arcgate/gateway"
	"github.com/arcgate/arcgate/internal/app"
	"github.com/arcgate/arcgate/internal/telemetry"
	"github.com/arcgate/arcgate/internal/version"
	"github.com/arcgate/arcgate/operations"
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

// config is arcgate's configuration: flags, each with an ARCGATE_*
// environment variable that sets its default.
type config struct {
	GRPCAddr     string
	HTTPAddr     string
	UpstreamURL  string
	Username     string
	PasswordFile string
	password     string // from ARCGATE_PASSWORD or the file; never printed
	LogFormat    string
	Timeout      time.Duration

	TokenSource      string // admin, tokens, portal or fixed
	TokenClient      string // requestip or referer
	TokenReferer     string
	PortalURL        string
	TokenFile        string
	token            string // from ARCGATE_TOKEN or the token file; never printed
	DelegatedAuth    string // off, optional or required
	TokenPoolSize    int
	TokenIdleTimeout time.Duration

	CallersFile           string
	InsecureNoCallerAuth  bool
	TLSCert, TLSKey       string
	ClientCA              string
	UpstreamCAFile        string
	RatePerSecond         float64
	RateBurst             int
	MaxBodyBytes          int64
	UpstreamMaxConcurrent int
	Tracing               bool
	PprofAddr             string
	StateStore            string // memory or a Redis URL; may hold a password: never printed
	RequestIDTTL          time.Duration
	OperationTimeout      time.Duration

	rateSet                bool // --rate-limit or --rate-burst given (flag or env)
	MaxConcurrentPerCaller int
	MaxHeaderBytes         int

	tokenService  upstream.TokenService
	tokenClient   upstream.TokenClient
	delegatedAuth rpc.DelegatedAuth
}

// String describes the configuration without its secrets: the password
// and the operator token are never shown.
func (c *config) String() string {
	return fmt.Sprintf("config{grpc %s, http %s, upstream %q, user %q, password %s, token source %s, token client %s, token %s, delegated auth %s}",
		c.GRPCAddr, c.HTTPAddr, c.UpstreamURL, c.Username, app.SecretState(c.password), c.TokenSource, c.TokenClient, app.SecretState(c.token), c.DelegatedAuth)
}

// GoString is String, for %#v.
func (c *config) GoString() string { return c.String() }

// Format implements fmt.Formatter so that no verb prints a secret.
func (c *config) Format(f fmt.State, _ rune) { _, _ = fmt.Fprint(f, c.String()) }

// LogValue implements slog.LogValuer without the secrets.
func (c *config) LogValue() slog.Value { return slog.StringValue(c.String()) }

// MarshalJSON encodes String: the configuration without its secrets.
func (c *config) MarshalJSON() ([]byte, error) { return json.Marshal(c.String()) }

// envDefault returns the environment variable's value, or def.
func envDefault(getenv func(string) string, key, def string) string {
	if v := getenv(key); v != "" {
		return v
	}
	return def
}

// envInt returns the environment variable's value as an int, or def.
func envInt(getenv func(string) string, key string, def int) (int, error) {
	v := getenv(key)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0, fmt.Errorf("%s must be an integer, not %q", key, v)
	}
	return n, nil
}

// envDuration returns the environment variable's value as a duration, or def.
func envDuration(getenv func(string) string, key string, def time.Duration) (time.Duration, error) {
	v := getenv(key)
	if v == "" {
		return def, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		return 0, fmt.Errorf("%s must be a duration such as 30m, not %q", key, v)
	}
	return d, nil
}

// errVersion ends parseConfig after --version printed the version.
var errVersion = errors.New("version printed")

// stdout receives --version's output and keygen's key; tests replace it.
var stdout io.Writer = os.Stdout

// envBool returns the environment variable's value as a boolean (what
// strconv.ParseBool accepts: true, 1, TRUE, false, 0, ...), false when
// unset; anything else is an error rather than silently false.
func envBool(getenv func(string) string, key string) (bool, error) {
	v := getenv(key)
	if v == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, fmt.Errorf("%s must be true or false, not %q", key, v)
	}
	return b, nil
}

// envFloat returns the environment variable's value as a number, or def.
func envFloat(getenv func(string) string, key string, def float64) (float64, error) {
	v := getenv(key)
	if v == "" {
		return def, nil
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil {
		return 0, fmt.Errorf("%s must be a number, not %q", key, v)
	}
	return f, nil
}

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
	c := &config{}
	poolSize, err := envInt(getenv, "ARCGATE_TOKEN_POOL_SIZE", 1000)
	if err != nil {
		return nil, err
	}
	idle, err := envDuration(getenv, "ARCGATE_TOKEN_IDLE_TIMEOUT", 30*time.Minute)
	if err != nil {
		return nil, err
	}
	timeout, err := envDuration(getenv, "ARCGATE_DEFAULT_TIMEOUT", rpc.DefaultTimeout)
	if err != nil {
		return nil, err
	}
	opTimeout, err := envDuration(getenv, "ARCGATE_OPERATION_TIMEOUT", operations.DefaultTimeout)
	if err != nil {
		return nil, err
	}
	rate, err := envFloat(getenv, "ARCGATE_RATE_LIMIT", rpc.DefaultRateLimit.PerSecond)
	if err != nil {
		return nil, err
	}
	burst, err := envInt(getenv, "ARCGATE_RATE_BURST", rpc.DefaultRateLimit.Burst)
	if err != nil {
		return nil, err
	}
	maxPerCaller, err := envInt(getenv, "ARCGATE_MAX_CONCURRENT_PER_CALLER", rpc.DefaultMaxConcurrentPerCaller)
	if err != nil {
		return nil, err
	}
	maxHeader, err := envInt(getenv, "ARCGATE_MAX_HEADER_BYTES", gateway.DefaultMaxHeaderBytes)
	if err != nil {
		return nil, err
	}
	maxBody, err := envInt(getenv, "ARCGATE_MAX_BODY_BYTES", gateway.DefaultMaxBodyBytes)
	if err != nil {
		return nil, err
	}
	maxConc, err := envInt(getenv, "ARCGATE_UPSTREAM_MAX_CONCURRENT", upstream.DefaultMaxConcurrent)
	if err != nil {
		return nil, err
	}
	insecureAuth, err := envBool(getenv, "ARCGATE_INSECURE_NO_CALLER_AUTH")
	if err != nil {
		return nil, err
	}
	tracing, err := envBool(getenv, "ARCGATE_TRACING")
	if err != nil {
		return nil, err
	}
	requestIDTTL, err := envDuration(getenv, "ARCGATE_REQUEST_ID_TTL", 24*time.Hour)
	if err != nil {
		return nil, err
	}
	fs := flag.NewFlagSet("arcgate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.GRPCAddr, "grpc-addr", envDefault(getenv, "ARCGATE_GRPC_ADDR", "127.0.0.1:9090"), "gRPC listen address (env ARCGATE_GRPC_ADDR)")
	fs.StringVar(&c.HTTPAddr, "http-addr", envDefault(getenv, "ARCGATE_HTTP_ADDR", "127.0.0.1:8080"), "REST listen address; it also serves the API reference at /docs and the OpenAPI document at /openapi.json (env ARCGATE_HTTP_ADDR)")
	fs.StringVar(&c.UpstreamURL, "upstream-url", getenv("ARCGATE_UPSTREAM_URL"), "ArcGIS Server site URL, e.g. https://host/arcgis; arcgate appends /admin/... (env ARCGATE_UPSTREAM_URL); empty: embedded simulator")
	fs.StringVar(&c.Username, "username", getenv("ARCGATE_USERNAME"), "upstream administrator user name (env ARCGATE_USERNAME)")
	fs.StringVar(&c.PasswordFile, "password-file", getenv("ARCGATE_PASSWORD_FILE"), "file holding the upstream password (env ARCGATE_PASSWORD_FILE; or set ARCGATE_PASSWORD)")
	fs.StringVar(&c.LogFormat, "log-format", envDefault(getenv, "ARCGATE_LOG_FORMAT", "text"), "log format: text or json (env ARCGATE_LOG_FORMAT)")
	fs.DurationVar(&c.Timeout, "default-timeout", timeout, "deadline of unary calls that carry none; smaller client deadlines are kept (env ARCGATE_DEFAULT_TIMEOUT)")
	fs.StringVar(&c.TokenSource, "token-source", envDefault(getenv, "ARCGATE_TOKEN_SOURCE", "admin"), "where the service identity's upstream token comes from: admin (<site>/admin/generateToken), tokens (<site>/tokens/generateToken), portal (federated: --portal-url) or fixed (an operator token: --token-file or ARCGATE_TOKEN) (env ARCGATE_TOKEN_SOURCE)")
	fs.StringVar(&c.TokenClient, "token-client", envDefault(getenv, "ARCGATE_TOKEN_CLIENT", "requestip"), "token binding requested from generateToken: requestip or referer (with --token-referer) (env ARCGATE_TOKEN_CLIENT)")
	fs.StringVar(&c.TokenReferer, "token-referer", getenv("ARCGATE_TOKEN_REFERER"), "Referer tokens are bound to with --token-client referer, sent on every upstream request (env ARCGATE_TOKEN_REFERER)")
	fs.StringVar(&c.PortalURL, "portal-url", getenv("ARCGATE_PORTAL_URL"), "portal of a federated server with --token-source portal, e.g. https://host/portal (env ARCGATE_PORTAL_URL); demo mode: the simulator's")
	fs.StringVar(&c.TokenFile, "token-file", getenv("ARCGATE_TOKEN_FILE"), "file holding the operator token of --token-source fixed (env ARCGATE_TOKEN_FILE; or set ARCGATE_TOKEN)")
	fs.StringVar(&c.DelegatedAuth, "delegated-auth", envDefault(getenv, "ARCGATE_DELEGATED_AUTH", "off"), "callers acting upstream as themselves with x-arcgis-token or x-arcgis-username/x-arcgis-password: off, optional (else the service identity) or required (env ARCGATE_DELEGATED_AUTH)")
	fs.IntVar(&c.TokenPoolSize, "token-pool-size", poolSize, "most delegated identities whose tokens are kept (env ARCGATE_TOKEN_POOL_SIZE)")
	fs.DurationVar(&c.TokenIdleTimeout, "token-idle-timeout", idle, "a delegated identity unused this long is dropped from the token pool (env ARCGATE_TOKEN_IDLE_TIMEOUT)")
	fs.StringVar(&c.CallersFile, "callers-file", getenv("ARCGATE_CALLERS_FILE"), "callers allowed in: API key hashes and client certificate subjects, see README Security (env ARCGATE_CALLERS_FILE)")
	fs.BoolVar(&c.InsecureNoCallerAuth, "insecure-no-caller-auth", insecureAuth, "let every caller in as admin; only behind an authenticating proxy (env ARCGATE_INSECURE_NO_CALLER_AUTH=true)")
	fs.StringVar(&c.TLSCert, "tls-cert", getenv("ARCGATE_TLS_CERT"), "PEM certificate: serve gRPC and REST over TLS (env ARCGATE_TLS_CERT)")
	fs.StringVar(&c.TLSKey, "tls-key", getenv("ARCGATE_TLS_KEY"), "PEM key of --tls-cert (env ARCGATE_TLS_KEY)")
	fs.StringVar(&c.ClientCA, "client-ca", getenv("ARCGATE_CLIENT_CA"), "PEM CAs verifying client certificates of mTLS callers (env ARCGATE_CLIENT_CA)")
	fs.StringVar(&c.UpstreamCAFile, "upstream-ca-file", getenv("ARCGATE_UPSTREAM_CA_FILE"), "PEM CA added to the system roots to verify the upstream (env ARCGATE_UPSTREAM_CA_FILE); verification can never be turned off")
	fs.Float64Var(&c.RatePerSecond, "rate-limit", rate, "calls per second per caller with --upstream-url; demo mode: off unless set; 0: off (env ARCGATE_RATE_LIMIT)")
	fs.IntVar(&c.RateBurst, "rate-burst", burst, "burst per caller, as --rate-limit (env ARCGATE_RATE_BURST)")
	fs.IntVar(&c.MaxConcurrentPerCaller, "max-concurrent-per-caller", maxPerCaller, "calls one caller (one client address without valid credentials) may have open at once, counted from their headers on; 0: no cap (env ARCGATE_MAX_CONCURRENT_PER_CALLER)")
	fs.IntVar(&c.MaxHeaderBytes, "max-header-bytes", maxHeader, "largest gRPC metadata and REST request headers of a call, refused before caller authentication (env ARCGATE_MAX_HEADER_BYTES)")
	fs.Int64Var(&c.MaxBodyBytes, "max-body-bytes", int64(maxBody), "largest REST request body, refused before decoding (env ARCGATE_MAX_BODY_BYTES)")
	fs.IntVar(&c.UpstreamMaxConcurrent, "upstream-max-concurrent", maxConc, "upstream requests (and connections) in flight per site (env ARCGATE_UPSTREAM_MAX_CONCURRENT)")
	fs.BoolVar(&c.Tracing, "tracing", tracing, "export OpenTelemetry traces, configured by the standard OTEL_* variables; also on when OTEL_TRACES_EXPORTER, OTEL_EXPORTER_OTLP_ENDPOINT or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is set (env ARCGATE_TRACING=true)")
	fs.StringVar(&c.PprofAddr, "pprof-addr", getenv("ARCGATE_PPROF_ADDR"), "serve Go runtime profiles (net/http/pprof) on this loopback address, e.g. 127.0.0.1:6060; empty: off (env ARCGATE_PPROF_ADDR)")
	fs.StringVar(&c.StateStore, "state-store", envDefault(getenv, "ARCGATE_STATE_STORE", "memory"), "where the locks serialising updates of one resource live: memory (one replica) or redis://[:password@]host:6379/0 (rediss:// for TLS), shared by every replica (env ARCGATE_STATE_STORE, the better place for a password)")
	fs.DurationVar(&c.RequestIDTTL, "request-id-ttl", requestIDTTL, "how long the first outcome of a write's request_id (or Idempotency-Key) is kept, so that a retry with it gets that outcome instead of writing again; kept in --state-store (env ARCGATE_REQUEST_ID_TTL)")
	fs.DurationVar(&c.OperationTimeout, "operation-timeout", opTimeout, "bounds the work of each long-running operation, which runs detached from its caller's deadline; past it the operation fails with DEADLINE_EXCEEDED, outcome unknown (env ARCGATE_OPERATION_TIMEOUT)")
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
	c.rateSet = getenv("ARCGATE_RATE_LIMIT") != "" || getenv("ARCGATE_RATE_BURST") != ""
	fs.Visit(func(f *flag.Flag) { c.rateSet = c.rateSet || f.Name == "rate-limit" || f.Name == "rate-burst" })
	if c.LogFormat != "text" && c.LogFormat != "json" {
		return nil, fmt.Errorf("--log-format must be text or json, got %q", c.LogFormat)
	}
	if c.RequestIDTTL <= 0 {
		return nil, fmt.Errorf("--request-id-ttl must be positive, not %v", c.RequestIDTTL)
	}
	c.password = getenv("ARCGATE_PASSWORD")
	if c.PasswordFile != "" {
		b, err := os.ReadFile(c.PasswordFile)
		if err != nil {
			return nil, fmt.Errorf("reading --password-file: %w", err)
		}
		c.password = strings.TrimRight(string(b), "\r\n")
	}
	if err := c.parseTokenSettings(getenv); err != nil {
		return nil, err
	}
	if c.UpstreamURL != "" && c.TokenSource != "fixed" && (c.Username == "" || c.password == "") {
		return nil, errors.New("--upstream-url needs --username and a password (ARCGATE_PASSWORD_FILE, --password-file or ARCGATE_PASSWORD)")
	}
	if err := c.checkSecurity(); err != nil {
		return nil, err
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
	switch {
	case (c.TLSCert == "") != (c.TLSKey == ""):
		return errors.New("--tls-cert and --tls-key go together")
	case c.ClientCA != "" && c.TLSCert == "":
		return errors.New("--client-ca needs --tls-cert")
	case c.CallersFile != "" && c.InsecureNoCallerAuth:
		return errors.New("--callers-file and --insecure-no-caller-auth exclude each other")
	case c.UpstreamURL != "" && c.CallersFile == "" && !c.InsecureNoCallerAuth:
		return errors.New("refusing to start: --upstream-url is set but no caller authentication: give --callers-file (ARCGATE_CALLERS_FILE), or --insecure-no-caller-auth behind an authenticating proxy")
	case c.RatePerSecond < 0 || c.RateBurst < 0 || c.MaxBodyBytes <= 0 || c.UpstreamMaxConcurrent <= 0:
		return errors.New("--rate-limit and --rate-burst must not be negative; --max-body-bytes and --upstream-max-concurrent must be positive")
	case c.MaxConcurrentPerCaller < 0:
		return errors.New("--max-concurrent-per-caller must not be negative")
	case c.MaxHeaderBytes <= 0 || c.MaxHeaderBytes > maxHeaderBytesLimit:
		return fmt.Errorf("--max-header-bytes must be between 1 and %d", maxHeaderBytesLimit)
	}
	if c.PprofAddr != "" && !loopbackAddr(c.PprofAddr) {
		return fmt.Errorf("--pprof-addr listens on loopback only (profiles expose internals), not %q", c.PprofAddr)
	}
	if c.UpstreamURL == "" {
		for _, a := range []string{c.GRPCAddr, c.HTTPAddr} {
			if !loopbackAddr(a) {
				return fmt.Errorf("demo mode (no --upstream-url) listens on loopback only, not %q", a)
			}
		}
	}
	return nil
}

// rateLimit is the per-caller rate limit: --rate-limit and --rate-burst
// (100 calls a second, bursts of 200, by default) with a real upstream;
// none in demo mode unless one is set, since its only upstream is the
// embedded simulator; none with --rate-limit 0.
func (c *config) rateLimit() rpc.RateLimit {
	if c.RatePerSecond <= 0 || (c.UpstreamURL == "" && !c.rateSet) {
		return rpc.NoRateLimit
	}
	return rpc.RateLimit{PerSecond: c.RatePerSecond, Burst: c.RateBurst}
}

// parseTokenSettings checks the token flags and reads the fixed token.
// Its errors never contain a secret.
func (c *config) parseTokenSettings(getenv func(string) string) error {
	var err error
	if c.TokenSource != "fixed" {
		if c.tokenService, err = upstream.ParseTokenService(c.TokenSource); err != nil {
			return fmt.Errorf("--token-source must be admin, tokens, portal or fixed, not %q", c.TokenSource)
		}
	}
	if c.tokenClient, err = upstream.ParseTokenClient(c.TokenClient); err != nil {
		return fmt.Errorf("--token-client: %w", err)
	}
	if c.delegatedAuth, err = rpc.ParseDelegatedAuth(c.DelegatedAuth); err != nil {
		return fmt.Errorf("--delegated-auth: %w", err)
	}
	switch {
	case c.tokenClient == upstream.TokenClientReferer && c.TokenReferer == "":
		return errors.New("--token-client referer needs --token-referer")
	case c.tokenClient != upstream.TokenClientReferer && c.TokenReferer != "":
		return errors.New("--token-referer is only used with --token-client referer")
	case c.TokenSource == "portal" && c.PortalURL == "" && c.UpstreamURL != "":
		return errors.New("--token-source portal needs --portal-url")
	case c.TokenSource != "portal" && c.PortalURL != "":
		return errors.New("--portal-url is only used with --token-source portal")
	case c.TokenPoolSize < 1:
		return fmt.Errorf("--token-pool-size must be at least 1, not %d", c.TokenPoolSize)
	case c.TokenIdleTimeout <= 0:
		return fmt.Errorf("--token-idle-timeout must be positive, not %v", c.TokenIdleTimeout)
	case c.OperationTimeout <= 0:
		return fmt.Errorf("--operation-timeout must be positive, not %v", c.OperationTimeout)
	}
	c.token = getenv("ARCGATE_TOKEN")
	if c.TokenFile != "" {
		b, err := os.ReadFile(c.TokenFile)
		if err != nil {
			return fmt.Errorf("reading --token-file: %w", err)
		}
		c.token = strings.TrimSpace(string(b))
	}
	switch {
	case c.TokenSource == "fixed" && c.token == "" && c.UpstreamURL != "":
		return errors.New("--token-source fixed needs a token (--token-file, ARCGATE_TOKEN_FILE or ARCGATE_TOKEN)")
	case c.TokenSource != "fixed" && c.token != "":
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
		app.SetProcessDefaults(cfg.PprofAddr, logger)
		statestore.SetRedisLogger(logger)
	}
	var creds *rpc.Credentials
	if cfg.CallersFile != "" {
		if creds, err = rpc.LoadCredentials(cfg.CallersFile); err != nil {
			return err
		}
	}
	var srvTLS *tls.Config
	if cfg.TLSCert != "" {
		if err := readable("--tls-cert", cfg.TLSCert, "--tls-key", cfg.TLSKey, "--client-ca", cfg.ClientCA); err != nil {
			return err
		}
		if srvTLS, err = rpc.ServerTLSConfig(cfg.TLSCert, cfg.TLSKey, cfg.ClientCA); err != nil {
			return err
		}
	}
	var roots *x509.CertPool
	if cfg.UpstreamCAFile != "" {
		if roots, err = upstream.LoadRootCAs(cfg.UpstreamCAFile); err != nil {
			return err
		}
	}
	maxPerCaller := cfg.MaxConcurrentPerCaller
	if maxPerCaller == 0 {
		maxPerCaller = -1 // no cap
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
	a, err := app.Start(app.Config{
		GRPCAddr:       cfg.GRPCAddr,
		HTTPAddr:       cfg.HTTPAddr,
		UpstreamURL:    cfg.UpstreamURL,
		Username:       cfg.Username,
		Password:       cfg.password,
		DefaultTimeout: cfg.Timeout,
		Logger:         logger,

		TokenService:     cfg.tokenService,
		TokenClient:      cfg.tokenClient,
		TokenReferer:     cfg.TokenReferer,
		PortalURL:        cfg.PortalURL,
		FixedToken:       cfg.TokenSource == "fixed",
		Token:            cfg.token,
		DelegatedAuth:    cfg.delegatedAuth,
		TokenPoolSize:    cfg.TokenPoolSize,
		TokenIdleTimeout: cfg.TokenIdleTimeout,

		Credentials:          creds,
		InsecureNoCallerAuth: cfg.InsecureNoCallerAuth,
		RateLimit:            cfg.rateLimit(),
		TLS:                  srvTLS,
		UpstreamRootCAs:      roots,
		MaxBodyBytes:         cfg.MaxBodyBytes,
		Resilience:           upstream.ResilienceConfig{MaxConcurrent: cfg.UpstreamMaxConcurrent},
		PprofAddr:            cfg.PprofAddr,
		Telemetry:            tel,
		Store:                store,
		RequestIDTTL:         cfg.RequestIDTTL,
		OperationTimeout:     cfg.OperationTimeout,

		MaxConcurrentPerCaller: maxPerCaller,
		MaxHeaderBytes:         cfg.MaxHeaderBytes,
	})
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
