package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/arcgate/arcgate/gateway"
	adminv1 "github.com/arcgate/arcgate/gen/go/arcgate/admin/v1"
	"github.com/arcgate/arcgate/internal/app"
	"github.com/arcgate/arcgate/rpc"
	"github.com/arcgate/arcgate/server"
	"github.com/arcgate/arcgate/simulator"
	"github.com/arcgate/arcgate/upstream"
)

// The hardened harness: arcgate as app.Start wires it in production — the
// Guard (caller authentication, scopes, audit, rate limit) chained after
// the server's interceptors, the REST gateway in process behind the body
// limit — with upstream resilience tuned small so the tests are fast, in
// front of a simulator, everything on loopback.

// Distinctive secrets: a test fails if one shows up where it must not.
const (
	hardPassword = "Pw-Zanzibar-8842-secret"
	hardAPIKey   = "ak-Okapi-5531-callerkey"
	hardReadKey  = "rk-Tapir-2207-readonly"
)

// logSink collects log output; safe for concurrent writes.
type logSink struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *logSink) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *logSink) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// wireRecorder is the upstream transport: it records every request that
// leaves the process (URL with query, body) and learns the token values
// generateToken hands out, so that tests can look for them elsewhere.
type wireRecorder struct {
	base http.RoundTripper
	dead http.RoundTripper // connects to a closed port

	refusePath atomic.Pointer[string] // requests to this path go to dead
	refused    atomic.Int64           // and are counted here

	mu     sync.Mutex
	sent   []sentRequest
	tokens []string
}

// refuse makes every later request to path (below the admin root) meet a
// refused connection.
func (w *wireRecorder) refuse(path string) {
	p := "/arcgis/admin/" + path
	w.refusePath.Store(&p)
}

type sentRequest struct {
	method, url, body string
}

func (w *wireRecorder) RoundTrip(r *http.Request) (*http.Response, error) {
	body := ""
	if r.Body != nil && r.Body != http.NoBody {
		b, err := io.ReadAll(r.Body)
		_ = r.Body.Close()
		if err != nil {
			return nil, err
		}
		body = string(b)
		r = r.Clone(r.Context())
		r.Body = io.NopCloser(strings.NewReader(body))
	}
	w.mu.Lock()
	w.sent = append(w.sent, sentRequest{r.Method, r.URL.String(), body})
	w.mu.Unlock()
	if p := w.refusePath.Load(); p != nil && r.URL.Path == *p {
		w.refused.Add(1)
		return w.dead.RoundTrip(r)
	}
	resp, err := w.base.RoundTrip(r)
	if err != nil || !strings.HasSuffix(r.URL.Path, "/generateToken") {
		return resp, err
	}
	data, rerr := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	resp.Body = io.NopCloser(bytes.NewReader(data))
	if rerr != nil {
		resp.Body = io.NopCloser(io.MultiReader(bytes.NewReader(data), errorReader{rerr}))
		return resp, nil
	}
	var tok struct {
		Token string `json:"token"`
	}
	if json.Unmarshal(data, &tok) == nil && tok.Token != "" {
		w.mu.Lock()
		w.tokens = append(w.tokens, tok.Token)
		w.mu.Unlock()
	}
	return resp, nil
}

type errorReader struct{ err error }

func (e errorReader) Read([]byte) (int, error) { return 0, e.err }

func (w *wireRecorder) snapshot() ([]sentRequest, []string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]sentRequest(nil), w.sent...), append([]string(nil), w.tokens...)
}

// hardEnv is one hardened arcgate in front of a simulator.
type hardEnv struct {
	app      *app.App
	sim      *simulator.Server
	health   grpc_health_v1.HealthClient
	services adminv1.ServicesServiceClient
	conn     *grpc.ClientConn
	rest     string
	hc       *http.Client
	logs     *logSink
	wire     *wireRecorder
}

// hardOptions tweak startHard.
type hardOptions struct {
	rateLimit rpc.RateLimit
	// clock, when set, is arcgate's clock (app.Config.Clock: the upstream
	// client's, and so the breaker's).
	clock func() time.Time
	// timeout, when set, is arcgate's deadline for calls that carry none
	// (app.Config.DefaultTimeout; 10 s otherwise).
	timeout time.Duration
	// opTimeout, when set, bounds each long-running operation's work
	// (app.Config.OperationTimeout).
	opTimeout time.Duration
}

func startHard(t *testing.T, opt hardOptions) *hardEnv {
	t.Helper()
	logs := &logSink{}
	logger := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	sim := simulator.New(simulator.Config{Password: hardPassword, Logf: func(format string, args ...any) {
		logger.Debug("simulator", "line", strings.TrimSpace(fmt.Sprintf(format, args...)))
	}})
	simSrv := httptest.NewServer(sim)
	t.Cleanup(simSrv.Close)

	// No keep-alives: net/http never replays a request on a reused
	// connection, so every attempt the client makes reaches the simulator
	// exactly once and the attempt counts are exact.
	tr := &http.Transport{DisableKeepAlives: true}
	// The requests wireRecorder.refuse names connect to a port nothing
	// listens on: a real "connection refused", before anything is sent.
	dead, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	deadAddr := dead.Addr().String()
	_ = dead.Close()
	var dialer net.Dialer
	deadTr := &http.Transport{DisableKeepAlives: true, DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
		return dialer.DialContext(ctx, network, deadAddr)
	}}
	wire := &wireRecorder{base: tr, dead: deadTr}
	t.Cleanup(func() {
		tr.CloseIdleConnections()
		deadTr.CloseIdleConnections()
	})
	creds, err := rpc.ParseCredentials(strings.NewReader(
		"e2e-writer write " + rpc.HashAPIKey(hardAPIKey) + "\n" +
			"e2e-reader read " + rpc.HashAPIKey(hardReadKey) + "\n"))
	if err != nil {
		t.Fatal(err)
	}
	timeout := 10 * time.Second
	if opt.timeout > 0 {
		timeout = opt.timeout
	}
	a, err := app.Start(app.Config{
		GRPCAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0",
		UpstreamURL: simSrv.URL + "/arcgis", Username: simulator.DefaultUsername, Password: hardPassword,
		HTTPClient: &http.Client{Transport: wire},
		Resilience: upstream.ResilienceConfig{
			InitialBackoff: time.Millisecond, MaxBackoff: 2 * time.Millisecond, MaxRetryAfter: 5 * time.Millisecond,
		},
		Credentials: creds, RateLimit: opt.rateLimit, DefaultTimeout: timeout, Logger: logger, Clock: opt.clock,
		OperationTimeout: opt.opTimeout,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := a.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
	conn, err := grpc.NewClient(a.GRPCAddr, grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithUnaryInterceptor(func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
			return invoker(metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+hardAPIKey), method, req, reply, cc, opts...)
		}))
	if err != nil {
		t.Fatal(err)
	}
	// A client that announces a large body with Expect: 100-continue gets
	// the 413 before sending it (otherwise the refusal can race with the
	// upload and surface as a connection reset).
	restTr := &http.Transport{DisableKeepAlives: true, ExpectContinueTimeout: 5 * time.Second}
	t.Cleanup(func() {
		_ = conn.Close()
		restTr.CloseIdleConnections()
	})
	return &hardEnv{app: a, sim: sim, conn: conn, health: grpc_health_v1.NewHealthClient(conn), services: adminv1.NewServicesServiceClient(conn),
		rest: "http://" + a.HTTPAddr, hc: &http.Client{Transport: restTr, Timeout: 20 * time.Second}, logs: logs, wire: wire}
}

// restCall sends a REST request with the caller's API key (as Authorization
// or X-Api-Key) and optional extra headers.
// restOutcome waits over REST (POST /v1/operations/{id}:wait) for the
// operation op (a decoded Operation) and returns what the call would have
// answered had it not returned an operation: its response with 200, or
// its error with the error's HTTP status.
func (e *hardEnv) restOutcome(t *testing.T, op map[string]any) (int, map[string]any, string) {
	t.Helper()
	name, _ := op["name"].(string)
	if !strings.HasPrefix(name, "operations/") {
		t.Fatalf("not an operation: %v", op)
	}
	for i := 0; op["done"] != true; i++ {
		if i == 10 {
			t.Fatalf("operation %s not done", name)
		}
		st, body, raw := e.restCall(t, http.MethodPost, "/v1/"+name+":wait", `{"timeout":"10s"}`, "Content-Type", "application/json")
		if st != http.StatusOK {
			t.Fatalf("POST /v1/%s:wait: %d %s", name, st, raw)
		}
		op = body
	}
	if e, ok := op["error"].(map[string]any); ok {
		raw, _ := json.Marshal(e)
		c, _ := e["code"].(float64)
		return httpStatus(codes.Code(c)), e, string(raw)
	}
	raw, _ := json.Marshal(op["response"])
	resp, _ := op["response"].(map[string]any)
	return http.StatusOK, resp, string(raw)
}

func (e *hardEnv) restCall(t *testing.T, method, path string, body string, hdr ...string) (int, map[string]any, string) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, e.rest+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+hardAPIKey)
	for i := 0; i+1 < len(hdr); i += 2 {
		if hdr[i+1] == "" {
			req.Header.Del(hdr[i])
			continue
		}
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := e.hc.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	_ = json.Unmarshal(raw, &m)
	return resp.StatusCode, m, string(raw)
}

const (
	faultSvcName    = "services/SampleWorldCities.MapServer"
	faultSvcPath    = "SampleWorldCities.MapServer" // for simulator.ServiceState
	faultReadPath   = "services/SampleWorldCities.MapServer/status"
	faultWritePath  = "services/SampleWorldCities.MapServer/start"
	faultStopPath   = "services/SampleWorldCities.MapServer/stop"
	faultTokenPath  = "generateToken"
	faultReadREST   = "/v1/services/SampleWorldCities.MapServer"
	faultWriteREST  = "/v1/services/SampleWorldCities.MapServer:start"
	faultStopREST   = "/v1/services/SampleWorldCities.MapServer:stop"
	faultRESTHeader = "Grpc-Timeout"

	// pastDeadline is the deadline of the rows whose upstream answers
	// after a minute: long enough for the request to be sent first on a
	// loaded machine (the rows assert that it was), short beside the
	// minute.
	pastDeadline = time.Second
)

// span is an inclusive range of upstream attempts.
type span struct{ min, max int }

func exactly(n int) span { return span{n, n} }

// faultCase is one row of the fault matrix. The read RPC is GetService
// (its status request is faulted unless path says otherwise); the write
// RPC is StopService on a started service (its stop request is faulted),
// so that the matrix sees whether the write took effect upstream.
type faultCase struct {
	name  string
	fault simulator.Fault // Path filled in per RPC unless set; none when Kind is 0
	// setup, when set, runs before the fault is injected.
	setup func(t *testing.T, e *hardEnv)
	// countPath, when set, is the path whose attempts are counted instead
	// of the faulted RPC path (e.g. generateToken); refuseDial counts the
	// refused connections instead.
	countPath  string
	refuseDial bool
	// deadline, when set, is the caller's deadline; timeout, when set, is
	// arcgate's own deadline for the call, which then carries none.
	deadline, timeout time.Duration

	readCode, writeCode         codes.Code
	readAttempts, writeAttempts span
	// msg is a fragment every error message must contain (useful);
	// writeMsg, when set, replaces it for the write.
	msg, writeMsg string
	// reason is the ErrorInfo reason every error must carry ("" for none
	// checked); writeReason, when set, replaces it for the write.
	reason, writeReason string
	// applied says whether the write took effect upstream (the service
	// stopped). A failed write that took effect must carry
	// UPSTREAM_OUTCOME_UNKNOWN: any other error invites a blind retry.
	applied bool
}

const outcomeUnknownMsg = "may have applied this change"

var faultMatrix = []faultCase{
	{name: "latency", fault: simulator.Fault{Kind: simulator.FaultLatency, Delay: 20 * time.Millisecond},
		readCode: codes.OK, writeCode: codes.OK, readAttempts: exactly(1), writeAttempts: exactly(1), applied: true},
	{name: "latency past the deadline", fault: simulator.Fault{Kind: simulator.FaultLatency, Delay: time.Minute}, deadline: pastDeadline,
		readCode: codes.DeadlineExceeded, writeCode: codes.DeadlineExceeded, readAttempts: exactly(1), writeAttempts: exactly(1)},
	// arcgate's deadline ends the call, so the caller gets arcgate's
	// answer: for a write that was sent, the outcome is unknown, whether
	// the upstream applied it (answer late) or not (still waiting).
	{name: "latency past arcgate's deadline", fault: simulator.Fault{Kind: simulator.FaultLatency, Delay: time.Minute}, timeout: pastDeadline,
		readCode: codes.DeadlineExceeded, writeCode: codes.DeadlineExceeded, readAttempts: exactly(1), writeAttempts: exactly(1),
		msg: "deadline", writeMsg: outcomeUnknownMsg, reason: server.ReasonUpstreamUnavailable, writeReason: server.ReasonUpstreamOutcomeUnknown},
	{name: "applied, answer late past arcgate's deadline", fault: simulator.Fault{Kind: simulator.FaultDropResponse, Delay: time.Minute}, timeout: pastDeadline,
		readCode: codes.DeadlineExceeded, writeCode: codes.DeadlineExceeded, readAttempts: exactly(1), writeAttempts: exactly(1),
		msg: "deadline", writeMsg: outcomeUnknownMsg, reason: server.ReasonUpstreamUnavailable, writeReason: server.ReasonUpstreamOutcomeUnknown, applied: true},
	{name: "applied, answer lost", fault: simulator.Fault{Kind: simulator.FaultDropResponse},
		readCode: codes.Unavailable, writeCode: codes.Unavailable, readAttempts: exactly(3), writeAttempts: exactly(1),
		msg: "unreachable", writeMsg: outcomeUnknownMsg, reason: server.ReasonUpstreamUnavailable, writeReason: server.ReasonUpstreamOutcomeUnknown, applied: true},
	{name: "connection closed unanswered", fault: simulator.Fault{Kind: simulator.FaultRefuse},
		readCode: codes.Unavailable, writeCode: codes.Unavailable, readAttempts: exactly(3), writeAttempts: exactly(1),
		msg: "unreachable", writeMsg: outcomeUnknownMsg, reason: server.ReasonUpstreamUnavailable, writeReason: server.ReasonUpstreamOutcomeUnknown},
	{name: "connection refused", setup: withToken, refuseDial: true,
		readCode: codes.Unavailable, writeCode: codes.Unavailable, readAttempts: exactly(3), writeAttempts: exactly(1), msg: "unreachable", reason: server.ReasonUpstreamUnavailable},
	{name: "circuit breaker open", setup: openBreaker, fault: simulator.Fault{Kind: simulator.FaultLatency},
		readCode: codes.Unavailable, writeCode: codes.Unavailable, readAttempts: exactly(0), writeAttempts: exactly(0), msg: "circuit breaker open", reason: server.ReasonCircuitOpen},
	{name: "reset mid-body", fault: simulator.Fault{Kind: simulator.FaultReset},
		readCode: codes.Unavailable, writeCode: codes.Unavailable, readAttempts: exactly(3), writeAttempts: exactly(1),
		msg: "unreachable", writeMsg: outcomeUnknownMsg, reason: server.ReasonUpstreamUnavailable, writeReason: server.ReasonUpstreamOutcomeUnknown, applied: true},
	{name: "503 with Retry-After", fault: simulator.Fault{Kind: simulator.FaultStatus, RetryAfter: time.Second},
		readCode: codes.Unavailable, writeCode: codes.Unavailable, readAttempts: exactly(3), writeAttempts: exactly(1), msg: "HTTP 503", reason: server.ReasonUpstreamUnavailable},
	// A proxy's 502 or 504 says it got no answer from the server behind
	// it, which may have had the request.
	{name: "502", fault: simulator.Fault{Kind: simulator.FaultStatus, Status: http.StatusBadGateway},
		readCode: codes.Unavailable, writeCode: codes.Unavailable, readAttempts: exactly(3), writeAttempts: exactly(1),
		msg: "HTTP 502", reason: server.ReasonUpstreamUnavailable, writeReason: server.ReasonUpstreamOutcomeUnknown},
	{name: "504", fault: simulator.Fault{Kind: simulator.FaultStatus, Status: http.StatusGatewayTimeout},
		readCode: codes.DeadlineExceeded, writeCode: codes.DeadlineExceeded, readAttempts: exactly(3), writeAttempts: exactly(1),
		msg: "timed out", writeMsg: outcomeUnknownMsg, reason: server.ReasonUpstreamUnavailable, writeReason: server.ReasonUpstreamOutcomeUnknown},
	{name: "500 page", fault: simulator.Fault{Kind: simulator.FaultStatus, Status: http.StatusInternalServerError},
		readCode: codes.Unavailable, writeCode: codes.Unavailable, readAttempts: exactly(1), writeAttempts: exactly(1), msg: "HTTP 500", reason: server.ReasonUpstreamUnavailable},
	{name: "HTML page with 200", fault: simulator.Fault{Kind: simulator.FaultHTMLPage},
		readCode: codes.Unavailable, writeCode: codes.Unavailable, readAttempts: exactly(1), writeAttempts: exactly(1), msg: "not the admin API", reason: server.ReasonUpstreamUnavailable},
	{name: "truncated JSON", fault: simulator.Fault{Kind: simulator.FaultTruncatedJSON},
		readCode: codes.Unavailable, writeCode: codes.Unavailable, readAttempts: exactly(3), writeAttempts: exactly(1),
		msg: "not the admin API", writeMsg: outcomeUnknownMsg, reason: server.ReasonUpstreamUnavailable, writeReason: server.ReasonUpstreamOutcomeUnknown, applied: true},
	{name: "wrong content type", fault: simulator.Fault{Kind: simulator.FaultContentType},
		readCode: codes.OK, writeCode: codes.OK, readAttempts: exactly(1), writeAttempts: exactly(1), applied: true},
	// Token rejections: one refresh and one retry at most, never a loop.
	{name: "498 storm", fault: simulator.Fault{Kind: simulator.FaultTokenInvalid},
		readCode: codes.Unauthenticated, writeCode: codes.Unauthenticated, readAttempts: span{1, 2}, writeAttempts: span{1, 2}, msg: "token", reason: server.ReasonUpstreamUnauthenticated},
	// A read (GET) sends its token in the X-Esri-Authorization header; a
	// 499 to that moves the same token to the query string once (a site
	// that ignores the header), then the usual refresh and single retry.
	{name: "499", fault: simulator.Fault{Kind: simulator.FaultTokenRequired},
		readCode: codes.Unauthenticated, writeCode: codes.Unauthenticated, readAttempts: span{1, 3}, writeAttempts: span{1, 2}, msg: "Token not found", reason: server.ReasonUpstreamUnauthenticated},
	{name: "wrong credentials", fault: simulator.Fault{Kind: simulator.FaultWrongCredentials, Path: faultTokenPath}, countPath: faultTokenPath,
		readCode: codes.Unauthenticated, writeCode: codes.Unauthenticated, readAttempts: exactly(1), writeAttempts: exactly(1), msg: "Invalid username or password"},
	{name: "site not created", fault: simulator.Fault{Kind: simulator.FaultSiteNotCreated, Path: faultTokenPath}, countPath: faultTokenPath,
		readCode: codes.FailedPrecondition, writeCode: codes.FailedPrecondition, readAttempts: exactly(1), writeAttempts: exactly(1), msg: "not participating in any Site", reason: server.ReasonSiteNotCreated},
	{name: "site not created (admin path)", fault: simulator.Fault{Kind: simulator.FaultSiteNotCreated},
		readCode: codes.FailedPrecondition, writeCode: codes.FailedPrecondition, readAttempts: exactly(1), writeAttempts: exactly(1), msg: "does not participate in any Site", reason: server.ReasonSiteNotCreated},
	{name: "flapping", fault: simulator.Fault{Kind: simulator.FaultFlapping},
		readCode: codes.OK, writeCode: codes.Unavailable, readAttempts: exactly(2), writeAttempts: exactly(1)},
}

// withToken makes arcgate get a token first, so that the faulted call
// is the only upstream request left to make.
func withToken(t *testing.T, e *hardEnv) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, err := e.services.GetService(ctx, &adminv1.GetServiceRequest{Name: faultSvcName}); err != nil {
		t.Fatal(err)
	}
}

// openBreaker makes the upstream fail until arcgate's circuit breaker for
// it opens, then lets it recover: calls are refused without being sent.
func openBreaker(t *testing.T, e *hardEnv) {
	t.Helper()
	withToken(t, e)
	e.sim.InjectFault(simulator.Fault{Kind: simulator.FaultStatus, Path: "services/"})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for range 2 { // 2 x 3 failed attempts, more than the 5 that open it
		_, _ = e.services.GetService(ctx, &adminv1.GetServiceRequest{Name: faultSvcName})
	}
	if h := e.app.UpstreamHealth(); h.Breaker != upstream.BreakerOpen {
		t.Fatalf("Health = %+v, want an open breaker", h)
	}
	e.sim.ClearFaults()
}

// httpStatus is grpc-gateway's HTTP status for a code.
func httpStatus(c codes.Code) int {
	switch c {
	case codes.OK:
		return http.StatusOK
	case codes.Unavailable:
		return http.StatusServiceUnavailable
	case codes.DeadlineExceeded:
		return http.StatusGatewayTimeout
	case codes.Unauthenticated:
		return http.StatusUnauthorized
	case codes.FailedPrecondition:
		return http.StatusBadRequest
	}
	return 0
}

// TestFaultMatrix runs every fault against a read RPC (GetService) and a
// write RPC (StopService), over gRPC and over REST, each in a fresh
// arcgate, and checks the exact status code and reason, that the message
// is useful and safe, how many attempts reached the upstream (reads are
// retried, writes never), whether the write took effect upstream (a write
// that did must never be reported as simply unavailable), and that no
// goroutine outlives the matrix.
func TestFaultMatrix(t *testing.T) {
	leaks := goleak.IgnoreCurrent()
	for _, fc := range faultMatrix {
		for _, rpc := range []string{"read", "write"} {
			for _, transport := range []string{"gRPC", "REST"} {
				t.Run(fc.name+"/"+rpc+"/"+transport, func(t *testing.T) {
					runFault(t, fc, rpc == "write", transport == "REST")
				})
			}
		}
	}
	goleak.VerifyNone(t, leaks)
}

func runFault(t *testing.T, fc faultCase, write, rest bool) {
	// The write (StopService) is a long-running operation: the call
	// returns it at once and its work is bounded by the operation's own
	// timeout, which plays the part of the rows' deadlines; the matrix
	// checks the outcome the operation ends with.
	e := startHard(t, hardOptions{timeout: fc.timeout, opTimeout: max(fc.deadline, fc.timeout)})
	if fc.setup != nil {
		fc.setup(t, e)
	}
	f := fc.fault
	path, code, attempts, msgWant, reasonWant := faultReadPath, fc.readCode, fc.readAttempts, fc.msg, fc.reason
	if write {
		path, code, attempts = faultStopPath, fc.writeCode, fc.writeAttempts
		if fc.writeMsg != "" {
			msgWant = fc.writeMsg
		}
		if fc.writeReason != "" {
			reasonWant = fc.writeReason
		}
	}
	if f.Path == "" {
		f.Path = path
	}
	count := path
	if fc.countPath != "" {
		count = fc.countPath
	}
	if f.Kind != 0 {
		e.sim.InjectFault(f)
	}
	if fc.refuseDial {
		e.wire.refuse(path)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	switch {
	case fc.deadline > 0:
		ctx, cancel = context.WithTimeout(ctx, fc.deadline)
		defer cancel()
	case fc.timeout > 0: // the call carries no deadline: arcgate's applies
		ctx, cancel = context.WithCancel(context.Background())
		defer time.AfterFunc(20*time.Second, cancel).Stop()
		defer cancel()
	}
	var (
		gotCode codes.Code
		msg     string
		reason  string
	)
	if rest {
		method, p := http.MethodGet, faultReadREST
		if write {
			method, p = http.MethodPost, faultStopREST
		}
		var h []string
		if fc.deadline > 0 {
			h = []string{faultRESTHeader, grpcTimeout(fc.deadline)}
		}
		st, body, raw := e.restCall(t, method, p, "", h...)
		if write && st == http.StatusOK {
			st, body, raw = e.restOutcome(t, body)
		}
		if want := httpStatus(code); st != want {
			t.Fatalf("HTTP %d, want %d: %s", st, want, raw)
		}
		if code != codes.OK {
			c, _ := body["code"].(float64)
			gotCode = codes.Code(c)
			msg, _ = body["message"].(string)
			reason = restReason(body)
		}
		msg += " " + raw // everything the caller sees
	} else {
		var err error
		if write {
			wctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			_, err = done[adminv1.Service](wctx, e.conn)(e.services.StopService(ctx, &adminv1.StopServiceRequest{Name: faultSvcName}))
		} else {
			_, err = e.services.GetService(ctx, &adminv1.GetServiceRequest{Name: faultSvcName})
		}
		st := status.Convert(err)
		gotCode, msg = st.Code(), st.Message()
		reason = grpcReason(st)
		if b, err := protojson.Marshal(st.Proto()); err == nil {
			msg += " " + string(b) // everything the caller sees
		}
	}
	if write {
		state, err := e.sim.ServiceState(faultSvcPath)
		if err != nil {
			t.Fatal(err)
		}
		applied := state == "STOPPED"
		if applied && code != codes.OK && reason != server.ReasonUpstreamOutcomeUnknown {
			t.Errorf("the write took effect upstream, yet the caller was told %v (%s), which invites a blind retry", gotCode, reason)
		}
		if applied != fc.applied {
			t.Errorf("the write took effect upstream: %v, want %v", applied, fc.applied)
		}
	}
	if gotCode != code {
		t.Fatalf("code %v, want %v: %s", gotCode, code, msg)
	}
	if code != codes.OK {
		if msgWant != "" && !strings.Contains(msg, msgWant) {
			t.Errorf("message %q does not say %q", msg, msgWant)
		}
		if reasonWant != "" && reason != reasonWant {
			t.Errorf("reason %q, want %q", reason, reasonWant)
		}
		// The operation's outcome says to read the service; retrying with
		// the same request_id would give the same operation.
		if reason == server.ReasonUpstreamOutcomeUnknown && (!write || !strings.Contains(msg, "read "+faultSvcName)) {
			t.Errorf("outcome unknown on a %s, or the message %q does not say to read %s",
				map[bool]string{true: "write", false: "read"}[write], msg, faultSvcName)
		}
		_, tokens := e.wire.snapshot()
		assertNoSecret(t, "error message", msg, tokens)
	}
	n := e.sim.FaultHits(count)
	if fc.refuseDial {
		n = int(e.wire.refused.Load())
	}
	if n < attempts.min || n > attempts.max {
		t.Errorf("%d upstream attempts on %s, want %d..%d", n, count, attempts.min, attempts.max)
	}
	if fc.countPath == faultTokenPath {
		// Nothing is sent to the service without a token.
		for _, r := range e.sim.Requests() {
			if strings.HasPrefix(r.Path, "/arcgis/admin/services/") {
				t.Errorf("request %s %s sent without a token", r.Method, r.Path)
			}
		}
	}
	_, tokens := e.wire.snapshot()
	assertNoSecret(t, "log", e.logs.String(), tokens)
}

// grpcTimeout formats d as a Grpc-Timeout header value (milliseconds).
func grpcTimeout(d time.Duration) string {
	return strconv.FormatInt(d.Milliseconds(), 10) + "m"
}

func grpcReason(st *status.Status) string {
	for _, d := range st.Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok {
			return info.GetReason()
		}
	}
	return ""
}

func restReason(body map[string]any) string {
	details, _ := body["details"].([]any)
	for _, d := range details {
		m, _ := d.(map[string]any)
		if m["@type"] == "type.googleapis.com/google.rpc.ErrorInfo" {
			r, _ := m["reason"].(string)
			return r
		}
	}
	return ""
}

// assertNoSecret fails if text holds the password, the caller's API key
// or one of the tokens.
func assertNoSecret(t *testing.T, what, text string, tokens []string) {
	t.Helper()
	for _, s := range append([]string{hardPassword, hardAPIKey, hardReadKey, url.QueryEscape(hardPassword)}, tokens...) {
		if s != "" && strings.Contains(text, s) {
			t.Errorf("%s contains a secret (%d bytes long)", what, len(s))
		}
	}
}

// TestCallerAuthEndToEnd checks caller authentication, scopes and the body
// limit through real gRPC and REST.
func TestCallerAuthEndToEnd(t *testing.T) {
	e := startHard(t, hardOptions{})
	e.sim.ResetRequests()
	for _, tc := range []struct {
		name         string
		method, path string
		body         string
		hdr          []string
		status       int
		reason       string
	}{
		{"no credentials", http.MethodGet, faultReadREST, "", []string{"Authorization", ""}, http.StatusUnauthorized, server.ReasonCallerUnauthenticated},
		{"unknown key", http.MethodGet, faultReadREST, "", []string{"Authorization", "Bearer not-a-key"}, http.StatusUnauthorized, server.ReasonCallerUnauthenticated},
		{"read key cannot start", http.MethodPost, faultWriteREST, "", []string{"Authorization", "Bearer " + hardReadKey}, http.StatusForbidden, server.ReasonPermissionDeniedScope},
		{"body over the limit", http.MethodPost, "/v1/folders?folderId=Big", `{"description":"` + strings.Repeat("x", gateway.DefaultMaxBodyBytes) + `"}`, []string{"Expect", "100-continue"}, http.StatusRequestEntityTooLarge, server.ReasonRequestTooLarge},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st, body, raw := e.restCall(t, tc.method, tc.path, tc.body, tc.hdr...)
			if st != tc.status || restReason(body) != tc.reason {
				t.Fatalf("HTTP %d %q, want %d %q: %.300s", st, restReason(body), tc.status, tc.reason, raw)
			}
		})
	}
	if n := e.sim.RequestCount(); n != 0 {
		t.Fatalf("%d upstream requests for refused calls, want 0", n)
	}
	// The read key reads.
	if st, _, raw := e.restCall(t, http.MethodGet, faultReadREST, "", "Authorization", "Bearer "+hardReadKey); st != http.StatusOK {
		t.Fatalf("read key: HTTP %d %s", st, raw)
	}
}

// TestRateLimitEndToEnd checks the per-caller rate limit over gRPC and
// REST: RESOURCE_EXHAUSTED (HTTP 429) with a RetryInfo detail.
func TestRateLimitEndToEnd(t *testing.T) {
	e := startHard(t, hardOptions{rateLimit: rpc.RateLimit{PerSecond: 0.001, Burst: 2}})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for i := range 2 {
		if _, err := e.services.ListFolders(ctx, &adminv1.ListFoldersRequest{}); err != nil {
			t.Fatalf("call %d: %v", i+1, err)
		}
	}
	_, err := e.services.ListFolders(ctx, &adminv1.ListFoldersRequest{})
	st := status.Convert(err)
	var retry *errdetails.RetryInfo
	for _, d := range st.Details() {
		if r, ok := d.(*errdetails.RetryInfo); ok {
			retry = r
		}
	}
	if st.Code() != codes.ResourceExhausted || grpcReason(st) != server.ReasonRateLimited || retry.GetRetryDelay().AsDuration() <= 0 {
		t.Fatalf("third call: %v (retry %v)", err, retry)
	}
	code, body, raw := e.restCall(t, http.MethodGet, "/v1/folders", "")
	if code != http.StatusTooManyRequests || restReason(body) != server.ReasonRateLimited {
		t.Fatalf("REST: HTTP %d %s", code, raw)
	}
	// Another caller is not limited by the first one's use.
	if code, _, raw := e.restCall(t, http.MethodGet, "/v1/folders", "", "Authorization", "Bearer "+hardReadKey); code != http.StatusOK {
		t.Fatalf("other caller: HTTP %d %s", code, raw)
	}
}

// TestCircuitBreakerEndToEnd makes the upstream fail until the breaker
// opens, then checks that calls fail fast (UNAVAILABLE, CIRCUIT_OPEN, with
// RetryInfo) without reaching the upstream, that Health reports it, and
// that once the upstream is back a call one second later (on the breaker's
// clock) gets through as the probe and closes the breaker.
func TestCircuitBreakerEndToEnd(t *testing.T) {
	clock := &fakeClock{now: time.Now().UTC()}
	e := startHard(t, hardOptions{clock: clock.Now})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, err := e.services.GetService(ctx, &adminv1.GetServiceRequest{Name: faultSvcName}); err != nil {
		t.Fatal(err) // a token is cached now
	}
	e.sim.InjectFault(simulator.Fault{Kind: simulator.FaultStatus, Path: "services/"})
	// Two failing reads: 2 x (3 + 3) failed attempts, more than the 5 that
	// open the breaker.
	for range 2 {
		_, _ = e.services.GetService(ctx, &adminv1.GetServiceRequest{Name: faultSvcName})
	}
	if h := e.app.UpstreamHealth(); h.Breaker != upstream.BreakerOpen {
		t.Fatalf("Health = %+v, want an open breaker", h)
	}
	if h, err := e.health.Check(ctx, &grpc_health_v1.HealthCheckRequest{}); err != nil || h.GetStatus() != grpc_health_v1.HealthCheckResponse_NOT_SERVING {
		t.Fatalf("health check = %v, %v; want NOT_SERVING (the breaker is open)", h, err)
	}
	before := e.sim.FaultHits(faultReadPath) + e.sim.FaultHits(faultSvcName)
	for _, call := range []func() error{
		func() error {
			_, err := e.services.GetService(ctx, &adminv1.GetServiceRequest{Name: faultSvcName})
			return err
		},
		func() error {
			_, err := done[adminv1.Service](ctx, e.conn)(e.services.StartService(ctx, &adminv1.StartServiceRequest{Name: faultSvcName}))
			return err
		},
	} {
		st := status.Convert(call())
		var retry *errdetails.RetryInfo
		for _, d := range st.Details() {
			if r, ok := d.(*errdetails.RetryInfo); ok {
				retry = r
			}
		}
		if st.Code() != codes.Unavailable || grpcReason(st) != server.ReasonCircuitOpen || retry == nil || !strings.Contains(st.Message(), "circuit breaker open") {
			t.Fatalf("while open: %v (retry %v)", st.Err(), retry)
		}
	}
	code, body, raw := e.restCall(t, http.MethodGet, faultReadREST, "")
	if code != http.StatusServiceUnavailable || restReason(body) != server.ReasonCircuitOpen {
		t.Fatalf("REST while open: HTTP %d %s", code, raw)
	}
	if after := e.sim.FaultHits(faultReadPath) + e.sim.FaultHits(faultSvcName) + e.sim.FaultHits(faultWritePath); after != before {
		t.Fatalf("%d requests reached the upstream while the breaker was open", after-before)
	}

	// The upstream is back; the first open period is 1 s.
	e.sim.ClearFaults()
	clock.Advance(upstream.DefaultBreakerInitialCooldown)
	if h := e.app.UpstreamHealth(); h.Breaker != upstream.BreakerHalfOpen {
		t.Fatalf("Health one second later = %+v, want half-open", h)
	}
	// One upstream request (GetService sends two at once, and half-open
	// lets one through).
	if _, err := done[adminv1.Service](ctx, e.conn)(e.services.StartService(ctx, &adminv1.StartServiceRequest{Name: faultSvcName})); err != nil {
		t.Fatalf("first call after the upstream came back: %v", err)
	}
	if h := e.app.UpstreamHealth(); h.Breaker != upstream.BreakerClosed || h.ConsecutiveFailures != 0 {
		t.Fatalf("Health after the probe = %+v, want closed", h)
	}
	if _, err := e.services.GetService(ctx, &adminv1.GetServiceRequest{Name: faultSvcName}); err != nil {
		t.Fatalf("after the probe: %v", err)
	}
}
