package gateway

import (
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
func WithPeer(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
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
