// Package listmsg helps the encoders that write a ListServices answer from
// services encoded once (the REST JSON marshaler in gateway, the gRPC
// codec in server): which answers qualify, each service's encoding from a
// cache, and the answer's other fields.
package listmsg

import (
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	adminv1 "github.com/arcgate/arcgate/gen/go/arcgate/admin/v1"
	"github.com/arcgate/arcgate/internal/weakmemo"
)

// minCached is the shortest list whose services are cached: shorter ones
// cost little to encode.
const minCached = 8

// Services returns the services of v when it is a ListServicesResponse
// worth assembling from cached encodings (long enough, no nil service),
// else nil.
func Services(v any) []*adminv1.Service {
	resp, ok := v.(*adminv1.ListServicesResponse)
	if !ok || len(resp.GetServices()) < minCached {
		return nil
	}
	for _, s := range resp.GetServices() {
		if s == nil {
			return nil
		}
	}
	return resp.GetServices()
}

// Encoded returns each service's encoding, from cache or made by encode
// (and kept while the service lives), and their total length.
func Encoded(services []*adminv1.Service, cache *weakmemo.Memo[adminv1.Service, []byte], encode func(*adminv1.Service) ([]byte, error)) ([][]byte, int, error) {
	out := make([][]byte, len(services))
	total := 0
	for i, s := range services {
		b, err := cache.Get(s, encode)
		if err != nil {
			return nil, 0, err
		}
		out[i] = b
		total += len(b)
	}
	return out, total, nil
}

// ServicesField is ListServicesResponse.services.
var ServicesField = (&adminv1.ListServicesResponse{}).ProtoReflect().Descriptor().Fields().ByName("services")

// Rest returns a new answer holding every field of resp but its services
// (a shallow copy: it shares resp's values and must not be modified), so
// that a field added to the answer is never left out.
func Rest(resp *adminv1.ListServicesResponse) proto.Message {
	rest := resp.ProtoReflect().New()
	resp.ProtoReflect().Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		if fd != ServicesField {
			rest.Set(fd, v)
		}
		return true
	})
	return rest.Interface()
}
