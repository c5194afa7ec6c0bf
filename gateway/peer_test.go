package gateway

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"

	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/peer"
)

func TestWithPeerGivesTheClientAddressAndTLSState(t *testing.T) {
	t.Parallel()
	got := make(chan *peer.Peer, 1)
	h := WithPeer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		p, _ := peer.FromContext(r.Context())
		got <- p
	}))
	for _, tc := range []struct {
		name    string
		start   func(http.Handler) *httptest.Server
		wantTLS bool
	}{
		{"plain", httptest.NewServer, false},
		{"TLS", httptest.NewTLSServer, true},
	} {
		srv := tc.start(h)
		resp, err := srv.Client().Get(srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
		srv.Close()
		p := <-got
		if p == nil {
			t.Fatalf("%s: no peer", tc.name)
		}
		if a, ok := p.Addr.(*net.TCPAddr); !ok || !a.IP.IsLoopback() || a.Port == 0 {
			t.Errorf("%s: Addr %#v, want the client's loopback TCP address", tc.name, p.Addr)
		}
		if p.LocalAddr == nil || p.LocalAddr.String() != srv.Listener.Addr().String() {
			t.Errorf("%s: LocalAddr %v, want %v", tc.name, p.LocalAddr, srv.Listener.Addr())
		}
		info, isTLS := p.AuthInfo.(credentials.TLSInfo)
		if isTLS != tc.wantTLS || (isTLS && (info.State.Version == 0 || info.SecurityLevel != credentials.PrivacyAndIntegrity)) {
			t.Errorf("%s: AuthInfo %#v", tc.name, p.AuthInfo)
		}
	}
}

func TestRemoteAddr(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"127.0.0.1:5000":   "127.0.0.1:5000",
		"[::1]:443":        "[::1]:443",
		"@":                "@", // a Unix socket's peer
		"not an address":   "not an address",
		"[fe80::1%eth0]:1": "[fe80::1%eth0]:1",
	} {
		if got := remoteAddr(in).String(); got != want {
			t.Errorf("remoteAddr(%q) = %q, want %q", in, got, want)
		}
	}
}
