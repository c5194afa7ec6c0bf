package server

import (
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc/encoding"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/testing/protocmp"
	"google.golang.org/protobuf/types/known/durationpb"

	adminv1 "github.com/arcgate/arcgate/gen/go/arcgate/admin/v1"
)

func codecServices(n int) []*adminv1.Service {
	out := make([]*adminv1.Service, n)
	for i := range out {
		out[i] = &adminv1.Service{Name: fmt.Sprintf("folders/F/services/S%d.MapServer", i), Folder: "F",
			ServiceName: fmt.Sprintf("S%d", i), Type: adminv1.ServiceType_SERVICE_TYPE_MAP_SERVER, TypeName: "MapServer",
			Description: "é ✓", Capabilities: []string{"Map", "Query"}, MaxWaitDuration: durationpb.New(time.Duration(i) * time.Second),
			Properties: map[string]string{"k": fmt.Sprint(i)}, Extensions: []*adminv1.ServiceExtension{{TypeName: "WMSServer", Enabled: i%2 == 0}}}
	}
	return out
}

// Whatever the answer, the codec's bytes decode to the same message as
// grpc's protobuf codec's, and other messages are left to that codec.
func TestListCodecEncodesTheSameMessage(t *testing.T) {
	t.Parallel()
	c := &listCodec{CodecV2: encoding.GetCodecV2("proto")}
	shared := codecServices(20)
	withNil := codecServices(10)
	withNil[4] = nil
	for i, m := range []proto.Message{
		&adminv1.ListServicesResponse{Services: shared},
		&adminv1.ListServicesResponse{Services: shared, NextPageToken: "abc"},
		&adminv1.ListServicesResponse{Services: shared[:3], NextPageToken: "short"},
		&adminv1.ListServicesResponse{Services: withNil},
		&adminv1.ListServicesResponse{},
		shared[0],
	} {
		for range 2 { // encoded, then from the cache
			out, err := c.Marshal(m)
			if err != nil {
				t.Fatalf("%d: %v", i, err)
			}
			got := m.ProtoReflect().New().Interface()
			if err := encoding.GetCodecV2("proto").Unmarshal(out, got); err != nil {
				t.Fatalf("%d: %v", i, err)
			}
			if diff := cmp.Diff(m, got, protocmp.Transform()); diff != "" {
				t.Fatalf("%d: decoded message differs (-want +got):\n%s", i, diff)
			}
		}
	}
	// Each shared service encoded once, the answers below the minimum and
	// with a nil service left to the plain codec.
	if n := c.services.Len(); n != len(shared) {
		t.Fatalf("%d services cached, want %d", n, len(shared))
	}
}

// BenchmarkListServicesCodec compares encoding a 200-service answer with
// grpc's protobuf codec (the baseline) and with listCodec, whose services
// are the same messages from one answer to the next, as the server's are.
func BenchmarkListServicesCodec(b *testing.B) {
	resp := &adminv1.ListServicesResponse{Services: codecServices(200), NextPageToken: "next"}
	for _, bc := range []struct {
		name  string
		codec encoding.CodecV2
	}{
		{"proto", encoding.GetCodecV2("proto")},
		{"listCodec", &listCodec{CodecV2: encoding.GetCodecV2("proto")}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				out, err := bc.codec.Marshal(resp)
				if err != nil {
					b.Fatal(err)
				}
				out.Free()
			}
		})
	}
}
