package rpc

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/peer"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	"github.com/arcgate/arcgate/apierr"
	adminv1 "github.com/arcgate/arcgate/gen/go/arcgate/admin/v1"
)

// apiPackagePrefix selects the proto packages whose methods are arcgate's
// API; each of their methods must declare (arcgate.admin.v1.required_scope).
const apiPackagePrefix = "arcgate."

// Methods that are not arcgate's API but are served next to it.
const (
	healthPrefix       = "/grpc.health.v1.Health/"
	reflectionPrefix   = "/grpc.reflection.v1.ServerReflection/"
	reflectionV1Alpha  = "/grpc.reflection.v1alpha.ServerReflection/"
	unknownScopeMethod = "(no scope)"
)

// access says who may call a method.
type access int

const (
	accessDenied        access = iota // no declared scope: nobody (fail closed)
	accessPublic                      // gRPC health: no credentials needed
	accessAuthenticated               // reflection: any known caller
	accessScoped                      // arcgate's API: a caller with the scope
)

// methodRule is the access rule of one method.
type methodRule struct {
	access access
	scope  adminv1.Scope
}

// mutation reports whether calls of the method change the upstream and so
// are audited.
func (r methodRule) mutation() bool {
	return r.access == accessScoped && r.scope >= adminv1.Scope_SCOPE_WRITE
}

// MethodScopes returns the scope every method of every arcgate service
// requires, keyed by full gRPC method name ("/arcgate.admin.v1.ServicesService/GetService"),
// read from the (arcgate.admin.v1.required_scope) option in the registered
// proto descriptors. Methods without the option have SCOPE_UNSPECIFIED and
// can be called by nobody.
func MethodScopes() map[string]adminv1.Scope {
	out := map[string]adminv1.Scope{}
	protoregistry.GlobalFiles.RangeFiles(func(fd protoreflect.FileDescriptor) bool {
		if !strings.HasPrefix(string(fd.Package()), apiPackagePrefix) {
			return true
		}
		svcs := fd.Services()
		for i := 0; i < svcs.Len(); i++ {
			sd := svcs.Get(i)
			methods := sd.Methods()
			for j := 0; j < methods.Len(); j++ {
				md := methods.Get(j)
				out["/"+string(sd.FullName())+"/"+string(md.Name())] = requiredScope(md)
			}
		}
		return true
	})
	return out
}

// requiredScope reads the method's required_scope option.
func requiredScope(md protoreflect.MethodDescriptor) adminv1.Scope {
	opts := md.Options()
	if opts == nil {
		return adminv1.Scope_SCOPE_UNSPECIFIED
	}
	s, _ := proto.GetExtension(opts, adminv1.E_RequiredScope).(adminv1.Scope)
	return s
}

// GuardConfig configures NewGuard.
type GuardConfig struct {
	// Credentials lists the known callers (LoadCredentials). Required unless
	// InsecureNoCallerAuth is set.
	Credentials *Credentials
	// InsecureNoCallerAuth turns caller authentication off: every caller is
	// "anonymous" with the admin scope. Use it only for the demo (loopback)
	// or behind an authenticating proxy, never with Credentials.
	InsecureNoCallerAuth bool
	// RateLimit is the per-caller rate (zero: DefaultRateLimit; NoRateLimit
	// turns it off). Without caller authentication the key is the peer's IP
	// address.
	RateLimit RateLimit
	// UnauthenticatedRateLimit is the rate of calls without valid
	// credentials per client address (zero:
	// DefaultUnauthenticatedRateLimit; NoRateLimit turns it off).
	UnauthenticatedRateLimit RateLimit
	// MaxConcurrentPerCaller caps the calls one caller may have open at
	// once (zero: DefaultMaxConcurrentPerCaller; negative: no cap). gRPC
	// calls are counted by TapHandle, in-process calls by the
	// interceptors.
	MaxConcurrentPerCaller int
	// Logger receives the audit lines and rejected calls (default: discard).
	Logger *slog.Logger
	// RejectLogInterval is how often, at most, refusals of one kind are
	// logged (zero: DefaultRejectLogInterval).
	RejectLogInterval time.Duration
	// Clock is the rate limiters' and the rejection log's clock (default
	// time.Now).
	Clock func() time.Time
	// ExtraScopes gives the scope of methods served next to arcgate's API
	// whose protos declare none, keyed by full method name (the standard
	// google.longrunning.Operations service: operations.MethodScopes).
	ExtraScopes map[string]adminv1.Scope
}

// Guard authenticates arcgate's callers, authorizes each call by the scope
// its method declares, limits each caller's rate and open calls and writes
// an audit line for every mutation of a known caller, in one unary and one
// stream interceptor, and a tap handle (TapHandle) that caps the open gRPC
// calls. Refused calls are logged as "rpc rejected" lines, at most one per
// interval for each client address, caller and code, with a count; their
// own log line is at Debug level. NewChain puts it after the request id,
// the log line and panic recovery, so that refused calls too get those;
// the log line still names the caller (noteCaller).
type Guard struct {
	creds    *Credentials
	insecure bool
	rules    map[string]methodRule
	limiter  *rateLimiter
	unauth   *rateLimiter // calls without valid credentials, per address
	calls    *callCounter
	rejects  *rejectLog
	log      *slog.Logger
}

// NewGuard returns a Guard. It fails without credentials unless caller
// authentication is explicitly off, and with both.
func NewGuard(cfg GuardConfig) (*Guard, error) {
	switch {
	case cfg.Credentials == nil && !cfg.InsecureNoCallerAuth:
		return nil, errors.New("server: caller authentication needs a callers file (or insecure no-caller-auth mode)")
	case cfg.Credentials != nil && cfg.InsecureNoCallerAuth:
		return nil, errors.New("server: a callers file and insecure no-caller-auth mode exclude each other")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	g := &Guard{
		creds:    cfg.Credentials,
		insecure: cfg.InsecureNoCallerAuth,
		rules:    map[string]methodRule{},
		limiter:  newRateLimiter(cfg.RateLimit, DefaultRateLimit, cfg.Clock),
		unauth:   newRateLimiter(cfg.UnauthenticatedRateLimit, DefaultUnauthenticatedRateLimit, cfg.Clock),
		calls:    newCallCounter(cfg.MaxConcurrentPerCaller),
		rejects:  newRejectLog(cfg.Logger, cfg.Clock, cfg.RejectLogInterval),
		log:      cfg.Logger,
	}
	scopes := MethodScopes()
	for m, s := range cfg.ExtraScopes {
		if _, ok := scopes[m]; !ok {
			scopes[m] = s
		}
	}
	for m, s := range scopes {
		if s == adminv1.Scope_SCOPE_UNSPECIFIED {
			g.rules[m] = methodRule{access: accessDenied}
			continue
		}
		g.rules[m] = methodRule{access: accessScoped, scope: s}
	}
	return g, nil
}

// rule returns the access rule of a full method name. Methods that are
// neither arcgate's (with a scope), health nor reflection are denied.
func (g *Guard) rule(method string) methodRule {
	if r, ok := g.rules[method]; ok {
		return r
	}
	switch {
	case strings.HasPrefix(method, healthPrefix):
		return methodRule{access: accessPublic}
	case strings.HasPrefix(method, reflectionPrefix), strings.HasPrefix(method, reflectionV1Alpha):
		return methodRule{access: accessAuthenticated}
	}
	return methodRule{access: accessDenied}
}

// check authenticates, rate-limits and authorizes a call of method, and
// counts it against its caller's open calls unless TapHandle did. The
// caller is returned whenever it was authenticated, even if refused later;
// release, non-nil when the call is let in, ends the count.
func (g *Guard) check(ctx context.Context, method string, r methodRule) (caller Caller, known bool, release func(), err error) {
	if r.access == accessDenied {
		return Caller{}, false, nil, apierr.New(codes.PermissionDenied, reasonPermissionDeniedScope,
			"method "+method+" declares no required scope, so nobody may call it", map[string]string{"requiredScope": unknownScopeMethod})
	}
	caller, err = g.identifyOnce(ctx)
	if err != nil {
		if g.unauth != nil {
			if ok, wait := g.unauth.allow(g.keyOf(ctx, caller, err)); !ok {
				return Caller{}, false, nil, unauthenticatedRateLimited(wait)
			}
		}
		return Caller{}, false, nil, err
	}
	var key string // the caller's key, only when a limit needs it
	if g.limiter != nil || g.calls != nil && ctx.Value(countedKey{}) == nil {
		key = g.keyOf(ctx, caller, nil)
	}
	// The rate limit comes before the scope check, so that refused calls
	// cost their caller tokens too.
	if ok, wait := g.limiter.allow(key); !ok {
		return caller, true, nil, rateLimited(caller.ID, wait)
	}
	if r.access == accessScoped && !caller.Has(r.scope) {
		return caller, true, nil, apierr.New(codes.PermissionDenied, reasonPermissionDeniedScope,
			"caller "+caller.ID+" lacks the "+scopeName(r.scope)+" scope that "+method+" requires",
			map[string]string{"requiredScope": scopeName(r.scope), "caller": caller.ID})
	}
	if release = g.countCall(ctx, key); release == nil {
		return caller, true, nil, tooManyCalls(caller.ID, g.calls.max)
	}
	return caller, true, release, nil
}

// UnaryInterceptor is the Guard's unary server interceptor.
func (g *Guard) UnaryInterceptor(ctx context.Context, req any, info *grpc.UnaryServerInfo, next grpc.UnaryHandler) (resp any, err error) {
	return g.unary(ctx, req, info, next, callHandler)
}

// unaryStage is a stage of a unary call after the Guard: inner runs it
// with the handler instead of a closure per stage (unaryCore).
type unaryStage func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error)

// callHandler is the unaryStage that calls the handler.
func callHandler(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	return handler(ctx, req)
}

// unary is UnaryInterceptor, with inner run on the calls it lets in.
func (g *Guard) unary(ctx context.Context, req any, info *grpc.UnaryServerInfo, next grpc.UnaryHandler, inner unaryStage) (resp any, err error) {
	r := g.rule(info.FullMethod)
	if r.access == accessPublic {
		return inner(ctx, req, info, next)
	}
	caller, known, release, err := g.check(ctx, info.FullMethod, r)
	if r.mutation() && known {
		start := time.Now()
		defer func() { g.audit(ctx, caller, known, info.FullMethod, r, req, resp, err, time.Since(start)) }()
	}
	if err != nil {
		g.rejected(ctx, info.FullMethod, caller, known, r, err)
		return nil, err
	}
	defer release()
	return inner(withCaller(ctx, caller), req, info, next)
}

// StreamInterceptor is the Guard's stream server interceptor.
func (g *Guard) StreamInterceptor(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, next grpc.StreamHandler) (err error) {
	r := g.rule(info.FullMethod)
	if r.access == accessPublic {
		return next(srv, ss)
	}
	ctx := ss.Context()
	caller, known, release, err := g.check(ctx, info.FullMethod, r)
	gs := &guardedStream{ServerStream: ss, ctx: ctx}
	if r.mutation() && known {
		start := time.Now()
		defer func() { g.audit(ctx, caller, known, info.FullMethod, r, gs.first, nil, err, time.Since(start)) }()
	}
	if err != nil {
		g.rejected(ctx, info.FullMethod, caller, known, r, err)
		return err
	}
	defer release()
	gs.ctx = withCaller(ctx, caller)
	return next(srv, gs)
}

// guardedStream carries the caller in its context and remembers the first
// request message (for the audit line).
type guardedStream struct {
	grpc.ServerStream
	ctx   context.Context
	first any
}

func (s *guardedStream) Context() context.Context { return s.ctx }

func (s *guardedStream) RecvMsg(m any) error {
	err := s.ServerStream.RecvMsg(m)
	if err == nil && s.first == nil {
		s.first = m
	}
	return err
}

// rejected logs a refused call: a known caller's mutation in its audit
// line, any other through the rejection log, which writes at most one line
// per interval for the same address, caller and code, so that a flood of
// refused calls cannot flood the log. The call's own log line goes to
// Debug level (noteRejected).
func (g *Guard) rejected(ctx context.Context, method string, caller Caller, known bool, r methodRule, err error) {
	noteRejected(ctx)
	if r.mutation() && known {
		return // the audit line records it
	}
	g.rejects.note(ctx, method, callerName(caller, known), peerHost(ctx), err)
}

// callerName is the caller's identity for log lines.
func callerName(c Caller, known bool) string {
	if !known {
		return "(unauthenticated)"
	}
	return c.ID
}

// scopeName is "read", "write" or "admin".
func scopeName(s adminv1.Scope) string {
	switch s {
	case adminv1.Scope_SCOPE_READ:
		return "read"
	case adminv1.Scope_SCOPE_WRITE:
		return "write"
	case adminv1.Scope_SCOPE_ADMIN:
		return "admin"
	default:
		return unknownScopeMethod
	}
}

// peerHost is the host part of the caller's address ("" if unknown).
func peerHost(ctx context.Context) string {
	p, ok := peer.FromContext(ctx)
	if !ok || p.Addr == nil {
		return ""
	}
	a := p.Addr.String()
	if h, _, err := net.SplitHostPort(a); err == nil {
		return h
	}
	return a
}
