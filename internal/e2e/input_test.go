package e2e

import (
	"context"
	"encoding/json"
	"io"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/testing/protocmp"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
	"google.golang.org/protobuf/types/known/structpb"

	adminv1 "github.com/arcgate/arcgate/gen/go/arcgate/admin/v1"
	"github.com/arcgate/arcgate/simulator"
)

// upstreamPosts counts the POST requests the simulator received, token
// requests aside: every upstream write is a POST.
func upstreamPosts(e *env) int {
	n := 0
	for _, r := range e.sim.Requests() {
		if r.Method == http.MethodPost && !strings.Contains(r.Path, "generateToken") {
			n++
		}
	}
	return n
}

// updateCase is one Update method: how to read its resource, how to update
// it, and what a full replacement (`*`) of an edited copy must show.
type updateCase struct {
	name     string
	restPath string // GET and PATCH
	get      func(context.Context) (proto.Message, error)
	update   func(context.Context, proto.Message, *fieldmaskpb.FieldMask) (proto.Message, error)
	// replacement returns what to send with `*`; replaced reports what is
	// wrong with the result ("" when the replacement shows).
	replacement func(cur proto.Message) proto.Message
	replaced    func(got proto.Message) string
}

func updateCases(e *env) []updateCase {
	svc := e.services
	roles := adminv1.NewRolesServiceClient(e.conn)
	items := adminv1.NewItemInfoServiceClient(e.conn)
	reports := adminv1.NewUsageReportsServiceClient(e.conn)
	const (
		folder  = "folders/Maps"
		service = "folders/Maps/services/Roads.MapServer"
		item    = service + "/itemInfo"
		role    = "roles/editors"
	)
	return []updateCase{
		{
			name: "UpdateFolder", restPath: "/v1/" + folder,
			get: func(c context.Context) (proto.Message, error) {
				r, err := svc.GetFolder(c, &adminv1.GetFolderRequest{Name: folder})
				return r, err
			},
			update: func(c context.Context, m proto.Message, mask *fieldmaskpb.FieldMask) (proto.Message, error) {
				r, err := svc.UpdateFolder(c, &adminv1.UpdateFolderRequest{Folder: m.(*adminv1.Folder), UpdateMask: mask})
				return r, err
			},
			// A full replacement clears what the request leaves unset.
			replacement: func(proto.Message) proto.Message { return &adminv1.Folder{Name: folder, WebEncrypted: true} },
			replaced: func(got proto.Message) string {
				if f := got.(*adminv1.Folder); f.GetDescription() != "" || !f.GetWebEncrypted() {
					return "description kept or web_encrypted not set"
				}
				return ""
			},
		},
		{
			name: "UpdateService", restPath: "/v1/" + service,
			get: func(c context.Context) (proto.Message, error) {
				r, err := svc.GetService(c, &adminv1.GetServiceRequest{Name: service})
				return r, err
			},
			update: func(c context.Context, m proto.Message, mask *fieldmaskpb.FieldMask) (proto.Message, error) {
				r, err := done[adminv1.Service](c, e.conn)(svc.UpdateService(c, &adminv1.UpdateServiceRequest{Service: m.(*adminv1.Service), UpdateMask: mask}))
				return r, err
			},
			replacement: func(cur proto.Message) proto.Message {
				s := proto.Clone(cur).(*adminv1.Service)
				s.Description = "replaced"
				return s
			},
			replaced: func(got proto.Message) string {
				if got.(*adminv1.Service).GetDescription() != "replaced" {
					return "description not replaced"
				}
				return ""
			},
		},
		{
			name: "UpdateItemInfo", restPath: "/v1/" + item,
			get: func(c context.Context) (proto.Message, error) {
				r, err := items.GetItemInfo(c, &adminv1.GetItemInfoRequest{Name: item})
				return r, err
			},
			update: func(c context.Context, m proto.Message, mask *fieldmaskpb.FieldMask) (proto.Message, error) {
				r, err := items.UpdateItemInfo(c, &adminv1.UpdateItemInfoRequest{ItemInfo: m.(*adminv1.ItemInfo), UpdateMask: mask})
				return r, err
			},
			replacement: func(proto.Message) proto.Message { return &adminv1.ItemInfo{Name: item, Title: "Only a title"} },
			replaced: func(got proto.Message) string {
				if i := got.(*adminv1.ItemInfo); i.GetTitle() != "Only a title" || i.GetDescription() != "" || len(i.GetTags()) != 0 {
					return "title not set or other fields kept"
				}
				return ""
			},
		},
		{
			name: "UpdateUsageReport", restPath: "/v1/" + seedMonthly,
			get: func(c context.Context) (proto.Message, error) {
				r, err := reports.GetUsageReport(c, &adminv1.GetUsageReportRequest{Name: seedMonthly})
				return r, err
			},
			update: func(c context.Context, m proto.Message, mask *fieldmaskpb.FieldMask) (proto.Message, error) {
				r, err := reports.UpdateUsageReport(c, &adminv1.UpdateUsageReportRequest{UsageReport: m.(*adminv1.UsageReport), UpdateMask: mask})
				return r, err
			},
			replacement: func(cur proto.Message) proto.Message {
				r := proto.Clone(cur).(*adminv1.UsageReport)
				r.Metadata = nil // cleared by the replacement
				r.AggregationInterval = nil
				return r
			},
			replaced: func(got proto.Message) string {
				if r := got.(*adminv1.UsageReport); r.GetMetadata() != nil || len(r.GetQueries()) != 1 {
					return "metadata kept or queries lost"
				}
				return ""
			},
		},
		{
			name: "UpdateRole", restPath: "/v1/" + role,
			get: func(c context.Context) (proto.Message, error) {
				r, err := roles.GetRole(c, &adminv1.GetRoleRequest{Name: role})
				return r, err
			},
			update: func(c context.Context, m proto.Message, mask *fieldmaskpb.FieldMask) (proto.Message, error) {
				r, err := roles.UpdateRole(c, &adminv1.UpdateRoleRequest{Role: m.(*adminv1.Role), UpdateMask: mask})
				return r, err
			},
			replacement: func(proto.Message) proto.Message { return &adminv1.Role{Name: role} },
			replaced: func(got proto.Message) string {
				if got.(*adminv1.Role).GetDescription() != "" {
					return "description kept"
				}
				return ""
			},
		},
		{
			name: "UpdateUsageStatisticsSettings", restPath: "/v1/usageStatisticsSettings",
			get: func(c context.Context) (proto.Message, error) {
				r, err := reports.GetUsageStatisticsSettings(c, &adminv1.GetUsageStatisticsSettingsRequest{})
				return r, err
			},
			update: func(c context.Context, m proto.Message, mask *fieldmaskpb.FieldMask) (proto.Message, error) {
				r, err := reports.UpdateUsageStatisticsSettings(c, &adminv1.UpdateUsageStatisticsSettingsRequest{UsageStatisticsSettings: m.(*adminv1.UsageStatisticsSettings), UpdateMask: mask})
				return r, err
			},
			replacement: func(cur proto.Message) proto.Message {
				s := proto.Clone(cur).(*adminv1.UsageStatisticsSettings)
				s.Enabled = !s.GetEnabled()
				return s
			},
			replaced: func(got proto.Message) string {
				if got.(*adminv1.UsageStatisticsSettings).GetMaxHistory() == nil {
					return "max_history lost"
				}
				return ""
			},
		},
	}
}

// TestUpdateEmptyMask: every Update method refuses an empty mask with
// INVALID_ARGUMENT naming update_mask and writes nothing upstream, over
// gRPC (no mask, an empty mask) and REST (`PATCH -d '{}'`, whose inferred
// mask is empty); `*` replaces the resource.
func TestUpdateEmptyMask(t *testing.T) {
	e := start(t, simulator.Config{})
	c := ctx(t)
	for _, tc := range updateCases(e) {
		t.Run(tc.name, func(t *testing.T) {
			before, err := tc.get(c)
			if err != nil {
				t.Fatal(err)
			}
			restBefore := e.do(t, http.MethodGet, tc.restPath, nil)
			posts := upstreamPosts(e)
			edited := tc.replacement(before)
			for _, mask := range []*fieldmaskpb.FieldMask{nil, {}, {Paths: []string{""}}} {
				_, err := tc.update(c, edited, mask)
				if info := wantCode(t, err, codes.InvalidArgument); info.GetMetadata()["field"] != "update_mask" {
					t.Fatalf("mask %v: ErrorInfo %v", mask, info)
				}
			}
			r := e.do(t, http.MethodPatch, tc.restPath, map[string]any{})
			if reason, md := restError(t, r, http.StatusBadRequest, codes.InvalidArgument); reason != "INVALID_ARGUMENT" || md["field"] != "update_mask" {
				t.Fatalf("REST PATCH {}: reason %q, metadata %v", reason, md)
			}
			if n := upstreamPosts(e); n != posts {
				t.Fatalf("%d upstream writes for empty masks", n-posts)
			}
			after, err := tc.get(c)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(before, after, protocmp.Transform()); diff != "" {
				t.Fatalf("changed by an empty mask (-before +after):\n%s", diff)
			}
			if restAfter := e.do(t, http.MethodGet, tc.restPath, nil); restAfter.Raw != restBefore.Raw {
				t.Fatalf("REST view changed by PATCH {}:\n%s\nnow\n%s", restBefore.Raw, restAfter.Raw)
			}

			got, err := tc.update(c, edited, &fieldmaskpb.FieldMask{Paths: []string{"*"}})
			if err != nil {
				t.Fatalf("update with *: %v", err)
			}
			if why := tc.replaced(got); why != "" {
				t.Fatalf("update with *: %s:\n%v", why, got)
			}
		})
	}
}

// TestUpdateStarREST: `*` in the query string is a full replacement over
// REST too.
func TestUpdateStarREST(t *testing.T) {
	e := start(t, simulator.Config{})
	r := e.do(t, http.MethodPatch, "/v1/roles/editors?updateMask=*", map[string]any{})
	if r.Status != http.StatusOK {
		t.Fatalf("HTTP %d: %s", r.Status, r.Raw)
	}
	if d, ok := r.Body["description"]; ok && d != "" {
		t.Fatalf("description %q kept by a full replacement", d)
	}
}

// nested is JSON whose objects nest depth deep.
func nested(depth int) string {
	return strings.Repeat(`{"k":`, depth) + "1" + strings.Repeat("}", depth)
}

// TestUsageReportMetadataDepth: metadata nested deeper than 32 is refused
// on every write, over gRPC and REST, naming the field; a report stored
// upstream with deeper metadata (3,400 levels, as another client could
// store) does not break listing or reading over gRPC: the others are
// answered, and its metadata is the JSON text as a string.
func TestUsageReportMetadataDepth(t *testing.T) {
	e := start(t, simulator.Config{})
	c := ctx(t)
	ur := adminv1.NewUsageReportsServiceClient(e.conn)
	value := func(depth int) *structpb.Value {
		v := &structpb.Value{}
		if err := v.UnmarshalJSON([]byte(nested(depth))); err != nil {
			t.Fatal(err)
		}
		return v
	}
	def := func(md *structpb.Value) *adminv1.UsageReport {
		return &adminv1.UsageReport{
			Since:    adminv1.UsageReportPeriod_USAGE_REPORT_PERIOD_LAST_DAY,
			Queries:  []*adminv1.UsageReportQuery{{ResourceUris: []string{"services/"}, MetricNames: []string{"RequestCount"}}},
			Metadata: md,
		}
	}
	posts := upstreamPosts(e)
	_, err := ur.CreateUsageReport(c, &adminv1.CreateUsageReportRequest{UsageReportId: "deep", UsageReport: def(value(33))})
	if info := wantCode(t, err, codes.InvalidArgument); info.GetMetadata()["field"] != "usage_report.metadata" {
		t.Fatalf("create: ErrorInfo %v", info)
	}
	upd := def(value(33))
	upd.Name = seedMonthly
	_, err = ur.UpdateUsageReport(c, &adminv1.UpdateUsageReportRequest{UsageReport: upd, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"metadata"}}})
	if info := wantCode(t, err, codes.InvalidArgument); info.GetMetadata()["field"] != "usage_report.metadata" {
		t.Fatalf("update: ErrorInfo %v", info)
	}
	body := json.RawMessage(`{"since":"USAGE_REPORT_PERIOD_LAST_DAY","queries":[{"resourceUris":["services/"],"metricNames":["RequestCount"]}],"metadata":` + nested(3400) + `}`)
	r := e.do(t, http.MethodPost, "/v1/usageReports?usageReportId=deep", body)
	if reason, md := restError(t, r, http.StatusBadRequest, codes.InvalidArgument); reason != "INVALID_ARGUMENT" || md["field"] != "usage_report.metadata" {
		t.Fatalf("REST create: reason %q, metadata %v", reason, md)
	}
	if n := upstreamPosts(e); n != posts {
		t.Fatalf("%d upstream writes for refused metadata", n-posts)
	}
	// At the limit is fine.
	if _, err := ur.CreateUsageReport(c, &adminv1.CreateUsageReportRequest{UsageReportId: "deep32", UsageReport: def(value(32))}); err != nil {
		t.Fatal(err)
	}

	// Planted upstream by another client.
	simPost(t, e, "usagereports/add", url.Values{"usagereport": {
		`{"reportname":"deep","since":"LAST_DAY","queries":[{"resourceURIs":["services/"],"metrics":["RequestCount"]}],"metadata":` + nested(3400) + `}`}})
	list, err := ur.ListUsageReports(c, &adminv1.ListUsageReportsRequest{})
	if err != nil {
		t.Fatalf("ListUsageReports with a deep report upstream: %v", err)
	}
	byName := map[string]*adminv1.UsageReport{}
	for _, r := range list.GetUsageReports() {
		byName[r.GetName()] = r
	}
	if len(byName) != 4 || byName[seedMonthly].GetMetadata().GetStructValue().GetFields()["title"].GetStringValue() != "Request Count Report" ||
		byName["usageReports/deep32"].GetMetadata().GetStructValue() == nil {
		t.Fatalf("listed %v", slices.Collect(maps.Keys(byName)))
	}
	if md := byName["usageReports/deep"].GetMetadata().GetStringValue(); md != nested(3400) {
		t.Fatalf("deep metadata listed as %.100q", md)
	}
	g, err := ur.GetUsageReport(c, &adminv1.GetUsageReportRequest{Name: "usageReports/deep"})
	if err != nil {
		t.Fatalf("GetUsageReport: %v", err)
	}
	if md := g.GetMetadata().GetStringValue(); md != nested(3400) {
		t.Fatalf("deep metadata read as %.100q", md)
	}
	if r := e.do(t, http.MethodGet, "/v1/usageReports", nil); r.Status != http.StatusOK {
		t.Fatalf("REST list: HTTP %d", r.Status)
	}
}

// rawCodec sends and receives protobuf bytes as they are, to put bytes on
// the wire that no generated client would.
type rawCodec struct{}

func (rawCodec) Marshal(v any) ([]byte, error) { return v.([]byte), nil }
func (rawCodec) Unmarshal(data []byte, v any) error {
	*v.(*[]byte) = append([]byte(nil), data...)
	return nil
}
func (rawCodec) Name() string { return "proto" }

// TestMalformedGRPCRequest: a request that does not decode is the caller's
// fault, INVALID_ARGUMENT (it was INTERNAL), for unary and streaming
// methods, arcgate's and health alike; REST answers 400 for the same
// bytes in JSON.
func TestMalformedGRPCRequest(t *testing.T) {
	e := start(t, simulator.Config{})
	c := ctx(t)
	invalidUTF8 := []byte{0x0a, 0x03, 'a', 0xff, 0xfe} // field 1 (a string): "a\xff\xfe"
	garbage := []byte{0xff, 0xff, 0xff, 0xff, 0xff}
	truncated := []byte{0x0a, 0x20, 's'}
	for _, tc := range []struct {
		name, method string
		stream       bool
		body         []byte
	}{
		{"GetService invalid UTF-8", "/arcgate.admin.v1.ServicesService/GetService", false, invalidUTF8},
		{"GetService garbage", "/arcgate.admin.v1.ServicesService/GetService", false, garbage},
		{"GetService truncated", "/arcgate.admin.v1.ServicesService/GetService", false, truncated},
		{"UpdateFolder invalid UTF-8", "/arcgate.admin.v1.ServicesService/UpdateFolder", false, []byte{0x0a, 0x05, 0x0a, 0x03, 'a', 0xff, 0xfe}},
		{"Health invalid UTF-8", "/grpc.health.v1.Health/Check", false, invalidUTF8},
		{"WatchJob invalid UTF-8", "/arcgate.admin.v1.JobsService/WatchJob", true, invalidUTF8},
		{"WatchJob garbage", "/arcgate.admin.v1.JobsService/WatchJob", true, garbage},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var err error
			var out []byte
			if !tc.stream {
				err = e.conn.Invoke(c, tc.method, tc.body, &out, grpc.ForceCodec(rawCodec{}))
			} else {
				var s grpc.ClientStream
				s, err = e.conn.NewStream(c, &grpc.StreamDesc{ServerStreams: true}, tc.method, grpc.ForceCodec(rawCodec{}))
				if err == nil {
					if err = s.SendMsg(tc.body); err == nil {
						_ = s.CloseSend()
						err = s.RecvMsg(&out)
					}
				}
			}
			if status.Code(err) != codes.InvalidArgument {
				t.Fatalf("got %v, want INVALID_ARGUMENT", err)
			}
		})
	}
	// The same connection still serves well-formed requests.
	if _, err := e.services.GetFolder(c, &adminv1.GetFolderRequest{Name: "folders/Maps"}); err != nil {
		t.Fatal(err)
	}

	// REST: invalid UTF-8 in a JSON string is refused before any call.
	req, err := http.NewRequest(http.MethodPatch, e.rest+"/v1/folders/Maps?updateMask=description",
		strings.NewReader("{\"description\":\"a\xff\xfe\"}"))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := e.hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), `"code":3`) {
		t.Fatalf("REST invalid UTF-8: HTTP %d %s", resp.StatusCode, body)
	}
}
