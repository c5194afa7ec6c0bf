package gateway

import (
	"bytes"

	gwruntime "github.com/grpc-ecosystem/grpc-gateway/v2/runtime"

	adminv1 "github.com/arcgate/arcgate/gen/go/arcgate/admin/v1"
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

// listCacheMin is the shortest list whose services are cached: shorter
// ones cost little to encode.
const listCacheMin = 8

func newListMarshaler(m *gwruntime.JSONPb) *listMarshaler {
	return &listMarshaler{JSONPb: m}
}

// Marshal implements runtime.Marshaler.
func (m *listMarshaler) Marshal(v any) ([]byte, error) {
	resp, ok := v.(*adminv1.ListServicesResponse)
	if !ok || len(resp.GetServices()) < listCacheMin {
		return m.JSONPb.Marshal(v)
	}
	// The other fields, encoded by protojson: {} or {"nextPageToken":...}.
	rest, err := m.JSONPb.Marshal(&adminv1.ListServicesResponse{NextPageToken: resp.GetNextPageToken()})
	if err != nil {
		return nil, err
	}
	rest = bytes.TrimSpace(rest)
	var buf bytes.Buffer
	buf.WriteString(`{"services":[`)
	for i, s := range resp.GetServices() {
		b, err := m.service(s)
		if err != nil {
			return nil, err
		}
		if i > 0 {
			buf.WriteByte(',')
		}
		buf.Write(b)
	}
	buf.WriteByte(']')
	if inner := bytes.TrimSpace(rest[1 : len(rest)-1]); len(inner) > 0 {
		buf.WriteByte(',')
		buf.Write(inner)
	}
	buf.WriteByte('}')
	return buf.Bytes(), nil
}

// service returns the JSON of s, from the cache or encoded now.
func (m *listMarshaler) service(s *adminv1.Service) ([]byte, error) {
	return m.cache.Get(s, func(s *adminv1.Service) ([]byte, error) {
		b, err := m.JSONPb.Marshal(s)
		return bytes.TrimSpace(b), err
	})
}
