package gateway

import (
	"bytes"

	gwruntime "github.com/grpc-ecosystem/grpc-gateway/v2/runtime"

	adminv1 "github.com/arcgate/arcgate/gen/go/arcgate/admin/v1"
	"github.com/arcgate/arcgate/internal/listmsg"
	"github.com/arcgate/arcgate/internal/weakmemo"
)

// listMarshaler is the JSON marshaler of REST answers, which encodes the
// services of a ListServices answer once per message rather than once per
// answer. The server shares the services converted from a listing that
// upstream sent again unchanged (their messages are the same from one
// call to the next, and nobody modifies them), and protojson, which walks
// every field by reflection, is the largest cost of a long list. The JSON
// of a service is kept for as long as its message lives: the cache holds
// weak pointers, and an entry goes when its message is collected.
//
// The answer is the JSON protojson writes, assembled: the services in
// order, then the answer's other fields.
type listMarshaler struct {
	*gwruntime.JSONPb

	cache weakmemo.Memo[adminv1.Service, []byte]
}

func newListMarshaler(m *gwruntime.JSONPb) *listMarshaler {
	return &listMarshaler{JSONPb: m}
}

// Marshal implements runtime.Marshaler.
func (m *listMarshaler) Marshal(v any) ([]byte, error) {
	services := listmsg.Services(v)
	if services == nil {
		return m.JSONPb.Marshal(v)
	}
	// The other fields, encoded by protojson: {} or {"nextPageToken":...}.
	rest, err := m.JSONPb.Marshal(listmsg.Rest(v.(*adminv1.ListServicesResponse)))
	if err != nil {
		return nil, err
	}
	rest = bytes.TrimSpace(rest)
	inner := bytes.TrimSpace(rest[1 : len(rest)-1])
	encoded, size, err := listmsg.Encoded(services, &m.cache, m.encodeService)
	if err != nil {
		return nil, err
	}
	// One buffer of the final size: growing one for a long list costs
	// more than encoding it from the cache.
	out := make([]byte, 0, size+len(encoded)+len(`{"services":[],}`)+len(inner))
	out = append(out, `{"services":[`...)
	for i, b := range encoded {
		if i > 0 {
			out = append(out, ',')
		}
		out = append(out, b...)
	}
	out = append(out, ']')
	if len(inner) > 0 {
		out = append(out, ',')
		out = append(out, inner...)
	}
	return append(out, '}'), nil
}

// encodeService is the JSON of one service, as protojson writes it.
func (m *listMarshaler) encodeService(s *adminv1.Service) ([]byte, error) {
	b, err := m.JSONPb.Marshal(s)
	return bytes.TrimSpace(b), err
}
