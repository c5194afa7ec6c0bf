// Package app wires arcgate together: the upstream client (or an embedded
// simulator when no upstream is configured), the gRPC server with health and
// reflection, and the REST gateway that dials the gRPC server. cmd/arcgate
// parses flags and calls Start; the end-to-end tests start the same App.
package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	"google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/reflection"

	"github.com/arcgate/arcgate/gateway"
	"github.com/arcgate/arcgate/server"
	"github.com/arcgate/arcgate/simulator"
	"github.com/arcgate/arcgate/upstream"
)

// Demo credentials of the embedded simulator.
const (
	DemoUsername = "admin"
	DemoPassword = "admin-password"
)

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
	DelegatedAuth server.DelegatedAuth
	// TokenPoolSize bounds the delegated identities the token pool holds
	// (default 1000); TokenIdleTimeout evicts idle ones (default 30m).
	TokenPoolSize    int
	TokenIdleTimeout time.Duration
	// Clock, when set, is the token pool's clock and, unless
	// Simulator.Clock is set, the embedded simulator's (tests use a fake
	// clock shared by both).
	Clock func() time.Time

	Logger *slog.Logger
}

// String describes the configuration without its secrets: the password
// and the operator token are never shown.
func (c Config) String() string {
	return fmt.Sprintf("app.Config{grpc %s, http %s, upstream %q, user %q, password %s, token service %s, token client %s, fixed token %v (%s), delegated auth %s}",
		c.GRPCAddr, c.HTTPAddr, c.UpstreamURL, c.Username, secretState(c.Password), c.TokenService, c.TokenClient,
		c.FixedToken, secretState(c.Token), c.DelegatedAuth)
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

// secretState says whether a secret is set, never what it is.
func secretState(s string) string {
	if s == "" {
		return "unset"
	}
	return "REDACTED"
}

// App is a running arcgate.
type App struct {
	GRPCAddr string // bound gRPC address
	HTTPAddr string // bound REST address
	// Simulator is the embedded simulator in demo mode, nil otherwise.
	Simulator *simulator.Server
	// UpstreamURL is the site URL actually used.
	UpstreamURL string

	up *upstream.Client

	log     *slog.Logger
	grpc    *grpc.Server
	http    *http.Server
	sim     *http.Server
	conn    *grpc.ClientConn
	health  *health.Server
	cancel  context.CancelFunc
	errc    chan error
	closers []func()
}

// Start binds the listeners and serves until Shutdown.
func Start(cfg Config) (a *App, err error) {
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	a = &App{log: log, errc: make(chan error, 3)}
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
		a.Simulator = simulator.New(cfg.Simulator)
		lis, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("embedded simulator: %w", err)
		}
		a.sim = &http.Server{Handler: a.Simulator, ReadHeaderTimeout: 10 * time.Second}
		go func() { _ = a.sim.Serve(lis) }()
		a.closers = append(a.closers, func() { _ = a.sim.Close() })
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
	opts := []upstream.Option{
		upstream.WithTokenConfig(upstream.TokenConfig{Service: cfg.TokenService, Client: cfg.TokenClient,
			Referer: cfg.TokenReferer, PortalURL: portalURL}),
		upstream.WithPoolConfig(upstream.PoolConfig{Size: cfg.TokenPoolSize, IdleTimeout: cfg.TokenIdleTimeout}),
	}
	if cfg.FixedToken {
		opts = append(opts, upstream.WithServiceIdentity(upstream.TokenIdentity(fixedToken)))
	} else {
		opts = append(opts, upstream.WithCredentials(username, password))
	}
	if cfg.Clock != nil {
		opts = append(opts, upstream.WithClock(cfg.Clock))
	}
	if cfg.HTTPClient != nil {
		opts = append(opts, upstream.WithHTTPClient(cfg.HTTPClient))
	}
	up, err := upstream.New(a.UpstreamURL, opts...)
	if err != nil {
		return nil, fmt.Errorf("upstream: %w", err)
	}
	a.up = up
	a.closers = append(a.closers, up.Close)

	timeout := cfg.DefaultTimeout
	if timeout == 0 {
		timeout = server.DefaultTimeout
	}
	srv := server.New(up, server.WithLogger(log), server.WithDefaultTimeout(timeout))
	a.grpc = grpc.NewServer(append(srv.ServerOptions(), server.DelegatedAuthOptions(cfg.DelegatedAuth)...)...)
	srv.Register(a.grpc)
	a.health = health.NewServer()
	grpc_health_v1.RegisterHealthServer(a.grpc, a.health)
	reflection.Register(a.grpc)

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

	// The gateway dials arcgate's own gRPC server, so interceptors run for
	// REST callers too.
	a.conn, err = grpc.NewClient(a.GRPCAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return nil, fmt.Errorf("gateway connection: %w", err)
	}
	a.closers = append(a.closers, func() { _ = a.conn.Close() })
	var gctx context.Context
	gctx, a.cancel = context.WithCancel(context.Background())
	gw, err := gateway.New(gctx, a.conn)
	if err != nil {
		return nil, fmt.Errorf("gateway: %w", err)
	}
	a.http = &http.Server{
		Handler:           gw,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
	}
	go func() { a.errc <- a.grpc.Serve(glis) }()
	go func() { a.errc <- a.http.Serve(hlis) }()
	log.Info("arcgate serving", "grpc", a.GRPCAddr, "http", a.HTTPAddr, "upstream", up.AdminURL(),
		"tokenService", cfg.TokenService.String(), "fixedToken", cfg.FixedToken, "delegatedAuth", cfg.DelegatedAuth.String())
	return a, nil
}

// TokenPool returns the upstream token pool; its Stats feed metrics.
func (a *App) TokenPool() *upstream.Pool { return a.up.Pool() }

// Err returns a channel that receives an error if a server stops on its own.
func (a *App) Err() <-chan error { return a.errc }

// Shutdown stops serving: health turns NOT_SERVING, REST drains, then gRPC
// drains, within ctx's deadline (after which connections are closed).
func (a *App) Shutdown(ctx context.Context) error {
	a.health.Shutdown()
	err := a.http.Shutdown(ctx)
	stopped := make(chan struct{})
	go func() { a.grpc.GracefulStop(); close(stopped) }()
	select {
	case <-stopped:
	case <-ctx.Done():
		a.grpc.Stop()
		<-stopped
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
