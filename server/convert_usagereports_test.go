package server

import (
	"encoding/json"
	"math"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/testing/protocmp"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	adminv1 "github.com/arcgate/arcgate/gen/go/arcgate/admin/v1"
	"github.com/arcgate/arcgate/upstream"
)

// pyapiUsageData is the PYAPI quick_report docstring's data payload
// (docs/upstream.md#recorded-payloads) with its "..." elements dropped.
const pyapiUsageData = `{"report": {"reportname": "1fa828eb31664485ae5c25c76c86e28d",
            "metadata": "{\"temp\":true,\"title\":\"1fa828eb31664485ae5c25c76c86e28d\",\"managerReport\":false}",
            "time-slices": [1598914800000, 1599001200000, 1599087600000, 1601420400000],
            "report-data": [[
              {"resourceURI": "services/Forests/Forests_degraded_2000.MapServer", "metric-type": "RequestCount", "data": [null, 17, 928, 20]},
              {"resourceURI": "services/Forests/Forests_degraded_2000.MapServer", "metric-type": "RequestsFailed", "data": [null, 225, null, 0]},
              {"resourceURI": "services/Lakes/Lakes_drought_levels.MapServer", "metric-type": "RequestCount", "data": [0, 0, 7, 71]},
              {"resourceURI": "services/Lakes/Lakes_drought_levels.MapServer", "metric-type": "RequestsFailed", "data": [null, null, 1, 0]}
            ]]}}`

// points builds data points; nil is "no data".
func points(vs ...*float64) []*adminv1.UsageDataPoint {
	out := make([]*adminv1.UsageDataPoint, len(vs))
	for i, v := range vs {
		out[i] = &adminv1.UsageDataPoint{}
		if v != nil {
			out[i].Value = proto.Float64(*v)
		}
	}
	return out
}

func n(f float64) *float64 { return &f }

// TestUsageDataFromUpstreamRecorded turns the recorded payload into the
// expected typed series: time stamps once, nulls as points without a value,
// zeros as points with 0.
func TestUsageDataFromUpstreamRecorded(t *testing.T) {
	var w struct {
		Report upstream.UsageData `json:"report"`
	}
	if err := json.Unmarshal([]byte(pyapiUsageData), &w); err != nil {
		t.Fatal(err)
	}
	got := usageDataFromUpstream("usageReports/1fa828eb31664485ae5c25c76c86e28d", &w.Report)

	meta, _ := structpb.NewValue(map[string]any{"temp": true, "title": "1fa828eb31664485ae5c25c76c86e28d", "managerReport": false})
	const forests, lakes = "services/Forests/Forests_degraded_2000.MapServer", "services/Lakes/Lakes_drought_levels.MapServer"
	count, failed := adminv1.UsageMetric_USAGE_METRIC_REQUEST_COUNT, adminv1.UsageMetric_USAGE_METRIC_REQUESTS_FAILED
	want := &adminv1.QueryUsageReportDataResponse{
		Name:     "usageReports/1fa828eb31664485ae5c25c76c86e28d",
		Metadata: meta,
		SliceEndTimes: []*timestamppb.Timestamp{
			timestamppb.New(time.Date(2020, 8, 31, 23, 0, 0, 0, time.UTC)),
			timestamppb.New(time.Date(2020, 9, 1, 23, 0, 0, 0, time.UTC)),
			timestamppb.New(time.Date(2020, 9, 2, 23, 0, 0, 0, time.UTC)),
			timestamppb.New(time.Date(2020, 9, 29, 23, 0, 0, 0, time.UTC)),
		},
		Series: []*adminv1.UsageSeries{
			{ResourceUri: forests, Metric: count, MetricName: "RequestCount", Points: points(nil, n(17), n(928), n(20))},
			{ResourceUri: forests, Metric: failed, MetricName: "RequestsFailed", Points: points(nil, n(225), nil, n(0))},
			{ResourceUri: lakes, Metric: count, MetricName: "RequestCount", Points: points(n(0), n(0), n(7), n(71))},
			{ResourceUri: lakes, Metric: failed, MetricName: "RequestsFailed", Points: points(nil, nil, n(1), n(0))},
		},
	}
	if diff := cmp.Diff(want, got, protocmp.Transform()); diff != "" {
		t.Fatalf("usage report (-want +got):\n%s", diff)
	}
	// On the REST wire, "no data" has no value and a logged zero has 0.
	b, err := protojson.Marshal(got.GetSeries()[1])
	if err != nil {
		t.Fatal(err)
	}
	var wire struct {
		Points []map[string]any `json:"points"`
	}
	if err := json.Unmarshal(b, &wire); err != nil {
		t.Fatal(err)
	}
	if _, has := wire.Points[0]["value"]; has || wire.Points[3]["value"] != float64(0) {
		t.Errorf("JSON points %s", b)
	}
}

func TestUsageDataFromUpstreamRagged(t *testing.T) {
	d := &upstream.UsageData{
		TimeSlices: []int64{1, 2, 3},
		ReportData: [][]upstream.UsageSeries{nil, {{ResourceURI: "services/", MetricType: "NewMetric", Data: []*float64{n(1), n(2), n(3), n(4)}}}, {{Data: nil}}},
	}
	got := usageDataFromUpstream("usageReports/x", d)
	if len(got.GetSeries()) != 2 {
		t.Fatalf("series %v", got.GetSeries())
	}
	s := got.GetSeries()[0]
	if s.GetQueryIndex() != 1 || s.GetMetric() != adminv1.UsageMetric_USAGE_METRIC_UNSPECIFIED || s.GetMetricName() != "NewMetric" || len(s.GetPoints()) != 3 {
		t.Errorf("series 0 = %v", s)
	}
	if s2 := got.GetSeries()[1]; s2.GetQueryIndex() != 2 || len(s2.GetPoints()) != 3 || s2.GetPoints()[0].Value != nil {
		t.Errorf("series 1 = %v", s2)
	}
}

func TestUsageReportFromUpstream(t *testing.T) {
	var list struct {
		Metrics []upstream.UsageReport `json:"metrics"`
	}
	// D:usagereports (docs/upstream.md#recorded-payloads, brackets repaired)
	// plus a CUSTOM report with an interval and a metric this API does not
	// know.
	err := json.Unmarshal([]byte(`{"metrics":[
	  {"reportname":1394219221008,"since":"LAST_MONTH","queries":[{"resourceURIs":["services/Map_bv_999.MapServer"],"metrics":["RequestCount"]}],
	   "metadata":"This could be any String or JSON Object. The usage report below shows how this parameter is used for storing report metadata."},
	  {"reportname":1394223588659,"since":"LAST_MONTH","queries":[{"resourceURIs":["services/Map_bv_999.MapServer","services/","services/Map_bv_901.MapServer"],"metrics":["RequestCount"]}],
	   "metadata":{"temp":false,"title":"Request Count Report"}},
	  {"reportname":"c","since":"CUSTOM","from":1598914800000,"to":"1599519600000","aggregationInterval":240,
	   "queries":[{"resourceURIs":["services/"],"metrics":["RequestsRejected","ServiceRunningInstancesMax"]}]},
	  {"reportname":"d","since":"LAST_DAY","from":5,"to":6}]}`), &list)
	if err != nil {
		t.Fatal(err)
	}
	got := make([]*adminv1.UsageReport, len(list.Metrics))
	for i := range list.Metrics {
		got[i] = usageReportFromUpstream(&list.Metrics[i])
	}
	month := adminv1.UsageReportPeriod_USAGE_REPORT_PERIOD_LAST_MONTH
	want := []*adminv1.UsageReport{
		{Name: "usageReports/1394219221008", UsageReportId: "1394219221008", Since: month,
			Queries:  []*adminv1.UsageReportQuery{{ResourceUris: []string{"services/Map_bv_999.MapServer"}, Metrics: []adminv1.UsageMetric{adminv1.UsageMetric_USAGE_METRIC_REQUEST_COUNT}, MetricNames: []string{"RequestCount"}}},
			Metadata: structpb.NewStringValue("This could be any String or JSON Object. The usage report below shows how this parameter is used for storing report metadata.")},
		{Name: "usageReports/1394223588659", UsageReportId: "1394223588659", Since: month,
			Queries: []*adminv1.UsageReportQuery{{ResourceUris: []string{"services/Map_bv_999.MapServer", "services/", "services/Map_bv_901.MapServer"},
				Metrics: []adminv1.UsageMetric{adminv1.UsageMetric_USAGE_METRIC_REQUEST_COUNT}, MetricNames: []string{"RequestCount"}}},
			Metadata: must(structpb.NewValue(map[string]any{"temp": false, "title": "Request Count Report"}))},
		{Name: "usageReports/c", UsageReportId: "c", Since: adminv1.UsageReportPeriod_USAGE_REPORT_PERIOD_CUSTOM,
			FromTime: timestamppb.New(time.UnixMilli(1598914800000)), ToTime: timestamppb.New(time.UnixMilli(1599519600000)),
			AggregationInterval: durationpb.New(4 * time.Hour),
			Queries: []*adminv1.UsageReportQuery{{ResourceUris: []string{"services/"},
				Metrics:     []adminv1.UsageMetric{adminv1.UsageMetric_USAGE_METRIC_UNSPECIFIED, adminv1.UsageMetric_USAGE_METRIC_SERVICE_RUNNING_INSTANCES_MAX},
				MetricNames: []string{"RequestsRejected", "ServiceRunningInstancesMax"}}}},
		{Name: "usageReports/d", UsageReportId: "d", Since: adminv1.UsageReportPeriod_USAGE_REPORT_PERIOD_LAST_DAY}, // from/to belong to CUSTOM only
	}
	for i := range want {
		if diff := cmp.Diff(want[i], got[i], protocmp.Transform(), ignoreEtags); diff != "" {
			t.Errorf("report %d (-want +got):\n%s", i, diff)
		}
	}
	// A converted report is valid input again: the round trip through the
	// update fields reproduces the upstream definition.
	back := &upstream.UsageReport{Name: "c"}
	for _, p := range usageReportPaths {
		if err := usageReportFields[p](back, got[2]); err != nil {
			t.Fatalf("field %s of a converted report refused: %v", p, err)
		}
	}
	if back.Since != "CUSTOM" || back.From != 1598914800000 || back.To != 1599519600000 || back.AggregationInterval != 240 ||
		strings.Join(back.Queries[0].Metrics, ",") != "RequestsRejected,ServiceRunningInstancesMax" {
		t.Errorf("round trip = %+v", back)
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func TestMetadataValue(t *testing.T) {
	for _, tc := range []struct {
		raw  string
		want *structpb.Value
	}{
		{``, nil},
		{`"plain text"`, structpb.NewStringValue("plain text")},
		{`"{\"a\":1}"`, must(structpb.NewValue(map[string]any{"a": 1.0}))},
		{`" [1,\"x\"] "`, must(structpb.NewValue([]any{1.0, "x"}))},
		{`"{not json"`, structpb.NewStringValue("{not json")},
		{`{"styles":{"services/":{"color":"#D900D9"}}}`, must(structpb.NewValue(map[string]any{"styles": map[string]any{"services/": map[string]any{"color": "#D900D9"}}}))},
		{`42`, structpb.NewNumberValue(42)},
		{`true`, structpb.NewBoolValue(true)},
	} {
		if diff := cmp.Diff(tc.want, metadataValue(json.RawMessage(tc.raw)), protocmp.Transform()); diff != "" {
			t.Errorf("metadataValue(%s) (-want +got):\n%s", tc.raw, diff)
		}
	}
	raw, err := metadataJSON(must(structpb.NewValue(map[string]any{"title": "t", "n": 1.0})))
	if err != nil || string(raw) != `{"n":1,"title":"t"}` {
		t.Errorf("metadataJSON = %s, %v", raw, err)
	}
	if raw, err := metadataJSON(&structpb.Value{}); raw != nil || err != nil {
		t.Errorf("empty Value = %s, %v; want left out", raw, err)
	}
	if raw, err := metadataJSON(structpb.NewNumberValue(math.Inf(1))); err != nil || string(raw) != `"Infinity"` {
		t.Errorf("infinite metadata = %s, %v; want the string JSON gives it", raw, err)
	}
}

func TestCheckResourceURI(t *testing.T) {
	for _, tc := range []struct {
		uri string
		ok  bool
	}{
		{"services/", true},
		{"services/Maps/", true},
		{"services/Maps/Roads.MapServer", true},
		{"services/SampleWorldCities.MapServer", true},
		{"services/Map_bv_999.MapServer", true},
		{"services", false},
		{"", false},
		{"services/Maps", false}, // a folder needs its trailing slash
		{"services/Maps/Roads", false},
		{"services/Roads.NoSuchServer", false},
		{"services/Maps/Roads.MapServer/", false},
		{"services/a/b/c.MapServer", false},
		{"services/../security/", false},
		{"services/%2e%2e/", false},
		{"services//", false},
		{"services/Ma ps/", false},
		{"Services/", false},
		{"services/Näme.MapServer", false},
		{"services/Roads.MapServer.x", false},
	} {
		err := checkResourceURI("uri", tc.uri)
		if (err == nil) != tc.ok {
			t.Errorf("checkResourceURI(%q) = %v, want ok=%v", tc.uri, err, tc.ok)
		}
		if st, _ := status.FromError(err); err != nil && (st.Code() != codes.InvalidArgument || !strings.HasPrefix(st.Message(), "uri: ")) {
			t.Errorf("checkResourceURI(%q) error %v does not name the field", tc.uri, err)
		}
	}
}

func TestParseUsageReportName(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		ok       bool
	}{
		{"usageReports/1fa828eb31664485ae5c25c76c86e28d", "1fa828eb31664485ae5c25c76c86e28d", true},
		{"usageReports/1394219221008", "1394219221008", true},
		{"usageReports/Monthly_requests-2", "Monthly_requests-2", true},
		{"usageReports/settings", "", false},
		{"usageReports/ADD", "", false},
		{"usageReports/", "", false},
		{"usageReports/a/b", "", false},
		{"usageReports/a.b", "", false},
		{"usageReports/..", "", false},
		{"usageReports/a b", "", false},
		{"usageReports/" + strings.Repeat("a", 129), "", false},
		{"usagereports/x", "", false},
		{"x", "", false},
	} {
		got, err := parseUsageReportName("name", tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("parseUsageReportName(%q) = %q, %v", tc.in, got, err)
		}
		if err != nil {
			if st, _ := status.FromError(err); st.Code() != codes.InvalidArgument || !strings.HasPrefix(st.Message(), "name: ") {
				t.Errorf("error %v does not name the field", err)
			}
		}
	}
	if id := newReportID(); checkReportID(id) != "" || len(id) != 32 || id == newReportID() {
		t.Errorf("generated id %q", id)
	}
}

// TestUsageReportFieldsValidation runs the create-time validation of
// definitions: each bad definition is INVALID_ARGUMENT naming the field.
func TestUsageReportFieldsValidation(t *testing.T) {
	ts := func(ms int64) *timestamppb.Timestamp { return timestamppb.New(time.UnixMilli(ms)) }
	good := func() *adminv1.UsageReport {
		return &adminv1.UsageReport{
			Since:    adminv1.UsageReportPeriod_USAGE_REPORT_PERIOD_CUSTOM,
			FromTime: ts(1598914800000), ToTime: ts(1599519600000),
			AggregationInterval: durationpb.New(time.Hour),
			Queries: []*adminv1.UsageReportQuery{{ResourceUris: []string{"services/", "services/Maps/Roads.MapServer"},
				Metrics: []adminv1.UsageMetric{adminv1.UsageMetric_USAGE_METRIC_REQUEST_COUNT}}},
			Metadata: structpb.NewStringValue("m"),
		}
	}
	tests := []struct {
		name  string
		edit  func(r *adminv1.UsageReport)
		field string // "" = valid
	}{
		{"valid", func(*adminv1.UsageReport) {}, ""},
		{"no since", func(r *adminv1.UsageReport) { r.Since = 0 }, "usage_report.since"},
		{"unknown since", func(r *adminv1.UsageReport) { r.Since = 99 }, "usage_report.since"},
		{"custom reversed", func(r *adminv1.UsageReport) { r.FromTime, r.ToTime = r.ToTime, r.FromTime }, "usage_report.to_time"},
		{"custom equal", func(r *adminv1.UsageReport) { r.ToTime = r.FromTime }, "usage_report.to_time"},
		{"custom without from", func(r *adminv1.UsageReport) { r.FromTime = nil }, "usage_report.from_time"},
		{"custom without to", func(r *adminv1.UsageReport) { r.ToTime = nil }, "usage_report.to_time"},
		{"epoch from", func(r *adminv1.UsageReport) { r.FromTime = ts(0) }, "usage_report.from_time"},
		{"invalid timestamp", func(r *adminv1.UsageReport) { r.FromTime = &timestamppb.Timestamp{Nanos: -1} }, "usage_report.from_time"},
		{"last day with from", func(r *adminv1.UsageReport) {
			r.Since = adminv1.UsageReportPeriod_USAGE_REPORT_PERIOD_LAST_DAY
			r.ToTime = nil
		},
			"usage_report.from_time"},
		{"last day without range", func(r *adminv1.UsageReport) {
			r.Since = adminv1.UsageReportPeriod_USAGE_REPORT_PERIOD_LAST_DAY
			r.FromTime, r.ToTime = nil, nil
		}, ""},
		{"fractional interval", func(r *adminv1.UsageReport) { r.AggregationInterval = durationpb.New(90 * time.Second) }, "usage_report.aggregation_interval"},
		{"zero interval", func(r *adminv1.UsageReport) { r.AggregationInterval = durationpb.New(0) }, "usage_report.aggregation_interval"},
		{"negative interval", func(r *adminv1.UsageReport) { r.AggregationInterval = durationpb.New(-time.Hour) }, "usage_report.aggregation_interval"},
		{"no queries", func(r *adminv1.UsageReport) { r.Queries = nil }, "usage_report.queries"},
		{"no resources", func(r *adminv1.UsageReport) { r.Queries[0].ResourceUris = nil }, "usage_report.queries[0].resource_uris"},
		{"bad resource", func(r *adminv1.UsageReport) { r.Queries[0].ResourceUris[1] = "services/../x.MapServer" }, "usage_report.queries[0].resource_uris[1]"},
		{"no metrics", func(r *adminv1.UsageReport) { r.Queries[0].Metrics = nil }, "usage_report.queries[0].metrics"},
		{"unspecified metric", func(r *adminv1.UsageReport) { r.Queries[0].Metrics = []adminv1.UsageMetric{0} }, "usage_report.queries[0].metrics[0]"},
		{"names", func(r *adminv1.UsageReport) {
			r.Queries[0].Metrics, r.Queries[0].MetricNames = nil, []string{"RequestCount", "NewerMetric"}
		}, ""},
		{"names parallel", func(r *adminv1.UsageReport) {
			r.Queries[0].Metrics = []adminv1.UsageMetric{adminv1.UsageMetric_USAGE_METRIC_REQUEST_COUNT, 0}
			r.Queries[0].MetricNames = []string{"RequestCount", "NewerMetric"}
		}, ""},
		{"names not parallel", func(r *adminv1.UsageReport) { r.Queries[0].MetricNames = []string{"RequestCount", "X"} }, "usage_report.queries[0].metrics"},
		{"names disagree", func(r *adminv1.UsageReport) { r.Queries[0].MetricNames = []string{"RequestsFailed"} }, "usage_report.queries[0].metric_names[0]"},
		{"bad name", func(r *adminv1.UsageReport) {
			r.Queries[0].Metrics, r.Queries[0].MetricNames = nil, []string{"Request Count"}
		}, "usage_report.queries[0].metric_names[0]"},
		{"empty metadata kind", func(r *adminv1.UsageReport) { r.Metadata = &structpb.Value{} }, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := good()
			tt.edit(r)
			d := &upstream.UsageReport{Name: "x"}
			touched := map[string]bool{}
			var err error
			for _, p := range usageReportPaths {
				if err = usageReportFields[p](d, r); err != nil {
					break
				}
				touched[p] = true
			}
			if err == nil {
				err = checkUsageRange(d, touched)
			}
			if tt.field == "" {
				if err != nil {
					t.Fatalf("valid definition refused: %v", err)
				}
				return
			}
			if st, _ := status.FromError(err); err == nil || st.Code() != codes.InvalidArgument || !strings.HasPrefix(st.Message(), tt.field+": ") {
				t.Fatalf("got %v, want INVALID_ARGUMENT on %s", err, tt.field)
			}
		})
	}
}

func TestCombinesRunningInstancesMax(t *testing.T) {
	q := func(ms ...string) upstream.UsageQuery {
		return upstream.UsageQuery{ResourceURIs: []string{"services/"}, Metrics: ms}
	}
	for _, tc := range []struct {
		qs   []upstream.UsageQuery
		want bool
	}{
		{[]upstream.UsageQuery{q("ServiceRunningInstancesMax")}, false},
		{[]upstream.UsageQuery{q("ServiceRunningInstancesMax"), q("ServiceRunningInstancesMax")}, false},
		{[]upstream.UsageQuery{q("ServiceRunningInstancesMax", "RequestCount")}, true},
		{[]upstream.UsageQuery{q("ServiceRunningInstancesMax"), q("RequestCount")}, true},
		{[]upstream.UsageQuery{q("RequestCount", "RequestsFailed")}, false},
	} {
		if got := combinesRunningInstancesMax(&upstream.UsageReport{Queries: tc.qs}); got != tc.want {
			t.Errorf("%v: %v, want %v", tc.qs, got, tc.want)
		}
	}
}

// FuzzUsageResourceURI checks that an accepted resource URI is safe: the
// upstream grammar only, ArcGIS names, known types.
func FuzzUsageResourceURI(f *testing.F) {
	for _, s := range []string{"services/", "services/Maps/", "services/Maps/Roads.MapServer", "services/Map_bv_999.MapServer",
		"services/Address_Points", "services/../", "services/a/b/c", "services/%2e/", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, u string) {
		if err := checkResourceURI("uri", u); err != nil {
			if st, ok := status.FromError(err); !ok || st.Code() != codes.InvalidArgument || !utf8.ValidString(st.Message()) && utf8.ValidString(u) {
				t.Fatalf("error %v", err)
			}
			return
		}
		rest := strings.TrimPrefix(u, "services/")
		if !strings.HasPrefix(u, "services/") || strings.Count(rest, "/") > 1 || strings.ContainsAny(rest, "%\\ ?#") || strings.Contains(rest, "..") {
			t.Fatalf("accepted unsafe URI %q", u)
		}
		if rest != "" && !strings.HasSuffix(rest, "/") {
			seg := rest[strings.LastIndex(rest, "/")+1:]
			_, typ, _ := strings.Cut(seg, ".")
			if !knownTypes[typ] {
				t.Fatalf("accepted unknown type in %q", u)
			}
		}
	})
}

// FuzzParseUsageReportName checks that an accepted report name round-trips
// and its id is a single safe path segment.
func FuzzParseUsageReportName(f *testing.F) {
	for _, s := range []string{"usageReports/1fa828eb31664485ae5c25c76c86e28d", "usageReports/1394219221008", "usageReports/settings",
		"usageReports/a/b", "usageReports/..", "usageReports/", "folders/x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		id, err := parseUsageReportName("name", in)
		if err != nil {
			if st, ok := status.FromError(err); !ok || st.Code() != codes.InvalidArgument {
				t.Fatalf("error %v is not INVALID_ARGUMENT", err)
			}
			return
		}
		if strings.ContainsAny(id, "/.%\\ ") || id == "" || strings.EqualFold(id, "settings") || strings.EqualFold(id, "add") {
			t.Fatalf("accepted unsafe id %q from %q", id, in)
		}
		if usageReportResourceName(id) != in {
			t.Fatalf("round trip %q → %q", in, usageReportResourceName(id))
		}
	})
}

// FuzzUsageMachineAndMetric checks the machine and metric name validators:
// whatever is accepted cannot break out of the JSON filter or the
// definition (no quotes, backslashes, spaces or control characters).
func FuzzUsageMachineAndMetric(f *testing.F) {
	for _, s := range []string{"WIN-85VQ4T2LR5N", "MACHINE.DOMAIN.COM", "RequestCount", "RequestAvgWaitTime", `a","machines":"*`, "", "a b", "\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if checkUsageMachine(s) == "" && (s == "" || strings.ContainsAny(s, "\"\\ /*,\x00\n")) {
			t.Fatalf("accepted machine %q", s)
		}
		if checkMetricName(s) == "" && (s == "" || strings.ContainsAny(s, "\"\\ /*,._-\x00\n")) {
			t.Fatalf("accepted metric %q", s)
		}
		if checkReportID(s) == "" && (s == "" || strings.ContainsAny(s, "\"\\ /.%?#\x00\n")) {
			t.Fatalf("accepted report id %q", s)
		}
	})
}
