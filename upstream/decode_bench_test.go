package upstream_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/arcgate/arcgate/upstream"
)

// folderBody is a folder listing of n services, shaped like the simulator's
// and the documented example (docs/upstream.md#services-and-folders).
func folderBody(n int) []byte {
	var b strings.Builder
	b.WriteString(`{"folderName":"Bulk","description":"Bulk services.","webEncrypted":false,"isDefault":false,"services":[`)
	for i := 0; i < n; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"folderName":"Bulk","serviceName":"Bulk_%04d","type":"MapServer","description":"Bulk map service number %d, with a description of ordinary length.","id":"id%017d"}`, i, i, i)
	}
	b.WriteString(`]}`)
	return []byte(b.String())
}

// BenchmarkDecodeFolderListing measures decoding a 200-service listing, the
// response of ListServices for one folder, through the same path every
// response takes (envelope check, then the typed decode).
func BenchmarkDecodeFolderListing(b *testing.B) {
	body := folderBody(200)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		var l upstream.FolderListing
		if err := upstream.DecodeResponse(200, "text/plain;charset=UTF-8", body, &l); err != nil || len(l.Services) != 200 {
			b.Fatal(err, len(l.Services))
		}
	}
}

func TestDecodeFolderListingBody(t *testing.T) {
	var l upstream.FolderListing
	if err := upstream.DecodeResponse(200, "text/plain", folderBody(3), &l); err != nil {
		t.Fatal(err)
	}
	if len(l.Services) != 3 || l.Services[2].ServiceName != "Bulk_0002" || l.Services[1].Type != "MapServer" || l.FolderName != "Bulk" {
		t.Fatalf("decoded %+v", l)
	}
}

// BenchmarkDecodeServiceConfig measures decoding a service configuration
// (the documented example, with the keys newer servers add,
// docs/upstream.md#service-configuration), the larger of GetService's two
// upstream reads, through the path every response takes.
func BenchmarkDecodeServiceConfig(b *testing.B) {
	body := []byte(seattleJSON)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		var c upstream.ServiceConfig
		if err := upstream.DecodeResponse(200, "text/plain;charset=UTF-8", body, &c); err != nil || len(c.Extensions) != 2 {
			b.Fatal(err, len(c.Extensions))
		}
	}
}

// BenchmarkDecodeItemInfo measures decoding item info, the answer of
// GetItemInfo, through the path every response takes, over the recorded
// variants in turn (key spellings, tag and extent forms differ).
func BenchmarkDecodeItemInfo(b *testing.B) {
	bodies := make([][]byte, len(itemInfoVariants))
	var size int
	for i, v := range itemInfoVariants {
		bodies[i] = []byte(v.body)
		size += len(v.body)
	}
	b.SetBytes(int64(size / len(bodies)))
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		var info upstream.ItemInfo
		if err := upstream.DecodeResponse(200, "text/plain;charset=UTF-8", bodies[n%len(bodies)], &info); err != nil || info.Title == "" {
			b.Fatal(err, info.Title)
		}
		n++
	}
}

// BenchmarkClientListFolder measures what a ListServices read costs the
// client, request and answer: folders read in turn (so that no read joins
// another's flight) from a loopback server answering a 20-service listing,
// through the resilient transport, as arcgate is configured. The server's
// own work is in the figures too.
func BenchmarkClientListFolder(b *testing.B) {
	body := folderBody(20)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain;charset=UTF-8")
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		_, _ = w.Write(body)
	}))
	defer srv.Close()
	c, err := upstream.New(srv.URL+"/arcgis", upstream.WithTokenSource(upstream.StaticToken("tok")),
		upstream.WithResilience(upstream.ResilienceConfig{}), upstream.WithObserver(func(string, time.Duration, error) {}))
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	ctx := upstream.WithRequestID(context.Background(), "bench-request-id")
	folders := make([]string, 100)
	for i := range folders {
		folders[i] = fmt.Sprintf("Folder%03d", i)
	}
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		l, err := c.Services.ListFolder(ctx, folders[n%len(folders)])
		if err != nil || len(l.Services) != 20 {
			b.Fatal(err)
		}
		n++
	}
}
