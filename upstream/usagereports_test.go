package upstream_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"

	"github.com/arcgate/arcgate/upstream"
)

// usageReportsJSON is the D:usagereports example
// (docs/upstream.md#recorded-payloads) with its brackets repaired: as
// published, the second report sits outside the "metrics" array.
const usageReportsJSON = `{
  "metrics": [
    {
      "reportname": 1394219221008,
      "since": "LAST_MONTH",
      "queries": [{"resourceURIs": ["services/Map_bv_999.MapServer"], "metrics": ["RequestCount"]}],
      "metadata": "This could be any String or JSON Object. The usage report below shows how this parameter is used for storing report metadata."
    },
    {
      "reportname": 1394223588659,
      "since": "LAST_MONTH",
      "queries": [{"resourceURIs": ["services/Map_bv_999.MapServer", "services/", "services/Map_bv_901.MapServer"],
                   "metrics": ["RequestCount"]}],
      "metadata": {
        "temp": false,
        "title": "Request Count Report",
        "styles": {
          "services/Map_bv_901.MapServer": {"color": "#B82500", "marker": "m-3-3l 0 6 6 0 0-6z"},
          "services/": {"marker": "m 0-3l 3 3-3 3-3-3z"},
          "services/Map_bv_999.MapServer": {"color": "#E97000", "marker": "m-3 3l 3-6 3 6z"}
        }
      }
    }
  ]
}`

// tnrisReportJSON is the TNRIS form payload's definition
// (docs/upstream.md#recorded-payloads) with concrete from/to values, plus a
// key this client does not model.
const tnrisReportJSON = `{"reportname":"a3f1","since":"CUSTOM","queries":[{"resourceURIs":["services/Address_Points"],"metrics":["RequestCount"]}],` +
	`"metadata":{"temp":false,"title":"Total requests for the last 7 days","managerReport":true,"styles":{"services/":{"color":"#D900D9"}}},` +
	`"from":1598914800000,"to":"1599519600000","aggregationInterval":"240","unmodelled":{"keep":[1,2]}}`

// pyapiDataJSON is the PYAPI quick_report docstring's data payload
// (docs/upstream.md#recorded-payloads) with its "..." elements dropped.
const pyapiDataJSON = `{"report": {"reportname": "1fa828eb31664485ae5c25c76c86e28d",
            "metadata": "{\"temp\":true,\"title\":\"1fa828eb31664485ae5c25c76c86e28d\",\"managerReport\":false}",
            "time-slices": [1598914800000, 1599001200000, 1599087600000, 1601420400000],
            "report-data": [[
              {"resourceURI": "services/Forests/Forests_degraded_2000.MapServer", "metric-type": "RequestCount", "data": [null, 17, 928, 20]},
              {"resourceURI": "services/Forests/Forests_degraded_2000.MapServer", "metric-type": "RequestsFailed", "data": [null, 225, null, 0]},
              {"resourceURI": "services/Lakes/Lakes_drought_levels.MapServer", "metric-type": "RequestCount", "data": [0, 0, 7, 71]},
              {"resourceURI": "services/Lakes/Lakes_drought_levels.MapServer", "metric-type": "RequestsFailed", "data": [null, null, 1, 0]}
            ]]}}`

func fp(f float64) *float64 { return &f }

func TestUsageReports_List(t *testing.T) {
	t.Parallel()
	c, mux := setupStatic(t)
	mux.HandleFunc("/usagereports", func(w http.ResponseWriter, r *http.Request) {
		testGET(t, r, authed(testToken, nil))
		writeBody(w, usageReportsJSON)
	})
	got, err := c.UsageReports.List(context.Background())
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	if len(got) != 2 {
		t.Fatalf("List returned %d reports, want 2", len(got))
	}
	for i, want := range []struct {
		name, since string
		uris        []string
		metaPrefix  string
	}{
		{"1394219221008", "LAST_MONTH", []string{"services/Map_bv_999.MapServer"}, `"This could be any String`},
		{"1394223588659", "LAST_MONTH", []string{"services/Map_bv_999.MapServer", "services/", "services/Map_bv_901.MapServer"}, `{`},
	} {
		r := got[i]
		if r.Name != want.name || r.Since != want.since || !reflect.DeepEqual(r.Queries[0].ResourceURIs, want.uris) ||
			!reflect.DeepEqual(r.Queries[0].Metrics, []string{"RequestCount"}) || r.From != 0 || r.To != 0 || r.AggregationInterval != 0 {
			t.Errorf("report %d = %+v", i, r)
		}
		if !strings.HasPrefix(string(r.Metadata), want.metaPrefix) {
			t.Errorf("report %d metadata = %s", i, r.Metadata)
		}
	}
}

func TestUsageReports_Get(t *testing.T) {
	t.Parallel()
	c, mux := setupStatic(t)
	mux.HandleFunc("/usagereports/a3f1", func(w http.ResponseWriter, r *http.Request) {
		testGET(t, r, authed(testToken, nil))
		writeBody(w, tnrisReportJSON)
	})
	got, err := c.UsageReports.Get(context.Background(), "a3f1")
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	if got.Name != "a3f1" || got.Since != upstream.UsageSinceCustom || got.From != 1598914800000 || got.To != 1599519600000 ||
		got.AggregationInterval != 240 || len(got.Queries) != 1 || got.Queries[0].ResourceURIs[0] != "services/Address_Points" {
		t.Errorf("Get = %+v", got)
	}
	var meta map[string]any
	if err := json.Unmarshal(got.Metadata, &meta); err != nil || meta["managerReport"] != true {
		t.Errorf("metadata %s: %v", got.Metadata, err)
	}
}

func TestUsageReports_NotFound(t *testing.T) {
	t.Parallel()
	c, mux := setupStatic(t)
	mux.HandleFunc("/usagereports/nope", func(w http.ResponseWriter, r *http.Request) {
		writeBody(w, `{"status":"error","messages":["Could not find resource or operation 'nope' on the system."],"code":404}`)
	})
	_, err := c.UsageReports.Get(context.Background(), "nope")
	if !upstream.IsNotFound(err) {
		t.Fatalf("err = %v, want not found", err)
	}
	if e := asError(t, err); e.Op != "usageReports.get" || e.Path != "usagereports/nope" {
		t.Errorf("Op/Path = %q %q", e.Op, e.Path)
	}
}

// postedReport decodes the usagereport form field of an add or edit.
func postedReport(t *testing.T, r *http.Request) map[string]any {
	t.Helper()
	if err := r.ParseForm(); err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	dec := json.NewDecoder(strings.NewReader(r.PostForm.Get("usagereport")))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil {
		t.Fatalf("usagereport field %q: %v", r.PostForm.Get("usagereport"), err)
	}
	return m
}

func TestUsageReports_Add(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		def  upstream.UsageReport
		want string // the usagereport JSON, compared as decoded values
	}{
		{"custom with object metadata", upstream.UsageReport{
			Name: "r1", Since: "CUSTOM", From: 1598914800000, To: 1599519600000, AggregationInterval: 60,
			Queries:  []upstream.UsageQuery{{ResourceURIs: []string{"services/"}, Metrics: []string{"RequestCount", "RequestsFailed"}}},
			Metadata: json.RawMessage(`{"title": "t"}`),
		}, `{"reportname":"r1","since":"CUSTOM","from":1598914800000,"to":1599519600000,"aggregationInterval":60,` +
			`"queries":[{"resourceURIs":["services/"],"metrics":["RequestCount","RequestsFailed"]}],"metadata":{"title":"t"}}`},
		{"last day drops from and to", upstream.UsageReport{
			Name: "r2", Since: "LAST_DAY", From: 1, To: 2,
			Queries: []upstream.UsageQuery{{ResourceURIs: []string{"services/Maps/"}}},
		}, `{"reportname":"r2","since":"LAST_DAY","queries":[{"resourceURIs":["services/Maps/"],"metrics":[]}]}`},
		{"string metadata", upstream.UsageReport{Name: "r3", Since: "LAST_WEEK", Metadata: json.RawMessage(`"plain"`)},
			`{"reportname":"r3","since":"LAST_WEEK","queries":[],"metadata":"plain"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, mux := setupStatic(t)
			var calls counter
			mux.HandleFunc("/usagereports/add", func(w http.ResponseWriter, r *http.Request) {
				calls.inc()
				got := postedReport(t, r)
				testPOST(t, r, authed(testToken, url.Values{"usagereport": r.PostForm["usagereport"]}))
				var want map[string]any
				dec := json.NewDecoder(strings.NewReader(tt.want))
				dec.UseNumber()
				if err := dec.Decode(&want); err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(got, want) {
					t.Errorf("usagereport = %v\nwant %v", got, want)
				}
				writeBody(w, `{"status":"success"}`)
			})
			if err := c.UsageReports.Add(context.Background(), &tt.def); err != nil {
				t.Fatalf("Add: %v", err)
			}
			if calls.get() != 1 {
				t.Errorf("calls = %d", calls.get())
			}
		})
	}
}

// TestUsageReports_EditReadModifyWrite decodes a stored definition, changes
// some fields and checks that edit sends the complete definition, with the
// unmodelled keys and the numeric reportname as received.
func TestUsageReports_EditReadModifyWrite(t *testing.T) {
	t.Parallel()
	c, mux := setupStatic(t)
	mux.HandleFunc("/usagereports/1394223588659", func(w http.ResponseWriter, r *http.Request) {
		writeBody(w, `{"reportname":1394223588659,"since":"CUSTOM","from":1598914800000,"to":1599519600000,"aggregationInterval":30,`+
			`"queries":[{"resourceURIs":["services/"],"metrics":["RequestCount"]}],"metadata":{"temp":false},"extra":{"x":[1,"2"]}}`)
	})
	var edits counter
	mux.HandleFunc("/usagereports/1394223588659/edit", func(w http.ResponseWriter, r *http.Request) {
		edits.inc()
		got := postedReport(t, r)
		want := map[string]any{
			"reportname": json.Number("1394223588659"), "since": "LAST_WEEK",
			"queries":  []any{map[string]any{"resourceURIs": []any{"services/"}, "metrics": []any{"RequestCount"}}},
			"metadata": map[string]any{"temp": false},
			"extra":    map[string]any{"x": []any{json.Number("1"), "2"}},
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("edit sent %v\nwant %v", got, want)
		}
		writeBody(w, `{"status":"success"}`)
	})
	def, err := c.UsageReports.Get(context.Background(), "1394223588659")
	if err != nil {
		t.Fatal(err)
	}
	def.Since = upstream.UsageSinceLastWeek
	def.AggregationInterval = 0
	if err := c.UsageReports.Edit(context.Background(), "1394223588659", def); err != nil {
		t.Fatalf("Edit: %v", err)
	}
	if edits.get() != 1 {
		t.Fatalf("edits = %d", edits.get())
	}
	// A definition naming another report is refused without a request.
	def.Name = "other"
	if err := c.UsageReports.Edit(context.Background(), "1394223588659", def); asError(t, err).Kind != upstream.KindInvalid {
		t.Fatalf("rename: %v", err)
	}
}

func TestUsageReports_Delete(t *testing.T) {
	t.Parallel()
	c, mux := setupStatic(t)
	var calls counter
	mux.HandleFunc("/usagereports/r%201/delete", func(w http.ResponseWriter, r *http.Request) {
		calls.inc()
		testPOST(t, r, authed(testToken, nil))
		writeBody(w, `{"status":"success"}`)
	})
	if err := c.UsageReports.Delete(context.Background(), "r 1"); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if calls.get() != 1 {
		t.Fatalf("calls = %d", calls.get())
	}
}

func TestUsageReports_Data(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		filter     upstream.UsageDataFilter
		wantFilter string
	}{
		{"every machine", upstream.UsageDataFilter{}, `{"machines":"*"}`},
		{"two machines", upstream.UsageDataFilter{Machines: []string{"WIN-85VQ4T2LR5N", "WIN-239486728937"}},
			`{"machines":["WIN-85VQ4T2LR5N","WIN-239486728937"]}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, mux := setupStatic(t)
			mux.HandleFunc("/usagereports/1fa828eb31664485ae5c25c76c86e28d/data", func(w http.ResponseWriter, r *http.Request) {
				testGET(t, r, authed(testToken, url.Values{"filter": {tt.wantFilter}}))
				writeBody(w, pyapiDataJSON)
			})
			got, err := c.UsageReports.Data(context.Background(), "1fa828eb31664485ae5c25c76c86e28d", tt.filter)
			if err != nil {
				t.Fatalf("Data: %v", err)
			}
			want := &upstream.UsageData{
				ReportName: "1fa828eb31664485ae5c25c76c86e28d",
				Metadata:   json.RawMessage(`"{\"temp\":true,\"title\":\"1fa828eb31664485ae5c25c76c86e28d\",\"managerReport\":false}"`),
				TimeSlices: []int64{1598914800000, 1599001200000, 1599087600000, 1601420400000},
				ReportData: [][]upstream.UsageSeries{{
					{ResourceURI: "services/Forests/Forests_degraded_2000.MapServer", MetricType: "RequestCount", Data: []*float64{nil, fp(17), fp(928), fp(20)}},
					{ResourceURI: "services/Forests/Forests_degraded_2000.MapServer", MetricType: "RequestsFailed", Data: []*float64{nil, fp(225), nil, fp(0)}},
					{ResourceURI: "services/Lakes/Lakes_drought_levels.MapServer", MetricType: "RequestCount", Data: []*float64{fp(0), fp(0), fp(7), fp(71)}},
					{ResourceURI: "services/Lakes/Lakes_drought_levels.MapServer", MetricType: "RequestsFailed", Data: []*float64{nil, nil, fp(1), fp(0)}},
				}},
			}
			if !reflect.DeepEqual(got, want) {
				gb, _ := json.Marshal(got)
				t.Errorf("Data = %s", gb)
			}
		})
	}
}

func TestUsageReports_DataWithoutReport(t *testing.T) {
	t.Parallel()
	c, mux := setupStatic(t)
	mux.HandleFunc("/usagereports/x/data", func(w http.ResponseWriter, r *http.Request) { writeBody(w, `{"metrics":[]}`) })
	_, err := c.UsageReports.Data(context.Background(), "x", upstream.UsageDataFilter{})
	if e := asError(t, err); e.Kind != upstream.KindDecode {
		t.Fatalf("err = %v, want a decode error", err)
	}
}

func TestUsageReports_Settings(t *testing.T) {
	t.Parallel()
	c, mux := setupStatic(t)
	mux.HandleFunc("/usagereports/settings", func(w http.ResponseWriter, r *http.Request) {
		testGET(t, r, authed(testToken, nil))
		// D:usagereportssettings (docs/upstream.md#usage-settings).
		writeBody(w, `{"enabled": true, "samplingInterval": 30, "maxHistory": 0, "statisticsDir": "\\\\agsserver\\ags\\directories\\arcgissystem"}`)
	})
	var edits counter
	mux.HandleFunc("/usagereports/settings/edit", func(w http.ResponseWriter, r *http.Request) {
		edits.inc()
		testPOST(t, r, authed(testToken, url.Values{"enabled": {"false"}, "samplingInterval": {"15"}, "maxHistory": {"90"}}))
		writeBody(w, `{"status":"success"}`)
	})
	got, err := c.UsageReports.Settings(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if *got != (upstream.UsageSettings{Enabled: true, SamplingInterval: 30, StatisticsDir: `\\agsserver\ags\directories\arcgissystem`}) {
		t.Errorf("Settings = %+v", got)
	}
	if err := c.UsageReports.EditSettings(context.Background(), upstream.UsageSettings{SamplingInterval: 15, MaxHistory: 90, StatisticsDir: "ignored"}); err != nil {
		t.Fatal(err)
	}
	if err := c.UsageReports.EditSettings(context.Background(), upstream.UsageSettings{}); asError(t, err).Kind != upstream.KindInvalid {
		t.Fatalf("zero sampling interval: %v", err)
	}
	if edits.get() != 1 {
		t.Fatalf("edits = %d", edits.get())
	}
}

// TestUsageReports_BadNames checks that names that cannot be a report's
// path segment are refused before any request (setup fails the test on an
// unexpected request).
func TestUsageReports_BadNames(t *testing.T) {
	t.Parallel()
	c, _ := setupStatic(t)
	ctx := context.Background()
	for _, name := range []string{"", ".", "..", "add", "settings", "Settings"} {
		calls := map[string]error{
			"Get":    func() error { _, err := c.UsageReports.Get(ctx, name); return err }(),
			"Edit":   c.UsageReports.Edit(ctx, name, &upstream.UsageReport{}),
			"Delete": c.UsageReports.Delete(ctx, name),
			"Data":   func() error { _, err := c.UsageReports.Data(ctx, name, upstream.UsageDataFilter{}); return err }(),
			"Add":    c.UsageReports.Add(ctx, &upstream.UsageReport{Name: name}),
		}
		for op, err := range calls {
			if e := asError(t, err); e.Kind != upstream.KindInvalid {
				t.Errorf("%s(%q) = %v, want KindInvalid", op, name, err)
			}
		}
	}
	if err := c.UsageReports.Add(ctx, nil); asError(t, err).Kind != upstream.KindInvalid {
		t.Errorf("Add(nil) = %v", err)
	}
	if err := c.UsageReports.Add(ctx, &upstream.UsageReport{Name: "x", Metadata: json.RawMessage(`{`)}); asError(t, err).Kind != upstream.KindInvalid {
		t.Errorf("Add with invalid metadata = %v", err)
	}
}

// FuzzUsageReportJSON decodes arbitrary report definitions and data: decoding
// never panics, and an accepted definition re-encodes to valid JSON that
// decodes to the same typed fields.
func FuzzUsageReportJSON(f *testing.F) {
	for _, s := range []string{
		usageReportsJSON, tnrisReportJSON, pyapiDataJSON,
		`{}`, `null`, `{"reportname":null,"from":"","to":null,"metadata":null}`,
		`{"reportname":1.5e3,"from":1e12,"aggregationInterval":"2.0e1","queries":[null,{"metrics":[1,true]}]}`,
		`{"report":{"time-slices":["1",2e3,null],"report-data":[[{"data":["1.5",null,-0]}],null]}}`,
		`{"report":{"report-data":[[{"data":[[1]]}]]}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var data struct {
			Report upstream.UsageData `json:"report"`
		}
		_ = json.Unmarshal(b, &data)
		for _, q := range data.Report.ReportData {
			for _, s := range q {
				_ = len(s.Data)
			}
		}
		var rep upstream.UsageReport
		if json.Unmarshal(b, &rep) != nil {
			return
		}
		out, err := json.Marshal(rep)
		if err != nil {
			return // e.g. a duplicate key made Raw and the typed fields disagree; never sent
		}
		var back upstream.UsageReport
		if err := json.Unmarshal(out, &back); err != nil {
			t.Fatalf("re-encoded definition %s does not decode: %v", out, err)
		}
		if back.Name != rep.Name || back.Since != rep.Since || back.AggregationInterval != rep.AggregationInterval ||
			len(back.Queries) != len(rep.Queries) {
			t.Fatalf("round trip changed %+v into %+v", rep, back)
		}
		if rep.Since == upstream.UsageSinceCustom && (back.From != rep.From || back.To != rep.To) {
			t.Fatalf("round trip changed from/to: %+v into %+v", rep, back)
		}
	})
}

// TestUsageReport_KeyCase checks that a definition's keys are matched
// without regard to case, as every family's are, and that writing it back
// keeps upstream's spelling and every key Raw returns.
func TestUsageReport_KeyCase(t *testing.T) {
	t.Parallel()
	const body = `{"ReportName":"r","Since":"CUSTOM","From":"5","to":6,"Metadata":"m","extra":{"keep":1}}`
	var r upstream.UsageReport
	if err := json.Unmarshal([]byte(body), &r); err != nil {
		t.Fatal(err)
	}
	if r.Name != "r" || r.Since != upstream.UsageSinceCustom || r.From != 5 || r.To != 6 || string(r.Metadata) != `"m"` {
		t.Fatalf("decoded %+v", r)
	}
	if raw := r.Raw(); len(raw) != 6 || string(raw["extra"]) != `{"keep":1}` {
		t.Fatalf("Raw() = %v", raw)
	}
	out, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	if got := compact(t, out); got != `{"From":"5","Metadata":"m","ReportName":"r","Since":"CUSTOM","extra":{"keep":1},"queries":[],"to":6}` {
		t.Errorf("unchanged definition written as %s", got)
	}
	r.Since, r.Metadata = upstream.UsageSinceLastDay, nil
	if out, err = json.Marshal(r); err != nil {
		t.Fatal(err)
	}
	if got := compact(t, out); got != `{"ReportName":"r","Since":"LAST_DAY","extra":{"keep":1},"queries":[]}` {
		t.Errorf("changed definition written as %s", got)
	}
}
