// Package listmsg helps the encoders that write a ListServices answer from
// services encoded once (the REST JSON marshaler in gateway, the gRPC
// codec in server): it splits an answer into its services and the rest.
package listmsg

import (
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	adminv1 "github.com/arcgate/arcgate/gen/go/arcgate/admin/v1"
)

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
