package simulator

import (
	"encoding/json"
	"errors"
	"hash/fnv"
	"io"
	"math"
	"strconv"
	"strings"
	"sync"
	"time"
)

// This file simulates the usage reports family
// (docs/upstream.md#usage-reports):
//
//	GET  usagereports                  {"metrics":[<definition>, ...]}
//	POST usagereports/add              usagereport=<definition JSON>
//	GET  usagereports/<name>           the definition as stored
//	POST usagereports/<name>/edit      usagereport=<complete definition JSON>
//	POST usagereports/<name>/delete
//	GET  usagereports/<name>/data      filter={"machines":"*"|[...]}; POST too
//	GET  usagereports/settings         {"enabled","samplingInterval","maxHistory","statisticsDir"}
//	POST usagereports/settings/edit    enabled, samplingInterval, maxHistory
//
// Definitions are kept as sent (a numeric reportname stays a number). The
// data operation generates deterministic values from each slice's end time,
// resource and metric, with nulls among them, and returns the metadata as a
// JSON string even when it was stored as an object
// (docs/upstream.md#usage-data).

// Invented usage report messages (docs/upstream.md#open-questions: no
// recorded texts).
const (
	// msgUsageReportRequired is INVENTED: add or edit without usagereport (code 400).
	msgUsageReportRequired = "Missing required parameter 'usagereport'."
	// msgReportNameRequired is INVENTED: a definition without reportname (code 400).
	msgReportNameRequired = "The usage report must have a 'reportname'."
	// msgCustomRange is INVENTED: CUSTOM without a from earlier than to (code 400).
	msgCustomRange = "A CUSTOM usage report needs 'from' and 'to' in epoch milliseconds, with 'from' before 'to'."
	// msgAggregationInterval is INVENTED: aggregationInterval that is not a positive integer (code 400).
	msgAggregationInterval = "'aggregationInterval' must be a positive number of minutes."
	// msgQueries is INVENTED: queries missing or not shaped like
	// [{"resourceURIs":[...],"metrics":[...]}] (code 400).
	msgQueries = "'queries' must be a list of objects with 'resourceURIs' and 'metrics' lists."
	// msgRunningInstancesMax is INVENTED: ServiceRunningInstancesMax with other
	// metrics on a server before 11.1 (code 400);
	// docs/upstream.md#usage-metrics.
	msgRunningInstancesMax = "The metric 'ServiceRunningInstancesMax' cannot be combined with other metrics in a usage report."
	// msgTooManySlices is INVENTED: data of a report with more than
	// maxUsageSlices time slices (code 400).
	msgTooManySlices = "The usage report covers too many time slices. Use a larger aggregation interval or a shorter time range."
	// msgUsageFilter is INVENTED: a data filter that is not a JSON object with
	// "machines" as "*" or a list of names (code 400).
	msgUsageFilter = "Invalid 'filter' parameter."
)

// msgReportExists is INVENTED: add with a name in use (code 500).
func msgReportExists(name string) string {
	return "A usage report with the name '" + name + "' already exists."
}

// msgReportNameInvalid is INVENTED: a report name that cannot be a path
// segment or collides with an operation (code 400).
func msgReportNameInvalid(name string) string {
	return "Usage report name '" + name + "' is not valid."
}

// msgSince is INVENTED: an unknown since value (code 400).
func msgSince(v string) string {
	return "Invalid value '" + v + "' for 'since'. Expected LAST_DAY, LAST_WEEK, LAST_MONTH, LAST_YEAR or CUSTOM."
}

// msgMetric is INVENTED: an unknown metric (code 400).
func msgMetric(m string) string { return "Metric '" + m + "' is not supported." }

// msgResourceURI is INVENTED: a resource URI outside services/ (code 400).
func msgResourceURI(u string) string { return "Invalid resource URI '" + u + "'." }

// msgRenameReport is INVENTED: edit whose reportname differs from the
// report edited (code 400).
func msgRenameReport(got, want string) string {
	return "The report name '" + got + "' does not match the usage report being edited '" + want + "'."
}

// msgUsageSettingNumber is INVENTED: a settings parameter that is not a number in range (code 400).
func msgUsageSettingNumber(param, value string) string {
	return "Invalid value '" + value + "' for parameter '" + param + "'."
}

// usageMachine is the site's only machine, named like the D:job example's
// machine (docs/upstream.md#recorded-payloads). A data filter listing other
// machines only finds no data.
const usageMachine = "MACHINE.DOMAIN.COM"

// maxUsageSlices bounds the time slices of one data answer.
const maxUsageSlices = 5000

// usageMetrics are the metrics the simulator accepts
// (docs/upstream.md#usage-metrics).
var usageMetrics = map[string]bool{
	"RequestCount": true, "RequestsFailed": true, "RequestsTimedOut": true,
	"RequestMaxResponseTime": true, "RequestAvgResponseTime": true,
	"ServiceActiveInstances": true, "ServiceRunningInstancesMax": true,
	"RequestAvgWaitTime": true, "RequestMaxWaitTime": true,
}

// usagePeriods are the fixed periods of since, with their default
// aggregation intervals (docs/upstream.md#usage-reports). A month is taken
// as 30 days.
var usagePeriods = map[string]struct{ span, interval time.Duration }{
	"LAST_DAY":   {24 * time.Hour, 30 * time.Minute},
	"LAST_WEEK":  {7 * 24 * time.Hour, 4 * time.Hour},
	"LAST_MONTH": {30 * 24 * time.Hour, 24 * time.Hour},
	"LAST_YEAR":  {365 * 24 * time.Hour, 7 * 24 * time.Hour},
}

// usageReport is one stored report definition.
type usageReport struct {
	name string         // reportname as text
	def  map[string]any // as sent, numbers as json.Number; never mutated
	raw  []byte         // compact JSON of def
}

// usageSettings are the usage statistics settings.
type usageSettings struct {
	Enabled          bool   `json:"enabled"`
	SamplingInterval int    `json:"samplingInterval"`
	MaxHistory       int    `json:"maxHistory"`
	StatisticsDir    string `json:"statisticsDir"`
}

// usageState is a Server's usage reports family.
type usageState struct {
	mu       sync.Mutex
	reports  map[string]*usageReport // key: reportname text (case-sensitive)
	order    []*usageReport          // creation order, the listing order
	settings usageSettings
}

// usage returns s's usage reports state, seeded in New.
func (s *Server) usage() *usageState { return s.usageReports }

// newUsageState returns the seeded state: the recorded settings (statistics
// directory from the PUPPET transcript) and two reports shaped like the
// documented examples (docs/upstream.md#recorded-payloads), one with a
// numeric reportname and object metadata.
func newUsageState() *usageState {
	st := &usageState{
		reports: make(map[string]*usageReport),
		settings: usageSettings{
			Enabled: true, SamplingInterval: 30, MaxHistory: 0,
			StatisticsDir: "/opt/arcgis/server/usr/directories/arcgissystem",
		},
	}
	for _, def := range []string{
		`{"reportname":1394223588659,"since":"LAST_MONTH",` +
			`"queries":[{"resourceURIs":["services/SampleWorldCities.MapServer","services/","services/Maps/Parcels.MapServer"],"metrics":["RequestCount"]}],` +
			`"metadata":{"temp":false,"title":"Request Count Report","styles":{` +
			`"services/Maps/Parcels.MapServer":{"color":"#B82500","marker":"m-3-3l 0 6 6 0 0-6z"},` +
			`"services/":{"marker":"m 0-3l 3 3-3 3-3-3z"},` +
			`"services/SampleWorldCities.MapServer":{"color":"#E97000","marker":"m-3 3l 3-6 3 6z"}}}}`,
		`{"reportname":"1fa828eb31664485ae5c25c76c86e28d","since":"LAST_DAY",` +
			`"queries":[{"resourceURIs":["services/Maps/","services/System/CachingTools.GPServer"],"metrics":["RequestCount","RequestsFailed","RequestAvgResponseTime"]}],` +
			`"metadata":"This could be any String or JSON Object. The usage report below shows how this parameter is used for storing report metadata."}`,
	} {
		m, err := decodeUsageObject(def)
		if err != nil {
			panic("simulator: bad seed usage report: " + err.Error())
		}
		name, _ := reportNameOf(m)
		st.put(&usageReport{name: name, def: m, raw: mustJSON(m)})
	}
	return st
}

// put stores r, replacing a report of the same name in place. The caller
// holds st.mu (or owns st).
func (st *usageState) put(r *usageReport) {
	if old := st.reports[r.name]; old != nil {
		for i, o := range st.order {
			if o == old {
				st.order[i] = r
			}
		}
	} else {
		st.order = append(st.order, r)
	}
	st.reports[r.name] = r
}

// serveUsageReports dispatches /admin/usagereports and everything below it.
func (s *Server) serveUsageReports(c *call) {
	st := s.usage()
	rest := c.segs[1:]
	if len(rest) == 0 {
		st.mu.Lock()
		defs := make([]json.RawMessage, 0, len(st.order))
		for _, r := range st.order {
			defs = append(defs, r.raw)
		}
		st.mu.Unlock()
		c.writeJSON(struct {
			Metrics []json.RawMessage `json:"metrics"`
		}{defs})
		return
	}
	if handle, found, ok := usageReportsRoutes.match(c, rest); found {
		if ok {
			handle(s, c, st, "", rest[1:])
		}
		return
	}
	name := rest[0]
	st.mu.Lock()
	r := st.reports[name]
	st.mu.Unlock()
	if r == nil {
		c.notFound(name)
		return
	}
	if len(rest) == 1 {
		c.writeBody(r.raw)
		return
	}
	handle, found, ok := usageReportRoutes.match(c, rest[1:])
	if !found {
		c.notFound(rest[1])
		return
	}
	if ok {
		handle(s, c, st, name, rest[2:])
	}
}

// addUsageReport implements POST usagereports/add.
func (s *Server) addUsageReport(c *call, st *usageState, _ string, _ []string) {
	r, ok := s.decodeUsageReport(c, "")
	if !ok {
		return
	}
	st.mu.Lock()
	if _, dup := st.reports[r.name]; dup {
		st.mu.Unlock()
		c.fail(500, msgReportExists(r.name))
		return
	}
	st.put(r)
	st.mu.Unlock()
	s.logEvent("simulator: usage report %q created", r.name)
	c.success()
}

// editUsageReport implements POST usagereports/<name>/edit: the complete new
// definition replaces the old one.
func (s *Server) editUsageReport(c *call, st *usageState, name string, _ []string) {
	r, ok := s.decodeUsageReport(c, name)
	if !ok {
		return
	}
	st.mu.Lock()
	if st.reports[name] == nil {
		st.mu.Unlock()
		c.notFound(name)
		return
	}
	st.put(r)
	st.mu.Unlock()
	s.logEvent("simulator: usage report %q edited", name)
	c.success()
}

// deleteUsageReport implements POST usagereports/<name>/delete.
func (s *Server) deleteUsageReport(c *call, st *usageState, name string, _ []string) {
	st.mu.Lock()
	r := st.reports[name]
	if r != nil {
		delete(st.reports, name)
		for i, o := range st.order {
			if o == r {
				st.order = append(st.order[:i:i], st.order[i+1:]...)
				break
			}
		}
	}
	st.mu.Unlock()
	if r == nil {
		c.notFound(name)
		return
	}
	s.logEvent("simulator: usage report %q deleted", name)
	c.success()
}

// decodeUsageReport decodes and validates the usagereport parameter. For an
// edit, editing is the report's name: the definition may omit reportname
// but must not name another report. On failure it has answered.
func (s *Server) decodeUsageReport(c *call, editing string) (*usageReport, bool) {
	text := strings.TrimSpace(c.param("usagereport"))
	switch {
	case text == "":
		c.fail(400, msgUsageReportRequired)
		return nil, false
	case text[0] != '{':
		c.fail(500, msgJSONObjectStart)
		return nil, false
	}
	def, err := decodeUsageObject(text)
	if err != nil {
		var syn *json.SyntaxError
		offset := int64(len(text))
		if errors.As(err, &syn) {
			offset = syn.Offset
		}
		c.fail(500, msgJSONSyntax(offset))
		return nil, false
	}
	name, hasName := reportNameOf(def)
	if editing != "" && !hasName {
		name, hasName = editing, true
		def["reportname"] = editing
	}
	switch {
	case !hasName:
		c.fail(400, msgReportNameRequired)
		return nil, false
	case !validReportName(name):
		c.fail(400, msgReportNameInvalid(name))
		return nil, false
	case editing != "" && name != editing:
		c.fail(400, msgRenameReport(name, editing))
		return nil, false
	}
	if msg := s.checkUsageDefinition(def); msg != "" {
		c.fail(400, msg)
		return nil, false
	}
	return &usageReport{name: name, def: def, raw: mustJSON(def)}, true
}

// checkUsageDefinition returns why def is not an acceptable definition, or "".
func (s *Server) checkUsageDefinition(def map[string]any) string {
	since, _ := def["since"].(string)
	if _, fixed := usagePeriods[since]; !fixed && since != "CUSTOM" {
		return msgSince(since)
	}
	if since == "CUSTOM" {
		from, okFrom := usageInteger(def["from"])
		to, okTo := usageInteger(def["to"])
		if !okFrom || !okTo || from >= to {
			return msgCustomRange
		}
	}
	if v, has := def["aggregationInterval"]; has {
		if n, ok := usageInteger(v); !ok || n <= 0 {
			return msgAggregationInterval
		}
	}
	queries, ok := def["queries"].([]any)
	if !ok {
		return msgQueries
	}
	var metrics []string
	for _, q := range queries {
		obj, ok := q.(map[string]any)
		if !ok {
			return msgQueries
		}
		uris, okU := usageStrings(obj["resourceURIs"])
		ms, okM := usageStrings(obj["metrics"])
		if !okU || !okM {
			return msgQueries
		}
		for _, u := range uris {
			if !strings.HasPrefix(u, "services/") {
				return msgResourceURI(u)
			}
		}
		for _, m := range ms {
			if !usageMetrics[m] {
				return msgMetric(m)
			}
		}
		metrics = append(metrics, ms...)
	}
	if s.version < 11.1 {
		for _, m := range metrics {
			if m != "ServiceRunningInstancesMax" {
				continue
			}
			for _, o := range metrics {
				if o != m {
					return msgRunningInstancesMax
				}
			}
		}
	}
	return ""
}

// serveUsageSettings implements GET usagereports/settings and POST
// usagereports/settings/edit.
func (s *Server) serveUsageSettings(c *call, st *usageState, _ string, rest []string) {
	switch {
	case len(rest) == 0:
		st.mu.Lock()
		cur := st.settings
		st.mu.Unlock()
		c.writeJSON(cur)
	case rest[0] == "edit" && len(rest) == 1:
		if c.requirePOST() {
			s.editUsageSettings(c, st)
		}
	default:
		c.notFound(rest[0])
	}
}

// editUsageSettings applies the parameters sent; the others keep their
// values. The answer is {"status":"success"} (INFERRED,
// docs/upstream.md#usage-reports).
func (s *Server) editUsageSettings(c *call, st *usageState) {
	var enabled *bool
	if c.hasParam("enabled") {
		v := c.param("enabled")
		switch {
		case strings.EqualFold(v, "true"):
			t := true
			enabled = &t
		case strings.EqualFold(v, "false"):
			f := false
			enabled = &f
		default:
			c.fail(400, msgBadBoolean("enabled", v))
			return
		}
	}
	number := func(param string, min int) (*int, bool) {
		if !c.hasParam(param) {
			return nil, true
		}
		v := c.param(param)
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil || n < min {
			c.fail(400, msgUsageSettingNumber(param, v))
			return nil, false
		}
		return &n, true
	}
	sampling, ok := number("samplingInterval", 1)
	if !ok {
		return
	}
	history, ok := number("maxHistory", 0)
	if !ok {
		return
	}
	st.mu.Lock()
	if enabled != nil {
		st.settings.Enabled = *enabled
	}
	if sampling != nil {
		st.settings.SamplingInterval = *sampling
	}
	if history != nil {
		st.settings.MaxHistory = *history
	}
	st.mu.Unlock()
	s.logEvent("simulator: usage statistics settings edited")
	c.success()
}

// usageSeries is one entry of report-data.
type usageSeries struct {
	ResourceURI string     `json:"resourceURI"`
	MetricType  string     `json:"metric-type"`
	Data        []*float64 `json:"data"`
}

// usageReportData implements usagereports/<name>/data (GET or POST).
func (s *Server) usageReportData(c *call, st *usageState, name string, _ []string) {
	machines, ok := parseUsageFilter(c.param("filter"))
	if !ok {
		c.fail(400, msgUsageFilter)
		return
	}
	st.mu.Lock()
	r := st.reports[name]
	sampling := st.settings.SamplingInterval
	st.mu.Unlock()
	if r == nil {
		c.notFound(name)
		return
	}
	ends, ok := usageSlices(r.def, s.now(), time.Duration(sampling)*time.Minute)
	if !ok {
		c.fail(400, msgTooManySlices)
		return
	}
	counted := machines == nil
	for _, m := range machines {
		counted = counted || strings.EqualFold(m, usageMachine)
	}
	queries, _ := r.def["queries"].([]any)
	data := make([][]usageSeries, 0, len(queries))
	for _, q := range queries {
		obj, _ := q.(map[string]any)
		uris, _ := usageStrings(obj["resourceURIs"])
		metrics, _ := usageStrings(obj["metrics"])
		series := make([]usageSeries, 0, len(uris)*len(metrics))
		for _, u := range uris {
			for _, m := range metrics {
				values := make([]*float64, len(ends))
				if counted {
					for i, end := range ends {
						values[i] = usageValue(u, m, end)
					}
				}
				series = append(series, usageSeries{ResourceURI: u, MetricType: m, Data: values})
			}
		}
		data = append(data, series)
	}
	type report struct {
		ReportName any             `json:"reportname"`
		Metadata   *string         `json:"metadata,omitempty"`
		TimeSlices []int64         `json:"time-slices"`
		ReportData [][]usageSeries `json:"report-data"`
	}
	out := report{ReportName: r.def["reportname"], TimeSlices: ends, ReportData: data}
	if meta, has := r.def["metadata"]; has && meta != nil {
		text, isString := meta.(string)
		if !isString {
			text = string(mustJSON(meta))
		}
		out.Metadata = &text
	}
	c.writeJSON(struct {
		Report report `json:"report"`
	}{out})
}

// parseUsageFilter reads the data filter: absent, {} or "machines":"*"
// select every machine (nil); a list selects those names.
func parseUsageFilter(text string) ([]string, bool) {
	if strings.TrimSpace(text) == "" {
		return nil, true
	}
	m, err := decodeUsageObject(text)
	if err != nil {
		return nil, false
	}
	switch v := m["machines"].(type) {
	case nil:
		return nil, true
	case string:
		return nil, v == "*"
	default:
		names, ok := usageStrings(v)
		if !ok || len(names) == 0 {
			return nil, false
		}
		return names, true
	}
}

// usageSlices returns the end of every time slice of def at now, in epoch
// milliseconds, or false when there would be more than maxUsageSlices.
// Fixed periods end at now rounded down to the interval; CUSTOM slices run
// from "from" and the last one ends at "to". The interval is the report's
// aggregationInterval or the period's default, and never finer than the
// sampling interval.
func usageSlices(def map[string]any, now time.Time, sampling time.Duration) ([]int64, bool) {
	const day = 24 * 60 * 60 * 1000 // ms
	since, _ := def["since"].(string)
	period, fixed := usagePeriods[since]
	var from, to, step int64
	if fixed {
		step = period.interval.Milliseconds()
	} else {
		from, _ = usageInteger(def["from"])
		to, _ = usageInteger(def["to"])
		if to <= from || to-from <= 0 { // empty, or so wide it overflows
			return []int64{}, to <= from
		}
		switch span := to - from; {
		case span <= day:
			step = (30 * time.Minute).Milliseconds()
		case span <= 7*day:
			step = (4 * time.Hour).Milliseconds()
		case span <= 30*day:
			step = day
		default:
			step = 7 * day
		}
	}
	if n, ok := usageInteger(def["aggregationInterval"]); ok && n > 0 && n <= math.MaxInt32 {
		step = n * time.Minute.Milliseconds()
	}
	step = max(step, sampling.Milliseconds(), 1)
	if fixed {
		to = now.UnixMilli()
		to -= to % step
		n := max(period.span.Milliseconds()/step, 1)
		from = to - n*step
	}
	if (to-from)/step >= maxUsageSlices {
		return nil, false
	}
	ends := make([]int64, 0, (to-from)/step+1)
	for end := from + step; end < to; end += step {
		ends = append(ends, end)
	}
	return append(ends, to), true
}

// usageValue is the deterministic value of metric for resource in the slice
// ending at end: about one slice in seven has no data (nil), counts are
// integers (failures are often 0), times are milliseconds.
func usageValue(resource, metric string, end int64) *float64 {
	h := fnv.New64a()
	_, _ = io.WriteString(h, resource+"\x00"+metric+"\x00"+strconv.FormatInt(end, 10))
	sum := h.Sum64()
	if sum%7 == 0 {
		return nil
	}
	sum /= 7
	var v float64
	switch metric {
	case "RequestCount":
		v = float64(sum % 1000)
	case "RequestsFailed", "RequestsTimedOut":
		v = float64(sum%12) - 8
		v = max(v, 0)
	case "RequestMaxResponseTime", "RequestMaxWaitTime":
		v = float64(50 + sum%2000)
	case "RequestAvgResponseTime", "RequestAvgWaitTime":
		v = float64(sum%50000) / 100
	default: // instance counts
		v = float64(sum % 4)
	}
	return &v
}

// decodeUsageObject decodes a JSON object keeping numbers as json.Number; trailing
// data is an error.
func decodeUsageObject(text string) (map[string]any, error) {
	dec := json.NewDecoder(strings.NewReader(text))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, &json.SyntaxError{Offset: dec.InputOffset()}
	}
	if m == nil {
		return nil, errors.New("not an object")
	}
	return m, nil
}

// reportNameOf returns the reportname of def as text: a string, or a
// number's literal.
func reportNameOf(def map[string]any) (string, bool) {
	switch v := def["reportname"].(type) {
	case string:
		return v, v != ""
	case json.Number:
		return v.String(), true
	}
	return "", false
}

// validReportName reports whether name can be a report's path segment: no
// slash, backslash or control character, not "." or "..", and not the name
// of a child of usagereports/.
func validReportName(name string) bool {
	if name == "" || name == "." || name == ".." || strings.EqualFold(name, "add") || strings.EqualFold(name, "settings") {
		return false
	}
	for _, r := range name {
		if r < 0x20 || r == 0x7f || r == '/' || r == '\\' || r == '?' || r == '#' || r == '%' {
			return false
		}
	}
	return true
}

// usageInteger reads an integer sent as a JSON number or numeric string.
func usageInteger(v any) (int64, bool) {
	var s string
	switch x := v.(type) {
	case json.Number:
		s = x.String()
	case string:
		s = strings.TrimSpace(x)
	default:
		return 0, false
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return n, true
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f != math.Trunc(f) || math.Abs(f) >= 1<<62 {
		return 0, false
	}
	return int64(f), true
}

// usageStrings reads a JSON array of strings.
func usageStrings(v any) ([]string, bool) {
	list, ok := v.([]any)
	if !ok {
		return nil, false
	}
	out := make([]string, 0, len(list))
	for _, e := range list {
		s, ok := e.(string)
		if !ok {
			return nil, false
		}
		out = append(out, s)
	}
	return out, true
}
