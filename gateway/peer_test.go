package gateway

import (
	"context"
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
		{"plain, peer per connection", func(h http.Handler) *httptest.Server {
			srv := httptest.NewUnstartedServer(h)
			srv.Config.ConnContext = PeerConnContext
			srv.Start()
			return srv
		}, false},
		{"TLS, PeerConnContext", func(h http.Handler) *httptest.Server {
			srv := httptest.NewUnstartedServer(h)
			srv.Config.ConnContext = PeerConnContext
			srv.StartTLS()
			return srv
		}, true},
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

// pipeConn is a connection with TCP addresses.
type pipeConn struct {
	net.Conn
	local, remote net.Addr
}

func (c pipeConn) LocalAddr() net.Addr  { return c.local }
func (c pipeConn) RemoteAddr() net.Addr { return c.remote }

// TestPeerConnContext checks that a request of a connection whose context
// PeerConnContext made gets the peer WithPeer builds, without allocating.
func TestPeerConnContext(t *testing.T) {
	local, remote := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 8080}, &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 40000}
	var got *peer.Peer
	h := WithPeer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) { got, _ = peer.FromContext(r.Context()) }))

	// Without: WithPeer builds the peer from the request.
	r := httptest.NewRequest(http.MethodGet, "/v1/services", nil)
	r.RemoteAddr = remote.String()
	r = r.WithContext(context.WithValue(r.Context(), http.LocalAddrContextKey, local))
	h.ServeHTTP(nil, r)
	want := got

	r = r.WithContext(PeerConnContext(r.Context(), pipeConn{local: local, remote: remote}))
	h.ServeHTTP(nil, r)
	if got.Addr.String() != want.Addr.String() || got.Addr.Network() != want.Addr.Network() || got.LocalAddr != want.LocalAddr || got.AuthInfo != nil {
		t.Errorf("peer per connection %+v, want %+v", got, want)
	}
	if n := testing.AllocsPerRun(20, func() { h.ServeHTTP(nil, r) }); n != 0 {
		t.Errorf("a request with the connection's peer: %v allocations, want 0", n)
	}
}
