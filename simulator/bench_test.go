package simulator_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/arcgate/arcgate/simulator"
)

func benchmarkGet(b *testing.B, path string) {
	sim := simulator.New(simulator.Config{ExtraServices: 1000})
	tok := sim.IssueToken(0)
	u := &url.URL{Path: sim.AdminPath() + path, RawQuery: "f=json&token=" + url.QueryEscape(tok)}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req := &http.Request{Method: http.MethodGet, URL: u, Header: http.Header{}, RemoteAddr: "127.0.0.1:1"}
			rec := httptest.NewRecorder()
			sim.ServeHTTP(rec, req)
			if rec.Code != http.StatusOK {
				b.Fatalf("status %d", rec.Code)
			}
		}
	})
}

func BenchmarkGetService(b *testing.B) { benchmarkGet(b, "services/Bulk/Bulk_0500.MapServer") }

func BenchmarkGetStatus(b *testing.B) { benchmarkGet(b, "services/Bulk/Bulk_0500.MapServer/status") }

func BenchmarkListBulkFolder(b *testing.B) { benchmarkGet(b, "services/Bulk") }
