package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	adminv1 "github.com/arcgate/arcgate/gen/go/arcgate/admin/v1"
	"github.com/arcgate/arcgate/internal/app"
)

// syncBuffer is a bytes.Buffer safe for concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// rpcLines returns the per-call log lines ("msg":"rpc") written so far.
func (s *syncBuffer) rpcLines(t *testing.T) []map[string]any {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []map[string]any
	sc := bufio.NewScanner(bytes.NewReader(s.b.Bytes()))
	for sc.Scan() {
		var line map[string]any
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			t.Fatalf("log line is not JSON: %q", sc.Text())
		}
		if line["msg"] == "rpc" {
			out = append(out, line)
		}
	}
	return out
}

// headerRecorder is an upstream transport that records the X-Request-Id
// header of every upstream request, by path.
type headerRecorder struct {
	mu   sync.Mutex
	seen []string // "path id"
}

func (h *headerRecorder) RoundTrip(r *http.Request) (*http.Response, error) {
	h.mu.Lock()
	h.seen = append(h.seen, r.URL.Path+" "+r.Header.Get("X-Request-Id"))
	h.mu.Unlock()
	return http.DefaultTransport.RoundTrip(r)
}

func (h *headerRecorder) take() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := h.seen
	h.seen = nil
	return out
}

// obsEnv is a running arcgate whose logs and upstream requests are
// captured.
type obsEnv struct {
	rest string
	hc   *http.Client
	conn *grpc.ClientConn
	logs *syncBuffer
	up   *headerRecorder
}

func startObserved(t *testing.T) *obsEnv {
	t.Helper()
	logs, up := &syncBuffer{}, &headerRecorder{}
	a, err := app.Start(app.Config{GRPCAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0",
		Logger:     slog.New(slog.NewJSONHandler(logs, nil)),
		HTTPClient: &http.Client{Transport: up}})
	if err != nil {
		t.Fatal(err)
	}
	conn, err := grpc.NewClient(a.GRPCAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	tr := &http.Transport{}
	t.Cleanup(func() {
		_ = conn.Close()
		tr.CloseIdleConnections()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := a.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		http.DefaultTransport.(*http.Transport).CloseIdleConnections()
	})
	return &obsEnv{rest: "http://" + a.HTTPAddr, hc: &http.Client{Transport: tr, Timeout: 30 * time.Second}, conn: conn, logs: logs, up: up}
}

// lastRPC returns the last per-call log line for method.
func (e *obsEnv) lastRPC(t *testing.T, method string) map[string]any {
	t.Helper()
	var last map[string]any
	for _, l := range e.logs.rpcLines(t) {
		if l["method"] == method {
			last = l
		}
	}
	if last == nil {
		t.Fatalf("no log line for %s", method)
	}
	return last
}

// checkUpstream asserts that every upstream admin request but generateToken
// carried id.
func (e *obsEnv) checkUpstream(t *testing.T, id string) {
	t.Helper()
	e.checkUpstreamOf(t, id, "")
}

// checkUpstreamOf is checkUpstream for the upstream requests whose path
// contains only: a call that failed fast may leave a read of its own
// still running upstream, to be recorded during the next call.
func (e *obsEnv) checkUpstreamOf(t *testing.T, id, only string) {
	t.Helper()
	seen := e.up.take()
	n := 0
	for _, s := range seen {
		path, got, _ := strings.Cut(s, " ")
		if strings.HasSuffix(path, "/generateToken") || !strings.Contains(path, only) {
			continue
		}
		n++
		if got != id {
			t.Errorf("upstream %s got X-Request-Id %q, want %q", path, got, id)
		}
	}
	if n == 0 {
		t.Errorf("no upstream request recorded (%v)", seen)
	}
}

func TestRequestIDOverREST(t *testing.T) {
	e := startObserved(t)
	const listFolders = "/arcgate.admin.v1.ServicesService/ListFolders"
	const getFolder = "/arcgate.admin.v1.ServicesService/GetFolder"
	tests := []struct {
		name, path, sent string
		status           int
		method           string
		keep             bool // the sent id is kept
	}{
		{"caller id kept", "/v1/folders", "rest-req-0001", 200, listFolders, true},
		{"generated", "/v1/folders", "", 200, listFolders, false},
		{"on errors too", "/v1/folders/NoSuchFolder", "rest-req-0002", 404, getFolder, true},
		{"unsafe id replaced", "/v1/folders", "a b c", 200, listFolders, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequest(http.MethodGet, e.rest+tt.path, nil)
			if err != nil {
				t.Fatal(err)
			}
			if tt.sent != "" {
				req.Header.Set("X-Request-Id", tt.sent)
			}
			resp, err := e.hc.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			_ = resp.Body.Close()
			if resp.StatusCode != tt.status {
				t.Fatalf("HTTP %d, want %d", resp.StatusCode, tt.status)
			}
			ids := resp.Header.Values("X-Request-Id")
			if len(ids) != 1 {
				t.Fatalf("X-Request-Id headers %q, want exactly one", ids)
			}
			id := ids[0]
			switch {
			case tt.keep && id != tt.sent:
				t.Errorf("X-Request-Id %q, want the caller's %q", id, tt.sent)
			case !tt.keep && (len(id) != 26 || id == tt.sent):
				t.Errorf("X-Request-Id %q, want a fresh 26-character id", id)
			}
			if got := resp.Header.Get("Grpc-Metadata-X-Request-Id"); got != "" {
				t.Errorf("request id also sent as Grpc-Metadata-X-Request-Id")
			}
			line := e.lastRPC(t, tt.method)
			if line["request_id"] != id {
				t.Errorf("log line request_id %v, want %q: %v", line["request_id"], id, line)
			}
			e.checkUpstream(t, id)
		})
	}
	// The log line has the documented fields.
	line := e.lastRPC(t, listFolders)
	for _, k := range []string{"time", "level", "method", "code", "duration", "request_id"} {
		if _, ok := line[k]; !ok {
			t.Errorf("log line lacks %q: %v", k, line)
		}
	}
	if got := e.lastRPC(t, getFolder)["code"]; got != "NotFound" {
		t.Errorf("GetFolder log code %v", got)
	}
}

func TestRequestIDOverGRPC(t *testing.T) {
	e := startObserved(t)
	client := adminv1.NewServicesServiceClient(e.conn)
	for i, tt := range []struct {
		name, sent string
		keep       bool
	}{
		{"caller id kept", "grpc-req-42", true},
		{"generated", "", false},
		{"too long replaced", strings.Repeat("x", 129), false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			// GetService of a missing service fails on its definition read
			// and leaves its status read running: each case reads its own
			// service, and checks the upstream requests of that one.
			svc := fmt.Sprintf("NoSuch%d.MapServer", i)
			c := ctx(t)
			if tt.sent != "" {
				c = metadata.AppendToOutgoingContext(c, "x-request-id", tt.sent)
			}
			var header metadata.MD
			if _, err := client.GetService(c, &adminv1.GetServiceRequest{Name: "services/" + svc}, grpc.Header(&header)); status.Code(err) != codes.NotFound {
				t.Fatalf("GetService: %v", err)
			}
			ids := header.Get("x-request-id")
			if len(ids) != 1 {
				t.Fatalf("x-request-id header metadata %q", ids)
			}
			if tt.keep && ids[0] != tt.sent || !tt.keep && len(ids[0]) != 26 {
				t.Errorf("x-request-id %q (sent %q)", ids[0], tt.sent)
			}
			if got := e.lastRPC(t, "/arcgate.admin.v1.ServicesService/GetService")["request_id"]; got != ids[0] {
				t.Errorf("log request_id %v, want %q", got, ids[0])
			}
			e.checkUpstreamOf(t, ids[0], "/"+svc)
		})
	}
}
