package gateway

import (
	"bytes"
	"encoding/json"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/durationpb"

	adminv1 "github.com/arcgate/arcgate/gen/go/arcgate/admin/v1"
)

// protojsonMarshaler is the marshaler New wraps in fastJSON.
func protojsonMarshaler() runtime.Marshaler {
	return &runtime.HTTPBodyMarshaler{Marshaler: &runtime.JSONPb{MarshalOptions: protojson.MarshalOptions{UseProtoNames: false}}}
}

// compact removes the spaces protojson inserts at random (so that no one
// relies on its exact bytes); the rest must be identical.
func compact(t *testing.T, b []byte) string {
	t.Helper()
	var buf bytes.Buffer
	if err := json.Compact(&buf, b); err != nil {
		t.Fatalf("not JSON: %v: %s", err, b)
	}
	return buf.String()
}

var testStrings = []string{"", "a", "Bulk_0001", "folders/Maps/services/A.MapServer", "quote\" back\\slash", "ctl\x00\x01\x1f\b\f\n\r\t end", "<html>&amp;", "Kärten 日本 \u2028 \ufffd", "emoji 🌍"}

func randomService(r *rand.Rand) *adminv1.Service {
	str := func() string { return testStrings[r.IntN(len(testStrings))] }
	i32 := func() int32 { return []int32{0, 1, -1, 42, 2147483647, -2147483648}[r.IntN(6)] }
	dur := func() *durationpb.Duration {
		switch r.IntN(6) {
		case 0:
			return nil
		case 1:
			return &durationpb.Duration{}
		case 2:
			return &durationpb.Duration{Seconds: 60}
		case 3:
			return &durationpb.Duration{Seconds: 1, Nanos: 500000000}
		case 4:
			return &durationpb.Duration{Seconds: -3, Nanos: -1234}
		}
		return &durationpb.Duration{Nanos: 1000}
	}
	s := &adminv1.Service{
		Name: str(), Folder: str(), ServiceName: str(), Type: adminv1.ServiceType(r.IntN(12)),
		TypeName: str(), Description: str(), ClusterName: str(),
		MinInstancesPerNode: i32(), MaxInstancesPerNode: i32(), InstancesPerContainer: i32(),
		MaxWaitDuration: dur(), MaxIdleDuration: dur(), MaxUsageDuration: dur(), MaxStartupDuration: dur(), RecycleInterval: dur(),
		RecycleStartTimeOfDay: str(), LoadBalancing: str(), IsolationLevel: str(), Provider: str(),
		Private: r.IntN(2) == 0, ConfiguredState: adminv1.ServiceState(r.IntN(8)), RealTimeState: adminv1.ServiceState(r.IntN(8)),
		Uid: str(), Etag: str(),
	}
	for range r.IntN(3) {
		s.Capabilities = append(s.Capabilities, str())
	}
	props := func() map[string]string {
		if r.IntN(3) == 0 {
			return nil
		}
		m := map[string]string{}
		for range r.IntN(5) {
			m[str()] = str()
		}
		return m
	}
	s.Properties = props()
	for range r.IntN(3) {
		x := &adminv1.ServiceExtension{TypeName: str(), Enabled: r.IntN(2) == 0, Properties: props()}
		for range r.IntN(3) {
			x.Capabilities = append(x.Capabilities, str())
		}
		s.Extensions = append(s.Extensions, x)
	}
	return s
}

func TestFastJSONMatchesProtojson(t *testing.T) {
	if !serviceFieldsKnown {
		t.Fatal("Service or ListServicesResponse has fields appendService does not write: extend fastjson.go (until then every list goes to protojson)")
	}
	pj, fast := protojsonMarshaler(), fastJSON{protojsonMarshaler()}
	r := rand.New(rand.NewPCG(1, 2))
	cases := []*adminv1.ListServicesResponse{
		{},
		{NextPageToken: "tok"},
		{Services: []*adminv1.Service{{}}},
		{Services: []*adminv1.Service{{Name: "services/A.MapServer", Type: adminv1.ServiceType_SERVICE_TYPE_MAP_SERVER, TypeName: "MapServer"}}},
	}
	for range 500 {
		resp := &adminv1.ListServicesResponse{NextPageToken: testStrings[r.IntN(len(testStrings))]}
		for range r.IntN(4) {
			resp.Services = append(resp.Services, randomService(r))
		}
		cases = append(cases, resp)
	}
	var msgs []any
	for _, resp := range cases {
		msgs = append(msgs, resp)
		for _, s := range resp.GetServices() {
			msgs = append(msgs, s) // as GetService answers
		}
	}
	for i, resp := range msgs {
		want, err := pj.Marshal(resp)
		if err != nil {
			t.Fatal(err)
		}
		got, err := fast.Marshal(resp)
		if err != nil {
			t.Fatal(err)
		}
		if g, w := compact(t, got), compact(t, want); g != w {
			t.Fatalf("case %d:\n got %s\nwant %s", i, g, w)
		}
	}
}

var testDoubles = []float64{0, math.Copysign(0, -1), 1, -1, 180, -90.5, 123.456789, 1e-6, 9.99e-7, -1e-7, 1e20, 1e21, -1.5e300,
	math.SmallestNonzeroFloat64, math.MaxFloat64, 0.1, 2.5e-10, math.NaN(), math.Inf(1), math.Inf(-1)}

func randomItemInfo(r *rand.Rand) *adminv1.ItemInfo {
	str := func() string { return testStrings[r.IntN(len(testStrings))] }
	list := func() []string {
		var l []string
		for range r.IntN(4) {
			l = append(l, str())
		}
		return l
	}
	f := func() float64 { return testDoubles[r.IntN(len(testDoubles))] }
	it := &adminv1.ItemInfo{
		Name: str(), Title: str(), Summary: str(), Snippet: str(), Description: str(), Tags: list(), TypeKeywords: list(),
		Culture: str(), Guid: str(), AccessInformation: str(), LicenseInfo: str(), Documentation: str(), Url: str(),
		SpatialReference: str(), Thumbnail: str(), Etag: str(),
	}
	if r.IntN(4) > 0 {
		it.Extent = &adminv1.Envelope{Xmin: f(), Ymin: f(), Xmax: f(), Ymax: f()}
	}
	return it
}

// TestFastJSONItemInfoMatchesProtojson compares the JSON of random item
// infos (GetItemInfo's answer) with protojson's.
func TestFastJSONItemInfoMatchesProtojson(t *testing.T) {
	if !itemInfoFieldsKnown {
		t.Fatal("ItemInfo or Envelope has fields appendItemInfo does not write: extend fastjson.go (until then every item info goes to protojson)")
	}
	pj, fast := protojsonMarshaler(), fastJSON{protojsonMarshaler()}
	r := rand.New(rand.NewPCG(3, 4))
	cases := []*adminv1.ItemInfo{{}, {Extent: &adminv1.Envelope{}}, {Name: "services/A.MapServer/itemInfo", Tags: []string{""}}}
	for _, d := range testDoubles {
		cases = append(cases, &adminv1.ItemInfo{Extent: &adminv1.Envelope{Xmin: d, Ymax: -d}})
	}
	for range 1000 {
		cases = append(cases, randomItemInfo(r))
	}
	for i, m := range cases {
		want, err := pj.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		got, err := fast.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		if g, w := compact(t, got), compact(t, want); g != w {
			t.Fatalf("case %d:\n got %s\nwant %s", i, g, w)
		}
	}
	if got := testing.AllocsPerRun(20, func() { _, _ = fast.Marshal(randomItemInfo(rand.New(rand.NewPCG(5, 6)))) }) -
		testing.AllocsPerRun(20, func() { _ = randomItemInfo(rand.New(rand.NewPCG(5, 6))) }); got > 1 {
		t.Errorf("writing an item info: %v allocations, want 1", got)
	}
}

// TestFastJSONLeavesToProtojson checks the cases fastJSON does not write
// itself: the answer and the error are protojson's.
func TestFastJSONLeavesToProtojson(t *testing.T) {
	pj, fast := protojsonMarshaler(), fastJSON{protojsonMarshaler()}
	for name, m := range map[string]any{
		"nil extension": &adminv1.Service{Extensions: []*adminv1.ServiceExtension{nil}},
		"bad utf-8 key": &adminv1.Service{Properties: map[string]string{"a\xffb": "c"}},
		"bad utf-8":     &adminv1.ListServicesResponse{Services: []*adminv1.Service{{Name: "a\xffb"}}},
		"bad duration":  &adminv1.ListServicesResponse{Services: []*adminv1.Service{{MaxWaitDuration: &durationpb.Duration{Seconds: 1, Nanos: -1}}}},
		"other":         &adminv1.Folder{Name: "folders/Maps"},
		"bad utf-8 tag": &adminv1.ItemInfo{Tags: []string{"a\xffb"}},
	} {
		t.Run(name, func(t *testing.T) {
			want, wantErr := pj.Marshal(m)
			got, err := fast.Marshal(m)
			if (err == nil) != (wantErr == nil) {
				t.Fatalf("error %v, want %v", err, wantErr)
			}
			if err == nil && compact(t, got) != compact(t, want) {
				t.Fatalf("got %s, want %s", got, want)
			}
		})
	}
}

func BenchmarkMarshalListServices(b *testing.B) {
	resp := &adminv1.ListServicesResponse{}
	for i := range 20 {
		resp.Services = append(resp.Services, &adminv1.Service{
			Name: "folders/F/services/Bulk_" + strings.Repeat("0", 3) + string(rune('a'+i)) + ".MapServer", Folder: "F",
			ServiceName: "Bulk", Type: adminv1.ServiceType_SERVICE_TYPE_MAP_SERVER, TypeName: "MapServer",
			Description: "Bulk map service number, with a description of ordinary length.", Uid: "id0000000000001",
		})
	}
	for _, m := range []struct {
		name string
		m    runtime.Marshaler
	}{{"protojson", protojsonMarshaler()}, {"fast", fastJSON{protojsonMarshaler()}}} {
		b.Run(m.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := m.m.Marshal(resp); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestFastJSONAllocations checks that a list of services is written with
// one allocation (protojson made 162 for 20 services).
func TestFastJSONAllocations(t *testing.T) {
	resp := &adminv1.ListServicesResponse{}
	for range 20 {
		resp.Services = append(resp.Services, &adminv1.Service{Name: "services/A.MapServer", Type: adminv1.ServiceType_SERVICE_TYPE_MAP_SERVER, Description: "A map service."})
	}
	m := fastJSON{protojsonMarshaler()}
	if got := testing.AllocsPerRun(20, func() { _, _ = m.Marshal(resp) }); got > 2 {
		t.Errorf("marshaling 20 services: %v allocations, want at most 2", got)
	}
	// A service with properties and extensions (GetService's answer), of
	// the simulator's size: its maps' keys are sorted without allocating
	// (slices.Sorted made 6 per map), and its buffer does not grow.
	svc := benchService(1)
	svc.Capabilities = []string{"Map", "Query", "Data"}
	svc.MaxWaitDuration, svc.MaxIdleDuration = durationpb.New(60*time.Second), durationpb.New(1800*time.Second)
	svc.MaxUsageDuration, svc.MaxStartupDuration = durationpb.New(600*time.Second), durationpb.New(300*time.Second)
	svc.RecycleInterval, svc.RecycleStartTimeOfDay = durationpb.New(24*time.Hour), "00:00"
	svc.LoadBalancing, svc.IsolationLevel, svc.Provider = "ROUND_ROBIN", "HIGH", "ArcObjects11"
	for _, n := range []string{"KmlServer", "WMSServer", "FeatureServer"} {
		svc.Extensions = append(svc.Extensions, &adminv1.ServiceExtension{TypeName: n, Enabled: true,
			Properties: map[string]string{"a": "1", "b": "2", "c": "3", "d": "4"}})
	}
	if b, _ := m.Marshal(svc); len(b) <= 1024 {
		t.Fatalf("the service's JSON has %d bytes: make it a little over 1 024 (the simulator's take 1 136)", len(b))
	}
	if got := testing.AllocsPerRun(20, func() { _, _ = m.Marshal(svc) }); got > 1 {
		t.Errorf("marshaling a service with 4 property maps: %v allocations, want 1", got)
	}
}
