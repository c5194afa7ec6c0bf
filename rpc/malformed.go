package rpc

import (
	"context"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/proto"

	"github.com/arcgate/arcgate/apierr"
)

// MalformedRequests is a grpc.ServiceRegistrar (and, for reflection, a
// service info provider) that registers services on a gRPC server with
// handlers that answer a request message that does not decode (bytes that
// are not protobuf, invalid UTF-8 in a string field, a truncated message)
// INVALID_ARGUMENT: it is the caller's fault. grpc-go answers INTERNAL for
// these, and neither a codec nor a handler can change that afterwards:
// grpc-go wraps whatever error a codec's Unmarshal returns, status or not,
// into a new INTERNAL status (rpc_util.go, recv), and the server stream's
// RecvMsg writes that status to the client at once (stream.go), before the
// handler returns (as of v1.85). So the handlers decode into a
// decodeTarget, for which a codec wrapped in KeepDecodeErrors (as
// CodecOption's is) keeps the error instead of returning it, and answer it
// themselves. With another
// codec, a decodeTarget decodes as its message does and errors stay
// INTERNAL.
//
// The decode happens before any interceptor runs, as before: a malformed
// request is answered without caller authentication, an audit line or a
// call log line. Errors of the transport, decompression and message size
// keep their codes.
type MalformedRequests struct {
	r grpc.ServiceRegistrar
}

// NewMalformedRequests returns a MalformedRequests registering on r
// (normally a *grpc.Server; an InProcess decodes nothing and needs none).
func NewMalformedRequests(r grpc.ServiceRegistrar) *MalformedRequests {
	return &MalformedRequests{r: r}
}

// RegisterService implements grpc.ServiceRegistrar: it registers a copy
// of desc whose handlers map decode errors.
func (m *MalformedRequests) RegisterService(desc *grpc.ServiceDesc, impl any) {
	d := *desc
	d.Methods = make([]grpc.MethodDesc, len(desc.Methods))
	for i, md := range desc.Methods {
		md.Handler = unaryDecodeErrors(md.Handler)
		d.Methods[i] = md
	}
	d.Streams = make([]grpc.StreamDesc, len(desc.Streams))
	for i, sd := range desc.Streams {
		sd.Handler = streamDecodeErrors(sd.Handler)
		d.Streams[i] = sd
	}
	m.r.RegisterService(&d, impl)
}

// GetServiceInfo returns the wrapped server's service info (nil if it has
// none), so that reflection can be registered through m.
func (m *MalformedRequests) GetServiceInfo() map[string]grpc.ServiceInfo {
	if p, ok := m.r.(interface {
		GetServiceInfo() map[string]grpc.ServiceInfo
	}); ok {
		return p.GetServiceInfo()
	}
	return nil
}

// decodeTarget is what MalformedRequests' handlers decode a request into:
// the request message (so any protobuf codec can decode into it), and the
// decode error that KeepDecodeErrors keeps in err rather than returning
// it.
type decodeTarget struct {
	proto.Message
	err error
}

// decodeRequest decodes a request into m with recv (a unary handler's
// decode function or a stream's RecvMsg), a message that does not decode
// being INVALID_ARGUMENT.
func decodeRequest(recv func(any) error, m any) error {
	msg, ok := m.(proto.Message)
	if !ok {
		return recv(m)
	}
	t := &decodeTarget{Message: msg}
	if err := recv(t); err != nil {
		return err
	}
	if t.err != nil {
		return apierr.New(codes.InvalidArgument, reasonInvalidArgument, "request does not decode: "+t.err.Error(), nil)
	}
	return nil
}

func unaryDecodeErrors(h grpc.MethodHandler) grpc.MethodHandler {
	return func(srv any, ctx context.Context, dec func(any) error, ic grpc.UnaryServerInterceptor) (any, error) {
		return h(srv, ctx, func(v any) error { return decodeRequest(dec, v) }, ic)
	}
}

func streamDecodeErrors(h grpc.StreamHandler) grpc.StreamHandler {
	return func(srv any, ss grpc.ServerStream) error {
		return h(srv, decodeErrorStream{ss})
	}
}

// decodeErrorStream decodes received messages with decodeRequest.
type decodeErrorStream struct{ grpc.ServerStream }

func (s decodeErrorStream) RecvMsg(m any) error { return decodeRequest(s.ServerStream.RecvMsg, m) }

// KeepDecodeErrors wraps a gRPC server codec so that a request that a
// MalformedRequests handler receives (a *decodeTarget) keeps its decode
// error for the handler, which answers INVALID_ARGUMENT (an error
// returned by Unmarshal would become INTERNAL, see MalformedRequests).
// Everything else is c's.
func KeepDecodeErrors(c encoding.CodecV2) encoding.CodecV2 { return keepDecodeErrors{c} }

type keepDecodeErrors struct{ encoding.CodecV2 }

// Unmarshal implements encoding.CodecV2.
func (c keepDecodeErrors) Unmarshal(data mem.BufferSlice, v any) error {
	if t, ok := v.(*decodeTarget); ok {
		t.err = c.CodecV2.Unmarshal(data, t.Message)
		return nil
	}
	return c.CodecV2.Unmarshal(data, v)
}

// CodecOption makes a gRPC server use grpc's protobuf codec wrapped in
// KeepDecodeErrors, for MalformedRequests.
func CodecOption() grpc.ServerOption {
	return grpc.ForceServerCodecV2(KeepDecodeErrors(encoding.GetCodecV2("proto")))
}
