package rpc

import (
	"context"
	"net"
	"reflect"
	"sync"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// InProcess calls arcgate's gRPC services from the same process, through
// the same interceptors as the gRPC server, without encoding a message:
// the REST gateway's calls take this path instead of a loopback
// connection, which would marshal every request and response to protobuf
// and back and cross the TCP stack twice. Caller authentication, scopes,
// rate limits, audit, delegation, metrics, the log line, panic recovery
// and the default deadline all apply alike.
//
// It is a grpc.ServiceRegistrar (register the services on it and on the
// grpc.Server) and a grpc.ClientConnInterface. Unary and server-streaming
// methods run in process (see inprocess_stream.go for streams); a method
// not registered on it, or a client stream, is UNIMPLEMENTED, as a gRPC
// server would answer.
//
// Messages are handed over, not copied: the handler gets a shallow copy of
// the request (its own top-level message, sharing nested values), and the
// caller's reply becomes a shallow copy of the handler's response. Neither
// side modifies a message after handing it over.
//
// The call's peer is the one in the caller's context (peer.NewContext:
// the gateway puts the HTTP client's address and TLS state there, so that
// mTLS identifies REST callers too), or else InProcessAddr with no
// authentication. Metadata goes in as the incoming metadata of the call;
// headers and trailers set by the handler come back through the
// grpc.Header and grpc.Trailer call options.
type InProcess struct {
	methods     map[string]inProcessMethod
	streams     map[string]inProcessStreamMethod
	chain       grpc.UnaryServerInterceptor
	streamChain grpc.StreamServerInterceptor
}

type inProcessMethod struct {
	impl    any
	handler grpc.MethodHandler
}

// InProcessAddr is the peer address of in-process calls whose context
// carries none.
var InProcessAddr net.Addr = inProcessAddr{}

type inProcessAddr struct{}

func (inProcessAddr) Network() string { return "inprocess" }
func (inProcessAddr) String() string  { return "inprocess" }

// NewInProcess returns an InProcess that runs unary calls through
// interceptors (outermost first, as grpc.ChainUnaryInterceptor).
func NewInProcess(interceptors ...grpc.UnaryServerInterceptor) *InProcess {
	return &InProcess{methods: map[string]inProcessMethod{}, streams: map[string]inProcessStreamMethod{},
		chain: chainUnary(interceptors), streamChain: chainStream(nil)}
}

// Registrars returns a grpc.ServiceRegistrar that registers on each of rs:
// the same service implementations serve the gRPC server and InProcess.
func Registrars(rs ...grpc.ServiceRegistrar) grpc.ServiceRegistrar { return registrars(rs) }

type registrars []grpc.ServiceRegistrar

func (rs registrars) RegisterService(desc *grpc.ServiceDesc, impl any) {
	for _, r := range rs {
		r.RegisterService(desc, impl)
	}
}

// RegisterService implements grpc.ServiceRegistrar: it records the unary
// and server-streaming methods of desc, implemented by impl.
func (p *InProcess) RegisterService(desc *grpc.ServiceDesc, impl any) {
	for _, m := range desc.Methods {
		p.methods["/"+desc.ServiceName+"/"+m.MethodName] = inProcessMethod{impl: impl, handler: m.Handler}
	}
	for _, m := range desc.Streams {
		if m.ServerStreams && !m.ClientStreams {
			p.streams["/"+desc.ServiceName+"/"+m.StreamName] = inProcessStreamMethod{impl: impl, handler: m.Handler}
		}
	}
}

// Invoke implements grpc.ClientConnInterface.
func (p *InProcess) Invoke(ctx context.Context, method string, args, reply any, opts ...grpc.CallOption) error {
	m, ok := p.methods[method]
	if !ok {
		return status.Errorf(codes.Unimplemented, "unknown method %s", method)
	}
	in, ok1 := args.(proto.Message)
	out, ok2 := reply.(proto.Message)
	if !ok1 || !ok2 {
		return status.Errorf(codes.Internal, "in-process call of %s with a non-protobuf message", method)
	}
	st := &inProcessStream{method: method}
	sctx := grpc.NewContextWithServerTransportStream(p.serverContext(ctx), st)
	dec := func(v any) error {
		dst, ok := v.(proto.Message)
		if !ok || dst.ProtoReflect().Descriptor() != in.ProtoReflect().Descriptor() {
			return status.Errorf(codes.Internal, "in-process call of %s: request type mismatch", method)
		}
		shallowCopy(dst, in)
		return nil
	}
	resp, err := m.handler(m.impl, sctx, dec, p.chain)
	st.deliver(opts)
	if err != nil {
		if _, ok := status.FromError(err); !ok {
			err = status.FromContextError(err).Err() // as the gRPC server does
		}
		return err
	}
	r, ok := resp.(proto.Message)
	if !ok || r.ProtoReflect().Descriptor() != out.ProtoReflect().Descriptor() {
		return status.Errorf(codes.Internal, "in-process call of %s: response type mismatch", method)
	}
	shallowCopy(out, r)
	return nil
}

// serverContext is the handler's context of a call made with ctx: the
// caller's outgoing metadata as incoming metadata, and the caller's peer
// (else InProcessAddr).
func (p *InProcess) serverContext(ctx context.Context) context.Context {
	md, _ := metadata.FromOutgoingContext(ctx) // a copy already
	sctx := metadata.NewIncomingContext(metadata.NewOutgoingContext(ctx, nil), md)
	if _, ok := peer.FromContext(sctx); !ok {
		sctx = peer.NewContext(sctx, &peer.Peer{Addr: InProcessAddr, LocalAddr: InProcessAddr})
	}
	return sctx
}

// NewStream implements grpc.ClientConnInterface: server-streaming methods
// registered on p run in process; other streams are UNIMPLEMENTED.
func (p *InProcess) NewStream(ctx context.Context, desc *grpc.StreamDesc, method string, opts ...grpc.CallOption) (grpc.ClientStream, error) {
	if m, ok := p.streams[method]; ok && desc.ServerStreams && !desc.ClientStreams {
		return p.newServerStreaming(ctx, m, method, opts), nil
	}
	return nil, status.Errorf(codes.Unimplemented, "unknown stream %s (in process: server streams only)", method)
}

// shallowCopy makes dst's populated fields src's (nested messages, lists
// and maps are shared, not copied). dst is empty. Two generated messages
// of the same type are copied as Go structs (their fields, unknown fields
// and internal state, which describes the type), in one copy instead of a
// reflective Set per field (2 % of a REST call's CPU in arcgate-bench).
func shallowCopy(dst, src proto.Message) {
	if dv, sv := reflect.ValueOf(dst), reflect.ValueOf(src); dv.Type() == sv.Type() &&
		dv.Kind() == reflect.Pointer && dv.Elem().Kind() == reflect.Struct && !dv.IsNil() && !sv.IsNil() {
		dv.Elem().Set(sv.Elem())
		return
	}
	d := dst.ProtoReflect()
	src.ProtoReflect().Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		d.Set(fd, v)
		return true
	})
}

// chainUnary composes interceptors into one, the first outermost. As
// grpc.ChainUnaryInterceptor, it makes the handler closure of each
// interceptor only when the one before calls it, and none for the last.
func chainUnary(ics []grpc.UnaryServerInterceptor) grpc.UnaryServerInterceptor {
	switch len(ics) {
	case 0:
		return func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
			return handler(ctx, req)
		}
	case 1:
		return ics[0]
	}
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		return ics[0](ctx, req, info, nextUnary(ics, 0, info, handler))
	}
}

// nextUnary is the handler that interceptor i of ics is given.
func nextUnary(ics []grpc.UnaryServerInterceptor, i int, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) grpc.UnaryHandler {
	if i == len(ics)-1 {
		return handler
	}
	return func(ctx context.Context, req any) (any, error) {
		return ics[i+1](ctx, req, info, nextUnary(ics, i+1, info, handler))
	}
}

// inProcessStream is the grpc.ServerTransportStream of an in-process
// call: it keeps the headers and trailers the handler sets.
type inProcessStream struct {
	method          string
	mu              sync.Mutex
	header, trailer metadata.MD
}

func (s *inProcessStream) Method() string { return s.method }

func (s *inProcessStream) SetHeader(md metadata.MD) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.header = metadata.Join(s.header, md)
	return nil
}

// setHeaderOwned is SetHeader of an md that nothing else holds: the
// first one is kept as is instead of copied.
func (s *inProcessStream) setHeaderOwned(md metadata.MD) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.header) == 0 {
		s.header = md
		return
	}
	s.header = metadata.Join(s.header, md)
}

func (s *inProcessStream) SendHeader(md metadata.MD) error { return s.SetHeader(md) }

func (s *inProcessStream) SetTrailer(md metadata.MD) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.trailer = metadata.Join(s.trailer, md)
	return nil
}

// deliver hands the headers and trailers to the call options.
func (s *inProcessStream) deliver(opts []grpc.CallOption) {
	s.mu.Lock()
	defer s.mu.Unlock()
	deliverMetadata(opts, s.header, s.trailer)
}

// deliverMetadata hands header and trailer to the grpc.Header and
// grpc.Trailer call options among opts, as a connection's call does.
func deliverMetadata(opts []grpc.CallOption, header, trailer metadata.MD) {
	for _, o := range opts {
		switch o := o.(type) {
		case grpc.HeaderCallOption:
			if o.HeaderAddr != nil {
				*o.HeaderAddr = header
			}
		case grpc.TrailerCallOption:
			if o.TrailerAddr != nil {
				*o.TrailerAddr = trailer
			}
		}
	}
}
