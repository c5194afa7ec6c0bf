package rpc

import (
	"context"
	"io"
	"sync"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// Server-streaming calls (WatchJob) run in process too: NewStream starts
// the handler on a goroutine of its own, through the stream interceptors,
// and the two sides meet on a channel. The request is handed over as in
// Invoke; each message the handler sends is cloned, since a handler may
// reuse a message once SendMsg returns (over a connection it is encoded
// by then). A client that stops reading cancels the call's context, which
// ends the handler and unblocks its sends.

// inProcessStreamMethod is a server-streaming method registered on
// InProcess.
type inProcessStreamMethod struct {
	impl    any
	handler grpc.StreamHandler
}

// SetStreamInterceptors sets the interceptors of server-streaming calls
// (outermost first, as grpc.ChainStreamInterceptor). It is not safe to
// call once calls have started.
func (p *InProcess) SetStreamInterceptors(interceptors ...grpc.StreamServerInterceptor) {
	p.streamChain = chainStream(interceptors)
}

// chainStream composes interceptors into one, the first outermost.
func chainStream(ics []grpc.StreamServerInterceptor) grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		next := handler
		for i := len(ics) - 1; i >= 0; i-- {
			ic, h := ics[i], next
			next = func(srv any, ss grpc.ServerStream) error { return ic(srv, ss, info, h) }
		}
		return next(srv, ss)
	}
}

// newServerStreaming starts m's handler for method and returns the
// caller's side of the call.
func (p *InProcess) newServerStreaming(ctx context.Context, m inProcessStreamMethod, method string, opts []grpc.CallOption) *inProcessClientStream {
	sctx, cancel := context.WithCancel(p.serverContext(ctx))
	c := &inProcessClientStream{
		ctx: ctx, cancel: cancel, opts: opts,
		req: make(chan proto.Message, 1), msgs: make(chan proto.Message), headerReady: make(chan struct{}), done: make(chan struct{}),
	}
	s := &inProcessServerStream{method: method, c: c}
	s.ctx = grpc.NewContextWithServerTransportStream(sctx, streamTransport{s})
	info := &grpc.StreamServerInfo{FullMethod: method, IsServerStream: true}
	go func() {
		err := p.streamChain(m.impl, s, info, m.handler)
		if err != nil {
			if _, ok := status.FromError(err); !ok {
				err = status.FromContextError(err).Err() // as the gRPC server does
			}
		}
		c.finish(err)
	}()
	return c
}

// inProcessClientStream is the caller's side of an in-process
// server-streaming call: a grpc.ClientStream.
type inProcessClientStream struct {
	ctx    context.Context
	cancel context.CancelFunc
	opts   []grpc.CallOption

	req         chan proto.Message // the one request, then closed by CloseSend
	msgs        chan proto.Message // the handler's messages
	headerReady chan struct{}      // closed when the header is final
	done        chan struct{}      // closed when the handler has returned

	mu         sync.Mutex
	header     metadata.MD
	trailer    metadata.MD
	headerOnce sync.Once
	sent       bool
	err        error // the call's status, once done
}

// sendHeader makes the header final (on the first message, SendHeader or
// the end of the call).
func (c *inProcessClientStream) sendHeader() {
	c.headerOnce.Do(func() { close(c.headerReady) })
}

// finish records the handler's outcome and hands the header and trailer
// to the call options, as a connection's stream does once it ends, before
// the caller can see the end.
func (c *inProcessClientStream) finish(err error) {
	c.mu.Lock()
	c.err = err
	deliverMetadata(c.opts, c.header, c.trailer)
	c.mu.Unlock()
	c.sendHeader()
	close(c.done)
	c.cancel()
}

func (c *inProcessClientStream) Context() context.Context { return c.ctx }

// Header waits for the header: the handler's first message, its
// SendHeader, or its end.
func (c *inProcessClientStream) Header() (metadata.MD, error) {
	select {
	case <-c.headerReady:
	case <-c.ctx.Done():
		return nil, status.FromContextError(c.ctx.Err()).Err()
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.header.Copy(), nil
}

// Trailer returns the trailer once the call has ended (nil before).
func (c *inProcessClientStream) Trailer() metadata.MD {
	select {
	case <-c.done:
		c.mu.Lock()
		defer c.mu.Unlock()
		return c.trailer.Copy()
	default:
		return nil
	}
}

// SendMsg hands over the request; a server-streaming call has exactly one.
func (c *inProcessClientStream) SendMsg(m any) error {
	in, ok := m.(proto.Message)
	if !ok {
		return status.Error(codes.Internal, "in-process stream: a non-protobuf request")
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.sent {
		return status.Error(codes.Internal, "in-process stream: more than one request on a server-streaming call")
	}
	c.sent = true
	c.req <- in // buffered: never blocks
	return nil
}

// CloseSend ends the requests.
func (c *inProcessClientStream) CloseSend() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.sent {
		c.sent = true
		close(c.req)
	}
	return nil
}

// RecvMsg receives the handler's next message into m; at the end it
// returns io.EOF, or the call's error.
func (c *inProcessClientStream) RecvMsg(m any) error {
	out, ok := m.(proto.Message)
	if !ok {
		return status.Error(codes.Internal, "in-process stream: a non-protobuf response")
	}
	select {
	case msg := <-c.msgs:
		if msg.ProtoReflect().Descriptor() != out.ProtoReflect().Descriptor() {
			return status.Error(codes.Internal, "in-process stream: response type mismatch")
		}
		proto.Reset(out)
		proto.Merge(out, msg)
		return nil
	case <-c.done:
		// The handler's sends all returned before it did: none is left.
		c.mu.Lock()
		defer c.mu.Unlock()
		if c.err != nil {
			return c.err
		}
		return io.EOF
	case <-c.ctx.Done():
		return status.FromContextError(c.ctx.Err()).Err()
	}
}

// inProcessServerStream is the handler's side: a grpc.ServerStream.
type inProcessServerStream struct {
	ctx    context.Context
	method string
	c      *inProcessClientStream
	got    bool // the request was received
}

func (s *inProcessServerStream) Context() context.Context { return s.ctx }

func (s *inProcessServerStream) SetHeader(md metadata.MD) error {
	select {
	case <-s.c.headerReady:
		return status.Error(codes.Internal, "in-process stream: the header was already sent")
	default:
	}
	s.c.mu.Lock()
	defer s.c.mu.Unlock()
	s.c.header = metadata.Join(s.c.header, md)
	return nil
}

func (s *inProcessServerStream) SendHeader(md metadata.MD) error {
	if err := s.SetHeader(md); err != nil {
		return err
	}
	s.c.sendHeader()
	return nil
}

func (s *inProcessServerStream) SetTrailer(md metadata.MD) {
	s.c.mu.Lock()
	defer s.c.mu.Unlock()
	s.c.trailer = metadata.Join(s.c.trailer, md)
}

// streamTransport is the grpc.ServerTransportStream in the context of an
// in-process stream (for grpc.SetHeader and the like).
type streamTransport struct{ s *inProcessServerStream }

func (t streamTransport) Method() string                  { return t.s.method }
func (t streamTransport) SetHeader(md metadata.MD) error  { return t.s.SetHeader(md) }
func (t streamTransport) SendHeader(md metadata.MD) error { return t.s.SendHeader(md) }
func (t streamTransport) SetTrailer(md metadata.MD) error { t.s.SetTrailer(md); return nil }

// SendMsg sends a copy of m to the caller, waiting for it to read.
func (s *inProcessServerStream) SendMsg(m any) error {
	msg, ok := m.(proto.Message)
	if !ok {
		return status.Error(codes.Internal, "in-process stream: a non-protobuf response")
	}
	s.c.sendHeader()
	select {
	case s.c.msgs <- proto.Clone(msg):
		return nil
	case <-s.ctx.Done():
		return status.FromContextError(s.ctx.Err()).Err()
	}
}

// RecvMsg receives the request into m (a shallow copy, as in Invoke), then
// io.EOF.
func (s *inProcessServerStream) RecvMsg(m any) error {
	if s.got {
		return io.EOF
	}
	select {
	case in, ok := <-s.c.req:
		if !ok {
			return io.EOF
		}
		dst, ok := m.(proto.Message)
		if !ok || dst.ProtoReflect().Descriptor() != in.ProtoReflect().Descriptor() {
			return status.Error(codes.Internal, "in-process stream: request type mismatch")
		}
		s.got = true
		shallowCopy(dst, in)
		return nil
	case <-s.ctx.Done():
		return status.FromContextError(s.ctx.Err()).Err()
	}
}
