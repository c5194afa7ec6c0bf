// Command arcgate-sim serves the in-process ArcGIS Server admin API
// simulator (package simulator) over HTTP, for manual testing of arcgate and
// of other ArcGIS admin clients.
//
// Usage:
//
//	arcgate-sim [--addr 127.0.0.1:6080] [--context arcgis] [--username admin]
//	            [--password-file FILE] [--token-lifetime 60m]
//	            [--root-folder-name ""] [--extra-services N]
//	            [--flavor server|kubernetes] [--async-execution]
//	            [--job-duration 0s] [--verbose]
//
// The password is read from --password-file, else from the environment
// variable ARCGATE_SIM_PASSWORD, else it is the simulator default
// "admin-password". The password itself is never logged.
//
// The server stops gracefully on SIGINT or SIGTERM.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/arcgate/arcgate/simulator"
)

// passwordEnv is the environment variable holding the simulated password.
const passwordEnv = "ARCGATE_SIM_PASSWORD"

// shutdownTimeout bounds the graceful shutdown.
const shutdownTimeout = 5 * time.Second

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "arcgate-sim:", err)
		stop()
		os.Exit(1)
	}
}

// options are the parsed command line.
type options struct {
	addr           string
	context        string
	username       string
	passwordFile   string
	tokenLifetime  time.Duration
	rootFolderName string
	extraServices  int
	flavor         string
	asyncExecution bool
	jobDuration    time.Duration
	verbose        bool
}

// parseFlags parses args; usage and errors are written to out.
func parseFlags(args []string, out io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("arcgate-sim", flag.ContinueOnError)
	fs.SetOutput(out)
	fs.StringVar(&o.addr, "addr", "127.0.0.1:6080", "listen address (port 0 picks a free port)")
	fs.StringVar(&o.context, "context", simulator.DefaultContext, "URL context; the admin API is served at /<context>/admin/")
	fs.StringVar(&o.username, "username", simulator.DefaultUsername, "administrator user name")
	fs.StringVar(&o.passwordFile, "password-file", "", "file holding the administrator password (default: $"+passwordEnv+", else the simulator default)")
	fs.DurationVar(&o.tokenLifetime, "token-lifetime", simulator.DefaultTokenLifetime, "default and maximum token lifetime")
	fs.StringVar(&o.rootFolderName, "root-folder-name", "", `folderName reported for root-folder services: "" or "/"`)
	fs.IntVar(&o.extraServices, "extra-services", 0, "number of extra MapServer services seeded into folder Bulk")
	fs.StringVar(&o.flavor, "flavor", simulator.FlavorServer, "site simulated: server (ArcGIS Server: runAsync, admin/system/jobs) or kubernetes (Enterprise on Kubernetes: async=true runs service operations as jobs at admin/jobs)")
	fs.BoolVar(&o.asyncExecution, "async-execution", false, "server flavor: run service operations sent with runAsync=true as system jobs")
	fs.DurationVar(&o.jobDuration, "job-duration", 0, "how long an asynchronous job runs before it ends")
	fs.BoolVar(&o.verbose, "verbose", false, "log every request")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	switch {
	case fs.NArg() > 0:
		return o, fmt.Errorf("unexpected arguments: %q", fs.Args())
	case o.rootFolderName != "" && o.rootFolderName != "/":
		return o, fmt.Errorf(`--root-folder-name must be "" or "/", got %q`, o.rootFolderName)
	case o.extraServices < 0:
		return o, fmt.Errorf("--extra-services must not be negative, got %d", o.extraServices)
	case o.flavor != simulator.FlavorServer && o.flavor != simulator.FlavorKubernetes:
		return o, fmt.Errorf("--flavor must be server or kubernetes, got %q", o.flavor)
	case o.jobDuration < 0:
		return o, fmt.Errorf("--job-duration must not be negative, got %s", o.jobDuration)
	case o.tokenLifetime <= 0:
		return o, fmt.Errorf("--token-lifetime must be positive, got %s", o.tokenLifetime)
	case o.username == "":
		return o, errors.New("--username must not be empty")
	}
	return o, nil
}

// password resolves the administrator password and describes its source
// (never the password itself).
func password(o options, getenv func(string) string) (pw, source string, err error) {
	if o.passwordFile != "" {
		b, err := os.ReadFile(o.passwordFile)
		if err != nil {
			return "", "", fmt.Errorf("read password file: %w", err)
		}
		pw = strings.TrimRight(string(b), "\r\n")
		if pw == "" {
			return "", "", fmt.Errorf("password file %s is empty", o.passwordFile)
		}
		return pw, "file " + o.passwordFile, nil
	}
	if pw := getenv(passwordEnv); pw != "" {
		return pw, "environment variable " + passwordEnv, nil
	}
	return simulator.DefaultPassword, "built-in default", nil
}

// run starts the simulator on the address given in args and serves until ctx
// is done, then shuts down gracefully. Logs go to stdout; once listening it
// logs a line "arcgate-sim listening" with the bound addr, so that a caller
// using port 0 can learn the actual port.
func run(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	o, err := parseFlags(args, stdout)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	pw, source, err := password(o, getenv)
	if err != nil {
		return err
	}

	level := slog.LevelInfo
	if o.verbose {
		level = slog.LevelDebug
	}
	handler := slog.NewTextHandler(stdout, &slog.HandlerOptions{Level: level})
	logger := slog.New(handler)

	cfg := simulator.Config{
		Context:        o.context,
		Username:       o.username,
		Password:       pw,
		TokenLifetime:  o.tokenLifetime,
		RootFolderName: o.rootFolderName,
		ExtraServices:  o.extraServices,
		Flavor:         o.flavor,
		AsyncExecution: o.asyncExecution,

		SystemJobDuration: o.jobDuration,
	}
	if o.verbose {
		cfg.Logf = func(format string, args ...any) {
			logger.Debug(fmt.Sprintf(format, args...))
		}
	}
	sim := simulator.New(cfg)

	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", o.addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	srv := &http.Server{
		Handler:           sim,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       time.Minute,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(handler, slog.LevelWarn),
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()

	addr := ln.Addr().String()
	logger.Info("arcgate-sim listening",
		"addr", addr,
		"admin_url", "http://"+addr+sim.AdminPath(),
		"username", o.username,
		"password_source", source,
		"token_lifetime", o.tokenLifetime.String(),
		"extra_services", o.extraServices,
		"flavor", o.flavor,
	)

	select {
	case err := <-serveErr:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	logger.Info("arcgate-sim shutting down")
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		_ = srv.Close()
		<-serveErr
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-serveErr; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", err)
	}
	logger.Info("arcgate-sim stopped")
	return nil
}
