package rpc

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509/pkix"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/longrunning/autogen/longrunningpb"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	"google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/reflection"
	reflectionpb "google.golang.org/grpc/reflection/grpc_reflection_v1"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	adminv1 "github.com/arcgate/arcgate/gen/go/arcgate/admin/v1"
	"github.com/arcgate/arcgate/internal/testpki"
)

// API keys of the test callers file. They are distinctive so that a test
// can check that they never reach a log line.
const (
	readKey  = "rk-Quokka-4471-read"
	writeKey = "wk-Narwhal-9902-write"
	adminKey = "ak-Axolotl-1187-admin"
)

func testCallersFile() string {
	return "# test callers\n" +
		"reader  read   " + HashAPIKey(readKey) + "\n" +
		"\n" +
		"writer\twrite\t" + HashAPIKey(writeKey) + "\n" +
		"root    admin  " + HashAPIKey(adminKey) + "\n" +
		"robot   write  subject:CN=robot,O=Arcgate Test\n"
}

func TestParseCredentials(t *testing.T) {
	c, err := ParseCredentials(strings.NewReader(testCallersFile()))
	if err != nil {
		t.Fatal(err)
	}
	if c.Len() != 4 {
		t.Fatalf("Len = %d, want 4", c.Len())
	}
	for _, tc := range []struct {
		key   string
		id    string
		scope adminv1.Scope
	}{
		{readKey, "reader", adminv1.Scope_SCOPE_READ},
		{writeKey, "writer", adminv1.Scope_SCOPE_WRITE},
		{adminKey, "root", adminv1.Scope_SCOPE_ADMIN},
	} {
		e, ok := c.lookupKey(tc.key)
		if !ok || e.id != tc.id || e.scope != tc.scope {
			t.Errorf("lookupKey(%s) = %+v, %v", tc.id, e, ok)
		}
	}
	if _, ok := c.lookupKey("nope"); ok {
		t.Error("unknown key found")
	}
	if e := c.subjects["CN=robot,O=Arcgate Test"]; e.id != "robot" || e.scope != adminv1.Scope_SCOPE_WRITE {
		t.Errorf("subject entry = %+v", e)
	}
}

func TestParseCredentialsErrors(t *testing.T) {
	h := HashAPIKey("k")
	for _, tc := range []struct {
		name, in, want string
	}{
		{"empty", "# nothing\n\n", "no credentials"},
		{"two fields", "alice read\n", "line 1"},
		{"bad scope", "alice root " + h + "\n", "scope must be"},
		{"bad identity", "al ice read " + h + "\n", "scope must be"},
		{"identity chars", "al/ice read " + h + "\n", "identity must be"},
		{"short hash", "alice read sha256:abcd\n", "64 hex digits"},
		{"no kind", "alice read " + strings.TrimPrefix(h, "sha256:") + "\n", "must start with"},
		{"empty subject", "alice read subject:\n", "subject:"},
		{"duplicate hash", "a read " + h + "\nb write " + h + "\n", "line 2: API key hash listed twice"},
		{"duplicate subject", "a read subject:CN=x\nb read subject:CN=x\n", "line 2"},
		{"two scopes", "a read " + h + "\na write " + HashAPIKey("j") + "\n", "two different scopes"},
		{"long line", "a read subject:CN=" + strings.Repeat("x", 5000) + "\n", "longer than"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseCredentials(strings.NewReader(tc.in))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
			if strings.Contains(err.Error(), strings.TrimPrefix(h, "sha256:")) {
				t.Fatalf("error quotes a credential: %v", err)
			}
		})
	}
}

func FuzzParseCredentials(f *testing.F) {
	f.Add(testCallersFile())
	f.Add("a read sha256:" + strings.Repeat("0", 64) + "\r\nb admin subject:CN=b, O=x\n")
	f.Add("a\tread\tsubject:CN=\x00\n")
	f.Add("a read sha256:" + strings.Repeat("G", 64))
	f.Fuzz(func(t *testing.T, in string) {
		c, err := ParseCredentials(strings.NewReader(in))
		if err != nil {
			return
		}
		if c.Len() == 0 {
			t.Fatal("parsed a file without credentials")
		}
		for _, e := range c.keys {
			if !validIdentity(e.id) || e.scope < adminv1.Scope_SCOPE_READ || e.scope > adminv1.Scope_SCOPE_ADMIN {
				t.Fatalf("bad entry %+v", e)
			}
		}
		for s, e := range c.subjects {
			if s == "" || s != e.subj || !validIdentity(e.id) {
				t.Fatalf("bad subject entry %q %+v", s, e)
			}
		}
	})
}

// fakeServices answers GetService and StartService without an upstream.
type fakeServices struct {
	adminv1.UnimplementedServicesServiceServer
	mu      sync.Mutex
	callers []Caller
}

func (f *fakeServices) record(ctx context.Context) {
	c, _ := CallerFrom(ctx)
	f.mu.Lock()
	f.callers = append(f.callers, c)
	f.mu.Unlock()
}

func (f *fakeServices) GetService(ctx context.Context, req *adminv1.GetServiceRequest) (*adminv1.Service, error) {
	f.record(ctx)
	return &adminv1.Service{Name: req.GetName()}, nil
}

func (f *fakeServices) StartService(ctx context.Context, req *adminv1.StartServiceRequest) (*longrunningpb.Operation, error) {
	f.record(ctx)
	return &longrunningpb.Operation{Name: "operations/fake"}, nil
}

func (f *fakeServices) last() Caller {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.callers) == 0 {
		return Caller{}
	}
	return f.callers[len(f.callers)-1]
}

// syncBuffer is a log sink safe for concurrent writes.
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

// guardEnv is a gRPC server with the chain (NewChain, so the Guard runs
// where it runs in production) in front of fakeServices, health and
// reflection, on a loopback port.
type guardEnv struct {
	conn *grpc.ClientConn
	svc  *fakeServices
	log  *syncBuffer
}

func startGuard(t *testing.T, cfg GuardConfig, serverOpts ...grpc.ServerOption) (*guardEnv, string) {
	t.Helper()
	logs := &syncBuffer{}
	cfg.Logger = slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	chain, err := NewChain(ChainConfig{Logger: cfg.Logger, Guard: cfg})
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer(append(chain.ServerOptions(), serverOpts...)...)
	svc := &fakeServices{}
	adminv1.RegisterServicesServiceServer(srv, svc)
	grpc_health_v1.RegisterHealthServer(srv, health.NewServer())
	reflection.Register(srv)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)
	return &guardEnv{svc: svc, log: logs}, lis.Addr().String()
}

func newGuardEnv(t *testing.T, cfg GuardConfig) *guardEnv {
	t.Helper()
	e, addr := startGuard(t, cfg)
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	e.conn = conn
	return e
}

func testCredentials(t *testing.T) *Credentials {
	t.Helper()
	c, err := ParseCredentials(strings.NewReader(testCallersFile()))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func withMD(kv ...string) context.Context {
	return metadata.NewOutgoingContext(context.Background(), metadata.Pairs(kv...))
}

// reason returns the ErrorInfo reason of err.
func reason(err error) string {
	for _, d := range status.Convert(err).Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok {
			return info.GetReason()
		}
	}
	return ""
}

func TestGuardAuthorization(t *testing.T) {
	e := newGuardEnv(t, GuardConfig{Credentials: testCredentials(t), RateLimit: NoRateLimit})
	svc := adminv1.NewServicesServiceClient(e.conn)
	get := func(ctx context.Context) error {
		_, err := svc.GetService(ctx, &adminv1.GetServiceRequest{Name: "services/A.MapServer"})
		return err
	}
	start := func(ctx context.Context) error {
		_, err := svc.StartService(ctx, &adminv1.StartServiceRequest{Name: "folders/Maps/services/Roads.MapServer"})
		return err
	}
	for _, tc := range []struct {
		name   string
		call   func(context.Context) error
		md     []string
		code   codes.Code
		reason string
		caller string
	}{
		{"no credentials", get, nil, codes.Unauthenticated, reasonCallerUnauthenticated, ""},
		{"unknown key", get, []string{"x-api-key", "not-a-known-key"}, codes.Unauthenticated, reasonCallerUnauthenticated, ""},
		{"basic auth", get, []string{"authorization", "Basic cmVhZGVyOnB3"}, codes.Unauthenticated, reasonCallerUnauthenticated, ""},
		{"empty bearer", get, []string{"authorization", "Bearer "}, codes.Unauthenticated, reasonCallerUnauthenticated, ""},
		{"two different keys", get, []string{"x-api-key", readKey, "authorization", "Bearer " + writeKey}, codes.Unauthenticated, reasonCallerUnauthenticated, ""},
		{"same key twice", get, []string{"x-api-key", readKey, "authorization", "Bearer " + readKey}, codes.OK, "", "reader"},
		{"read key reads (x-api-key)", get, []string{"x-api-key", readKey}, codes.OK, "", "reader"},
		{"read key reads (bearer)", get, []string{"authorization", "Bearer " + readKey}, codes.OK, "", "reader"},
		{"bearer scheme is case-insensitive", get, []string{"authorization", "bearer " + readKey}, codes.OK, "", "reader"},
		{"read key cannot write", start, []string{"x-api-key", readKey}, codes.PermissionDenied, reasonPermissionDeniedScope, ""},
		{"write key writes", start, []string{"x-api-key", writeKey}, codes.OK, "", "writer"},
		{"write key reads", get, []string{"x-api-key", writeKey}, codes.OK, "", "writer"},
		{"admin key writes", start, []string{"authorization", "Bearer " + adminKey}, codes.OK, "", "root"},
		{"oversized key", get, []string{"x-api-key", strings.Repeat("k", maxAPIKeyLen+1)}, codes.Unauthenticated, reasonCallerUnauthenticated, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.call(withMD(tc.md...))
			if status.Code(err) != tc.code {
				t.Fatalf("got %v, want %v", err, tc.code)
			}
			if tc.code != codes.OK {
				if r := reason(err); r != tc.reason {
					t.Fatalf("reason %q, want %q", r, tc.reason)
				}
				for _, k := range []string{readKey, writeKey, adminKey} {
					if strings.Contains(status.Convert(err).Message(), k) {
						t.Fatalf("error message quotes the API key: %v", err)
					}
				}
				return
			}
			if c := e.svc.last(); c.ID != tc.caller || c.Auth != authAPIKey {
				t.Fatalf("handler saw caller %+v, want %s", c, tc.caller)
			}
		})
	}
	// Health needs no credentials; reflection needs a known caller.
	if _, err := grpc_health_v1.NewHealthClient(e.conn).Check(withMD(), &grpc_health_v1.HealthCheckRequest{}); err != nil {
		t.Fatalf("health without credentials: %v", err)
	}
	if err := listServices(withMD(), e.conn); status.Code(err) != codes.Unauthenticated {
		t.Fatalf("reflection without credentials: %v", err)
	}
	if err := listServices(withMD("x-api-key", readKey), e.conn); err != nil {
		t.Fatalf("reflection with a read key: %v", err)
	}
	if logs := e.log.String(); strings.Contains(logs, readKey) || strings.Contains(logs, writeKey) || strings.Contains(logs, adminKey) {
		t.Fatalf("an API key reached the log:\n%s", logs)
	}
}

// listServices lists the services through reflection.
func listServices(ctx context.Context, conn *grpc.ClientConn) error {
	stream, err := reflectionpb.NewServerReflectionClient(conn).ServerReflectionInfo(ctx)
	if err != nil {
		return err
	}
	// A stream the server already ended makes Send return io.EOF; Recv
	// then returns the status.
	if err := stream.Send(&reflectionpb.ServerReflectionRequest{MessageRequest: &reflectionpb.ServerReflectionRequest_ListServices{}}); err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	_, err = stream.Recv()
	_ = stream.CloseSend()
	return err
}

func TestGuardInsecureMode(t *testing.T) {
	e := newGuardEnv(t, GuardConfig{InsecureNoCallerAuth: true})
	svc := adminv1.NewServicesServiceClient(e.conn)
	if _, err := svc.StartService(withMD(), &adminv1.StartServiceRequest{Name: "services/A.MapServer"}); err != nil {
		t.Fatal(err)
	}
	if c := e.svc.last(); c.ID != "anonymous" || c.Auth != authNone || !c.Has(adminv1.Scope_SCOPE_ADMIN) {
		t.Fatalf("caller %+v", c)
	}
	if err := listServices(withMD(), e.conn); err != nil {
		t.Fatalf("reflection: %v", err)
	}
}

func TestNewGuardNeedsAChoice(t *testing.T) {
	if _, err := NewGuard(GuardConfig{}); err == nil {
		t.Fatal("NewGuard without credentials and without insecure mode")
	}
	if _, err := NewGuard(GuardConfig{Credentials: testCredentials(t), InsecureNoCallerAuth: true}); err == nil {
		t.Fatal("NewGuard with credentials and insecure mode")
	}
}

func TestGuardRateLimit(t *testing.T) {
	clock := struct {
		sync.Mutex
		now time.Time
	}{now: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	now := func() time.Time { clock.Lock(); defer clock.Unlock(); return clock.now }
	e := newGuardEnv(t, GuardConfig{Credentials: testCredentials(t), RateLimit: RateLimit{PerSecond: 2, Burst: 2}, Clock: now})
	svc := adminv1.NewServicesServiceClient(e.conn)
	get := func(key string) error {
		_, err := svc.GetService(withMD("x-api-key", key), &adminv1.GetServiceRequest{Name: "services/A.MapServer"})
		return err
	}
	for i := range 2 {
		if err := get(readKey); err != nil {
			t.Fatalf("call %d: %v", i+1, err)
		}
	}
	err := get(readKey)
	if status.Code(err) != codes.ResourceExhausted || reason(err) != reasonRateLimited {
		t.Fatalf("third call: %v", err)
	}
	var retry *errdetails.RetryInfo
	for _, d := range status.Convert(err).Details() {
		if r, ok := d.(*errdetails.RetryInfo); ok {
			retry = r
		}
	}
	if retry == nil || retry.GetRetryDelay().AsDuration() != 500*time.Millisecond {
		t.Fatalf("RetryInfo %v, want 500ms", retry)
	}
	// Another caller has its own bucket.
	if err := get(writeKey); err != nil {
		t.Fatalf("other caller: %v", err)
	}
	clock.Lock()
	clock.now = clock.now.Add(500 * time.Millisecond)
	clock.Unlock()
	if err := get(readKey); err != nil {
		t.Fatalf("after the wait: %v", err)
	}
	// Health is never limited.
	for range 5 {
		if _, err := grpc_health_v1.NewHealthClient(e.conn).Check(withMD(), &grpc_health_v1.HealthCheckRequest{}); err != nil {
			t.Fatal(err)
		}
	}
}

func TestRateLimiterSweep(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	r := newRateLimiter(RateLimit{PerSecond: 1, Burst: 1}, DefaultRateLimit, func() time.Time { return now })
	for i := range maxBuckets {
		r.allow(string(rune('a'+i%26)) + strings.Repeat("x", i/26))
	}
	now = now.Add(time.Second) // every bucket is full again
	r.allow("new")
	if len(r.buckets) != 1 {
		t.Fatalf("%d buckets after a sweep, want 1", len(r.buckets))
	}
}

func TestGuardAudit(t *testing.T) {
	e := newGuardEnv(t, GuardConfig{Credentials: testCredentials(t), RateLimit: NoRateLimit})
	svc := adminv1.NewServicesServiceClient(e.conn)
	_, _ = svc.GetService(withMD("x-api-key", readKey), &adminv1.GetServiceRequest{Name: "services/A.MapServer"})
	_, _ = svc.StartService(withMD("x-api-key", writeKey), &adminv1.StartServiceRequest{Name: "folders/Maps/services/Roads.MapServer"})
	_, _ = svc.StartService(withMD("x-api-key", readKey), &adminv1.StartServiceRequest{Name: "services/B.MapServer"})
	_, _ = svc.StartService(withMD(), &adminv1.StartServiceRequest{Name: "services/C.MapServer"})

	var audits, rejected []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(e.log.String()), "\n") {
		m := decodeJSONLine(t, line)
		switch m["msg"] {
		case "audit":
			audits = append(audits, m)
		case "rpc rejected":
			rejected = append(rejected, m)
		}
	}
	want := []map[string]any{
		{"caller": "writer", "auth": "api-key", "method": "/arcgate.admin.v1.ServicesService/StartService", "scope": "write", "resource": "folders/Maps/services/Roads.MapServer", "code": "OK"},
		{"caller": "reader", "auth": "api-key", "resource": "services/B.MapServer", "code": "PermissionDenied"},
	}
	// A call refused before its caller is known is not audited: it is an
	// "rpc rejected" line, rate-limited like every refusal.
	if len(rejected) != 1 || rejected[0]["caller"] != "(unauthenticated)" || rejected[0]["code"] != "Unauthenticated" {
		t.Fatalf("rpc rejected lines %v, want one for the unauthenticated call", rejected)
	}
	if len(audits) != len(want) {
		t.Fatalf("%d audit lines, want %d (reads are not audited):\n%s", len(audits), len(want), e.log.String())
	}
	for i, w := range want {
		for k, v := range w {
			if audits[i][k] != v {
				t.Errorf("audit line %d: %s = %v, want %v", i+1, k, audits[i][k], v)
			}
		}
	}
}

func TestResourceOf(t *testing.T) {
	for _, tc := range []struct {
		msg          proto.Message
		resource, id string
	}{
		{&adminv1.GetServiceRequest{Name: "services/A.MapServer"}, "services/A.MapServer", ""},
		{&adminv1.ListServicesRequest{Parent: "folders/Maps"}, "folders/Maps", ""},
		{&adminv1.CreateFolderRequest{FolderId: "Planning"}, "folders/Planning", "Planning"},
		{&adminv1.UpdateFolderRequest{Folder: &adminv1.Folder{Name: "folders/Planning"}}, "folders/Planning", ""},
		{&adminv1.CreateServiceRequest{Parent: "folders/Maps", ServiceId: "Zoning.MapServer"}, "folders/Maps/services/Zoning.MapServer", "Zoning.MapServer"},
		{&adminv1.CreateServiceRequest{ServiceId: "Zoning.MapServer"}, "services/Zoning.MapServer", "Zoning.MapServer"},
		{&adminv1.CreateUsageReportRequest{}, "usageReports", ""},
		{&adminv1.AddRoleUsersRequest{Role: "roles/editors"}, "roles/editors", ""},
		{&adminv1.UpdateUsageStatisticsSettingsRequest{}, "usageStatisticsSettings", ""},
		{&adminv1.GetServiceRequest{Name: strings.Repeat("n", 300)}, strings.Repeat("n", maxAuditValue) + "...", ""},
		{(*adminv1.GetServiceRequest)(nil), "", ""},
	} {
		res, id := resourceOf(tc.msg)
		if res != tc.resource || id != tc.id {
			t.Errorf("resourceOf(%T %v) = %q, %q; want %q, %q", tc.msg, tc.msg, res, id, tc.resource, tc.id)
		}
	}
}

// decodeJSONLine decodes one JSON log line.
func decodeJSONLine(t *testing.T, line string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(line), &m); err != nil {
		t.Fatalf("log line %q: %v", line, err)
	}
	return m
}

func TestGuardMTLS(t *testing.T) {
	pki := testpki.New(t)
	srvTLS, err := ServerTLSConfig(pki.CertFile, pki.KeyFile, pki.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	e, addr := startGuard(t, GuardConfig{Credentials: testCredentials(t), RateLimit: NoRateLimit}, grpc.Creds(credentials.NewTLS(srvTLS)))
	dial := func(cert *tls.Certificate) adminv1.ServicesServiceClient {
		conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(credentials.NewTLS(pki.ClientTLS(cert))))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = conn.Close() })
		return adminv1.NewServicesServiceClient(conn)
	}
	start := func(c adminv1.ServicesServiceClient, ctx context.Context) error {
		_, err := c.StartService(ctx, &adminv1.StartServiceRequest{Name: "services/A.MapServer"})
		return err
	}

	robot := pki.ClientCert(t, pkix.Name{CommonName: "robot", Organization: []string{"Arcgate Test"}})
	if err := start(dial(&robot), withMD()); err != nil {
		t.Fatalf("mapped client certificate: %v", err)
	}
	if c := e.svc.last(); c.ID != "robot" || c.Auth != authMTLS {
		t.Fatalf("caller %+v", c)
	}
	stranger := pki.ClientCert(t, pkix.Name{CommonName: "stranger"})
	if err := start(dial(&stranger), withMD()); status.Code(err) != codes.Unauthenticated {
		t.Fatalf("unmapped certificate: %v", err)
	}
	// No certificate: an API key still works, nothing does not.
	if err := start(dial(nil), withMD()); status.Code(err) != codes.Unauthenticated {
		t.Fatalf("no certificate, no key: %v", err)
	}
	if err := start(dial(nil), withMD("x-api-key", writeKey)); err != nil {
		t.Fatalf("API key over TLS: %v", err)
	}
	// An API key wins over a certificate.
	if err := start(dial(&robot), withMD("x-api-key", readKey)); status.Code(err) != codes.PermissionDenied {
		t.Fatalf("read key with the robot's certificate: %v", err)
	}
}

func TestTLSConfigErrors(t *testing.T) {
	pki := testpki.New(t)
	if _, err := ServerTLSConfig(pki.CertFile, pki.KeyFile, filepath.Join(pki.Dir, "missing.pem")); err == nil {
		t.Error("missing client CA file accepted")
	}
	if _, err := ServerTLSConfig(pki.CertFile, pki.KeyFile, pki.KeyFile); err == nil {
		t.Error("client CA file without certificates accepted")
	}
	if _, err := ServerTLSConfig(pki.KeyFile, pki.KeyFile, ""); err == nil {
		t.Error("key file as certificate accepted")
	}
	cfg, err := ServerTLSConfig(pki.CertFile, pki.KeyFile, "")
	if err != nil || cfg.ClientAuth != tls.NoClientCert || cfg.MinVersion != tls.VersionTLS12 {
		t.Errorf("ServerTLSConfig without client CA: %+v, %v", cfg, err)
	}
}
