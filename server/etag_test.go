package server

import (
	"bytes"
	"encoding/json"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/testing/protocmp"

	adminv1 "github.com/arcgate/arcgate/gen/go/arcgate/admin/v1"
	"github.com/arcgate/arcgate/upstream"
)

// ignoreEtags leaves the etags out of a comparison of converted resources:
// converter tests compare what the fields say, the etag tests below what
// the etag is.
var ignoreEtags = cmp.Options{
	protocmp.IgnoreFields(&adminv1.ItemInfo{}, "etag"),
	protocmp.IgnoreFields(&adminv1.UsageReport{}, "etag"),
}

// decodeAs decodes body into a fresh T, as a replica reading upstream does.
func decodeAs[T any](t *testing.T, body string) *T {
	t.Helper()
	v := new(T)
	if err := json.Unmarshal([]byte(body), v); err != nil {
		t.Fatalf("decode %s: %v", body, err)
	}
	return v
}

var etagShape = regexp.MustCompile(`^W/"[A-Za-z0-9_-]{22}"$`)

// TestEtagOfDeterministic: the etag of one upstream state is the same for
// every fresh decode of it (what two replicas do), whatever order upstream
// sent the keys in, at any depth; it changes when a value changes,
// modelled by arcgate or not.
func TestEtagOfDeterministic(t *testing.T) {
	for _, tc := range []struct {
		name      string
		etag      func(t *testing.T, body string) string
		a, b      string // the same state, keys in another order (and other white space)
		different string // another state
	}{
		{
			name: "service configuration",
			etag: func(t *testing.T, s string) string { return etagOf(decodeAs[upstream.ServiceConfig](t, s)) },
			a:    `{"serviceName":"World","type":"MapServer","maxWaitTime":60,"properties":{"a":"1","b":"2"},"unmodelled":{"x":1,"y":[1,2]}}`,
			b:    "{\n  \"unmodelled\": {\"y\": [1, 2], \"x\": 1},\n  \"properties\": {\"b\": \"2\", \"a\": \"1\"},\n  \"maxWaitTime\": 60, \"type\": \"MapServer\", \"serviceName\": \"World\"\n}\n",
			// A key arcgate does not model changed: still another state.
			different: `{"serviceName":"World","type":"MapServer","maxWaitTime":60,"properties":{"a":"1","b":"2"},"unmodelled":{"x":2,"y":[1,2]}}`,
		},
		{
			name:      "item info",
			etag:      func(t *testing.T, s string) string { return etagOf(decodeAs[upstream.ItemInfo](t, s)) },
			a:         `{"title":"Roads","tags":["a","b"],"extent":[[1,2],[3,4]]}`,
			b:         "{ \"extent\" : [ [1, 2], [3, 4] ],\r\n\t\"tags\" : [\"a\", \"b\"], \"title\" : \"Roads\" }",
			different: `{"title":"Roads","tags":["b","a"],"extent":[[1,2],[3,4]]}`,
		},
		{
			name:      "usage report",
			etag:      func(t *testing.T, s string) string { return etagOf(decodeAs[upstream.UsageReport](t, s)) },
			a:         `{"reportname":"weekly","since":"LAST_WEEK","queries":[{"resourceURIs":["services/"],"metrics":["RequestCount"]}],"metadata":{"k":"v","w":1}}`,
			b:         `{"metadata":{"w":1,"k":"v"},"queries":[{"metrics":["RequestCount"],"resourceURIs":["services/"]}],"since":"LAST_WEEK","reportname":"weekly"}`,
			different: `{"reportname":"weekly","since":"LAST_DAY","queries":[{"resourceURIs":["services/"],"metrics":["RequestCount"]}],"metadata":{"k":"v","w":1}}`,
		},
		{
			name:      "usage statistics settings",
			etag:      func(t *testing.T, s string) string { return etagOf(decodeAs[upstream.UsageSettings](t, s)) },
			a:         `{"enabled":true,"samplingInterval":1,"maxHistory":0}`,
			b:         `{"maxHistory":0,"samplingInterval":"1","enabled":"true"}`,
			different: `{"enabled":true,"samplingInterval":5,"maxHistory":0}`,
		},
		{
			name:      "role",
			etag:      func(t *testing.T, s string) string { return etagOf(decodeAs[upstream.Role](t, s)) },
			a:         `{"rolename":"editors","description":"Edit"}`,
			b:         `{"description":"Edit","rolename":"editors"}`,
			different: `{"rolename":"editors","description":"Edit all"}`,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			first, again, reordered, other := tc.etag(t, tc.a), tc.etag(t, tc.a), tc.etag(t, tc.b), tc.etag(t, tc.different)
			if !etagShape.MatchString(first) {
				t.Fatalf("etag %q is not a weak entity tag of 22 base64url characters", first)
			}
			if again != first {
				t.Errorf("two decodes of one body: etags %q and %q", first, again)
			}
			if reordered != first {
				t.Errorf("keys in another order: etag %q, want %q", reordered, first)
			}
			if other == first {
				t.Errorf("another state has the same etag %q", other)
			}
		})
	}
	folder := upstream.FolderInfo{FolderName: "Maps", Description: "d"}
	if etagOf(folder) != etagOf(upstream.FolderInfo{FolderName: "Maps", Description: "d"}) {
		t.Error("folder: two equal values have different etags")
	}
	if etagOf(folder) == etagOf(upstream.FolderInfo{FolderName: "Maps", Description: "e"}) {
		t.Error("folder: another description has the same etag")
	}
}

// TestEtagOfReadNotEncodedAgain: the etag of a service configuration or
// item info as read comes from the digest its decode kept, not from
// encoding the decoded value again (which cost 271 and 147 allocations, a
// third of GetService's CPU in arcgate-bench); another decode of the same
// state, its keys in reverse order and with other white space, has the
// same etag.
func TestEtagOfReadNotEncodedAgain(t *testing.T) {
	for _, tc := range []struct {
		name   string
		decode func(body string) any
		body   []byte
	}{
		{"service configuration", func(s string) any { return decodeAs[upstream.ServiceConfig](t, s) }, benchServiceConfig},
		{"item info", func(s string) any { return decodeAs[upstream.ItemInfo](t, s) }, benchItemInfo},
	} {
		t.Run(tc.name, func(t *testing.T) {
			read := tc.decode(string(tc.body))
			var etag string
			if n := testing.AllocsPerRun(10, func() { etag = etagOf(read) }); n > 1 {
				t.Errorf("etagOf: %v allocations, want 1 (the string)", n)
			}
			if !etagShape.MatchString(etag) {
				t.Errorf("etag %q is not a weak entity tag of 22 base64url characters", etag)
			}
			reversed := reverseKeys(t, tc.body)
			if other := etagOf(tc.decode(reversed)); other != etag {
				t.Errorf("%s: etag %q, want %q", reversed, other, etag)
			}
		})
	}
}

// TestEtagOfSharedValue: callers of one coalesced read share one decoded
// configuration (upstream.GetWithStatus) and take its etag at once; the
// digest is made by the decode, so they only read it (run with -race).
func TestEtagOfSharedValue(t *testing.T) {
	shared := decodeAs[upstream.ServiceConfig](t, string(benchServiceConfig))
	want := etagOf(decodeAs[upstream.ServiceConfig](t, string(benchServiceConfig)))
	got := make([]string, 8)
	var wg sync.WaitGroup
	for i := range got {
		wg.Go(func() { got[i] = etagOf(shared) })
	}
	wg.Wait()
	for i, e := range got {
		if e != want {
			t.Errorf("caller %d: etag %q, want %q", i, e, want)
		}
	}
}

// reverseKeys writes the top-level members of the JSON object body in
// reverse order, one to a line.
func reverseKeys(t *testing.T, body []byte) string {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(body))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		t.Fatalf("%s: not an object", body)
	}
	var members []string
	for dec.More() {
		k, err := dec.Token()
		if err != nil {
			t.Fatal(err)
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			t.Fatal(err)
		}
		key, _ := json.Marshal(k)
		members = append(members, string(key)+" : "+string(v))
	}
	slices.Reverse(members)
	return "{\n  " + strings.Join(members, ",\n  ") + "\n}\n"
}

// TestCheckEtag: no etag or the current one passes; another is ABORTED
// with reason ETAG_MISMATCH and the current etag in the metadata.
func TestCheckEtag(t *testing.T) {
	cur := etagOf(upstream.Role{Name: "editors"})
	for _, given := range []string{"", cur} {
		if err := checkEtag(given, cur, "roles/editors"); err != nil {
			t.Errorf("checkEtag(%q) = %v, want nil", given, err)
		}
	}
	err := checkEtag(`W/"stale"`, cur, "roles/editors")
	st := status.Convert(err)
	if st.Code() != codes.Aborted {
		t.Fatalf("code %v, want ABORTED (AIP-154)", st.Code())
	}
	var info *errdetails.ErrorInfo
	for _, d := range st.Details() {
		if i, ok := d.(*errdetails.ErrorInfo); ok {
			info = i
		}
	}
	want := &errdetails.ErrorInfo{Domain: ErrorDomain, Reason: "ETAG_MISMATCH",
		Metadata: map[string]string{"currentEtag": cur, "resource": "roles/editors"}}
	if diff := cmp.Diff(want, info, protocmp.Transform()); diff != "" {
		t.Errorf("ErrorInfo (-want +got):\n%s", diff)
	}
}

// benchServiceConfig and benchItemInfo are what the simulator answers for
// one of arcgate-bench's services.
var (
	benchServiceConfig = []byte(`{"allowedUploadFileTypes":"","capabilities":"Map,Query,Data","clusterName":"default","description":"Generated map service Bulk_0001.","extensions":[],"frameworkProperties":{},"id":"27a7hm8x9hvin7xwctfo5","instancesPerContainer":1,"isolationLevel":"HIGH","jsonProperties":{},"loadBalancing":"ROUND_ROBIN","maxIdleTime":1800,"maxInstancesPerNode":2,"maxStartupTime":300,"maxUploadFileSize":0,"maxUsageTime":600,"maxWaitTime":60,"minInstancesPerNode":1,"portalProperties":{"isHosted":false,"portalItems":[]},"private":false,"properties":{"cacheOnDemand":"false","filePath":"${arcgisinput}/Bulk_0001.MapServer/extracted/p30/bulk_0001.mapx","isCached":"false","maxBufferCount":"100","maxImageHeight":"4096","maxImageWidth":"4096","maxRecordCount":"1000","outputDir":"/arcgis/server/usr/directories/arcgisoutput","schemaLockingEnabled":"true","supportedImageReturnTypes":"MIME+URL","virtualOutputDir":"/rest/directories/arcgisoutput"},"provider":"ArcObjects11","recycleInterval":24,"recycleStartTime":"00:00","serviceName":"Bulk_0001","type":"MapServer"}`)
	benchItemInfo      = []byte(`{"culture":"en-US","name":"Bulk_0001","guid":"50148320-5A48-73CF-2350-4832025A4867","catalogPath":"","snippet":"","description":"Generated map service Bulk_0001.","summary":"","title":"Bulk_0001","tags":[],"type":"Map Service","typeKeywords":["ArcGIS Server","Map Service"],"thumbnail":"","url":"","spatialReference":"","accessInformation":"","licenseInfo":""}`)
)

// BenchmarkEtag measures a read answer's etag: of a decoded value
// ("etag"), and with the decode it comes from ("decode+etag"; since the
// etag hashes the bytes as received, part of its cost is in the decode).
func BenchmarkEtag(b *testing.B) {
	for _, bc := range []struct {
		name  string
		body  []byte
		fresh func() interface{ UnmarshalJSON([]byte) error }
	}{
		{"service-config", benchServiceConfig, func() interface{ UnmarshalJSON([]byte) error } { return new(upstream.ServiceConfig) }},
		{"item-info", benchItemInfo, func() interface{ UnmarshalJSON([]byte) error } { return new(upstream.ItemInfo) }},
	} {
		b.Run(bc.name+"/etag", func(b *testing.B) {
			v := bc.fresh()
			if err := v.UnmarshalJSON(bc.body); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if etagOf(v) == "" {
					b.Fatal("no etag")
				}
			}
		})
		b.Run(bc.name+"/decode+etag", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				v := bc.fresh()
				if err := v.UnmarshalJSON(bc.body); err != nil {
					b.Fatal(err)
				}
				if etagOf(v) == "" {
					b.Fatal("no etag")
				}
			}
		})
	}
}
