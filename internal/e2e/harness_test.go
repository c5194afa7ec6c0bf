// Package e2e drives arcgate end to end: a real gRPC client and real REST
// calls against arcgate, which fronts the simulator over loopback HTTP.
package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"google.golang.org/genproto/googleapis/rpc/errdetails"

	adminv1 "github.com/arcgate/arcgate/gen/go/arcgate/admin/v1"
	"github.com/arcgate/arcgate/internal/app"
	"github.com/arcgate/arcgate/simulator"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// env is one running arcgate in front of a simulator.
type env struct {
	app      *app.App
	sim      *simulator.Server
	conn     *grpc.ClientConn
	services adminv1.ServicesServiceClient
	rest     string // base URL of the REST API
	hc       *http.Client
}

func start(t *testing.T, simCfg simulator.Config) *env {
	t.Helper()
	a, err := app.Start(app.Config{GRPCAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0", Simulator: simCfg})
	if err != nil {
		t.Fatal(err)
	}
	conn, err := grpc.NewClient(a.GRPCAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	tr := &http.Transport{}
	e := &env{app: a, sim: a.Simulator, conn: conn, services: adminv1.NewServicesServiceClient(conn),
		rest: "http://" + a.HTTPAddr, hc: &http.Client{Transport: tr, Timeout: 30 * time.Second}}
	t.Cleanup(func() {
		_ = conn.Close()
		tr.CloseIdleConnections()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := a.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
	return e
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return c
}

// restResp is a decoded REST response.
type restResp struct {
	Status int
	Body   map[string]any
	Raw    string
}

func (e *env) do(t *testing.T, method, path string, body any) restResp {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, e.rest+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
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
	r := restResp{Status: resp.StatusCode, Raw: string(raw)}
	if len(raw) > 0 && strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		if err := json.Unmarshal(raw, &r.Body); err != nil {
			t.Fatalf("%s %s: bad JSON %q: %v", method, path, raw, err)
		}
	}
	return r
}

// wantCode asserts a gRPC error's code and returns its ErrorInfo, if any.
func wantCode(t *testing.T, err error, code codes.Code) *errdetails.ErrorInfo {
	t.Helper()
	st, ok := status.FromError(err)
	if !ok || st.Code() != code {
		t.Fatalf("got %v, want code %v", err, code)
	}
	for _, d := range st.Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok {
			return info
		}
	}
	if code != codes.OK {
		t.Fatalf("error %v has no ErrorInfo", err)
	}
	return nil
}

// restError checks a REST error response: HTTP status, google.rpc.Status
// code, and returns the ErrorInfo's reason.
func restError(t *testing.T, r restResp, httpStatus int, code codes.Code) (reason string, metadata map[string]any) {
	t.Helper()
	if r.Status != httpStatus {
		t.Fatalf("HTTP %d, want %d: %s", r.Status, httpStatus, r.Raw)
	}
	if got, _ := r.Body["code"].(float64); codes.Code(got) != code {
		t.Fatalf("code %v, want %v: %s", r.Body["code"], code, r.Raw)
	}
	details, _ := r.Body["details"].([]any)
	for _, d := range details {
		m, _ := d.(map[string]any)
		if m["@type"] == "type.googleapis.com/google.rpc.ErrorInfo" {
			md, _ := m["metadata"].(map[string]any)
			return m["reason"].(string), md
		}
	}
	t.Fatalf("no ErrorInfo in %s", r.Raw)
	return "", nil
}

// decode parses a JSON REST body into r.Body.
func (e *env) decode(t *testing.T, r restResp) restResp {
	t.Helper()
	if err := json.Unmarshal([]byte(r.Raw), &r.Body); err != nil {
		t.Fatalf("bad JSON %q: %v", r.Raw, err)
	}
	return r
}
