package gateway

import (
	"encoding/json"
	"fmt"
	"reflect"
	"runtime"
	"testing"
	"time"

	gwruntime "github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/protobuf/encoding/protojson"

	adminv1 "github.com/arcgate/arcgate/gen/go/arcgate/admin/v1"
)

func services(n int) []*adminv1.Service {
	out := make([]*adminv1.Service, n)
	for i := range out {
		out[i] = &adminv1.Service{Name: fmt.Sprintf("folders/F/services/S%d.MapServer", i), Folder: "F",
			ServiceName: fmt.Sprintf("S%d", i), Type: adminv1.ServiceType_SERVICE_TYPE_MAP_SERVER, TypeName: "MapServer",
			Description: "a \"quoted\" <description> é"}
	}
	return out
}

// The assembled answer is the JSON protojson writes, with and without the
// other fields, for lists long enough to be cached and shorter ones.
func TestListMarshalerMatchesProtojson(t *testing.T) {
	t.Parallel()
	m := newListMarshaler(&gwruntime.JSONPb{})
	shared := services(20)
	for _, resp := range []*adminv1.ListServicesResponse{
		{Services: shared},
		{Services: shared, NextPageToken: "abc"},
		{Services: shared[:3], NextPageToken: "short"},
		{},
	} {
		for range 2 { // encoded, then from the cache
			got, err := m.Marshal(resp)
			if err != nil {
				t.Fatal(err)
			}
			want, err := protojson.Marshal(resp)
			if err != nil {
				t.Fatal(err)
			}
			var g, w any
			if err := json.Unmarshal(got, &g); err != nil {
				t.Fatalf("invalid JSON %s: %v", got, err)
			}
			_ = json.Unmarshal(want, &w)
			if !reflect.DeepEqual(g, w) {
				t.Errorf("got  %s\nwant %s", got, want)
			}
		}
	}
	if n := m.cache.Len(); n != len(shared) {
		t.Errorf("%d services cached, want %d (each message once)", n, len(shared))
	}
}

// An entry goes with its message: the cache does not grow with the
// messages of answers long gone.
func TestListMarshalerForgetsCollectedMessages(t *testing.T) {
	t.Parallel()
	m := newListMarshaler(&gwruntime.JSONPb{})
	for range 10 {
		if _, err := m.Marshal(&adminv1.ListServicesResponse{Services: services(50)}); err != nil {
			t.Fatal(err)
		}
	}
	for deadline := time.Now().Add(10 * time.Second); ; {
		runtime.GC()
		n := m.cache.Len()
		if n == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d entries left for collected messages", n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// BenchmarkListServicesJSON compares encoding a 200-service answer with
// protojson (the baseline) and with listMarshaler, whose services are the
// same messages from one answer to the next, as the server shares them.
func BenchmarkListServicesJSON(b *testing.B) {
	resp := &adminv1.ListServicesResponse{Services: services(200), NextPageToken: "next"}
	pb := &gwruntime.JSONPb{}
	for _, bm := range []struct {
		name string
		m    gwruntime.Marshaler
	}{{"protojson", pb}, {"listMarshaler", newListMarshaler(pb)}} {
		b.Run(bm.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := bm.m.Marshal(resp); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
