package simulator_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/arcgate/arcgate/simulator"
)

// reports returns the "metrics" array of GET usagereports.
func reports(t *testing.T, e *env) []any {
	t.Helper()
	m := e.getJSON("usagereports")
	list, ok := m["metrics"].([]any)
	if !ok || len(m) != 1 {
		t.Fatalf("usagereports = %v, want only a metrics array", m)
	}
	return list
}

func TestUsageReportsSeed(t *testing.T) {
	e := newEnv(t, simulator.Config{})
	list := reports(t, e)
	if len(list) != 2 {
		t.Fatalf("%d seeded reports, want 2", len(list))
	}
	first := list[0].(map[string]any)
	if first["reportname"] != json.Number("1394223588659") {
		t.Errorf("first reportname = %#v, want the number 1394223588659", first["reportname"])
	}
	if _, ok := first["metadata"].(map[string]any); !ok {
		t.Errorf("first metadata = %#v, want an object", first["metadata"])
	}
	second := list[1].(map[string]any)
	if second["reportname"] != "1fa828eb31664485ae5c25c76c86e28d" || second["since"] != "LAST_DAY" {
		t.Errorf("second report = %v", second)
	}
	if _, ok := second["metadata"].(string); !ok {
		t.Errorf("second metadata = %#v, want a string", second["metadata"])
	}
	// A numeric name is addressed by its digits.
	got := e.getJSON("usagereports/1394223588659")
	if got["since"] != "LAST_MONTH" || got["reportname"] != json.Number("1394223588659") {
		t.Errorf("GET report = %v", got)
	}
	wantError(t, e.getJSON("usagereports/nope"), 404, "Could not find resource or operation 'nope' on the system.")
	wantError(t, e.getJSON("usagereports/1394223588659/nope"), 404, "Could not find resource or operation 'nope' on the system.")
}

// TestUsageReportsStatePerServer checks that reports live in their own
// Server only.
func TestUsageReportsStatePerServer(t *testing.T) {
	a, b := newEnv(t, simulator.Config{}), newEnv(t, simulator.Config{})
	wantSuccess(t, a.postJSON("usagereports/add", "usagereport", `{"reportname":"only_a","since":"LAST_DAY","queries":[]}`))
	if n := len(reports(t, a)); n != 3 {
		t.Fatalf("a has %d reports", n)
	}
	if n := len(reports(t, b)); n != 2 {
		t.Fatalf("b has %d reports, want the 2 seeded ones", n)
	}
}

func TestUsageReportsAddEditDelete(t *testing.T) {
	e := newEnv(t, simulator.Config{})
	def := `{"reportname":"r1","since":"CUSTOM","from":1714521600000,"to":1714564800000,"aggregationInterval":60,` +
		`"queries":[{"resourceURIs":["services/Maps/"],"metrics":["RequestCount"]}],"metadata":{"title":"t"},"extra":[1]}`
	wantSuccess(t, e.postJSON("usagereports/add", "usagereport", def))
	got := e.getJSON("usagereports/r1")
	if got["from"] != json.Number("1714521600000") || got["extra"] == nil || got["aggregationInterval"] != json.Number("60") {
		t.Errorf("stored definition = %v", got)
	}
	wantError(t, e.postJSON("usagereports/add", "usagereport", def), 500, "A usage report with the name 'r1' already exists.")
	if r := e.get("usagereports/add", e.authed("usagereport", def)); r.objectOrNil()["code"] != float64(405) {
		t.Errorf("GET add: %s", r.body)
	}

	// Edit replaces the whole definition; the name may be omitted.
	wantSuccess(t, e.postJSON("usagereports/r1/edit", "usagereport", `{"since":"LAST_WEEK","queries":[{"resourceURIs":["services/"],"metrics":["RequestsFailed"]}]}`))
	got = e.getJSON("usagereports/r1")
	if got["since"] != "LAST_WEEK" || got["from"] != nil || got["metadata"] != nil || got["reportname"] != "r1" {
		t.Errorf("after edit = %v", got)
	}
	wantError(t, e.postJSON("usagereports/r1/edit", "usagereport", `{"reportname":"r2","since":"LAST_DAY","queries":[]}`),
		400, "The report name 'r2' does not match the usage report being edited 'r1'.")
	wantCode(t, e.postJSON("usagereports/gone/edit", "usagereport", `{"since":"LAST_DAY","queries":[]}`), 404)

	wantSuccess(t, e.postJSON("usagereports/r1/delete"))
	wantCode(t, e.getJSON("usagereports/r1"), 404)
	wantCode(t, e.postJSON("usagereports/r1/delete"), 404)
	if n := len(reports(t, e)); n != 2 {
		t.Fatalf("%d reports after delete", n)
	}
}

func TestUsageReportsValidation(t *testing.T) {
	tests := []struct {
		name    string
		version float64
		def     string
		code    int
		msg     string
	}{
		{"missing", 0, "", 400, "Missing required parameter 'usagereport'."},
		{"not an object", 0, `[1]`, 500, "A JSONObject text must begin with '{' at character 1"},
		{"no name", 0, `{"since":"LAST_DAY","queries":[]}`, 400, "The usage report must have a 'reportname'."},
		{"reserved name", 0, `{"reportname":"settings","since":"LAST_DAY","queries":[]}`, 400, "Usage report name 'settings' is not valid."},
		{"slash in name", 0, `{"reportname":"a/b","since":"LAST_DAY","queries":[]}`, 400, "Usage report name 'a/b' is not valid."},
		{"bad since", 0, `{"reportname":"x","since":"YESTERDAY","queries":[]}`, 400,
			"Invalid value 'YESTERDAY' for 'since'. Expected LAST_DAY, LAST_WEEK, LAST_MONTH, LAST_YEAR or CUSTOM."},
		{"custom without to", 0, `{"reportname":"x","since":"CUSTOM","from":1,"queries":[]}`, 400, "A CUSTOM usage report needs 'from' and 'to' in epoch milliseconds, with 'from' before 'to'."},
		{"custom reversed", 0, `{"reportname":"x","since":"CUSTOM","from":2,"to":1,"queries":[]}`, 400, "A CUSTOM usage report needs 'from' and 'to' in epoch milliseconds, with 'from' before 'to'."},
		{"zero interval", 0, `{"reportname":"x","since":"LAST_DAY","aggregationInterval":0,"queries":[]}`, 400, "'aggregationInterval' must be a positive number of minutes."},
		{"no queries", 0, `{"reportname":"x","since":"LAST_DAY"}`, 400, "'queries' must be a list of objects with 'resourceURIs' and 'metrics' lists."},
		{"bad uri", 0, `{"reportname":"x","since":"LAST_DAY","queries":[{"resourceURIs":["maps/"],"metrics":[]}]}`, 400, "Invalid resource URI 'maps/'."},
		{"unknown metric", 0, `{"reportname":"x","since":"LAST_DAY","queries":[{"resourceURIs":[],"metrics":["Bogus"]}]}`, 400, "Metric 'Bogus' is not supported."},
		{"running max combined before 11.1", 10.91, `{"reportname":"x","since":"LAST_DAY","queries":[{"resourceURIs":["services/"],"metrics":["ServiceRunningInstancesMax"]},{"resourceURIs":["services/"],"metrics":["RequestCount"]}]}`,
			400, "The metric 'ServiceRunningInstancesMax' cannot be combined with other metrics in a usage report."},
		{"running max alone before 11.1", 10.91, `{"reportname":"x","since":"LAST_DAY","queries":[{"resourceURIs":["services/"],"metrics":["ServiceRunningInstancesMax"]}]}`, 0, ""},
		{"running max combined on 11.1", 11.1, `{"reportname":"x","since":"LAST_DAY","queries":[{"resourceURIs":["services/"],"metrics":["ServiceRunningInstancesMax","RequestCount"]}]}`, 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, simulator.Config{Version: tt.version})
			var pairs []string
			if tt.def != "" {
				pairs = []string{"usagereport", tt.def}
			}
			m := e.postJSON("usagereports/add", pairs...)
			if tt.code == 0 {
				wantSuccess(t, m)
				return
			}
			wantError(t, m, tt.code, tt.msg)
			if n := len(reports(t, e)); n != 2 {
				t.Fatalf("a refused add changed the reports: %d", n)
			}
		})
	}
}

// data runs a report's data operation.
func data(t *testing.T, e *env, name string, pairs ...string) map[string]any {
	t.Helper()
	m := e.getJSON("usagereports/"+name+"/data", pairs...)
	rep, ok := m["report"].(map[string]any)
	if !ok {
		t.Fatalf("data of %s = %v", name, m)
	}
	return rep
}

func TestUsageReportsData(t *testing.T) {
	e := newEnv(t, simulator.Config{})
	rep := data(t, e, "1fa828eb31664485ae5c25c76c86e28d")
	slices := rep["time-slices"].([]any)
	if len(slices) != 48 {
		t.Fatalf("LAST_DAY has %d slices, want 48 of 30 minutes", len(slices))
	}
	now := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC).UnixMilli()
	last, _ := slices[47].(json.Number).Int64()
	first, _ := slices[0].(json.Number).Int64()
	if last != now || first != now-47*30*60*1000 {
		t.Errorf("slices run from %d to %d, want to end at %d every 30 minutes", first, last, now)
	}
	if rep["metadata"] != "This could be any String or JSON Object. The usage report below shows how this parameter is used for storing report metadata." {
		t.Errorf("metadata = %#v", rep["metadata"])
	}
	queries := rep["report-data"].([]any)
	if len(queries) != 1 {
		t.Fatalf("report-data has %d queries", len(queries))
	}
	series := queries[0].([]any)
	if len(series) != 6 { // 2 resources x 3 metrics, resource-major
		t.Fatalf("%d series, want 6", len(series))
	}
	var nulls, zeros, values int
	for i, s := range series {
		m := s.(map[string]any)
		wantURI := []string{"services/Maps/", "services/System/CachingTools.GPServer"}[i/3]
		wantMetric := []string{"RequestCount", "RequestsFailed", "RequestAvgResponseTime"}[i%3]
		if m["resourceURI"] != wantURI || m["metric-type"] != wantMetric {
			t.Errorf("series %d = %v %v, want %s %s", i, m["resourceURI"], m["metric-type"], wantURI, wantMetric)
		}
		points := m["data"].([]any)
		if len(points) != len(slices) {
			t.Fatalf("series %d has %d points for %d slices", i, len(points), len(slices))
		}
		for _, p := range points {
			switch p {
			case nil:
				nulls++
			case json.Number("0"):
				zeros++
			default:
				values++
			}
		}
	}
	if nulls == 0 || zeros == 0 || values == 0 {
		t.Errorf("want nulls, zeros and values: %d, %d, %d", nulls, zeros, values)
	}
	// Deterministic: the same clock gives the same answer.
	again := data(t, e, "1fa828eb31664485ae5c25c76c86e28d")
	a, _ := json.Marshal(rep)
	b, _ := json.Marshal(again)
	if string(a) != string(b) {
		t.Error("two data calls at the same time differ")
	}

	// Object metadata comes back as a JSON string; a numeric name stays a number.
	month := data(t, e, "1394223588659")
	text, ok := month["metadata"].(string)
	var meta map[string]any
	if !ok || json.Unmarshal([]byte(text), &meta) != nil || meta["title"] != "Request Count Report" {
		t.Errorf("metadata = %#v, want a string holding the object", month["metadata"])
	}
	if month["reportname"] != json.Number("1394223588659") || len(month["time-slices"].([]any)) != 30 {
		t.Errorf("LAST_MONTH data = %v slices, name %v", len(month["time-slices"].([]any)), month["reportname"])
	}
}

func TestUsageReportsDataFilterAndIntervals(t *testing.T) {
	e := newEnv(t, simulator.Config{})
	const name = "1fa828eb31664485ae5c25c76c86e28d"
	all := data(t, e, name)
	for _, f := range []string{`{"machines":"*"}`, `{"services":"*","machines":"*"}`, `{"machines":["machine.domain.com","OTHER"]}`} {
		got := data(t, e, name, "filter", f)
		a, _ := json.Marshal(all)
		b, _ := json.Marshal(got)
		if string(a) != string(b) {
			t.Errorf("filter %s changed the data", f)
		}
	}
	other := data(t, e, name, "filter", `{"machines":["WIN-85VQ4T2LR5N"]}`)
	for _, s := range other["report-data"].([]any)[0].([]any) {
		for _, p := range s.(map[string]any)["data"].([]any) {
			if p != nil {
				t.Fatalf("data for a machine the site does not have: %v", s)
			}
		}
	}
	for _, bad := range []string{`{"machines":"WIN"}`, `{"machines":[]}`, `[`, `{"machines":[1]}`} {
		wantError(t, e.getJSON("usagereports/"+name+"/data", "filter", bad), 400, "Invalid 'filter' parameter.")
	}

	// CUSTOM with an explicit interval: 12 hours in hourly slices, the last
	// one ending at "to".
	wantSuccess(t, e.postJSON("usagereports/add", "usagereport",
		`{"reportname":"c","since":"CUSTOM","from":1714521600000,"to":1714564800000,"aggregationInterval":60,"queries":[{"resourceURIs":["services/"],"metrics":["RequestCount"]}]}`))
	custom := data(t, e, "c")["time-slices"].([]any)
	if len(custom) != 12 || custom[0] != json.Number("1714525200000") || custom[11] != json.Number("1714564800000") {
		t.Errorf("CUSTOM slices = %v", custom)
	}
	// The sampling interval wins over a finer aggregation interval.
	wantSuccess(t, e.postJSON("usagereports/settings/edit", "samplingInterval", "120"))
	if n := len(data(t, e, "c")["time-slices"].([]any)); n != 6 {
		t.Errorf("with 2-hour sampling: %d slices, want 6", n)
	}
	// Too many slices.
	wantSuccess(t, e.postJSON("usagereports/add", "usagereport",
		`{"reportname":"huge","since":"CUSTOM","from":0,"to":1714564800000,"aggregationInterval":1,"queries":[]}`))
	wantError(t, e.getJSON("usagereports/huge/data"), 400,
		"The usage report covers too many time slices. Use a larger aggregation interval or a shorter time range.")
	// POST works too.
	if r := e.post("usagereports/c/data", e.authed()); r.objectOrNil()["report"] == nil {
		t.Errorf("POST data: %s", r.body)
	}
}

func TestUsageReportsSettings(t *testing.T) {
	e := newEnv(t, simulator.Config{})
	want := map[string]any{"enabled": true, "samplingInterval": json.Number("30"), "maxHistory": json.Number("0"),
		"statisticsDir": "/opt/arcgis/server/usr/directories/arcgissystem"}
	if got := e.getJSON("usagereports/settings"); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("settings = %v", got)
	}
	wantSuccess(t, e.postJSON("usagereports/settings/edit", "enabled", "FALSE", "maxHistory", "90"))
	got := e.getJSON("usagereports/settings")
	if got["enabled"] != false || got["maxHistory"] != json.Number("90") || got["samplingInterval"] != json.Number("30") {
		t.Fatalf("after edit = %v", got)
	}
	for _, bad := range [][2]string{{"enabled", "maybe"}, {"samplingInterval", "0"}, {"maxHistory", "-1"}, {"samplingInterval", "x"}} {
		m := e.postJSON("usagereports/settings/edit", bad[0], bad[1])
		wantCode(t, m, 400)
	}
	if r := e.get("usagereports/settings/edit", e.authed("enabled", "true")); r.objectOrNil()["code"] != float64(405) {
		t.Errorf("GET settings/edit: %s", r.body)
	}
	wantCode(t, e.getJSON("usagereports/settings/other"), 404)
}

func TestUsageReportsConcurrent(t *testing.T) {
	e := newEnv(t, simulator.Config{})
	tok := e.sim.IssueToken(time.Hour)
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for i := range 10 {
				q := url.Values{"f": {"json"}, "token": {tok}}
				name := fmt.Sprintf("w%d_%d", w, i)
				q.Set("usagereport", `{"reportname":"`+name+`","since":"LAST_DAY","queries":[{"resourceURIs":["services/"],"metrics":["RequestCount"]}]}`)
				for _, r := range []response{
					e.post("usagereports/add", q),
					e.get("usagereports/"+name+"/data", url.Values{"f": {"json"}, "token": {tok}}),
					e.get("usagereports", url.Values{"f": {"json"}, "token": {tok}}),
				} {
					if r.status != http.StatusOK || !json.Valid(r.body) || strings.Contains(string(r.body), `"status":"error"`) {
						t.Errorf("%s: %d %s", name, r.status, r.body)
					}
				}
				if i%2 == 0 {
					e.post("usagereports/"+name+"/delete", url.Values{"f": {"json"}, "token": {tok}})
				}
			}
		})
	}
	wg.Wait()
	if n := len(reports(t, e)); n != 2+8*5 {
		t.Fatalf("%d reports, want %d", n, 2+8*5)
	}
}

// FuzzUsageReportsAdd sends arbitrary definitions and filters: the
// simulator never panics, always answers valid JSON, and a stored report
// answers its data.
func FuzzUsageReportsAdd(f *testing.F) {
	for _, s := range []string{
		`{"reportname":1394219221008,"since":"LAST_MONTH","queries":[{"resourceURIs":["services/Map_bv_999.MapServer"],"metrics":["RequestCount"]}],"metadata":"x"}`,
		`{"reportname":"n","since":"CUSTOM","from":"1","to":1e13,"aggregationInterval":"1","queries":[]}`,
		`{"reportname":"n","since":"CUSTOM","from":-9223372036854775808,"to":9223372036854775807,"queries":[]}`,
		`{"reportname":"n","since":"LAST_YEAR","aggregationInterval":1,"queries":[{"resourceURIs":["services/"],"metrics":["ServiceRunningInstancesMax"]}]}`,
		`{"reportname":"settings"}`, `{`, `null`, `{"reportname":{"a":1}}`,
	} {
		f.Add(s, `{"machines":"*"}`)
	}
	f.Add(`{"reportname":"n","since":"LAST_DAY","queries":[{"resourceURIs":["services/"],"metrics":["RequestCount"]}]}`, `{"machines":["A",null]}`)
	f.Fuzz(func(t *testing.T, def, filter string) {
		sim := simulator.New(simulator.Config{Clock: newFakeClock().Now})
		tok := sim.IssueToken(time.Hour)
		call := func(method, rel string, form url.Values) map[string]any {
			form.Set("f", "json")
			form.Set("token", tok)
			var req *http.Request
			if method == http.MethodGet {
				req, _ = http.NewRequest(method, sim.AdminPath()+rel+"?"+form.Encode(), nil)
			} else {
				req, _ = http.NewRequest(method, sim.AdminPath()+rel, strings.NewReader(form.Encode()))
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			}
			rec := httptest.NewRecorder()
			sim.ServeHTTP(rec, req)
			var m map[string]any
			if err := json.Unmarshal(rec.Body.Bytes(), &m); err != nil {
				t.Fatalf("%s %s: not a JSON object: %q", method, rel, rec.Body.String())
			}
			return m
		}
		res := call(http.MethodPost, "usagereports/add", url.Values{"usagereport": {def}})
		if res["status"] != "success" {
			return
		}
		list := call(http.MethodGet, "usagereports", url.Values{})
		metrics, _ := list["metrics"].([]any)
		if len(metrics) != 3 {
			t.Fatalf("after a successful add: %v", list)
		}
		var name string
		switch v := metrics[2].(map[string]any)["reportname"].(type) {
		case string:
			name = v
		case float64:
			b, _ := json.Marshal(v)
			name = string(b)
		}
		_ = call(http.MethodGet, "usagereports/"+url.PathEscape(name)+"/data", url.Values{"filter": {filter}})
	})
}
