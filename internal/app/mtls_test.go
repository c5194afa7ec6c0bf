package app

import (
	"context"
	"crypto/tls"
	"crypto/x509/pkix"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/status"

	adminv1 "github.com/arcgate/arcgate/gen/go/arcgate/admin/v1"
	"github.com/arcgate/arcgate/internal/testpki"
	"github.com/arcgate/arcgate/rpc"
)

// syncBuffer is a log destination safe for concurrent writes.
type syncBuffer struct {
	mu  sync.Mutex
	buf strings.Builder
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// A client certificate identifies its caller on both listeners: over gRPC,
// and over REST, whose calls run in process with the HTTP client's TLS
// state as their peer.
func TestClientCertificatesIdentifyCallersOnBothListeners(t *testing.T) {
	pki := testpki.New(t)
	srvTLS, err := rpc.ServerTLSConfig(pki.CertFile, pki.KeyFile, pki.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	creds, err := rpc.ParseCredentials(strings.NewReader("robot read subject:CN=robot,O=Arcgate Test\n"))
	if err != nil {
		t.Fatal(err)
	}
	var logs syncBuffer
	a, err := Start(Config{GRPCAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0", TLS: srvTLS, Credentials: creds,
		Logger: slog.New(slog.NewJSONHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = a.Shutdown(ctx)
	})
	robot := pki.ClientCert(t, pkix.Name{CommonName: "robot", Organization: []string{"Arcgate Test"}})
	stranger := pki.ClientCert(t, pkix.Name{CommonName: "stranger"})

	restGet := func(cert *tls.Certificate, path string) (int, string) {
		tr := &http.Transport{TLSClientConfig: pki.ClientTLS(cert)}
		defer tr.CloseIdleConnections()
		resp, err := (&http.Client{Transport: tr, Timeout: 10 * time.Second}).Get("https://" + a.HTTPAddr + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		return resp.StatusCode, string(body)
	}
	rest := func(cert *tls.Certificate) int {
		code, _ := restGet(cert, "/v1/folders")
		return code
	}
	grpcCode := func(cert *tls.Certificate) codes.Code {
		conn, err := grpc.NewClient(a.GRPCAddr, grpc.WithTransportCredentials(credentials.NewTLS(pki.ClientTLS(cert))))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_, err = adminv1.NewServicesServiceClient(conn).ListFolders(ctx, &adminv1.ListFoldersRequest{})
		return status.Code(err)
	}
	for _, tc := range []struct {
		name     string
		cert     *tls.Certificate
		wantHTTP int
		wantGRPC codes.Code
	}{
		{"mapped certificate", &robot, http.StatusOK, codes.OK},
		{"unmapped certificate", &stranger, http.StatusUnauthorized, codes.Unauthenticated},
		{"no certificate", nil, http.StatusUnauthorized, codes.Unauthenticated},
	} {
		if got := rest(tc.cert); got != tc.wantHTTP {
			t.Errorf("%s over REST: HTTP %d, want %d", tc.name, got, tc.wantHTTP)
		}
		if got := grpcCode(tc.cert); got != tc.wantGRPC {
			t.Errorf("%s over gRPC: %v, want %v", tc.name, got, tc.wantGRPC)
		}
	}
	// The REST stream too: the robot gets past authentication (to a job
	// that does not exist), a stranger does not.
	const watch = "/v1/folders/System/services/PublishingTools.GPServer/jobs/jffffffffffffffffffffffffffffffff:watch"
	if code, body := restGet(&robot, watch); !strings.Contains(body, "NOT_FOUND") {
		t.Errorf("robot's watch: HTTP %d %s, want the job's NOT_FOUND", code, body)
	}
	if code, body := restGet(&stranger, watch); code != http.StatusUnauthorized {
		t.Errorf("stranger's watch: HTTP %d %s, want 401", code, body)
	}
	// The robot's calls were logged as the robot's.
	robotCalls := 0
	for _, line := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		var rec map[string]any
		if json.Unmarshal([]byte(line), &rec) == nil && rec["msg"] == "rpc" && rec["caller"] == "robot" {
			robotCalls++
		}
	}
	if robotCalls != 3 {
		t.Fatalf("%d calls logged as the robot's, want 3 (REST, gRPC, the REST stream):\n%s", robotCalls, logs.String())
	}
}
