// Command arcgate serves a typed gRPC API, and a REST API through
// grpc-gateway, in front of the ArcGIS Server Administrator REST API.
//
// With no upstream configured it starts an embedded simulator of the admin
// API on loopback and fronts it, so that it works at once:
//
//	go run ./cmd/arcgate
//
// Against a real site:
//
//	ARCGATE_PASSWORD_FILE=/run/secrets/arcgis go run ./cmd/arcgate \
//	    --upstream-url https://gis.example.com/arcgis --username siteadmin
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/arcgate/arcgate/internal/app"
	"github.com/arcgate/arcgate/server"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stderr, nil); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintln(os.Stderr, "arcgate:", err)
		os.Exit(1)
	}
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
}

// envDefault returns the environment variable's value, or def.
func envDefault(getenv func(string) string, key, def string) string {
	if v := getenv(key); v != "" {
		return v
	}
	return def
}

func parseConfig(args []string, getenv func(string) string, stderr io.Writer) (*config, error) {
	c := &config{}
	fs := flag.NewFlagSet("arcgate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.GRPCAddr, "grpc-addr", envDefault(getenv, "ARCGATE_GRPC_ADDR", "127.0.0.1:9090"), "gRPC listen address (env ARCGATE_GRPC_ADDR)")
	fs.StringVar(&c.HTTPAddr, "http-addr", envDefault(getenv, "ARCGATE_HTTP_ADDR", "127.0.0.1:8080"), "REST listen address (env ARCGATE_HTTP_ADDR)")
	fs.StringVar(&c.UpstreamURL, "upstream-url", getenv("ARCGATE_UPSTREAM_URL"), "ArcGIS Server site URL, e.g. https://host/arcgis; arcgate appends /admin/... (env ARCGATE_UPSTREAM_URL); empty: embedded simulator")
	fs.StringVar(&c.Username, "username", getenv("ARCGATE_USERNAME"), "upstream administrator user name (env ARCGATE_USERNAME)")
	fs.StringVar(&c.PasswordFile, "password-file", getenv("ARCGATE_PASSWORD_FILE"), "file holding the upstream password (env ARCGATE_PASSWORD_FILE; or set ARCGATE_PASSWORD)")
	fs.StringVar(&c.LogFormat, "log-format", envDefault(getenv, "ARCGATE_LOG_FORMAT", "text"), "log format: text or json (env ARCGATE_LOG_FORMAT)")
	fs.DurationVar(&c.Timeout, "default-timeout", server.DefaultTimeout, "deadline of unary calls that carry none")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments: %q", fs.Args())
	}
	if c.LogFormat != "text" && c.LogFormat != "json" {
		return nil, fmt.Errorf("--log-format must be text or json, got %q", c.LogFormat)
	}
	c.password = getenv("ARCGATE_PASSWORD")
	if c.PasswordFile != "" {
		b, err := os.ReadFile(c.PasswordFile)
		if err != nil {
			return nil, fmt.Errorf("reading --password-file: %w", err)
		}
		c.password = strings.TrimRight(string(b), "\r\n")
	}
	if c.UpstreamURL != "" && (c.Username == "" || c.password == "") {
		return nil, errors.New("--upstream-url needs --username and a password (ARCGATE_PASSWORD_FILE, --password-file or ARCGATE_PASSWORD)")
	}
	return c, nil
}

func run(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer, onReady func(*app.App)) error {
	cfg, err := parseConfig(args, getenv, stderr)
	if err != nil {
		return err
	}
	var h slog.Handler = slog.NewTextHandler(stderr, nil)
	if cfg.LogFormat == "json" {
		h = slog.NewJSONHandler(stderr, nil)
	}
	a, err := app.Start(app.Config{
		GRPCAddr:       cfg.GRPCAddr,
		HTTPAddr:       cfg.HTTPAddr,
		UpstreamURL:    cfg.UpstreamURL,
		Username:       cfg.Username,
		Password:       cfg.password,
		DefaultTimeout: cfg.Timeout,
		Logger:         slog.New(h),
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
