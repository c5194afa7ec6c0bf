// Package app wires arcgate together: the upstream client (or an embedded
// simulator when no upstream is configured), the gRPC server with health
// and reflection, and the REST gateway that calls the services in process.
// cmd/arcgate parses flags and calls Start; the end-to-end tests start the
// same App.
package app

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"runtime"
	"time"

	"cloud.google.com/go/longrunning/autogen/longrunningpb"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/grpclog"
	"google.golang.org/grpc/health"
	"google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/reflection"

	"github.com/arcgate/arcgate/gateway"
	adminv1 "github.com/arcgate/arcgate/gen/go/arcgate/admin/v1"
	"github.com/arcgate/arcgate/internal/metrics"
	"github.com/arcgate/arcgate/internal/telemetry"
	"github.com/arcgate/arcgate/operations"
	"github.com/arcgate/arcgate/rpc"
	"github.com/arcgate/arcgate/server"
	"github.com/arcgate/arcgate/simulator"
	"github.com/arcgate/arcgate/statestore"
	"github.com/arcgate/arcgate/upstream"
)

// SetProcessDefaults sets what the arcgate process sets for itself, once,
// before Start:
//   - heap profile sampling stays on only when pprof is served (pprofAddr,
//     Config.PprofAddr), the only way to read the profile; without it the
//     sampling would keep a record of every sampled allocation's stack
//     (1.5 MiB and more at 1 000 calls in flight) for no reader;
//   - grpc-go's logger (grpclog, also grpc-gateway's) writes through log,
//     structured like arcgate's own lines, instead of to stderr.
//
// Both are process-wide. cmd/arcgate's main calls it, and so does the
// benchmark's arcgate process; tests do not, so that go test -memprofile
// works and grpclog keeps its defaults.
func SetProcessDefaults(pprofAddr string, log *slog.Logger) {
	if pprofAddr == "" {
		runtime.MemProfileRate = 0
	}
	if log != nil {
		grpclog.SetLoggerV2(slogGRPC{log})
	}
}

// Demo credentials of the embedded simulator.
const (
	DemoUsername = "admin"
	DemoPassword = "admin-password"
)

// grpcStreamWorkers is the number of goroutines the gRPC server keeps to
// run calls (grpc.NumStreamWorkers): a call that finds one free runs on it,
// on a stack already grown by earlier calls, instead of on a new goroutine
// that grows its stack by copying (runtime.newstack: 5 to 14 % of a call's
// CPU in arcgate-bench's gRPC rows). Beyond it, calls get a goroutine each
// as before. Their stacks are the memory they keep: at most a few tens of
// KiB each.
const grpcStreamWorkers = 32

// Config configures an App.
type Config struct {
	GRPCAddr string // gRPC listen address, e.g. 127.0.0.1:9090 (":0" ports allowed)
	HTTPAddr string // REST listen address

	// UpstreamURL is the ArcGIS Server site, e.g. https://host/arcgis. Empty
	// starts an embedded simulator on loopback (demo mode).
	UpstreamURL string
	Username    string
	Password    string

	// Simulator configures the embedded simulator in demo mode.
	Simulator simulator.Config
	// UpstreamFlavor is the kind of site, which decides how asynchronous
	// execution is asked for and followed (upstream.WithFlavor; default
	// server). In demo mode an unset UpstreamFlavor or Simulator.Flavor
	// takes the other's value.
	UpstreamFlavor upstream.Flavor

	// DefaultTimeout is the deadline of unary calls that carry none.
	DefaultTimeout time.Duration

	// HTTPClient, when set, is used for upstream requests.
	HTTPClient *http.Client

	// TokenService is the operation that mints tokens for credentials (the
	// service account and delegated callers): admin generateToken (the
	// default), the /tokens service, or a federated server's portal.
	TokenService upstream.TokenService
	// TokenClient is the token binding: requestip (the default) or referer.
	TokenClient upstream.TokenClient
	// TokenReferer is the Referer tokens are bound to with the referer
	// client; it is sent on every upstream request.
	TokenReferer string
	// PortalURL is the portal of a federated server (TokenServicePortal).
	// In demo mode it defaults to the embedded simulator's portal.
	PortalURL string
	// FixedToken makes the service identity the operator token Token, used
	// as is and never refreshed (token source "fixed"); Username and
	// Password are then not used. In demo mode an empty Token is issued by
	// the embedded simulator.
	FixedToken bool
	// Token is the operator token of FixedToken.
	Token string
	// DelegatedAuth says whether callers may act upstream as themselves
	// (x-arcgis-* metadata); default off.
	DelegatedAuth rpc.DelegatedAuth
	// TokenPoolSize bounds the delegated identities the token pool holds
	// (default 1000); TokenIdleTimeout evicts idle ones (default 30m).
	TokenPoolSize    int
	TokenIdleTimeout time.Duration
	// Clock, when set, is the token pool's clock and, unless
	// Simulator.Clock is set, the embedded simulator's (tests use a fake
	// clock shared by both).
	Clock func() time.Time

	// Credentials lists the callers allowed in (rpc.LoadCredentials).
	// Without it, InsecureNoCallerAuth must be set, except in demo mode,
	// which lets every caller in (cmd/arcgate keeps demo mode on loopback).
	Credentials *rpc.Credentials
	// InsecureNoCallerAuth lets every caller in as admin.
	InsecureNoCallerAuth bool
	// RateLimit is the per-caller rate limit (zero value: off).
	RateLimit rpc.RateLimit
	// MaxConcurrentPerCaller caps the calls one caller (one client address
	// without valid credentials or without caller authentication) may have
	// open at once (default rpc.DefaultMaxConcurrentPerCaller; negative:
	// no cap).
	MaxConcurrentPerCaller int
	// MaxHeaderBytes bounds the headers of a call: gRPC metadata
	// (grpc.MaxHeaderListSize, enforced while they are read, before caller
	// authentication) and REST request headers (http.Server.MaxHeaderBytes)
	// alike (default gateway.DefaultMaxHeaderBytes).
	MaxHeaderBytes int
	// TLS, when set, serves gRPC and REST over TLS (and mTLS when it asks
	// for client certificates).
	TLS *tls.Config
	// UpstreamRootCAs, when set, verifies the upstream's certificate.
	UpstreamRootCAs *x509.CertPool
	// MaxBodyBytes bounds REST request bodies (default
	// gateway.DefaultMaxBodyBytes), enforced before JSON decoding.
	MaxBodyBytes int64
	// MaxRecvMsgBytes bounds gRPC request messages (default 4 MiB).
	MaxRecvMsgBytes int
	// Resilience configures upstream retries, the circuit breaker and the
	// per-site concurrency cap (zero value: the defaults).
	Resilience upstream.ResilienceConfig
	// Telemetry, when set and enabled, traces REST requests, gRPC calls and
	// upstream requests. The caller shuts it down after Shutdown.
	Telemetry *telemetry.Telemetry
	// JobPollMin and JobPollMax bound WatchJob's upstream polling interval
	// (defaults in package server).
	JobPollMin, JobPollMax time.Duration
	// PprofAddr, when set, serves net/http/pprof's profiles on their own
	// listener (cmd/arcgate keeps it on loopback: profiles are internals).
	PprofAddr string
	// Store holds the locks that serialise the read-modify-writes of one
	// upstream resource and the request-id records of retried mutations
	// (default: in memory, which covers the calls made through this App;
	// a Redis store shared by replicas covers theirs too).
	Store statestore.Store
	// RequestIDTTL is how long the first outcome of a mutation's request
	// id is kept for its retries (default idempotency.DefaultTTL, 24 h).
	RequestIDTTL time.Duration
	// OperationTimeout bounds the work of each long-running operation
	// (default operations.DefaultTimeout).
	OperationTimeout time.Duration

	Logger *slog.Logger
}

// String describes the configuration without its secrets: the password
// and the operator token are never shown.
func (c Config) String() string {
	return fmt.Sprintf("app.Config{grpc %s, http %s, upstream %q, user %q, password %s, token service %s, token client %s, fixed token %v (%s), delegated auth %s}",
		c.GRPCAddr, c.HTTPAddr, c.UpstreamURL, c.Username, SecretState(c.Password), c.TokenService, c.TokenClient,
		c.FixedToken, SecretState(c.Token), c.DelegatedAuth)
}

// GoString is String, for %#v.
func (c Config) GoString() string { return c.String() }

// Format implements fmt.Formatter so that no verb prints the password or
// the token.
func (c Config) Format(f fmt.State, _ rune) { _, _ = fmt.Fprint(f, c.String()) }

// LogValue implements slog.LogValuer without the secrets.
func (c Config) LogValue() slog.Value { return slog.StringValue(c.String()) }

// MarshalJSON encodes String: the configuration without its secrets.
func (c Config) MarshalJSON() ([]byte, error) { return json.Marshal(c.String()) }

// SecretState says whether a secret is set ("unset" or "REDACTED"), never
// what it is: how configurations describe their secrets.
func SecretState(s string) string {
	if s == "" {
		return "unset"
	}
	return "REDACTED"
}

// App is a running arcgate.
type App struct {
	GRPCAddr  string // bound gRPC address
	HTTPAddr  string // bound REST address
	PprofAddr string // bound pprof address, when Config.PprofAddr is set
	// Simulator is the embedded simulator in demo mode, nil otherwise.
	Simulator *simulator.Server
	// UpstreamURL is the site URL actually used.
	UpstreamURL string

	// Metrics holds the metrics served at /metrics on the HTTP listener.
	Metrics *metrics.Metrics

	up  *upstream.Client
	srv *server.Server
	ops *operations.Manager

	log     *slog.Logger
	grpc    *grpc.Server
	http    *http.Server
	health  *health.Server
	cancel  context.CancelFunc
	errc    chan error
	closers []func()
}

// Start binds the listeners and serves until Shutdown.
func Start(cfg Config) (_ *App, err error) {
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	// a is not the result: a failure returns a nil App, and the deferred
	// close must still see what was started.
	a := &App{log: log, errc: make(chan error, 3)}
	defer func() {
		if err != nil {
			a.closeAll()
		}
	}()

	username, password := cfg.Username, cfg.Password
	a.UpstreamURL = cfg.UpstreamURL
	portalURL, fixedToken := cfg.PortalURL, cfg.Token
	if a.UpstreamURL == "" {
		if cfg.Simulator.Clock == nil {
			cfg.Simulator.Clock = cfg.Clock
		}
		if cfg.Simulator.Flavor == "" {
			cfg.Simulator.Flavor = string(cfg.UpstreamFlavor)
		} else if cfg.UpstreamFlavor == "" {
			cfg.UpstreamFlavor = upstream.Flavor(cfg.Simulator.Flavor)
		}
		a.Simulator = simulator.New(cfg.Simulator)
		lis, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("embedded simulator: %w", err)
		}
		sim := &http.Server{Handler: a.Simulator, ReadHeaderTimeout: 10 * time.Second}
		go func() { _ = sim.Serve(lis) }()
		a.closers = append(a.closers, func() { _ = sim.Close() })
		a.UpstreamURL = "http://" + lis.Addr().String() + "/arcgis"
		username, password = DemoUsername, DemoPassword
		if cfg.Simulator.Username != "" {
			username, password = cfg.Simulator.Username, cfg.Simulator.Password
		}
		if portalURL == "" && cfg.TokenService == upstream.TokenServicePortal {
			portalURL = "http://" + lis.Addr().String() + "/" + simulator.PortalContext
		}
		if fixedToken == "" && cfg.FixedToken {
			fixedToken = a.Simulator.IssueToken(24 * time.Hour)
		}
		log.Info("no upstream configured: fronting an embedded ArcGIS Server simulator", "upstream", a.UpstreamURL)
	}
	insecureAuth := cfg.InsecureNoCallerAuth
	if cfg.Credentials == nil && !insecureAuth {
		if a.Simulator == nil {
			return nil, errors.New("caller authentication: a real upstream needs a callers file or InsecureNoCallerAuth")
		}
		insecureAuth = true // demo mode: loopback only (cmd/arcgate checks)
	}
	if insecureAuth {
		log.Warn("caller authentication is off: every caller is admin", "demo", a.Simulator != nil)
	}
	a.health = health.NewServer()
	res := cfg.Resilience
	res.OnStateChange = func(s upstream.BreakerState) {
		st := grpc_health_v1.HealthCheckResponse_SERVING
		if s == upstream.BreakerOpen {
			st = grpc_health_v1.HealthCheckResponse_NOT_SERVING
		}
		a.health.SetServingStatus("", st) // gRPC health and /healthz
		log.Warn("upstream circuit breaker", "state", s.String())
	}
	a.Metrics = metrics.New()
	opts := []upstream.Option{
		upstream.WithObserver(a.Metrics.ObserveUpstream),
		upstream.WithResilience(res),
		upstream.WithTokenConfig(upstream.TokenConfig{Service: cfg.TokenService, Client: cfg.TokenClient,
			Referer: cfg.TokenReferer, PortalURL: portalURL}),
		upstream.WithPoolConfig(upstream.PoolConfig{Size: cfg.TokenPoolSize, IdleTimeout: cfg.TokenIdleTimeout}),
		upstream.WithFlavor(cfg.UpstreamFlavor),
	}
	if cfg.FixedToken {
		opts = append(opts, upstream.WithServiceIdentity(upstream.TokenIdentity(fixedToken)))
	} else {
		opts = append(opts, upstream.WithCredentials(username, password))
	}
	if cfg.Clock != nil {
		opts = append(opts, upstream.WithClock(cfg.Clock))
	}
	switch {
	case cfg.HTTPClient != nil:
		hc := *cfg.HTTPClient
		hc.Transport = cfg.Telemetry.Transport(hc.Transport) // unchanged when tracing is off
		opts = append(opts, upstream.WithHTTPClient(&hc))
	case cfg.Telemetry.Enabled():
		// upstream builds no transport when given a client: build its
		// verified, connection-reusing one here and trace it.
		opts = append(opts, upstream.WithHTTPClient(&http.Client{
			Transport: cfg.Telemetry.Transport(upstream.NewTransport(cfg.UpstreamRootCAs, res.MaxConcurrent)),
		}))
	case cfg.UpstreamRootCAs != nil:
		opts = append(opts, upstream.WithRootCAs(cfg.UpstreamRootCAs))
	}
	up, err := upstream.New(a.UpstreamURL, opts...)
	if err != nil {
		return nil, fmt.Errorf("upstream: %w", err)
	}
	a.up = up
	a.closers = append(a.closers, up.Close)

	timeout := cfg.DefaultTimeout
	if timeout == 0 {
		timeout = rpc.DefaultTimeout
	}
	srvOpts := []server.Option{server.WithDefaultTimeout(timeout)}
	if cfg.JobPollMin > 0 || cfg.JobPollMax > 0 {
		srvOpts = append(srvOpts, server.WithJobPollInterval(cfg.JobPollMin, cfg.JobPollMax))
	}
	store := cfg.Store
	if store == nil {
		store = statestore.NewMemory()
	}
	srvOpts = append(srvOpts, server.WithLocker(store))
	// Long-running operations (AIP-151) live in the same store: a shared
	// store lets any replica answer about any operation.
	a.ops = operations.New(store, operations.Options{
		Timeout: cfg.OperationTimeout, Logger: log,
		CallerOf: func(ctx context.Context) (string, bool) {
			c, _ := rpc.CallerFrom(ctx)
			return c.ID, c.Has(adminv1.Scope_SCOPE_ADMIN)
		},
	})
	srvOpts = append(srvOpts, server.WithOperations(a.ops))
	srv := server.New(up, srvOpts...)
	a.srv = srv
	rl := cfg.RateLimit
	if rl == (rpc.RateLimit{}) {
		rl = rpc.NoRateLimit
	}
	// The interceptors of every call, gRPC and REST alike, in the order
	// rpc.NewChain sets. Tracing of gRPC calls is a stats handler.
	chain, err := rpc.NewChain(rpc.ChainConfig{
		ObserveUnary: a.Metrics.UnaryInterceptors(), ObserveStream: a.Metrics.StreamInterceptors(),
		InProcessUnary: cfg.Telemetry.InProcessInterceptors(), InProcessStream: cfg.Telemetry.InProcessStreamInterceptors(),
		Logger: log, DefaultTimeout: timeout, DelegatedAuth: cfg.DelegatedAuth,
		Guard: rpc.GuardConfig{Credentials: cfg.Credentials, InsecureNoCallerAuth: insecureAuth, RateLimit: rl,
			MaxConcurrentPerCaller: cfg.MaxConcurrentPerCaller, ExtraScopes: operations.MethodScopes()},
		Store: store, RequestIDTTL: cfg.RequestIDTTL,
	})
	if err != nil {
		return nil, err
	}
	maxMsg := cfg.MaxRecvMsgBytes
	if maxMsg <= 0 {
		maxMsg = 4 << 20
	}
	maxHeader := cfg.MaxHeaderBytes
	if maxHeader <= 0 {
		maxHeader = gateway.DefaultMaxHeaderBytes
	}
	gopts := append(cfg.Telemetry.ServerOptions(), chain.ServerOptions()...)
	// The header cap makes grpc-go refuse oversized metadata while reading
	// it (the connection is closed), before anything is kept of it.
	gopts = append(gopts, rpc.CodecOption(), grpc.MaxRecvMsgSize(maxMsg), grpc.MaxHeaderListSize(uint32(maxHeader)))
	// Calls run on goroutines that are kept, when one is free, instead of
	// a new goroutine each, whose stack grew by copying on every call.
	gopts = append(gopts, grpc.NumStreamWorkers(grpcStreamWorkers))
	if cfg.TLS != nil {
		gopts = append(gopts, grpc.Creds(credentials.NewTLS(cfg.TLS)))
	}
	a.grpc = grpc.NewServer(gopts...)
	inproc := chain.InProcess()
	gs := rpc.NewMalformedRequests(a.grpc) // undecodable requests: INVALID_ARGUMENT
	both := rpc.Registrars(gs, inproc)
	srv.Register(both)
	grpc_health_v1.RegisterHealthServer(both, a.health)
	longrunningpb.RegisterOperationsServer(both, operations.NewServer(a.ops))
	reflection.Register(gs)
	a.Metrics.InitializeMetrics(a.grpc)
	if err := a.Metrics.RegisterTokenPool(up.Pool().Stats); err != nil {
		return nil, fmt.Errorf("metrics: %w", err)
	}
	if err := a.Metrics.RegisterUpstreamHealth(up.Health); err != nil {
		return nil, fmt.Errorf("metrics: %w", err)
	}

	glis, err := net.Listen("tcp", cfg.GRPCAddr)
	if err != nil {
		return nil, fmt.Errorf("gRPC listener: %w", err)
	}
	a.closers = append(a.closers, func() { _ = glis.Close() })
	hlis, err := net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		return nil, fmt.Errorf("HTTP listener: %w", err)
	}
	a.closers = append(a.closers, func() { _ = hlis.Close() })
	a.GRPCAddr, a.HTTPAddr = glis.Addr().String(), hlis.Addr().String()

	var gctx context.Context
	gctx, a.cancel = context.WithCancel(context.Background())
	gw, err := gateway.New(gctx, inproc)
	if err != nil {
		return nil, fmt.Errorf("gateway: %w", err)
	}
	maxBody := cfg.MaxBodyBytes
	if maxBody <= 0 {
		maxBody = gateway.DefaultMaxBodyBytes
	}
	a.http = &http.Server{
		Handler:           cfg.Telemetry.HTTPHandler(a.Metrics.Wrap(gateway.LimitBody(gateway.WithPeer(gw), maxBody))),
		ConnContext:       gateway.PeerConnContext, // a plaintext connection's peer once, not per request
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       time.Minute,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    maxHeader,
		TLSConfig:         cfg.TLS,
	}
	if cfg.PprofAddr != "" {
		if err := a.servePprof(cfg.PprofAddr); err != nil {
			return nil, err
		}
	}
	go func() { a.errc <- a.grpc.Serve(glis) }()
	go func() {
		if cfg.TLS != nil {
			a.errc <- a.http.ServeTLS(hlis, "", "")
			return
		}
		a.errc <- a.http.Serve(hlis)
	}()
	docsScheme := "http"
	if cfg.TLS != nil {
		docsScheme = "https"
	}
	log.Info("arcgate serving", "grpc", a.GRPCAddr, "http", a.HTTPAddr, "docs", docsScheme+"://"+a.HTTPAddr+"/docs", "upstream", up.AdminURL(),
		"tokenService", cfg.TokenService.String(), "fixedToken", cfg.FixedToken, "delegatedAuth", cfg.DelegatedAuth.String())
	return a, nil
}

// TokenPool returns the upstream token pool (tests read its Stats).
func (a *App) TokenPool() *upstream.Pool { return a.up.Pool() }

// UpstreamHealth reports the state of the upstream site's circuit breaker
// and the requests in flight (tests read it).
func (a *App) UpstreamHealth() upstream.Health { return a.up.Health() }

// Err returns a channel that receives an error if a server stops on its own.
func (a *App) Err() <-chan error { return a.errc }

// Shutdown stops serving: health turns NOT_SERVING, every WatchJob stream
// ends at once with UNAVAILABLE (SHUTTING_DOWN, with a RetryInfo; over
// REST a final error line), then REST and gRPC drain the calls in flight
// within ctx's deadline (after which connections are closed).
func (a *App) Shutdown(ctx context.Context) error {
	a.health.Shutdown()
	// Watches never end on their own: end them first, so that the drain
	// waits for the unary calls only (http.Server.Shutdown would not cancel
	// a REST stream).
	a.srv.StopWatches()
	// REST and gRPC drain together. Calls still open at the deadline are
	// cut; that ends a shutdown, it is not a failure of it.
	httpDone := make(chan error, 1)
	go func() { httpDone <- a.http.Shutdown(ctx) }()
	grpcDone := make(chan struct{})
	go func() { a.grpc.GracefulStop(); close(grpcDone) }()
	var err error
	select {
	case err = <-httpDone:
		select {
		case <-grpcDone:
		case <-ctx.Done():
		}
	case <-ctx.Done():
	}
	if ctx.Err() != nil {
		a.log.Warn("shutdown deadline reached: closing the calls still open")
		_ = a.http.Close()
		a.grpc.Stop()
		err = nil
	}
	<-grpcDone
	// Operations still running end (recorded as interrupted) before the
	// upstream client and the store close.
	if err := a.ops.Shutdown(ctx); err != nil {
		a.log.Warn("operations still running at shutdown", "error", err)
	}
	a.closeAll()
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}

func (a *App) closeAll() {
	if a.cancel != nil {
		a.cancel()
	}
	if a.grpc != nil {
		a.grpc.Stop()
	}
	if a.http != nil {
		_ = a.http.Close()
	}
	for i := len(a.closers) - 1; i >= 0; i-- {
		a.closers[i]()
	}
	a.closers = nil
}

// servePprof serves the runtime profiles of net/http/pprof on addr.
func (a *App) servePprof(addr string) error {
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("pprof listener: %w", err)
	}
	a.PprofAddr = lis.Addr().String()
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = hs.Serve(lis) }()
	a.closers = append(a.closers, func() { _ = hs.Close() })
	a.log.Info("serving pprof", "addr", a.PprofAddr)
	return nil
}
