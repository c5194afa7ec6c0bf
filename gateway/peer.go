package gateway

import (
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"net/netip"

	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/peer"
)

// WithPeer gives each REST request the gRPC peer its in-process call runs
// with (rpc.InProcess takes the peer from the context): the HTTP
// client's address and, on a TLS listener, the connection's TLS state.
// The interceptors then see a REST caller as the gRPC listener shows a
// gRPC one: a client certificate the handshake verified identifies the
// caller (mTLS), and the audit log and the per-address rate limit of
// unauthenticated callers see the client's address rather than one
// in-process address for all. Streams (WatchJob) run in process too.
//
// A plaintext connection's peer is built once by PeerConnContext when the
// server has it as its ConnContext; WithPeer then passes the request on
// as it is.
func WithPeer(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if cp, ok := r.Context().Value(connPeerKey{}).(*peer.Peer); ok {
			if p, _ := peer.FromContext(r.Context()); p == cp {
				h.ServeHTTP(w, r)
				return
			}
		}
		p := &peer.Peer{Addr: remoteAddr(r.RemoteAddr)}
		if la, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr); ok {
			p.LocalAddr = la
		}
		if r.TLS != nil {
			p.AuthInfo = credentials.TLSInfo{State: *r.TLS, CommonAuthInfo: credentials.CommonAuthInfo{SecurityLevel: credentials.PrivacyAndIntegrity}}
		}
		h.ServeHTTP(w, r.WithContext(peer.NewContext(r.Context(), p)))
	})
}

// connPeerKey marks the peer PeerConnContext put into a connection's
// context.
type connPeerKey struct{}

// PeerConnContext is an http.Server ConnContext for WithPeer: it puts the
// gRPC peer of a plaintext connection into the connection's context, the
// same peer WithPeer would build for each of its requests (net/http's
// RemoteAddr is c.RemoteAddr().String(), its local address c.LocalAddr()),
// so that requests do not build it again (5 allocations each). A TLS
// connection is left to WithPeer: its state is known after the handshake.
func PeerConnContext(ctx context.Context, c net.Conn) context.Context {
	if _, ok := c.(*tls.Conn); ok {
		return ctx
	}
	p := &peer.Peer{Addr: remoteAddr(c.RemoteAddr().String()), LocalAddr: c.LocalAddr()}
	return context.WithValue(peer.NewContext(ctx, p), connPeerKey{}, p)
}

// remoteAddr is the address of an HTTP request's client ("host:port").
func remoteAddr(s string) net.Addr {
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return net.TCPAddrFromAddrPort(ap)
	}
	return textAddr(s)
}

// textAddr is an address net/http gave in a form netip does not parse.
type textAddr string

func (a textAddr) Network() string { return "tcp" }
func (a textAddr) String() string  { return string(a) }
