package server

import (
	"google.golang.org/grpc"
	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	adminv1 "github.com/arcgate/arcgate/gen/go/arcgate/admin/v1"
	"github.com/arcgate/arcgate/internal/listmsg"
	"github.com/arcgate/arcgate/internal/weakmemo"
	"github.com/arcgate/arcgate/rpc"
)

// listCodec is the gRPC server's codec: protobuf, as grpc's own, except
// that the services of a ListServices answer are encoded once per message
// rather than once per answer. The services converted from a listing that
// upstream sent again unchanged are the same messages from one answer to
// the next (see summaryMemo; nobody modifies them), and encoding them is
// most of the cost of a long list. An encoding is kept for as long as its
// message lives (weakmemo).
//
// The answer is the bytes proto.Marshal writes for the services field,
// then the answer's other fields: a valid encoding of the same message
// (protobuf allows fields in any order).
type listCodec struct {
	encoding.CodecV2 // grpc's protobuf codec
	services         weakmemo.Memo[adminv1.Service, []byte]
}

// CodecOption makes a gRPC server use arcgate's codec (listCodec), which
// keeps the decode errors of requests for rpc.MalformedRequests
// (rpc.KeepDecodeErrors).
func CodecOption() grpc.ServerOption {
	return grpc.ForceServerCodecV2(rpc.KeepDecodeErrors(&listCodec{CodecV2: encoding.GetCodecV2("proto")}))
}

// Marshal implements encoding.CodecV2.
func (c *listCodec) Marshal(v any) (mem.BufferSlice, error) {
	services := listmsg.Services(v)
	if services == nil {
		return c.CodecV2.Marshal(v)
	}
	// The other fields, then the services before them.
	tail, err := proto.Marshal(listmsg.Rest(v.(*adminv1.ListServicesResponse)))
	if err != nil {
		return nil, err
	}
	encoded, total, err := listmsg.Encoded(services, &c.services, encodeService)
	if err != nil {
		return nil, err
	}
	field := listmsg.ServicesField.Number()
	size := len(tail) + total
	for _, b := range encoded {
		size += protowire.SizeTag(field) + protowire.SizeVarint(uint64(len(b)))
	}
	pool := mem.DefaultBufferPool()
	buf := pool.Get(size) // len(*buf) == size
	out := (*buf)[:0]
	for _, b := range encoded {
		out = protowire.AppendTag(out, field, protowire.BytesType)
		out = protowire.AppendBytes(out, b)
	}
	*buf = append(out, tail...) // size bytes: no reallocation
	return mem.BufferSlice{mem.NewBuffer(buf, pool)}, nil
}

func encodeService(s *adminv1.Service) ([]byte, error) { return proto.Marshal(s) }
