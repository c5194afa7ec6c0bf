package e2e

import (
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	adminv1 "github.com/arcgate/arcgate/gen/go/arcgate/admin/v1"
	"github.com/arcgate/arcgate/simulator"
)

// The simulator's seeded reports (simulator/usagereports.go).
const (
	seedMonthly = "usageReports/1394223588659" // numeric reportname, object metadata, LAST_MONTH
	seedDaily   = "usageReports/1fa828eb31664485ae5c25c76c86e28d"
)

var hex32 = regexp.MustCompile(`^usageReports/[0-9a-f]{32}$`)

func TestUsageReportsGRPC(t *testing.T) {
	e := start(t, simulator.Config{})
	c := ctx(t)
	ur := adminv1.NewUsageReportsServiceClient(e.conn)

	// List, in pages of one: both seeds, each once, in name order.
	var names []string
	token := ""
	for range 5 {
		resp, err := ur.ListUsageReports(c, &adminv1.ListUsageReportsRequest{PageSize: 1, PageToken: token})
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range resp.GetUsageReports() {
			names = append(names, r.GetName())
		}
		if token = resp.GetNextPageToken(); token == "" {
			break
		}
	}
	if strings.Join(names, " ") != seedMonthly+" "+seedDaily {
		t.Fatalf("listed %v", names)
	}

	// The numeric name is a name; object metadata is a struct.
	g, err := ur.GetUsageReport(c, &adminv1.GetUsageReportRequest{Name: seedMonthly})
	if err != nil {
		t.Fatal(err)
	}
	m := g
	if m.GetUsageReportId() != "1394223588659" || m.GetSince() != adminv1.UsageReportPeriod_USAGE_REPORT_PERIOD_LAST_MONTH ||
		m.GetMetadata().GetStructValue().GetFields()["title"].GetStringValue() != "Request Count Report" ||
		len(m.GetQueries()) != 1 || m.GetQueries()[0].GetMetrics()[0] != adminv1.UsageMetric_USAGE_METRIC_REQUEST_COUNT {
		t.Fatalf("GetUsageReport = %v", m)
	}
	_, err = ur.GetUsageReport(c, &adminv1.GetUsageReportRequest{Name: "usageReports/nope"})
	if info := wantCode(t, err, codes.NotFound); info.GetMetadata()["upstreamCode"] != "404" {
		t.Fatalf("ErrorInfo %v", info)
	}

	// Create with a generated id, and with a chosen one.
	def := &adminv1.UsageReport{
		Since:               adminv1.UsageReportPeriod_USAGE_REPORT_PERIOD_LAST_WEEK,
		AggregationInterval: durationpb.New(8 * time.Hour),
		Queries: []*adminv1.UsageReportQuery{{ResourceUris: []string{"services/", "services/Maps/Roads.MapServer"},
			Metrics: []adminv1.UsageMetric{adminv1.UsageMetric_USAGE_METRIC_REQUEST_COUNT, adminv1.UsageMetric_USAGE_METRIC_REQUEST_AVG_RESPONSE_TIME}}},
		Metadata: structpb.NewStringValue("weekly"),
	}
	cr, err := ur.CreateUsageReport(c, &adminv1.CreateUsageReportRequest{UsageReport: def})
	if err != nil {
		t.Fatal(err)
	}
	if r := cr; !hex32.MatchString(r.GetName()) || r.GetAggregationInterval().AsDuration() != 8*time.Hour ||
		r.GetMetadata().GetStringValue() != "weekly" || strings.Join(r.GetQueries()[0].GetMetricNames(), ",") != "RequestCount,RequestAvgResponseTime" {
		t.Fatalf("created %v", r)
	}
	if _, err := ur.CreateUsageReport(c, &adminv1.CreateUsageReportRequest{UsageReportId: "weekly-roads", UsageReport: def}); err != nil {
		t.Fatal(err)
	}
	_, err = ur.CreateUsageReport(c, &adminv1.CreateUsageReportRequest{UsageReportId: "weekly-roads", UsageReport: def})
	if info := wantCode(t, err, codes.AlreadyExists); info.GetReason() != "ALREADY_EXISTS" {
		t.Fatalf("ErrorInfo %v", info)
	}

	// Update: a CUSTOM range and new metadata; the queries and an upstream
	// key this API does not model are kept (read-modify-write).
	addUpstreamKey(t, e, "weekly-roads")
	from, to := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC)
	up, err := ur.UpdateUsageReport(c, &adminv1.UpdateUsageReportRequest{
		UsageReport: &adminv1.UsageReport{Name: "usageReports/weekly-roads", Since: adminv1.UsageReportPeriod_USAGE_REPORT_PERIOD_CUSTOM,
			FromTime: timestamppb.New(from), ToTime: timestamppb.New(to), Metadata: mustValue(t, map[string]any{"title": "Roads"})},
		UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"since", "from_time", "to_time", "metadata"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if r := up; r.GetSince() != adminv1.UsageReportPeriod_USAGE_REPORT_PERIOD_CUSTOM || !r.GetFromTime().AsTime().Equal(from) ||
		!r.GetToTime().AsTime().Equal(to) || len(r.GetQueries()) != 1 || r.GetAggregationInterval().AsDuration() != 8*time.Hour ||
		r.GetMetadata().GetStructValue().GetFields()["title"].GetStringValue() != "Roads" {
		t.Fatalf("updated %v", r)
	}
	raw := httpGetJSON(t, e, e.app.UpstreamURL+"/admin/usagereports/weekly-roads")
	if raw["kept"] != "yes" || raw["from"] != float64(from.UnixMilli()) {
		t.Fatalf("upstream definition after the update: %v", raw)
	}
	// Back to a fixed period: from and to go.
	up, err = ur.UpdateUsageReport(c, &adminv1.UpdateUsageReportRequest{
		UsageReport: &adminv1.UsageReport{Name: "usageReports/weekly-roads", Since: adminv1.UsageReportPeriod_USAGE_REPORT_PERIOD_LAST_DAY},
		UpdateMask:  &fieldmaskpb.FieldMask{Paths: []string{"since"}},
	})
	if err != nil || up.GetFromTime() != nil {
		t.Fatalf("update to LAST_DAY: %v, %v", up, err)
	}
	_, err = ur.UpdateUsageReport(c, &adminv1.UpdateUsageReportRequest{
		UsageReport: &adminv1.UsageReport{Name: "usageReports/gone", Since: adminv1.UsageReportPeriod_USAGE_REPORT_PERIOD_LAST_DAY},
		UpdateMask:  &fieldmaskpb.FieldMask{Paths: []string{"since"}},
	})
	wantCode(t, err, codes.NotFound)

	// Data: one time stamp per slice, series per resource and metric, "no
	// data" distinct from 0.
	d, err := ur.QueryUsageReportData(c, &adminv1.QueryUsageReportDataRequest{Name: seedDaily})
	if err != nil {
		t.Fatal(err)
	}
	if len(d.GetSliceEndTimes()) != 48 || len(d.GetSeries()) != 6 || d.GetName() != seedDaily {
		t.Fatalf("data: %d slices, %d series", len(d.GetSliceEndTimes()), len(d.GetSeries()))
	}
	if step := d.GetSliceEndTimes()[1].AsTime().Sub(d.GetSliceEndTimes()[0].AsTime()); step != 30*time.Minute {
		t.Fatalf("slices %v apart", step)
	}
	var noData, zero, values int
	for _, s := range d.GetSeries() {
		if len(s.GetPoints()) != 48 || s.GetMetric() == adminv1.UsageMetric_USAGE_METRIC_UNSPECIFIED || s.GetQueryIndex() != 0 {
			t.Fatalf("series %v", s)
		}
		for _, p := range s.GetPoints() {
			switch {
			case p.Value == nil:
				noData++
			case p.GetValue() == 0:
				zero++
			default:
				values++
			}
		}
	}
	if noData == 0 || zero == 0 || values == 0 {
		t.Fatalf("points: %d without data, %d zero, %d values", noData, zero, values)
	}
	// Metadata the data operation sends as a string holding JSON is decoded.
	md, err := ur.QueryUsageReportData(c, &adminv1.QueryUsageReportDataRequest{Name: seedMonthly})
	if err != nil || md.GetMetadata().GetStructValue().GetFields()["title"].GetStringValue() != "Request Count Report" {
		t.Fatalf("monthly data metadata: %v, %v", md.GetMetadata(), err)
	}
	// A machine the site does not have has no data at all.
	other, err := ur.QueryUsageReportData(c, &adminv1.QueryUsageReportDataRequest{Name: seedDaily, Machines: []string{"WIN-85VQ4T2LR5N"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range other.GetSeries() {
		for _, p := range s.GetPoints() {
			if p.Value != nil {
				t.Fatalf("data for another machine: %v", s)
			}
		}
	}
	if _, err := ur.QueryUsageReportData(c, &adminv1.QueryUsageReportDataRequest{Name: seedDaily, Machines: []string{"MACHINE.DOMAIN.COM"}}); err != nil {
		t.Fatal(err)
	}

	// Settings.
	st, err := ur.GetUsageStatisticsSettings(c, &adminv1.GetUsageStatisticsSettingsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if s := st; !s.GetEnabled() || s.GetSamplingInterval().AsDuration() != 30*time.Minute || s.GetMaxHistory().AsDuration() != 0 ||
		s.GetStatisticsDir() == "" || s.GetName() != "usageStatisticsSettings" {
		t.Fatalf("settings %v", s)
	}
	us, err := ur.UpdateUsageStatisticsSettings(c, &adminv1.UpdateUsageStatisticsSettingsRequest{
		UsageStatisticsSettings: &adminv1.UsageStatisticsSettings{MaxHistory: durationpb.New(90 * 24 * time.Hour), SamplingInterval: durationpb.New(time.Minute)},
		UpdateMask:              &fieldmaskpb.FieldMask{Paths: []string{"max_history"}},
	})
	if s := us; err != nil || s.GetMaxHistory().AsDuration() != 90*24*time.Hour || s.GetSamplingInterval().AsDuration() != 30*time.Minute || !s.GetEnabled() {
		t.Fatalf("updated settings %v, %v", s, err)
	}

	// Delete.
	for _, n := range []string{"usageReports/weekly-roads", cr.GetName()} {
		if _, err := ur.DeleteUsageReport(c, &adminv1.DeleteUsageReportRequest{Name: n}); err != nil {
			t.Fatal(err)
		}
	}
	_, err = ur.DeleteUsageReport(c, &adminv1.DeleteUsageReportRequest{Name: "usageReports/weekly-roads"})
	wantCode(t, err, codes.NotFound)
}

func mustValue(t *testing.T, v any) *structpb.Value {
	t.Helper()
	pv, err := structpb.NewValue(v)
	if err != nil {
		t.Fatal(err)
	}
	return pv
}

// addUpstreamKey edits a report straight on the simulator, adding a key
// arcgate does not model.
func addUpstreamKey(t *testing.T, e *env, name string) {
	t.Helper()
	def := httpGetJSON(t, e, e.app.UpstreamURL+"/admin/usagereports/"+name)
	def["kept"] = "yes"
	b, err := json.Marshal(def)
	if err != nil {
		t.Fatal(err)
	}
	form := url.Values{"f": {"json"}, "token": {e.sim.IssueToken(time.Hour)}, "usagereport": {string(b)}}
	resp, err := e.hc.PostForm(e.app.UpstreamURL+"/admin/usagereports/"+name+"/edit", form)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if got := httpGetJSON(t, e, e.app.UpstreamURL+"/admin/usagereports/"+name); got["kept"] != "yes" {
		t.Fatalf("simulator edit failed: %v", got)
	}
}

func TestUsageReportsREST(t *testing.T) {
	e := start(t, simulator.Config{})

	r := e.do(t, http.MethodGet, "/v1/usageReports", nil)
	if r.Status != 200 || len(r.Body["usageReports"].([]any)) != 2 || !strings.Contains(r.Raw, `"name":"`+seedMonthly+`"`) {
		t.Fatalf("GET /v1/usageReports: %d %s", r.Status, r.Raw)
	}
	r = e.do(t, http.MethodGet, "/v1/usageReports?pageSize=1", nil)
	if r.Status != 200 || len(r.Body["usageReports"].([]any)) != 1 || r.Body["nextPageToken"] == "" {
		t.Fatalf("GET paged: %d %s", r.Status, r.Raw)
	}
	r = e.do(t, http.MethodGet, "/v1/"+seedMonthly, nil)
	if rep := r.Body; r.Status != 200 || rep["since"] != "USAGE_REPORT_PERIOD_LAST_MONTH" || rep["usageReportId"] != "1394223588659" {
		t.Fatalf("GET report: %d %s", r.Status, r.Raw)
	}
	r = e.do(t, http.MethodGet, "/v1/usageReports/nope", nil)
	if reason, md := restError(t, r, 404, codes.NotFound); reason != "NOT_FOUND" || md["upstreamCode"] != "404" {
		t.Fatalf("reason %s %v", reason, md)
	}

	body := map[string]any{
		"since":    "USAGE_REPORT_PERIOD_CUSTOM",
		"fromTime": "2026-01-01T00:00:00Z", "toTime": "2026-01-01T12:00:00Z",
		"aggregationInterval": "3600s",
		"queries":             []any{map[string]any{"resourceUris": []any{"services/Maps/"}, "metricNames": []any{"RequestCount", "RequestsFailed"}}},
		"metadata":            map[string]any{"title": "REST", "managerReport": true},
	}
	r = e.do(t, http.MethodPost, "/v1/usageReports?usageReportId=rest_1", body)
	if rep := r.Body; r.Status != 200 || rep["name"] != "usageReports/rest_1" || rep["fromTime"] != "2026-01-01T00:00:00Z" ||
		rep["aggregationInterval"] != "3600s" || rep["metadata"].(map[string]any)["managerReport"] != true {
		t.Fatalf("POST: %d %s", r.Status, r.Raw)
	}
	r = e.do(t, http.MethodPost, "/v1/usageReports", body)
	if rep := r.Body; r.Status != 200 || !hex32.MatchString(rep["name"].(string)) {
		t.Fatalf("POST with a generated id: %d %s", r.Status, r.Raw)
	}
	generated := r.Body["name"].(string)
	r = e.do(t, http.MethodPost, "/v1/usageReports?usageReportId=rest_1", body)
	if reason, _ := restError(t, r, 409, codes.AlreadyExists); reason != "ALREADY_EXISTS" {
		t.Fatalf("reason %s", reason)
	}

	// PATCH without updateMask: the mask comes from the body (metadata's keys
	// included).
	r = e.do(t, http.MethodPatch, "/v1/usageReports/rest_1", map[string]any{"metadata": map[string]any{"title": "patched", "styles": map[string]any{"services/": map[string]any{"color": "#D900D9"}}}})
	if rep := r.Body; r.Status != 200 || rep["metadata"].(map[string]any)["title"] != "patched" || rep["since"] != "USAGE_REPORT_PERIOD_CUSTOM" {
		t.Fatalf("PATCH metadata: %d %s", r.Status, r.Raw)
	}
	r = e.do(t, http.MethodPatch, "/v1/usageReports/rest_1?updateMask=since,aggregationInterval", map[string]any{"since": "USAGE_REPORT_PERIOD_LAST_YEAR", "fromTime": "2026-01-01T00:00:00Z"})
	if rep := r.Body; r.Status != 200 || rep["since"] != "USAGE_REPORT_PERIOD_LAST_YEAR" || rep["fromTime"] != nil || rep["aggregationInterval"] != nil {
		t.Fatalf("PATCH since: %d %s", r.Status, r.Raw)
	}

	r = e.do(t, http.MethodGet, "/v1/usageReports/rest_1/data?machines=MACHINE.DOMAIN.COM", nil)
	if r.Status != 200 || len(r.Body["sliceEndTimes"].([]any)) != 52 || len(r.Body["series"].([]any)) != 2 {
		t.Fatalf("GET data: %d %.400s", r.Status, r.Raw)
	}
	series := r.Body["series"].([]any)[0].(map[string]any)
	if series["metric"] != "USAGE_METRIC_REQUEST_COUNT" || series["resourceUri"] != "services/Maps/" || len(series["points"].([]any)) != 52 {
		t.Fatalf("series %v", series)
	}
	var withValue, without int
	for _, p := range series["points"].([]any) {
		if _, has := p.(map[string]any)["value"]; has {
			withValue++
		} else {
			without++
		}
	}
	if withValue == 0 || without == 0 {
		t.Fatalf("REST points: %d with a value, %d without", withValue, without)
	}

	r = e.do(t, http.MethodGet, "/v1/usageStatisticsSettings", nil)
	if s := r.Body; r.Status != 200 || s["samplingInterval"] != "1800s" || s["enabled"] != true {
		t.Fatalf("GET settings: %d %s", r.Status, r.Raw)
	}
	r = e.do(t, http.MethodPatch, "/v1/usageStatisticsSettings", map[string]any{"enabled": false, "samplingInterval": "900s"})
	if s := r.Body; r.Status != 200 || s["samplingInterval"] != "900s" || s["enabled"] != nil || s["maxHistory"] != "0s" { // enabled false: omitted
		t.Fatalf("PATCH settings: %d %s", r.Status, r.Raw)
	}

	for _, path := range []string{"/v1/usageReports/rest_1", "/v1/" + generated} {
		if r = e.do(t, http.MethodDelete, path, nil); r.Status != 200 {
			t.Fatalf("DELETE %s: %d %s", path, r.Status, r.Raw)
		}
		restError(t, e.do(t, http.MethodGet, path, nil), 404, codes.NotFound)
	}
}

// TestUsageReportsInvalidNeverReachUpstream sends each invalid request over
// gRPC and REST: INVALID_ARGUMENT naming the field, and no upstream request.
func TestUsageReportsInvalidNeverReachUpstream(t *testing.T) {
	e := start(t, simulator.Config{})
	c := ctx(t)
	ur := adminv1.NewUsageReportsServiceClient(e.conn)
	ts := func(s string) *timestamppb.Timestamp {
		at, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return timestamppb.New(at)
	}
	valid := func() *adminv1.UsageReport {
		return &adminv1.UsageReport{Since: adminv1.UsageReportPeriod_USAGE_REPORT_PERIOD_LAST_DAY,
			Queries: []*adminv1.UsageReportQuery{{ResourceUris: []string{"services/"}, Metrics: []adminv1.UsageMetric{adminv1.UsageMetric_USAGE_METRIC_REQUEST_COUNT}}}}
	}
	with := func(edit func(r *adminv1.UsageReport)) *adminv1.UsageReport { r := valid(); edit(r); return r }
	create := func(id string, r *adminv1.UsageReport) func() error {
		return func() error {
			_, err := ur.CreateUsageReport(c, &adminv1.CreateUsageReportRequest{UsageReportId: id, UsageReport: r})
			return err
		}
	}
	grpcCases := []struct {
		name, field string
		call        func() error
	}{
		{"custom from after to", "usage_report.to_time", create("x", with(func(r *adminv1.UsageReport) {
			r.Since = adminv1.UsageReportPeriod_USAGE_REPORT_PERIOD_CUSTOM
			r.FromTime, r.ToTime = ts("2026-01-02T00:00:00Z"), ts("2026-01-01T00:00:00Z")
		}))},
		{"custom without to", "usage_report.to_time", create("x", with(func(r *adminv1.UsageReport) {
			r.Since = adminv1.UsageReportPeriod_USAGE_REPORT_PERIOD_CUSTOM
			r.FromTime = ts("2026-01-02T00:00:00Z")
		}))},
		{"no since", "usage_report.since", create("x", with(func(r *adminv1.UsageReport) { r.Since = 0 }))},
		{"uri outside the grammar", "usage_report.queries[0].resource_uris[0]", create("x", with(func(r *adminv1.UsageReport) {
			r.Queries[0].ResourceUris = []string{"services/Maps"}
		}))},
		{"uri with an unknown type", "usage_report.queries[0].resource_uris[1]", create("x", with(func(r *adminv1.UsageReport) {
			r.Queries[0].ResourceUris = []string{"services/", "services/Maps/Roads.NoServer"}
		}))},
		{"uri escaping", "usage_report.queries[0].resource_uris[0]", create("x", with(func(r *adminv1.UsageReport) {
			r.Queries[0].ResourceUris = []string{"services/../security/"}
		}))},
		{"fractional interval", "usage_report.aggregation_interval", create("x", with(func(r *adminv1.UsageReport) {
			r.AggregationInterval = durationpb.New(90 * time.Second)
		}))},
		{"no metrics", "usage_report.queries[0].metrics", create("x", with(func(r *adminv1.UsageReport) { r.Queries[0].Metrics = nil }))},
		{"reserved id", "usage_report_id", create("settings", valid())},
		{"id with a slash", "usage_report_id", create("a/b", valid())},
		{"no definition", "usage_report", create("x", nil)},
		{"get bad name", "name", func() error {
			_, err := ur.GetUsageReport(c, &adminv1.GetUsageReportRequest{Name: "usageReports/../x"})
			return err
		}},
		{"delete bad name", "name", func() error {
			_, err := ur.DeleteUsageReport(c, &adminv1.DeleteUsageReportRequest{Name: "folders/x"})
			return err
		}},
		{"data bad machine", "machines[1]", func() error {
			_, err := ur.QueryUsageReportData(c, &adminv1.QueryUsageReportDataRequest{Name: seedDaily, Machines: []string{"A", `B","machines":"*`}})
			return err
		}},
		{"update without mask", "update_mask", func() error {
			_, err := ur.UpdateUsageReport(c, &adminv1.UpdateUsageReportRequest{UsageReport: &adminv1.UsageReport{Name: seedDaily}})
			return err
		}},
		{"update bad uri", "usage_report.queries[0].resource_uris[0]", func() error {
			_, err := ur.UpdateUsageReport(c, &adminv1.UpdateUsageReportRequest{
				UsageReport: with(func(r *adminv1.UsageReport) { r.Name = seedDaily; r.Queries[0].ResourceUris = []string{"service/"} }),
				UpdateMask:  &fieldmaskpb.FieldMask{Paths: []string{"queries"}}})
			return err
		}},
		{"update reversed range", "usage_report.to_time", func() error {
			_, err := ur.UpdateUsageReport(c, &adminv1.UpdateUsageReportRequest{
				UsageReport: &adminv1.UsageReport{Name: seedDaily, Since: adminv1.UsageReportPeriod_USAGE_REPORT_PERIOD_CUSTOM,
					FromTime: ts("2026-01-02T00:00:00Z"), ToTime: ts("2026-01-01T00:00:00Z")},
				UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"since", "from_time", "to_time"}}})
			return err
		}},
		{"settings zero sampling", "usage_statistics_settings.sampling_interval", func() error {
			_, err := ur.UpdateUsageStatisticsSettings(c, &adminv1.UpdateUsageStatisticsSettingsRequest{
				UsageStatisticsSettings: &adminv1.UsageStatisticsSettings{}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"sampling_interval"}}})
			return err
		}},
		{"settings fractional history", "usage_statistics_settings.max_history", func() error {
			_, err := ur.UpdateUsageStatisticsSettings(c, &adminv1.UpdateUsageStatisticsSettingsRequest{
				UsageStatisticsSettings: &adminv1.UsageStatisticsSettings{MaxHistory: durationpb.New(time.Hour)}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"max_history"}}})
			return err
		}},
		{"settings bad name", "name", func() error {
			_, err := ur.GetUsageStatisticsSettings(c, &adminv1.GetUsageStatisticsSettingsRequest{Name: "settings"})
			return err
		}},
		{"bad page size", "page_size", func() error {
			_, err := ur.ListUsageReports(c, &adminv1.ListUsageReportsRequest{PageSize: -1})
			return err
		}},
	}
	e.sim.ResetRequests()
	for _, tc := range grpcCases {
		err := tc.call()
		info := wantCode(t, err, codes.InvalidArgument)
		if info.GetMetadata()["field"] != tc.field {
			t.Errorf("%s: field %q, want %q (%v)", tc.name, info.GetMetadata()["field"], tc.field, err)
		}
	}

	restCases := []struct {
		name, method, path string
		body               any
		field              string
	}{
		{"custom from after to", http.MethodPost, "/v1/usageReports?usageReportId=x", map[string]any{
			"since": "USAGE_REPORT_PERIOD_CUSTOM", "fromTime": "2026-01-02T00:00:00Z", "toTime": "2026-01-01T00:00:00Z",
			"queries": []any{map[string]any{"resourceUris": []any{"services/"}, "metrics": []any{"USAGE_METRIC_REQUEST_COUNT"}}}}, "usage_report.to_time"},
		{"bad uri", http.MethodPost, "/v1/usageReports", map[string]any{"since": "USAGE_REPORT_PERIOD_LAST_DAY",
			"queries": []any{map[string]any{"resourceUris": []any{"services/a/b/c.MapServer"}, "metrics": []any{"USAGE_METRIC_REQUEST_COUNT"}}}},
			"usage_report.queries[0].resource_uris[0]"},
		{"reserved id", http.MethodPost, "/v1/usageReports?usageReportId=add", map[string]any{}, "usage_report_id"},
		{"get reserved", http.MethodGet, "/v1/usageReports/settings", nil, "name"},
		{"data bad machine", http.MethodGet, "/v1/" + seedDaily + "/data?machines=" + url.QueryEscape("a b"), nil, "machines[0]"},
		{"patch bad uri", http.MethodPatch, "/v1/" + seedDaily, map[string]any{"queries": []any{map[string]any{"resourceUris": []any{"x"}, "metricNames": []any{"RequestCount"}}}},
			"usage_report.queries[0].resource_uris[0]"},
		{"patch unknown mask", http.MethodPatch, "/v1/" + seedDaily + "?updateMask=name", map[string]any{}, "update_mask"},
		{"settings negative history", http.MethodPatch, "/v1/usageStatisticsSettings", map[string]any{"maxHistory": "-86400s"}, "usage_statistics_settings.max_history"},
	}
	for _, tc := range restCases {
		r := e.do(t, tc.method, tc.path, tc.body)
		reason, md := restError(t, r, 400, codes.InvalidArgument)
		if reason != "INVALID_ARGUMENT" || md["field"] != tc.field {
			t.Errorf("REST %s: reason %s field %v, want %s: %s", tc.name, reason, md["field"], tc.field, r.Raw)
		}
	}
	if n := e.sim.RequestCount(); n != 0 {
		t.Fatalf("%d requests reached the upstream for invalid requests: %v", n, e.sim.Requests())
	}
}

// TestUsageReportsRunningInstancesMaxVersion checks the 11.1 rule end to
// end: before 11.1 the combination is FAILED_PRECONDITION and the only
// upstream request is the version probe (none once it is cached); from 11.1
// on it is created.
func TestUsageReportsRunningInstancesMaxVersion(t *testing.T) {
	combo := map[string]any{"since": "USAGE_REPORT_PERIOD_LAST_DAY", "queries": []any{
		map[string]any{"resourceUris": []any{"services/"}, "metrics": []any{"USAGE_METRIC_SERVICE_RUNNING_INSTANCES_MAX"}},
		map[string]any{"resourceUris": []any{"services/"}, "metrics": []any{"USAGE_METRIC_REQUEST_COUNT"}},
	}}
	old := start(t, simulator.Config{Version: 10.91})
	c := ctx(t)
	ur := adminv1.NewUsageReportsServiceClient(old.conn)
	def := &adminv1.UsageReport{Since: adminv1.UsageReportPeriod_USAGE_REPORT_PERIOD_LAST_DAY, Queries: []*adminv1.UsageReportQuery{{
		ResourceUris: []string{"services/Maps/"},
		Metrics:      []adminv1.UsageMetric{adminv1.UsageMetric_USAGE_METRIC_SERVICE_RUNNING_INSTANCES_MAX, adminv1.UsageMetric_USAGE_METRIC_REQUESTS_FAILED},
	}}}
	old.sim.ResetRequests()
	_, err := ur.CreateUsageReport(c, &adminv1.CreateUsageReportRequest{UsageReportId: "combo", UsageReport: def})
	info := wantCode(t, err, codes.FailedPrecondition)
	if info.GetReason() != "METRIC_NOT_COMBINABLE" || info.GetMetadata()["upstreamVersion"] != "10.91" || info.GetMetadata()["minimumVersion"] != "11.1" {
		t.Fatalf("ErrorInfo %v", info)
	}
	for _, r := range old.sim.Requests() {
		if r.Path != old.sim.AdminPath() && !strings.HasSuffix(r.Path, "/generateToken") {
			t.Fatalf("request %s %s was sent for a refused report", r.Method, r.Path)
		}
	}
	old.sim.ResetRequests()
	r := old.do(t, http.MethodPost, "/v1/usageReports?usageReportId=combo", combo)
	if reason, md := restError(t, r, 400, codes.FailedPrecondition); reason != "METRIC_NOT_COMBINABLE" || md["field"] != "usage_report.queries" {
		t.Fatalf("REST: reason %s %v", reason, md)
	}
	if n := old.sim.RequestCount(); n != 0 {
		t.Fatalf("%d upstream requests with the version cached: %v", n, old.sim.Requests())
	}
	// The metric on its own is fine on any version.
	def.Queries[0].Metrics = def.Queries[0].Metrics[:1]
	if _, err := ur.CreateUsageReport(c, &adminv1.CreateUsageReportRequest{UsageReportId: "alone", UsageReport: def}); err != nil {
		t.Fatal(err)
	}

	cur := start(t, simulator.Config{Version: 11.1})
	r = cur.do(t, http.MethodPost, "/v1/usageReports?usageReportId=combo", combo)
	if r.Status != 200 || !strings.Contains(r.Raw, `"metricNames":["ServiceRunningInstancesMax"]`) {
		t.Fatalf("11.1: %d %s", r.Status, r.Raw)
	}
	// Updating the queries of an existing report into the combination is
	// checked the same way.
	r = old.do(t, http.MethodPatch, "/v1/usageReports/alone?updateMask=queries", combo)
	if reason, _ := restError(t, r, 400, codes.FailedPrecondition); reason != "METRIC_NOT_COMBINABLE" {
		t.Fatalf("PATCH: reason %s", reason)
	}
}
