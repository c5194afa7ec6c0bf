package server

import (
	"google.golang.org/grpc"
	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/mem"
)

// codec is the gRPC server's codec: grpc's protobuf codec, except that a
// request that a MalformedRequests handler receives arrives as a
// *decodeTarget, whose decode error is kept there for the handler (which
// answers INVALID_ARGUMENT) rather than returned (grpc-go would answer
// INTERNAL, see MalformedRequests).
type codec struct {
	encoding.CodecV2 // grpc's protobuf codec
}

// CodecOption makes a gRPC server use arcgate's codec.
func CodecOption() grpc.ServerOption {
	return grpc.ForceServerCodecV2(codec{CodecV2: encoding.GetCodecV2("proto")})
}

// Unmarshal implements encoding.CodecV2.
func (c codec) Unmarshal(data mem.BufferSlice, v any) error {
	if t, ok := v.(*decodeTarget); ok {
		t.err = c.CodecV2.Unmarshal(data, t.Message)
		return nil
	}
	return c.CodecV2.Unmarshal(data, v)
}
