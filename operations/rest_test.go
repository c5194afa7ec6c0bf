package operations

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/longrunning/autogen/longrunningpb"
	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/test/bufconn"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/arcgate/arcgate/statestore"
)

// newREST serves s over gRPC (in memory) and its REST routes over HTTP.
func newREST(t *testing.T, s *Server) *httptest.Server {
	t.Helper()
	lis := bufconn.Listen(1 << 20)
	gs := grpc.NewServer()
	longrunningpb.RegisterOperationsServer(gs, s)
	go func() { _ = gs.Serve(lis) }()
	t.Cleanup(gs.Stop)
	conn, err := grpc.NewClient("passthrough:///bufnet",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	// As arcgate's gateway: unknown JSON fields are errors.
	mux := runtime.NewServeMux(runtime.WithMarshalerOption(runtime.MIMEWildcard, &runtime.JSONPb{
		UnmarshalOptions: protojson.UnmarshalOptions{DiscardUnknown: false},
	}))
	if err := RegisterREST(context.Background(), mux, longrunningpb.NewOperationsClient(conn)); err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(mux)
	t.Cleanup(hs.Close)
	return hs
}

func TestREST(t *testing.T) {
	m := newManager(t, statestore.NewMemory(), Options{MaxWait: 10 * time.Millisecond})
	s := NewServer(m)
	hs := newREST(t, s)
	release := make(chan struct{})
	running, err := m.Start(context.Background(), Spec{Target: "services/R.MapServer", Verb: "start"}, func(context.Context, Progress) (proto.Message, error) {
		<-release
		return nil, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	defer close(release)
	done, err := m.Start(context.Background(), Spec{Target: "services/D.MapServer", Verb: "start"}, func(context.Context, Progress) (proto.Message, error) {
		return wrapperspb.String("STARTED"), nil
	})
	if err != nil {
		t.Fatal(err)
	}
	missing := "operations/00000000-0000-4000-8000-000000000000"
	tests := []struct {
		name, method, path, body string
		wantStatus               int
		want                     []string // substrings of the body
	}{
		{"wait until done", "POST", "/v1/" + done.GetName() + ":wait", `{"timeout":"20s"}`, 200,
			[]string{`"done":true`, `"@type":"type.googleapis.com/google.protobuf.StringValue"`, `"STARTED"`, `"@type":"type.googleapis.com/arcgate.admin.v1.OperationMetadata"`, `"target":"services/D.MapServer"`}},
		{"wait without a body", "POST", "/v1/" + running.GetName() + ":wait?", ``, 200, nil},
		{"wait unknown field", "POST", "/v1/" + running.GetName() + ":wait", `{"timeot":"1s"}`, 400, nil},
		{"get", "GET", "/v1/" + running.GetName(), "", 200, []string{`"name":"` + running.GetName() + `"`, `"verb":"start"`}},
		{"get missing", "GET", "/v1/" + missing, "", 404, []string{`"code":5`, `"reason":"NOT_FOUND"`}},
		{"get bad name", "GET", "/v1/operations/nope", "", 400, []string{`"field":"name"`}},
		{"list", "GET", "/v1/operations?filter=" + `target%3D%22services%2FD.MapServer%22`, "", 200, []string{done.GetName()}},
		{"list page size", "GET", "/v1/operations?pageSize=1", "", 200, []string{`"nextPageToken"`}},
		{"list bad filter", "GET", "/v1/operations?filter=state%3D1", "", 400, []string{`"field":"filter"`}},
		{"cancel not cancellable", "POST", "/v1/" + running.GetName() + ":cancel", "", 400, []string{`"reason":"FAILED_PRECONDITION"`}},
		{"delete running", "DELETE", "/v1/" + running.GetName(), "", 400, []string{`"reason":"FAILED_PRECONDITION"`}},
		{"delete done", "DELETE", "/v1/" + done.GetName(), "", 200, nil},
		{"get deleted", "GET", "/v1/" + done.GetName(), "", 404, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var body io.Reader
			if tc.body != "" {
				body = strings.NewReader(tc.body)
			}
			req, err := http.NewRequest(tc.method, hs.URL+tc.path, body)
			if err != nil {
				t.Fatal(err)
			}
			resp, err := hs.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			_ = resp.Body.Close()
			if resp.StatusCode != tc.wantStatus {
				t.Fatalf("%s %s = %d %s, want %d", tc.method, tc.path, resp.StatusCode, b, tc.wantStatus)
			}
			if !json.Valid(b) {
				t.Fatalf("body is not JSON: %s", b)
			}
			for _, w := range tc.want {
				if !strings.Contains(string(b), w) {
					t.Errorf("body %s lacks %s", b, w)
				}
			}
		})
	}
}
