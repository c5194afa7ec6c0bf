package main

import (
	"flag"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/arcgate/arcgate/gateway"
	"github.com/arcgate/arcgate/idempotency"
	"github.com/arcgate/arcgate/internal/app"
	"github.com/arcgate/arcgate/operations"
	"github.com/arcgate/arcgate/rpc"
	"github.com/arcgate/arcgate/statestore"
	"github.com/arcgate/arcgate/upstream"
)

// Environment variables without a flag: secrets are never flags, which
// would show them in the process list.
const (
	passwordEnv = "ARCGATE_PASSWORD" // the upstream password, when no --password-file
	tokenEnv    = "ARCGATE_TOKEN"    // the operator token, when no --token-file
)

// setting is one row of arcgate's configuration: a flag, the environment
// variable that sets its default (envName of the flag), the default, the
// usage text and the field it sets. The typed constructors (stringSetting,
// intSetting, ...) make them.
type setting struct {
	name  string // the flag, e.g. "rate-burst"
	def   string // the default as --help prints it; "" for none
	usage string // without the environment variable, which --help appends
	// register reads the environment variable into the field (an error
	// names the variable and says what it must be) and registers the
	// flag with that value as its default.
	register func(fs *flag.FlagSet, getenv func(string) string) error
}

// envName is the environment variable of the flag name: ARCGATE_ and the
// name in upper case, - replaced by _ (rate-burst: ARCGATE_RATE_BURST).
func envName(flagName string) string {
	return "ARCGATE_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// newSetting makes a setting of one kind: parse reads the environment
// variable (what names the values it accepts, for its error), bind is the
// FlagSet's method for the kind, e.g. (*flag.FlagSet).IntVar.
func newSetting[T any](p *T, name string, def T, usage, what string, parse func(string) (T, error),
	bind func(fs *flag.FlagSet, p *T, name string, value T, usage string)) setting {
	s := setting{name: name, usage: usage}
	if v := fmt.Sprint(def); v != fmt.Sprint(*new(T)) {
		s.def = v
	}
	s.register = func(fs *flag.FlagSet, getenv func(string) string) error {
		key, v := envName(name), def
		if e := getenv(key); e != "" {
			var err error
			if v, err = parse(e); err != nil {
				return fmt.Errorf("%s must be %s, not %q", key, what, e)
			}
		}
		note := " (env " + key + ")"
		if what == boolWhat {
			note = " (env " + key + "=true)"
		}
		bind(fs, p, name, v, usage+note)
		return nil
	}
	return s
}

const boolWhat = "true or false"

func stringSetting(p *string, name, def, usage string) setting {
	return newSetting(p, name, def, usage, "a string", func(s string) (string, error) { return s, nil }, (*flag.FlagSet).StringVar)
}

func intSetting(p *int, name string, def int, usage string) setting {
	return newSetting(p, name, def, usage, "an integer", strconv.Atoi, (*flag.FlagSet).IntVar)
}

func int64Setting(p *int64, name string, def int64, usage string) setting {
	parse := func(s string) (int64, error) { return strconv.ParseInt(s, 10, 64) }
	return newSetting(p, name, def, usage, "an integer", parse, (*flag.FlagSet).Int64Var)
}

func floatSetting(p *float64, name string, def float64, usage string) setting {
	parse := func(s string) (float64, error) { return strconv.ParseFloat(s, 64) }
	return newSetting(p, name, def, usage, "a number", parse, (*flag.FlagSet).Float64Var)
}

// boolSetting's environment variable takes what strconv.ParseBool
// accepts (true, 1, TRUE, false, 0, ...); anything else is an error
// rather than silently false.
func boolSetting(p *bool, name string, def bool, usage string) setting {
	return newSetting(p, name, def, usage, boolWhat, strconv.ParseBool, (*flag.FlagSet).BoolVar)
}

// byteSize is a number of bytes written as the Go runtime's GOMEMLIMIT is:
// an integer with an optional unit B, KiB, MiB, GiB or TiB (40MiB); 0 or
// "off" is none.
type byteSize int64

var byteUnits = []struct {
	suffix string
	shift  uint
}{{"TiB", 40}, {"GiB", 30}, {"MiB", 20}, {"KiB", 10}, {"B", 0}}

func (b byteSize) String() string {
	if b <= 0 {
		return "off"
	}
	for _, u := range byteUnits {
		if int64(b)%(1<<u.shift) == 0 {
			return strconv.FormatInt(int64(b)>>u.shift, 10) + u.suffix
		}
	}
	return strconv.FormatInt(int64(b), 10)
}

func (b *byteSize) Set(s string) error {
	v, err := parseByteSize(s)
	if err == nil {
		*b = v
	}
	return err
}

func parseByteSize(s string) (byteSize, error) {
	if s == "off" {
		return 0, nil
	}
	num, shift := s, uint(0)
	for _, u := range byteUnits {
		if n, ok := strings.CutSuffix(s, u.suffix); ok {
			num, shift = n, u.shift
			break
		}
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n < 0 || n > math.MaxInt64>>shift {
		return 0, fmt.Errorf("not a size such as 40MiB: %q", s)
	}
	return byteSize(n << shift), nil
}

const sizeWhat = "a size such as 40MiB, or off"

func sizeSetting(p *byteSize, name string, def byteSize, usage string) setting {
	bind := func(fs *flag.FlagSet, p *byteSize, name string, value byteSize, usage string) {
		*p = value
		fs.Var(p, name, usage)
	}
	return newSetting(p, name, def, usage, sizeWhat, parseByteSize, bind)
}

func durationSetting(p *time.Duration, name string, def time.Duration, usage string) setting {
	return newSetting(p, name, def, usage, "a duration such as 30m", time.ParseDuration, (*flag.FlagSet).DurationVar)
}

// settings is arcgate's configuration table: every flag, bound to c's
// fields (app.Config's where it has one), with its default from the
// package that owns it. The README's configuration table lists the same
// (TestREADMEListsEverySetting).
func (c *config) settings() []setting {
	a := &c.App
	return []setting{
		stringSetting(&a.GRPCAddr, "grpc-addr", "127.0.0.1:9090", "gRPC listen address"),
		stringSetting(&a.HTTPAddr, "http-addr", "127.0.0.1:8080", "REST listen address; it also serves the API reference at /docs and the OpenAPI document at /openapi.json"),
		stringSetting(&a.UpstreamURL, "upstream-url", "", "ArcGIS Server site URL, e.g. https://host/arcgis; arcgate appends /admin/...; empty: embedded simulator"),
		stringSetting(&c.UpstreamFlavor, "upstream-flavor", string(upstream.FlavorServer), "kind of site: server (ArcGIS Server: runAsync=true, jobs at admin/system/jobs) or kubernetes (Enterprise on Kubernetes: async=true, jobs at admin/jobs); decides how long-running operations ask for and follow upstream jobs; demo mode: the embedded simulator's kind too"),
		stringSetting(&a.Username, "username", "", "upstream administrator user name"),
		stringSetting(&c.PasswordFile, "password-file", "", "file holding the upstream password; or set "+passwordEnv),
		stringSetting(&c.LogFormat, "log-format", "text", "log format: text or json"),
		durationSetting(&a.DefaultTimeout, "default-timeout", rpc.DefaultTimeout, "deadline of unary calls that carry none; smaller client deadlines are kept"),
		stringSetting(&c.TokenSource, "token-source", upstream.TokenServiceAdmin.String(), "where the service identity's upstream token comes from: admin (<site>/admin/generateToken), tokens (<site>/tokens/generateToken), portal (federated: --portal-url) or fixed (an operator token: --token-file or "+tokenEnv+")"),
		stringSetting(&c.TokenClient, "token-client", upstream.TokenClientRequestIP.String(), "token binding requested from generateToken: requestip or referer (with --token-referer)"),
		stringSetting(&a.TokenReferer, "token-referer", "", "Referer tokens are bound to with --token-client referer, sent on every upstream request"),
		stringSetting(&a.PortalURL, "portal-url", "", "portal of a federated server with --token-source portal, e.g. https://host/portal; demo mode: the simulator's"),
		stringSetting(&c.TokenFile, "token-file", "", "file holding the operator token of --token-source fixed; or set "+tokenEnv),
		stringSetting(&c.DelegatedAuth, "delegated-auth", rpc.DelegatedAuthOff.String(), "callers acting upstream as themselves with x-arcgis-token or x-arcgis-username/x-arcgis-password: off, optional (else the service identity) or required"),
		intSetting(&a.TokenPoolSize, "token-pool-size", upstream.DefaultPoolSize, "most delegated identities whose tokens are kept"),
		durationSetting(&a.TokenIdleTimeout, "token-idle-timeout", upstream.DefaultPoolIdleTimeout, "a delegated identity unused this long is dropped from the token pool"),
		stringSetting(&c.CallersFile, "callers-file", "", "callers allowed in: API key hashes and client certificate subjects, see docs/operations.md#security"),
		boolSetting(&a.InsecureNoCallerAuth, "insecure-no-caller-auth", false, "let every caller in as admin; only behind an authenticating proxy"),
		stringSetting(&c.TLSCert, "tls-cert", "", "PEM certificate: serve gRPC and REST over TLS"),
		stringSetting(&c.TLSKey, "tls-key", "", "PEM key of --tls-cert"),
		stringSetting(&c.ClientCA, "client-ca", "", "PEM CAs verifying client certificates of mTLS callers"),
		stringSetting(&c.UpstreamCAFile, "upstream-ca-file", "", "PEM CA added to the system roots to verify the upstream; verification can never be turned off"),
		floatSetting(&a.RateLimit.PerSecond, "rate-limit", rpc.DefaultRateLimit.PerSecond, "calls per second per caller with --upstream-url; demo mode: off unless set; 0: off"),
		intSetting(&a.RateLimit.Burst, "rate-burst", rpc.DefaultRateLimit.Burst, "burst per caller, as --rate-limit"),
		intSetting(&a.MaxConcurrentPerCaller, "max-concurrent-per-caller", rpc.DefaultMaxConcurrentPerCaller, "calls one caller (one client address without valid credentials) may have open at once, counted from their headers on; 0: no cap"),
		intSetting(&a.MaxHeaderBytes, "max-header-bytes", gateway.DefaultMaxHeaderBytes, "largest gRPC metadata and REST request headers of a call, refused before caller authentication"),
		int64Setting(&a.MaxBodyBytes, "max-body-bytes", gateway.DefaultMaxBodyBytes, "largest REST request body, refused before decoding"),
		intSetting(&a.Resilience.MaxConcurrent, "upstream-max-concurrent", upstream.DefaultMaxConcurrent, "upstream requests (and connections) in flight per site"),
		boolSetting(&c.Tracing, "tracing", false, "export OpenTelemetry traces, configured by the standard OTEL_* variables; also on when OTEL_TRACES_EXPORTER, OTEL_EXPORTER_OTLP_ENDPOINT or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is set"),
		stringSetting(&a.PprofAddr, "pprof-addr", "", "serve Go runtime profiles (net/http/pprof) on this loopback address, e.g. 127.0.0.1:6060; empty: off"),
		stringSetting(&c.StateStore, "state-store", statestore.MemorySpec, "where the locks serialising updates of one resource, the outcomes of request ids and the long-running operations live: memory (this replica only, lost at restart) or redis://[:password@]host:6379/0 (rediss:// for TLS), shared by every replica; a password is better in the environment"),
		durationSetting(&a.RequestIDTTL, "request-id-ttl", idempotency.DefaultTTL, "how long the first outcome of a write's request_id (or Idempotency-Key) is kept, so that a retry with it gets that outcome instead of writing again; kept in --state-store"),
		sizeSetting(&c.MemoryLimit, "memory-limit", byteSize(app.DefaultMemoryLimit), "soft limit of the memory the Go runtime holds (heap, stacks; not the binary's pages), a `size` such as 40MiB, or off: near it the garbage collector runs more often instead of letting the heap grow to twice what is live; GOMEMLIMIT, when set, wins"),
		intSetting(&c.GCPercent, "gc-percent", app.DefaultGCPercent, "how far the heap may grow past what is live before the garbage collector runs, in percent of the live heap (Go's GOGC; 10 to 10000): more collects less often and spends less CPU, at the cost of memory, which --memory-limit caps; GOGC, when set, wins"),
		durationSetting(&a.OperationTimeout, "operation-timeout", operations.DefaultTimeout, "bounds the work of each long-running operation, which runs detached from its caller's deadline; past it the operation fails with DEADLINE_EXCEEDED, outcome unknown"),
	}
}
