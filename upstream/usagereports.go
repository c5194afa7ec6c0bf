package upstream

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// UsageReportsService manages usage reports and the usage statistics
// settings under admin/usagereports (ArcGIS Server 10.3 and later).
type UsageReportsService service

// Periods of UsageReport.Since.
const (
	UsageSinceLastDay   = "LAST_DAY"
	UsageSinceLastWeek  = "LAST_WEEK"
	UsageSinceLastMonth = "LAST_MONTH"
	UsageSinceLastYear  = "LAST_YEAR"
	UsageSinceCustom    = "CUSTOM"
)

// reservedReportNames are the children of admin/usagereports that are not
// reports: a report of that name could not be addressed.
var reservedReportNames = []string{"add", "settings"}

// checkReportName validates a report name before it is used as a path
// segment.
func checkReportName(op, name string) error {
	if msg := checkSegment("report name", name); msg != "" {
		return invalid(op, msg)
	}
	for _, r := range reservedReportNames {
		if strings.EqualFold(name, r) {
			return invalid(op, "report name "+strconv.Quote(name)+" is reserved by the upstream")
		}
	}
	return nil
}

// reportPath returns the admin-relative, escaped path of a report.
func reportPath(name string) string { return "usagereports/" + url.PathEscape(name) }

// UsageReport is a usage report definition: the "usagereport" JSON of add
// and edit, an entry of the list's "metrics" array, and the report
// resource.
//
// Decoding is tolerant: reportname may be a number (it is kept as its
// text), numbers may arrive as strings, keys are matched without regard to
// case. Raw returns every key exactly as received; MarshalJSON writes the typed fields over Raw, so keys this type
// does not model survive an edit, and fields still equal to what was
// decoded are written back byte for byte.
type UsageReport struct {
	// Name is "reportname". Upstream sends it as a string or a number.
	Name string
	// Since is "since": LAST_DAY, LAST_WEEK, LAST_MONTH, LAST_YEAR or
	// CUSTOM.
	Since string
	// From is "from", epoch milliseconds; sent only when Since is CUSTOM.
	From int64
	// To is "to", epoch milliseconds; sent only when Since is CUSTOM.
	To int64
	// AggregationInterval is "aggregationInterval" in minutes; 0 leaves it
	// out (upstream then picks one by period).
	AggregationInterval int
	// Queries is "queries".
	Queries []UsageQuery
	// Metadata is "metadata" exactly as received: a JSON string (which may
	// itself hold JSON text), an object, or nil when absent. Set it to any
	// valid JSON value.
	Metadata json.RawMessage
	// src is the object as received (see Raw).
	src json.RawMessage
}

// Raw returns every key of the definition exactly as received, nil for a
// definition that was not decoded from upstream JSON. Each call decodes the
// kept bytes again: it is for edits, not for every read.
func (r *UsageReport) Raw() map[string]json.RawMessage { return rawObject(r.src) }

// UsageQuery is one entry of a report's "queries".
type UsageQuery struct {
	// ResourceURIs is "resourceURIs", e.g. "services/",
	// "services/Maps/Roads.MapServer".
	ResourceURIs []string
	// Metrics is "metrics", e.g. "RequestCount".
	Metrics []string
}

// UnmarshalJSON decodes a query tolerantly.
func (q *UsageQuery) UnmarshalJSON(b []byte) error {
	var w struct {
		ResourceURIs []jsonText `json:"resourceURIs"`
		Metrics      []jsonText `json:"metrics"`
	}
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	*q = UsageQuery{ResourceURIs: texts(w.ResourceURIs), Metrics: texts(w.Metrics)}
	return nil
}

// MarshalJSON encodes a query in the upstream spelling; nil lists are
// written as empty arrays.
func (q UsageQuery) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		ResourceURIs []string `json:"resourceURIs"`
		Metrics      []string `json:"metrics"`
	}{nonNil(q.ResourceURIs), nonNil(q.Metrics)})
}

func texts(in []jsonText) []string {
	if in == nil {
		return nil
	}
	out := make([]string, len(in))
	for i, t := range in {
		out[i] = string(t)
	}
	return out
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// UnmarshalJSON decodes a report definition in one pass and keeps the
// object as received, for Raw and MarshalJSON.
func (r *UsageReport) UnmarshalJSON(b []byte) error {
	var w usageReportWire
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	rep := UsageReport{
		Name:                string(w.Name),
		Since:               string(w.Since),
		From:                int64(w.From),
		To:                  int64(w.To),
		AggregationInterval: int(w.AggregationInterval),
		Queries:             w.Queries,
		src:                 sourceOf(b),
	}
	if w.Metadata != nil && !isJSONNull(w.Metadata) {
		rep.Metadata = w.Metadata
	}
	*r = rep
	return nil
}

// usageReportWire is the wire shape of UsageReport.
type usageReportWire struct {
	Name                jsonText        `json:"reportname"`
	Since               jsonText        `json:"since"`
	From                epochMs         `json:"from"`
	To                  epochMs         `json:"to"`
	AggregationInterval jsonInt         `json:"aggregationInterval"`
	Queries             []UsageQuery    `json:"queries"`
	Metadata            json.RawMessage `json:"metadata"`
}

// epochMs decodes epoch milliseconds (epochMillis).
type epochMs int64

// UnmarshalJSON implements json.Unmarshaler.
func (n *epochMs) UnmarshalJSON(b []byte) error {
	v, err := epochMillis(b)
	*n = epochMs(v)
	return err
}

// MarshalJSON encodes the definition: Raw, with the typed fields written
// over it in the upstream's spelling. from and to are written only for a
// CUSTOM period (and dropped otherwise); a zero AggregationInterval and a
// nil Metadata are left out.
func (r UsageReport) MarshalJSON() ([]byte, error) {
	e := newObjectEncoder(r.Raw())
	e.text("reportname", r.Name)
	e.text("since", r.Since)
	if r.Since == UsageSinceCustom {
		e.epoch("from", r.From)
		e.epoch("to", r.To)
	} else {
		e.drop("from")
		e.drop("to")
	}
	if r.AggregationInterval == 0 {
		e.drop("aggregationInterval")
	} else {
		e.int("aggregationInterval", r.AggregationInterval)
	}
	key, old, had := e.lookup("queries")
	var oldQueries []UsageQuery
	if !had || json.Unmarshal(old, &oldQueries) != nil || !queriesEqual(oldQueries, r.Queries) {
		e.put(key, queriesOrEmpty(r.Queries))
	}
	switch {
	case r.Metadata == nil:
		e.drop("metadata")
	case !json.Valid(r.Metadata):
		if e.err == nil {
			e.err = errors.New("metadata: not valid JSON")
		}
	default:
		key, _, _ := e.lookup("metadata")
		e.out[key] = json.RawMessage(compactJSON(r.Metadata))
	}
	return e.marshal()
}

func queriesOrEmpty(q []UsageQuery) []UsageQuery {
	if q == nil {
		return []UsageQuery{}
	}
	return q
}

func queriesEqual(a, b []UsageQuery) bool {
	return slices.EqualFunc(a, b, func(x, y UsageQuery) bool {
		return slices.Equal(x.ResourceURIs, y.ResourceURIs) && slices.Equal(x.Metrics, y.Metrics)
	})
}

// epoch writes an epoch-milliseconds number, keeping the received bytes
// when the value did not change.
func (e *objectEncoder) epoch(key string, v int64) {
	key, old, had := e.lookup(key)
	if had {
		if n, err := epochMillis(old); err == nil && n == v {
			return
		}
	}
	e.put(key, v)
}

// epochMillis decodes epoch milliseconds sent as a number or a numeric
// string; absent, null and "" are 0.
func epochMillis(raw json.RawMessage) (int64, error) {
	if len(raw) == 0 {
		return 0, nil
	}
	s, err := numberText(raw)
	if err != nil || s == "" {
		return 0, err
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return n, nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f != math.Trunc(f) || f < math.MinInt64 || f >= math.MaxInt64 {
		return 0, fmt.Errorf("invalid epoch milliseconds %q", truncate(s, 32))
	}
	return int64(f), nil
}

func isJSONNull(raw json.RawMessage) bool { return string(bytes.TrimSpace(raw)) == "null" }

// List returns every usage report with its definition (upstream key
// "metrics", not "reports").
//
// ArcGIS docs: https://developers.arcgis.com/rest/enterprise-administration/server/usagereports/
//
//upstream:operation GET usagereports
func (s *UsageReportsService) List(ctx context.Context) ([]UsageReport, error) {
	var w struct {
		Metrics []UsageReport `json:"metrics"`
	}
	if err := s.client.get(ctx, "usageReports.list", "usagereports", nil, &w); err != nil {
		return nil, err
	}
	return w.Metrics, nil
}

// Get returns one report's definition.
//
// ArcGIS docs: https://developers.arcgis.com/rest/enterprise-administration/server/usagereport/
//
//upstream:operation GET usagereports/{report}
func (s *UsageReportsService) Get(ctx context.Context, name string) (*UsageReport, error) {
	const op = "usageReports.get"
	if err := checkReportName(op, name); err != nil {
		return nil, err
	}
	var rep UsageReport
	if err := s.client.get(ctx, op, reportPath(name), nil, &rep); err != nil {
		return nil, err
	}
	return &rep, nil
}

// Add creates a report from def (sent as the JSON form field
// "usagereport"); def.Name is the new report's name.
//
// ArcGIS docs: https://developers.arcgis.com/rest/enterprise-administration/server/createusagereport/
//
//upstream:operation POST usagereports/add
func (s *UsageReportsService) Add(ctx context.Context, def *UsageReport) error {
	const op = "usageReports.add"
	if def == nil {
		return invalid(op, "report definition is nil")
	}
	if err := checkReportName(op, def.Name); err != nil {
		return err
	}
	form, err := reportForm(op, def)
	if err != nil {
		return err
	}
	return s.client.post(ctx, op, "usagereports/add", form, nil)
}

// Edit replaces the definition of the report name with def, which must be
// complete (upstream does not merge); the name cannot change, so def.Name
// must be name or empty.
//
// ArcGIS docs: https://developers.arcgis.com/rest/enterprise-administration/server/editusagereport/
//
//upstream:operation POST usagereports/{report}/edit
func (s *UsageReportsService) Edit(ctx context.Context, name string, def *UsageReport) error {
	const op = "usageReports.edit"
	if err := checkReportName(op, name); err != nil {
		return err
	}
	if def == nil {
		return invalid(op, "report definition is nil")
	}
	if def.Name != "" && def.Name != name {
		return invalid(op, "a report cannot be renamed")
	}
	d := *def
	d.Name = name
	form, err := reportForm(op, &d)
	if err != nil {
		return err
	}
	return s.client.post(ctx, op, reportPath(name)+"/edit", form, nil)
}

// reportForm encodes def as the "usagereport" form field.
func reportForm(op string, def *UsageReport) (url.Values, error) {
	b, err := json.Marshal(def)
	if err != nil {
		e := invalid(op, "report definition cannot be encoded")
		e.Err = err
		return nil, e
	}
	return url.Values{"usagereport": {string(b)}}, nil
}

// Delete deletes a report.
//
// ArcGIS docs: https://developers.arcgis.com/rest/enterprise-administration/server/deleteusagereport/
//
//upstream:operation POST usagereports/{report}/delete
func (s *UsageReportsService) Delete(ctx context.Context, name string) error {
	const op = "usageReports.delete"
	if err := checkReportName(op, name); err != nil {
		return err
	}
	return s.client.post(ctx, op, reportPath(name)+"/delete", nil, nil)
}

// UsageDataFilter restricts the data of a report.
type UsageDataFilter struct {
	// Machines lists the machines whose requests count; empty means every
	// machine ("*").
	Machines []string
}

// MarshalJSON encodes the filter as upstream expects it:
// {"machines":"*"} or {"machines":["A","B"]}.
func (f UsageDataFilter) MarshalJSON() ([]byte, error) {
	var m any = "*"
	if len(f.Machines) > 0 {
		m = f.Machines
	}
	return json.Marshal(struct {
		Machines any `json:"machines"`
	}{m})
}

// UsageData is the data of a report (the "report" object of the data
// operation).
type UsageData struct {
	// ReportName is "reportname".
	ReportName string
	// Metadata is "metadata" as received: upstream sends a JSON string even
	// when the metadata was posted as an object.
	Metadata json.RawMessage
	// TimeSlices is "time-slices": the END of each slice, epoch
	// milliseconds.
	TimeSlices []int64
	// ReportData is "report-data": one list per report query.
	ReportData [][]UsageSeries
}

// UsageSeries is one entry of "report-data": a metric of a resource.
type UsageSeries struct {
	// ResourceURI is "resourceURI".
	ResourceURI string
	// MetricType is "metric-type", e.g. "RequestCount".
	MetricType string
	// Data is "data", aligned with UsageData.TimeSlices; a nil entry is a
	// null, "no data logged for that slice", which is not 0.
	Data []*float64
}

// UnmarshalJSON decodes a series tolerantly (numbers may be strings).
func (u *UsageSeries) UnmarshalJSON(b []byte) error {
	var w struct {
		ResourceURI jsonText          `json:"resourceURI"`
		MetricType  jsonText          `json:"metric-type"`
		Data        []json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	out := UsageSeries{ResourceURI: string(w.ResourceURI), MetricType: string(w.MetricType)}
	if w.Data != nil {
		out.Data = make([]*float64, len(w.Data))
	}
	for i, raw := range w.Data {
		if isJSONNull(raw) {
			continue
		}
		var v jsonFloat
		if err := json.Unmarshal(raw, &v); err != nil {
			return fmt.Errorf("data[%d]: %w", i, err)
		}
		f := float64(v)
		out.Data[i] = &f
	}
	*u = out
	return nil
}

// UnmarshalJSON decodes the "report" object tolerantly.
func (d *UsageData) UnmarshalJSON(b []byte) error {
	var w struct {
		ReportName jsonText          `json:"reportname"`
		Metadata   json.RawMessage   `json:"metadata"`
		TimeSlices []json.RawMessage `json:"time-slices"`
		ReportData [][]UsageSeries   `json:"report-data"`
	}
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	out := UsageData{ReportName: string(w.ReportName), ReportData: w.ReportData}
	if len(w.Metadata) > 0 && !isJSONNull(w.Metadata) {
		out.Metadata = w.Metadata
	}
	if w.TimeSlices != nil {
		out.TimeSlices = make([]int64, len(w.TimeSlices))
	}
	for i, raw := range w.TimeSlices {
		n, err := epochMillis(raw)
		if err != nil {
			return fmt.Errorf("time-slices[%d]: %w", i, err)
		}
		out.TimeSlices[i] = n
	}
	*d = out
	return nil
}

// Data runs a report and returns its data, restricted by filter.
//
// ArcGIS docs: https://developers.arcgis.com/rest/enterprise-administration/server/queryreportdata/
//
//upstream:operation GET usagereports/{report}/data
func (s *UsageReportsService) Data(ctx context.Context, name string, filter UsageDataFilter) (*UsageData, error) {
	const op = "usageReports.data"
	if err := checkReportName(op, name); err != nil {
		return nil, err
	}
	f, err := json.Marshal(filter)
	if err != nil {
		e := invalid(op, "filter cannot be encoded")
		e.Err = err
		return nil, e
	}
	var w struct {
		Report *UsageData `json:"report"`
	}
	if err := s.client.get(ctx, op, reportPath(name)+"/data", url.Values{"filter": {string(f)}}, &w); err != nil {
		return nil, err
	}
	if w.Report == nil {
		return nil, &Error{Kind: KindDecode, Op: op, Method: "GET", Path: reportPath(name) + "/data", HTTPStatus: 200,
			Err: errors.New(`response has no "report" object`)}
	}
	return w.Report, nil
}

// UsageSettings are the usage statistics settings.
type UsageSettings struct {
	// Enabled is "enabled".
	Enabled bool
	// SamplingInterval is "samplingInterval" in minutes.
	SamplingInterval int
	// MaxHistory is "maxHistory" in days; 0 keeps statistics forever.
	MaxHistory int
	// StatisticsDir is "statisticsDir" (read only).
	StatisticsDir string
}

// UnmarshalJSON decodes the settings tolerantly.
func (u *UsageSettings) UnmarshalJSON(b []byte) error {
	var w struct {
		Enabled          jsonBool `json:"enabled"`
		SamplingInterval jsonInt  `json:"samplingInterval"`
		MaxHistory       jsonInt  `json:"maxHistory"`
		StatisticsDir    jsonText `json:"statisticsDir"`
	}
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	*u = UsageSettings{bool(w.Enabled), int(w.SamplingInterval), int(w.MaxHistory), string(w.StatisticsDir)}
	return nil
}

// Settings returns the usage statistics settings.
//
// ArcGIS docs: https://developers.arcgis.com/rest/enterprise-administration/server/usagereportssettings/
//
//upstream:operation GET usagereports/settings
func (s *UsageReportsService) Settings(ctx context.Context) (*UsageSettings, error) {
	var st UsageSettings
	if err := s.client.get(ctx, "usageReports.settings", "usagereports/settings", nil, &st); err != nil {
		return nil, err
	}
	return &st, nil
}

// EditSettings sets the usage statistics settings (enabled,
// samplingInterval, maxHistory; StatisticsDir is not sent).
//
// ArcGIS docs: https://developers.arcgis.com/rest/enterprise-administration/server/editusagereportssettings/
//
//upstream:operation POST usagereports/settings/edit
func (s *UsageReportsService) EditSettings(ctx context.Context, st UsageSettings) error {
	const op = "usageReports.editSettings"
	if st.SamplingInterval <= 0 || st.MaxHistory < 0 {
		return invalid(op, "samplingInterval must be positive and maxHistory not negative")
	}
	form := url.Values{
		"enabled":          {strconv.FormatBool(st.Enabled)},
		"samplingInterval": {strconv.Itoa(st.SamplingInterval)},
		"maxHistory":       {strconv.Itoa(st.MaxHistory)},
	}
	return s.client.post(ctx, op, "usagereports/settings/edit", form, nil)
}
