package server

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	adminv1 "github.com/arcgate/arcgate/gen/go/arcgate/admin/v1"
	"github.com/arcgate/arcgate/upstream"
)

// Usage report names.
//
// A report id is 1 to maxReportIDLen ASCII letters, digits, underscores or
// hyphens. Upstream's own clients name reports with uuid4().hex (32
// hexadecimal digits) or epoch milliseconds, and numeric names arrive as
// JSON numbers; both fit. The grammar keeps every id a single, unescaped
// path segment, upstream and in REST paths alike. "add" and "settings"
// (any case) are children of upstream's usagereports resource, not
// reports, and are refused.
const (
	usageReportsPrefix     = "usageReports/"
	usageSettingsName      = "usageStatisticsSettings"
	maxReportIDLen         = 128
	runningInstancesMax    = "ServiceRunningInstancesMax"
	minCombinableVersion   = 11.1
	minCombinableVersionID = "11.1"
)

// checkReportID reports why id is not a usage report id, or "" when it is
// one.
func checkReportID(id string) string {
	switch {
	case id == "":
		return "must not be empty"
	case len(id) > maxReportIDLen:
		return fmt.Sprintf("must be at most %d characters", maxReportIDLen)
	case strings.EqualFold(id, "add") || strings.EqualFold(id, "settings"):
		return fmt.Sprintf("%s is reserved by the upstream", quoteName(id))
	}
	for _, c := range id {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return fmt.Sprintf("must contain only letters, digits, underscore and hyphen (found %q)", c)
		}
	}
	return ""
}

func usageReportResourceName(id string) string { return usageReportsPrefix + id }

// parseUsageReportName parses `usageReports/{report}`.
func parseUsageReportName(field, name string) (string, error) {
	id, ok := strings.CutPrefix(name, usageReportsPrefix)
	if !ok {
		return "", invalidArgument(field, fmt.Sprintf("must have the form usageReports/{report}, got %s", quoteName(name)))
	}
	if why := checkReportID(id); why != "" {
		return "", invalidArgument(field, "report id "+why)
	}
	return id, nil
}

// newReportID returns 32 random hexadecimal digits, like the uuid4().hex
// names of upstream's own scripts.
func newReportID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	return hex.EncodeToString(b)
}

var usagePeriods = map[string]adminv1.UsageReportPeriod{
	upstream.UsageSinceLastDay:   adminv1.UsageReportPeriod_USAGE_REPORT_PERIOD_LAST_DAY,
	upstream.UsageSinceLastWeek:  adminv1.UsageReportPeriod_USAGE_REPORT_PERIOD_LAST_WEEK,
	upstream.UsageSinceLastMonth: adminv1.UsageReportPeriod_USAGE_REPORT_PERIOD_LAST_MONTH,
	upstream.UsageSinceLastYear:  adminv1.UsageReportPeriod_USAGE_REPORT_PERIOD_LAST_YEAR,
	upstream.UsageSinceCustom:    adminv1.UsageReportPeriod_USAGE_REPORT_PERIOD_CUSTOM,
}

// usageMetrics maps upstream metric names to the enum
// (docs/upstream.md#usage-metrics).
var usageMetrics = map[string]adminv1.UsageMetric{
	"RequestCount":           adminv1.UsageMetric_USAGE_METRIC_REQUEST_COUNT,
	"RequestsFailed":         adminv1.UsageMetric_USAGE_METRIC_REQUESTS_FAILED,
	"RequestsTimedOut":       adminv1.UsageMetric_USAGE_METRIC_REQUESTS_TIMED_OUT,
	"RequestMaxResponseTime": adminv1.UsageMetric_USAGE_METRIC_REQUEST_MAX_RESPONSE_TIME,
	"RequestAvgResponseTime": adminv1.UsageMetric_USAGE_METRIC_REQUEST_AVG_RESPONSE_TIME,
	"ServiceActiveInstances": adminv1.UsageMetric_USAGE_METRIC_SERVICE_ACTIVE_INSTANCES,
	runningInstancesMax:      adminv1.UsageMetric_USAGE_METRIC_SERVICE_RUNNING_INSTANCES_MAX,
	"RequestAvgWaitTime":     adminv1.UsageMetric_USAGE_METRIC_REQUEST_AVG_WAIT_TIME,
	"RequestMaxWaitTime":     adminv1.UsageMetric_USAGE_METRIC_REQUEST_MAX_WAIT_TIME,
}

// usageMetricNames is the inverse of usageMetrics.
var usageMetricNames = func() map[adminv1.UsageMetric]string {
	out := make(map[adminv1.UsageMetric]string, len(usageMetrics))
	for name, m := range usageMetrics {
		out[m] = name
	}
	return out
}()

func usagePeriodName(p adminv1.UsageReportPeriod) string {
	for name, v := range usagePeriods {
		if v == p {
			return name
		}
	}
	return ""
}

func usageTimestamp(ms int64) *timestamppb.Timestamp { return timestamppb.New(time.UnixMilli(ms)) }

// usageReportFromUpstream converts a report definition. from and to are
// shown for CUSTOM reports only, the period they belong to.
func usageReportFromUpstream(r *upstream.UsageReport) *adminv1.UsageReport {
	out := &adminv1.UsageReport{
		Name:          usageReportResourceName(r.Name),
		UsageReportId: r.Name,
		Since:         usagePeriods[r.Since],
		Metadata:      metadataValue(r.Metadata),
		Etag:          etagOf(r),
	}
	if r.Since == upstream.UsageSinceCustom {
		if r.From != 0 {
			out.FromTime = usageTimestamp(r.From)
		}
		if r.To != 0 {
			out.ToTime = usageTimestamp(r.To)
		}
	}
	if r.AggregationInterval > 0 {
		out.AggregationInterval = durationpb.New(time.Duration(r.AggregationInterval) * time.Minute)
	}
	for _, q := range r.Queries {
		pq := &adminv1.UsageReportQuery{ResourceUris: q.ResourceURIs, MetricNames: q.Metrics}
		for _, m := range q.Metrics {
			pq.Metrics = append(pq.Metrics, usageMetrics[m])
		}
		out.Queries = append(out.Queries, pq)
	}
	return out
}

// metadataValue converts upstream metadata: a JSON object, array or other
// value becomes that value; a string holding a JSON object or array (as the
// data operation always sends it) becomes the object or array; any other
// string stays a string. Absent metadata is nil. Metadata whose objects and
// arrays nest more than maxValueDepth deep (stored upstream by another
// client) is returned as a string holding its JSON text, as is JSON that
// does not decode: a Value that deep would make every protobuf decoder of
// the answer fail (and with it a whole listing).
func metadataValue(raw json.RawMessage) *structpb.Value {
	if len(raw) == 0 {
		return nil
	}
	text := func(b []byte) *structpb.Value {
		return structpb.NewStringValue(strings.ToValidUTF8(string(b), "\uFFFD"))
	}
	var v any
	if json.Unmarshal(raw, &v) != nil {
		return text(raw)
	}
	src := []byte(raw) // the JSON text v was decoded from
	if s, ok := v.(string); ok {
		if t := strings.TrimSpace(s); t != "" && (t[0] == '{' || t[0] == '[') {
			var inner any
			if json.Unmarshal([]byte(t), &inner) == nil {
				v, src = inner, []byte(s)
			}
		}
	}
	if jsonDepth(v, maxValueDepth) > maxValueDepth {
		return text(src)
	}
	pv, err := structpb.NewValue(v)
	if err != nil { // not reachable for decoded JSON; keep the text rather than lose it
		return text(raw)
	}
	return pv
}

// metadataJSON converts metadata for upstream; nil (or a Value with no
// kind) leaves the metadata out.
func metadataJSON(v *structpb.Value) (json.RawMessage, error) {
	if v == nil || v.GetKind() == nil {
		return nil, nil
	}
	b, err := json.Marshal(v.AsInterface()) // stable output, keys sorted
	if err != nil {
		return nil, invalidArgument("usage_report.metadata", "is not representable as JSON: "+err.Error())
	}
	return b, nil
}

// checkResourceURI checks that u is a resource URI in the upstream grammar
// (docs/upstream.md#usage-reports): `services/`, `services/{folder}/`,
// `services/{folder}/{Name.Type}` or `services/{Name.Type}`, with ArcGIS
// names and a known type.
func checkResourceURI(field, u string) error {
	rest, ok := strings.CutPrefix(u, "services/")
	if !ok || strings.Count(rest, "/") > 1 {
		return invalidArgument(field, "must be services/, services/{folder}/, services/{folder}/{Name.Type} or services/{Name.Type}, got "+quoteName(u))
	}
	if rest == "" {
		return nil
	}
	folder, svc, inFolder := strings.Cut(rest, "/")
	if !inFolder {
		_, _, err := parseServiceID(field, rest)
		return err
	}
	if why := checkArcGISName(folder); why != "" {
		return invalidArgument(field, "folder name "+why)
	}
	if svc == "" {
		return nil
	}
	_, _, err := parseServiceID(field, svc)
	return err
}

// checkMetricName reports why a metric name this API does not know cannot
// be sent, or "".
func checkMetricName(m string) string {
	if m == "" || len(m) > 64 {
		return "must be 1 to 64 letters and digits"
	}
	for _, c := range m {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return fmt.Sprintf("must contain only letters and digits (found %q)", c)
		}
	}
	return ""
}

// queryMetrics resolves a query's metrics to upstream names: from
// metric_names when set (with metrics, if also set, in parallel), else from
// metrics.
func queryMetrics(field string, q *adminv1.UsageReportQuery) ([]string, error) {
	names, enums := q.GetMetricNames(), q.GetMetrics()
	if len(names) == 0 {
		if len(enums) == 0 {
			return nil, invalidArgument(field+".metrics", "needs at least one metric")
		}
		out := make([]string, len(enums))
		for i, m := range enums {
			name, ok := usageMetricNames[m]
			if !ok {
				return nil, invalidArgument(fmt.Sprintf("%s.metrics[%d]", field, i),
					"must be a known metric (use metric_names for a metric this API does not know)")
			}
			out[i] = name
		}
		return out, nil
	}
	if len(enums) > 0 && len(enums) != len(names) {
		return nil, invalidArgument(field+".metrics", "must be empty or parallel to metric_names")
	}
	for i, n := range names {
		f := fmt.Sprintf("%s.metric_names[%d]", field, i)
		if why := checkMetricName(n); why != "" {
			return nil, invalidArgument(f, why)
		}
		if len(enums) > 0 && enums[i] != adminv1.UsageMetric_USAGE_METRIC_UNSPECIFIED && usageMetricNames[enums[i]] != n {
			return nil, invalidArgument(f, fmt.Sprintf("names %s but metrics[%d] is %s", quoteName(n), i, enums[i]))
		}
	}
	return append([]string(nil), names...), nil
}

// usageReportFields are the update_mask paths UpdateUsageReport accepts,
// each with the function that validates the field and copies it into the
// upstream definition. CreateUsageReport applies all of them.
var usageReportFields = map[string]func(dst *upstream.UsageReport, src *adminv1.UsageReport) error{
	"since": func(d *upstream.UsageReport, s *adminv1.UsageReport) error {
		name := usagePeriodName(s.GetSince())
		if name == "" {
			return invalidArgument("usage_report.since", "is required: LAST_DAY, LAST_WEEK, LAST_MONTH, LAST_YEAR or CUSTOM")
		}
		d.Since = name
		return nil
	},
	"from_time": timestampField("usage_report.from_time", func(d *upstream.UsageReport) *int64 { return &d.From }, (*adminv1.UsageReport).GetFromTime),
	"to_time":   timestampField("usage_report.to_time", func(d *upstream.UsageReport) *int64 { return &d.To }, (*adminv1.UsageReport).GetToTime),
	"aggregation_interval": func(d *upstream.UsageReport, s *adminv1.UsageReport) error {
		v := s.GetAggregationInterval()
		if v == nil {
			d.AggregationInterval = 0
			return nil
		}
		const field = "usage_report.aggregation_interval"
		if err := v.CheckValid(); err != nil || v.AsDuration() <= 0 {
			return invalidArgument(field, "must be a valid, positive duration")
		}
		if v.AsDuration()%time.Minute != 0 {
			return invalidArgument(field, "must be a whole number of minutes")
		}
		d.AggregationInterval = int(v.AsDuration() / time.Minute)
		return nil
	},
	"queries": func(d *upstream.UsageReport, s *adminv1.UsageReport) error {
		if len(s.GetQueries()) == 0 {
			return invalidArgument("usage_report.queries", "needs at least one query")
		}
		qs := make([]upstream.UsageQuery, 0, len(s.GetQueries()))
		for i, q := range s.GetQueries() {
			field := fmt.Sprintf("usage_report.queries[%d]", i)
			if len(q.GetResourceUris()) == 0 {
				return invalidArgument(field+".resource_uris", "needs at least one resource URI")
			}
			for j, u := range q.GetResourceUris() {
				if err := checkResourceURI(fmt.Sprintf("%s.resource_uris[%d]", field, j), u); err != nil {
					return err
				}
			}
			metrics, err := queryMetrics(field, q)
			if err != nil {
				return err
			}
			qs = append(qs, upstream.UsageQuery{ResourceURIs: append([]string(nil), q.GetResourceUris()...), Metrics: metrics})
		}
		d.Queries = qs
		return nil
	},
	"metadata": func(d *upstream.UsageReport, s *adminv1.UsageReport) error {
		raw, err := metadataJSON(s.GetMetadata())
		if err != nil {
			return err
		}
		d.Metadata = raw
		return nil
	},
}

// usageReportPaths lists usageReportFields in a fixed order (since first,
// so that the range check sees the period).
var usageReportPaths = []string{"since", "from_time", "to_time", "aggregation_interval", "queries", "metadata"}

func timestampField(field string, dst func(*upstream.UsageReport) *int64, src func(*adminv1.UsageReport) *timestamppb.Timestamp) func(*upstream.UsageReport, *adminv1.UsageReport) error {
	return func(d *upstream.UsageReport, s *adminv1.UsageReport) error {
		v := src(s)
		if v == nil {
			*dst(d) = 0
			return nil
		}
		if err := v.CheckValid(); err != nil {
			return invalidArgument(field, "must be a valid timestamp")
		}
		ms := v.AsTime().UnixMilli()
		if ms == 0 {
			return invalidArgument(field, "must not be the Unix epoch itself (upstream reads 0 as unset)")
		}
		*dst(d) = ms
		return nil
	}
}

// checkUsageRange checks the period against from and to after the fields
// in touched were applied to d: CUSTOM needs from before to, and the other
// periods take neither. Nothing is checked when touched names none of
// since, from_time and to_time (the stored definition is upstream's
// business).
func checkUsageRange(d *upstream.UsageReport, touched map[string]bool) error {
	if !touched["since"] && !touched["from_time"] && !touched["to_time"] {
		return nil
	}
	if d.Since != upstream.UsageSinceCustom {
		for _, f := range []string{"from_time", "to_time"} {
			if touched[f] && (f == "from_time" && d.From != 0 || f == "to_time" && d.To != 0) {
				return invalidArgument("usage_report."+f, "is only allowed with since CUSTOM")
			}
		}
		return nil
	}
	switch {
	case d.From == 0:
		return invalidArgument("usage_report.from_time", "is required with since CUSTOM")
	case d.To == 0:
		return invalidArgument("usage_report.to_time", "is required with since CUSTOM")
	case d.From >= d.To:
		return invalidArgument("usage_report.to_time", "must be after from_time")
	}
	return nil
}

// combinesRunningInstancesMax reports whether the definition has
// ServiceRunningInstancesMax together with another metric, which upstream
// refuses before 11.1 (docs/upstream.md#usage-metrics).
func combinesRunningInstancesMax(d *upstream.UsageReport) bool {
	var running, other bool
	for _, q := range d.Queries {
		for _, m := range q.Metrics {
			if m == runningInstancesMax {
				running = true
			} else {
				other = true
			}
		}
	}
	return running && other
}

// usageDataFromUpstream converts a report's data: the slice end times
// once, and one series per query, resource and metric with one point per
// slice (missing values have no data; values beyond the last slice are
// dropped).
func usageDataFromUpstream(name string, d *upstream.UsageData) *adminv1.QueryUsageReportDataResponse {
	out := &adminv1.QueryUsageReportDataResponse{
		Name:          name,
		Metadata:      metadataValue(d.Metadata),
		SliceEndTimes: make([]*timestamppb.Timestamp, len(d.TimeSlices)),
	}
	for i, ms := range d.TimeSlices {
		out.SliceEndTimes[i] = usageTimestamp(ms)
	}
	for qi, q := range d.ReportData {
		for _, s := range q {
			series := &adminv1.UsageSeries{
				QueryIndex:  int32(qi),
				ResourceUri: s.ResourceURI,
				Metric:      usageMetrics[s.MetricType],
				MetricName:  s.MetricType,
				Points:      make([]*adminv1.UsageDataPoint, len(d.TimeSlices)),
			}
			for i := range series.Points {
				p := &adminv1.UsageDataPoint{}
				if i < len(s.Data) && s.Data[i] != nil {
					p.Value = proto.Float64(*s.Data[i])
				}
				series.Points[i] = p
			}
			out.Series = append(out.Series, series)
		}
	}
	return out
}

// checkUsageMachine reports why m is not a machine (host) name, or "".
func checkUsageMachine(m string) string {
	if m == "" || len(m) > 253 {
		return "must be 1 to 253 characters"
	}
	for _, c := range m {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '-' || c == '_') {
			return fmt.Sprintf("must be a host name: letters, digits, '.', '-' and '_' (found %q)", c)
		}
	}
	return ""
}

func usageSettingsFromUpstream(s *upstream.UsageSettings) *adminv1.UsageStatisticsSettings {
	return &adminv1.UsageStatisticsSettings{
		Name:             usageSettingsName,
		Enabled:          s.Enabled,
		SamplingInterval: durationpb.New(time.Duration(s.SamplingInterval) * time.Minute),
		MaxHistory:       durationpb.New(time.Duration(s.MaxHistory) * 24 * time.Hour),
		StatisticsDir:    s.StatisticsDir,
		Etag:             etagOf(s),
	}
}

// usageWholeUnits converts a duration field to a count of unit, refusing
// invalid, negative (or, unless allowZero, zero) and fractional values.
func usageWholeUnits(field string, v *durationpb.Duration, unit time.Duration, unitName string, allowZero bool) (int, error) {
	if v == nil {
		if allowZero {
			return 0, nil
		}
		return 0, invalidArgument(field, "is required")
	}
	if err := v.CheckValid(); err != nil || v.AsDuration() < 0 || !allowZero && v.AsDuration() == 0 {
		adj := "positive"
		if allowZero {
			adj = "non-negative"
		}
		return 0, invalidArgument(field, "must be a valid, "+adj+" duration")
	}
	if v.AsDuration()%unit != 0 {
		return 0, invalidArgument(field, "must be a whole number of "+unitName)
	}
	n := v.AsDuration() / unit
	if n > 1<<31-1 {
		return 0, invalidArgument(field, "is too long")
	}
	return int(n), nil
}
