package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"go.uber.org/goleak"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

	adminv1 "github.com/arcgate/arcgate/gen/go/arcgate/admin/v1"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// echoBody answers with the length of the body it read.
type echoBody struct {
	mu    sync.Mutex
	calls int
}

func (e *echoBody) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	e.mu.Lock()
	e.calls++
	e.mu.Unlock()
	b, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	_, _ = w.Write([]byte("read " + strconv.Itoa(len(b))))
}

func (e *echoBody) count() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.calls
}

// chunked hides its length so that the request is sent chunked.
type chunked struct{ io.Reader }

func TestLimitBody(t *testing.T) {
	const max = 16
	for _, tc := range []struct {
		name   string
		body   io.Reader
		status int
	}{
		{"no body", nil, http.StatusOK},
		{"at the limit", strings.NewReader(strings.Repeat("a", max)), http.StatusOK},
		{"declared over the limit", strings.NewReader(strings.Repeat("a", max+1)), http.StatusRequestEntityTooLarge},
		{"chunked at the limit", chunked{strings.NewReader(strings.Repeat("a", max))}, http.StatusOK},
		{"chunked over the limit", chunked{strings.NewReader(strings.Repeat("a", 10*max))}, http.StatusRequestEntityTooLarge},
	} {
		t.Run(tc.name, func(t *testing.T) {
			next := &echoBody{}
			srv := httptest.NewServer(LimitBody(next, max))
			defer srv.Close()
			req, err := http.NewRequest(http.MethodPost, srv.URL+"/v1/folders", tc.body)
			if err != nil {
				t.Fatal(err)
			}
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			raw, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tc.status {
				t.Fatalf("HTTP %d, want %d: %s", resp.StatusCode, tc.status, raw)
			}
			if tc.status == http.StatusOK {
				if next.count() != 1 {
					t.Fatalf("handler called %d times", next.count())
				}
				return
			}
			if next.count() != 0 {
				t.Fatal("the handler saw an oversized body")
			}
			var st struct {
				Code    int              `json:"code"`
				Message string           `json:"message"`
				Details []map[string]any `json:"details"`
			}
			if err := json.Unmarshal(raw, &st); err != nil {
				t.Fatalf("body %s: %v", raw, err)
			}
			if codes.Code(st.Code) != codes.ResourceExhausted || len(st.Details) != 1 ||
				st.Details[0]["@type"] != "type.googleapis.com/google.rpc.ErrorInfo" || st.Details[0]["reason"] != "REQUEST_TOO_LARGE" {
				t.Fatalf("body %s", raw)
			}
		})
	}
}

func TestForwardAPIKey(t *testing.T) {
	m := ForwardAPIKey(func(key string) (string, bool) {
		if key == "X-Request-Id" {
			return "x-request-id", true
		}
		return "", false
	})
	for _, tc := range []struct {
		in, out string
		ok      bool
	}{
		{"X-Api-Key", "x-api-key", true},
		{"x-api-key", "x-api-key", true},
		{"X-Request-Id", "x-request-id", true},
		{"Cookie", "", false},
	} {
		if out, ok := m(tc.in); out != tc.out || ok != tc.ok {
			t.Errorf("matcher(%q) = %q, %v; want %q, %v", tc.in, out, ok, tc.out, tc.ok)
		}
	}
	if out, ok := ForwardAPIKey(nil)("Grpc-Metadata-Foo"); out != "Foo" || !ok {
		t.Errorf("default matcher: %q, %v", out, ok)
	}
}

// seenMetadata is a ServicesService that records the metadata of the
// calls it gets and refuses them with a rate-limit status.
type seenMetadata struct {
	adminv1.UnimplementedServicesServiceServer
	mu sync.Mutex
	md metadata.MD
}

func (s *seenMetadata) GetService(ctx context.Context, _ *adminv1.GetServiceRequest) (*adminv1.Service, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	s.mu.Lock()
	s.md = md
	s.mu.Unlock()
	st, _ := status.New(codes.ResourceExhausted, "slow down").WithDetails(&errdetails.RetryInfo{RetryDelay: durationpb.New(1200 * time.Millisecond)})
	return nil, st.Err()
}

// TestGatewayHeadersAndRetryAfter runs a REST call through grpc-gateway to
// a gRPC server: the API key headers reach gRPC metadata, and a RetryInfo
// becomes a Retry-After header.
func TestGatewayHeadersAndRetryAfter(t *testing.T) {
	svc := &seenMetadata{}
	gs := grpc.NewServer()
	adminv1.RegisterServicesServiceServer(gs, svc)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = gs.Serve(lis) }()
	defer gs.Stop()
	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	mux := runtime.NewServeMux(
		runtime.WithIncomingHeaderMatcher(ForwardAPIKey(nil)),
		runtime.WithErrorHandler(RetryAfterErrorHandler(nil)),
	)
	if err := adminv1.RegisterServicesServiceHandler(ctx, mux, conn); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(LimitBody(mux, DefaultMaxBodyBytes))
	defer srv.Close()

	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/v1/services/A.MapServer", nil)
	req.Header.Set("X-Api-Key", "key-one")
	req.Header.Set("Authorization", "Bearer key-two")
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	_, _ = buf.ReadFrom(resp.Body)
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") != "2" {
		t.Fatalf("HTTP %d, Retry-After %q: %s", resp.StatusCode, resp.Header.Get("Retry-After"), buf.String())
	}
	svc.mu.Lock()
	defer svc.mu.Unlock()
	if got := svc.md.Get("x-api-key"); len(got) != 1 || got[0] != "key-one" {
		t.Errorf("x-api-key metadata = %q", got)
	}
	if got := svc.md.Get("authorization"); len(got) != 1 || got[0] != "Bearer key-two" {
		t.Errorf("authorization metadata = %q", got)
	}
}

// TestNewForwardsAPIKeyAndRetryAfter checks that New itself (not only a mux
// built by hand) forwards X-Api-Key (and Idempotency-Key) to gRPC metadata and turns a RetryInfo
// into a Retry-After header.
func TestNewForwardsAPIKeyAndRetryAfter(t *testing.T) {
	svc := &seenMetadata{}
	gs := grpc.NewServer()
	adminv1.RegisterServicesServiceServer(gs, svc)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = gs.Serve(lis) }()
	defer gs.Stop()
	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	h, err := New(ctx, conn)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()

	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/v1/services/A.MapServer", nil)
	req.Header.Set("X-Api-Key", "key-one")
	req.Header.Set("Idempotency-Key", "123e4567-e89b-12d3-a456-426614174000")
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") != "2" {
		t.Fatalf("HTTP %d, Retry-After %q", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	svc.mu.Lock()
	defer svc.mu.Unlock()
	if got := svc.md.Get("x-api-key"); len(got) != 1 || got[0] != "key-one" {
		t.Errorf("x-api-key metadata = %q", got)
	}
	if got := svc.md.Get("idempotency-key"); len(got) != 1 || got[0] != "123e4567-e89b-12d3-a456-426614174000" {
		t.Errorf("idempotency-key metadata = %q", got)
	}
}
