package gateway

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/proto"

	adminv1 "github.com/arcgate/arcgate/gen/go/arcgate/admin/v1"
)

// cannedConn answers every unary call with a copy of its answer for the
// method and the request id header an in-process call gets, so that a
// benchmark measures the gateway alone: routing, metadata, JSON, writing.
type cannedConn struct {
	noCallConn
	answers map[string]proto.Message
}

func (c cannedConn) Invoke(_ context.Context, method string, _, reply any, opts ...grpc.CallOption) error {
	if r, ok := reply.(*adminv1.ListServicesResponse); ok {
		r.Services = c.answers[method].(*adminv1.ListServicesResponse).Services // shared: read only
	} else {
		proto.Merge(reply.(proto.Message), c.answers[method])
	}
	for _, o := range opts {
		if h, ok := o.(grpc.HeaderCallOption); ok {
			*h.HeaderAddr = metadata.Pairs("x-request-id", "0123456789abcdef")
		}
	}
	return nil
}

// benchItemInfo is an item info of the size the benchmark's simulator
// answers.
func benchItemInfo() *adminv1.ItemInfo {
	return &adminv1.ItemInfo{
		Name: "folders/Bulk/services/Bulk_0001.MapServer/itemInfo", Title: "Bulk_0001",
		Summary: "A bulk map service.", Snippet: "Bulk map service", Description: "Bulk map service number 1, with a description.",
		Tags: []string{"bulk", "map"}, TypeKeywords: []string{"ArcGIS Server", "Map Service"}, Culture: "en-us",
		Guid: "0123456789abcdef0123456789abcdef", Url: "https://example.com/arcgis/rest/services/Bulk/Bulk_0001/MapServer",
		Extent:           &adminv1.Envelope{Xmin: -180, Ymin: -90, Xmax: 180, Ymax: 90},
		SpatialReference: "4326", Thumbnail: "thumbnail/thumbnail.png", Etag: `"e-0123456789abcdef"`,
	}
}

func benchService(i int) *adminv1.Service {
	n := strconv.Itoa(i)
	return &adminv1.Service{
		Name: "folders/Bulk/services/Bulk_" + n + ".MapServer", Folder: "Bulk", ServiceName: "Bulk_" + n,
		Type: adminv1.ServiceType_SERVICE_TYPE_MAP_SERVER, TypeName: "MapServer",
		Description: "Bulk map service, with a description of ordinary length.", ClusterName: "default",
		MaxInstancesPerNode: 2, Properties: map[string]string{"filePath": "/data/bulk.msd", "maxRecordCount": "1000", "outputDir": "/out"},
		ConfiguredState: adminv1.ServiceState_SERVICE_STATE_STARTED, RealTimeState: adminv1.ServiceState_SERVICE_STATE_STARTED,
		Etag: `"e-0123456789abcdef"`,
	}
}

// BenchmarkRESTRead is a REST read through the gateway, the service
// answering at once: what the gateway itself costs per call.
func BenchmarkRESTRead(b *testing.B) {
	list := &adminv1.ListServicesResponse{}
	for i := range 20 {
		list.Services = append(list.Services, benchService(i))
	}
	conn := cannedConn{answers: map[string]proto.Message{
		adminv1.ServicesService_GetService_FullMethodName:   benchService(1),
		adminv1.ServicesService_ListServices_FullMethodName: list,
		adminv1.ItemInfoService_GetItemInfo_FullMethodName:  benchItemInfo(),
	}}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	h, err := New(ctx, conn)
	if err != nil {
		b.Fatal(err)
	}
	h = WithPeer(h)
	// A keep-alive connection's context, made once (PeerConnContext).
	connCtx := PeerConnContext(ctx, pipeConn{local: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 8080},
		remote: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 40000}})
	for _, c := range []struct{ name, path string }{
		{"GetService", "/v1/folders/Bulk/services/Bulk_0001.MapServer"},
		{"GetItemInfo", "/v1/folders/Bulk/services/Bulk_0001.MapServer/itemInfo"},
		{"ListServices", "/v1/folders/Bulk/services?pageSize=1000"},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				r := httptest.NewRequest(http.MethodGet, c.path, nil)
				r.RemoteAddr = "127.0.0.1:40000"
				r = r.WithContext(connCtx)
				w := httptest.NewRecorder()
				h.ServeHTTP(w, r)
				if w.Code != http.StatusOK {
					b.Fatalf("%s: %d %s", c.path, w.Code, w.Body)
				}
			}
		})
	}
}

func BenchmarkMarshalItemInfo(b *testing.B) {
	it := benchItemInfo()
	for _, m := range []struct {
		name string
		m    runtime.Marshaler
	}{{"protojson", protojsonMarshaler()}, {"fast", fastJSON{protojsonMarshaler()}}} {
		b.Run(m.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := m.m.Marshal(it); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
