package server

import (
	"context"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	adminv1 "github.com/arcgate/arcgate/gen/go/arcgate/admin/v1"
	"github.com/arcgate/arcgate/simulator"
	"github.com/arcgate/arcgate/upstream"
)

// usageEnv is a usageReportsServer calling a simulator over loopback HTTP,
// with a settable clock for the version cache.
type usageEnv struct {
	srv *usageReportsServer
	sim *simulator.Server

	mu  sync.Mutex
	now time.Time
}

func newUsageEnv(t *testing.T, version float64) *usageEnv {
	t.Helper()
	sim := simulator.New(simulator.Config{Version: version})
	ts := httptest.NewServer(sim)
	t.Cleanup(ts.Close)
	up, err := upstream.New(ts.URL+"/arcgis", upstream.WithHTTPClient(ts.Client()),
		upstream.WithCredentials(simulator.DefaultUsername, simulator.DefaultPassword))
	if err != nil {
		t.Fatal(err)
	}
	e := &usageEnv{srv: newUsageReportsServer(up), sim: sim, now: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	e.srv.now = func() time.Time { e.mu.Lock(); defer e.mu.Unlock(); return e.now }
	return e
}

func (e *usageEnv) advance(d time.Duration) { e.mu.Lock(); e.now = e.now.Add(d); e.mu.Unlock() }

// siteRootRequests counts requests of the admin root (the version probe)
// and of usagereports since the last reset.
func (e *usageEnv) requests() (root, usage int) {
	for _, r := range e.sim.Requests() {
		switch {
		case r.Path == e.sim.AdminPath():
			root++
		case strings.HasPrefix(r.Path, e.sim.AdminPath()+"usagereports"):
			usage++
		}
	}
	return root, usage
}

func usageTS(t time.Time) *timestamppb.Timestamp { return timestamppb.New(t) }

func combinedRequest(id string) *adminv1.CreateUsageReportRequest {
	return &adminv1.CreateUsageReportRequest{UsageReportId: id, UsageReport: &adminv1.UsageReport{
		Since: adminv1.UsageReportPeriod_USAGE_REPORT_PERIOD_LAST_DAY,
		Queries: []*adminv1.UsageReportQuery{{ResourceUris: []string{"services/"}, Metrics: []adminv1.UsageMetric{
			adminv1.UsageMetric_USAGE_METRIC_SERVICE_RUNNING_INSTANCES_MAX, adminv1.UsageMetric_USAGE_METRIC_REQUEST_COUNT}}},
	}}
}

// TestRunningInstancesMaxBefore111 checks the version rule: refused before
// 11.1 without a doomed add, the version read once per TTL.
func TestRunningInstancesMaxBefore111(t *testing.T) {
	ctx := context.Background()
	e := newUsageEnv(t, 10.91)
	e.sim.ResetRequests()
	for i := range 3 {
		_, err := e.srv.CreateUsageReport(ctx, combinedRequest("combo"))
		st, _ := status.FromError(err)
		if st.Code() != codes.FailedPrecondition {
			t.Fatalf("call %d: %v, want FAILED_PRECONDITION", i, err)
		}
		var info *errdetails.ErrorInfo
		for _, d := range st.Details() {
			if ei, ok := d.(*errdetails.ErrorInfo); ok {
				info = ei
			}
		}
		if info.GetReason() != ReasonMetricNotCombinable || info.GetMetadata()["upstreamVersion"] != "10.91" || info.GetMetadata()["field"] != "usage_report.queries" {
			t.Fatalf("ErrorInfo %v", info)
		}
	}
	if root, usage := e.requests(); root != 1 || usage != 0 {
		t.Fatalf("%d version probes and %d usage report requests, want 1 and 0", root, usage)
	}
	e.advance(versionTTL + time.Second)
	_, _ = e.srv.CreateUsageReport(ctx, combinedRequest("combo"))
	if root, _ := e.requests(); root != 2 {
		t.Fatalf("after the TTL: %d version probes, want 2", root)
	}
	// Alone, the metric is fine on any version; no probe is needed.
	e.sim.ResetRequests()
	req := combinedRequest("alone")
	req.GetUsageReport().GetQueries()[0].Metrics = req.GetUsageReport().GetQueries()[0].GetMetrics()[:1]
	if _, err := e.srv.CreateUsageReport(ctx, req); err != nil {
		t.Fatal(err)
	}
	if root, _ := e.requests(); root != 0 {
		t.Fatalf("%d version probes for a report that needs none", root)
	}
}

func TestRunningInstancesMaxFrom111(t *testing.T) {
	for _, v := range []float64{11.1, 11.3} {
		e := newUsageEnv(t, v)
		r, err := e.srv.CreateUsageReport(context.Background(), combinedRequest("combo"))
		if err != nil {
			t.Fatalf("version %v: %v", v, err)
		}
		if got := r.GetQueries()[0].GetMetricNames(); strings.Join(got, ",") != "ServiceRunningInstancesMax,RequestCount" {
			t.Fatalf("version %v: metrics %v", v, got)
		}
	}
}

// TestUpdateUsageReportValidatesFirst checks that an update whose own
// fields are invalid is refused before the definition is even read.
func TestUpdateUsageReportValidatesFirst(t *testing.T) {
	e := newUsageEnv(t, 0)
	from := time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name  string
		ur    *adminv1.UsageReport
		mask  []string
		field string
	}{
		{"no mask", &adminv1.UsageReport{Name: "usageReports/1394223588659"}, nil, "update_mask"},
		{"unknown path", &adminv1.UsageReport{Name: "usageReports/1394223588659"}, []string{"usage_report_id"}, "update_mask"},
		{"bad name", &adminv1.UsageReport{Name: "usageReports/a/b"}, []string{"since"}, "usage_report.name"},
		{"bad uri", &adminv1.UsageReport{Name: "usageReports/1394223588659", Queries: []*adminv1.UsageReportQuery{{ResourceUris: []string{"services/x"},
			MetricNames: []string{"RequestCount"}}}}, []string{"queries"}, "usage_report.queries[0].resource_uris[0]"},
		{"reversed range", &adminv1.UsageReport{Name: "usageReports/1394223588659", Since: adminv1.UsageReportPeriod_USAGE_REPORT_PERIOD_CUSTOM,
			FromTime: usageTS(from.Add(time.Hour)), ToTime: usageTS(from)}, []string{"since", "fromTime", "toTime"}, "usage_report.to_time"},
		{"reversed range without since", &adminv1.UsageReport{Name: "usageReports/1394223588659",
			FromTime: usageTS(from.Add(time.Hour)), ToTime: usageTS(from)}, []string{"from_time,to_time"}, "usage_report.to_time"},
		{"range on a fixed period", &adminv1.UsageReport{Name: "usageReports/1394223588659", Since: adminv1.UsageReportPeriod_USAGE_REPORT_PERIOD_LAST_WEEK,
			FromTime: usageTS(from)}, []string{"since", "from_time"}, "usage_report.from_time"},
	}
	e.sim.ResetRequests()
	for _, tt := range tests {
		_, err := e.srv.UpdateUsageReport(context.Background(), &adminv1.UpdateUsageReportRequest{UsageReport: tt.ur, UpdateMask: &fieldmaskpb.FieldMask{Paths: tt.mask}})
		if st, _ := status.FromError(err); st.Code() != codes.InvalidArgument || !strings.HasPrefix(st.Message(), tt.field+": ") {
			t.Errorf("%s: %v, want INVALID_ARGUMENT on %s", tt.name, err, tt.field)
		}
	}
	if n := e.sim.RequestCount(); n != 0 {
		t.Fatalf("%d upstream requests for invalid updates: %v", n, e.sim.Requests())
	}
}
