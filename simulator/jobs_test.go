package simulator_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/arcgate/arcgate/simulator"
)

const (
	publishingJobs = "services/System/PublishingTools.GPServer/jobs"
	printingJobs   = "services/Utilities/PrintingTools.GPServer/jobs"
)

var jobIDPattern = regexp.MustCompile(`^j[0-9a-f]{32}$`)

// queryJobs runs jobs/query with the pairs (startTime empty unless given).
func (e *env) queryJobs(jobs string, pairs ...string) map[string]any {
	e.t.Helper()
	hasStart := false
	for i := 0; i < len(pairs); i += 2 {
		hasStart = hasStart || pairs[i] == "startTime"
	}
	if !hasStart {
		pairs = append(pairs, "startTime", "")
	}
	return e.getJSON(jobs+"/query", pairs...)
}

// allJobs walks every page of a query and returns the jobs by id, failing
// on a job seen twice.
func (e *env) allJobs(jobs string, pairs ...string) map[string]map[string]any {
	e.t.Helper()
	out := map[string]map[string]any{}
	start := "1"
	for range 100 {
		m := e.queryJobs(jobs, append([]string{"start", start, "number", "4"}, pairs...)...)
		for id, v := range m["results"].(map[string]any) {
			if _, dup := out[id]; dup {
				e.t.Fatalf("job %s on two pages", id)
			}
			out[id] = v.(map[string]any)
		}
		next := m["nextStart"].(json.Number).String()
		if next == "-1" {
			return out
		}
		start = next
	}
	e.t.Fatal("paging never ended")
	return nil
}

func TestJobsResource(t *testing.T) {
	e := newEnv(t, simulator.Config{})
	// D:jobs-service: the resource lists only "statistics", on any service
	// type (Esri's example uses a MapServer).
	for _, rel := range []string{publishingJobs, "services/SampleWorldCities.MapServer/jobs"} {
		if got := e.getJSON(rel); fmt.Sprint(got) != "map[resources:[statistics]]" {
			t.Errorf("%s = %v", rel, got)
		}
	}
	wantError(t, e.getJSON("services/Nope.GPServer/jobs"), 404, "Could not find resource or operation 'Nope.GPServer' on the system.")
	wantError(t, e.getJSON(publishingJobs+"/jfffffffffffffffffffffffffffffff0"), 404,
		"Could not find resource or operation 'jfffffffffffffffffffffffffffffff0' on the system.")
}

func TestJobsQueryPaging(t *testing.T) {
	e := newEnv(t, simulator.Config{})
	first := e.queryJobs(publishingJobs)
	if first["total"] != json.Number("25") || first["num"] != json.Number("10") || first["start"] != json.Number("1") ||
		first["nextStart"] != json.Number("11") {
		t.Fatalf("first page header %v", first)
	}
	if q := first["query"].(map[string]any); q["serviceName"] != "PublishingTools" {
		t.Fatalf("query echo %v", q)
	}
	if n := len(first["results"].(map[string]any)); n != 10 {
		t.Fatalf("first page has %d results", n)
	}
	last := e.queryJobs(publishingJobs, "start", "21", "number", "10")
	if last["nextStart"] != json.Number("-1") || len(last["results"].(map[string]any)) != 5 {
		t.Fatalf("last page %v", last)
	}
	beyond := e.queryJobs(publishingJobs, "start", "26")
	if beyond["nextStart"] != json.Number("-1") || len(beyond["results"].(map[string]any)) != 0 || beyond["total"] != json.Number("25") {
		t.Fatalf("page beyond the end %v", beyond)
	}

	all := e.allJobs(publishingJobs)
	if len(all) != 25 {
		t.Fatalf("paging found %d jobs, want 25", len(all))
	}
	states, users := map[string]int{}, map[string]int{}
	for id, j := range all {
		if !jobIDPattern.MatchString(id) || j["jobID"] != id {
			t.Fatalf("job key %q, jobID %v", id, j["jobID"])
		}
		// D:job-get: machinename with a lower-case n, username null when anonymous.
		if _, ok := j["machinename"].(string); !ok {
			t.Fatalf("job without machinename: %v", j)
		}
		if _, ok := j["machineName"]; ok {
			t.Fatalf("job with machineName: %v", j)
		}
		u, present := j["username"]
		if !present {
			t.Fatalf("job without username: %v", j)
		}
		users[fmt.Sprint(u)]++
		states[j["status"].(string)]++
		if !strings.HasSuffix(j["url"].(string), "/arcgis/rest/services/System/PublishingTools/GPServer/jobs/"+id) {
			t.Fatalf("url %v", j["url"])
		}
	}
	if users["<nil>"] == 0 || len(users) < 3 {
		t.Fatalf("submitters %v: want several, some anonymous", users)
	}
	if len(states) < 10 {
		t.Fatalf("statuses %v: want most esriJob* values", states)
	}
	// Another GP service has jobs of its own; a MapServer has none.
	if n := len(e.allJobs(printingJobs)); n != 6 {
		t.Fatalf("PrintingTools has %d jobs", n)
	}
	if m := e.queryJobs("services/SampleWorldCities.MapServer/jobs"); m["total"] != json.Number("0") || m["nextStart"] != json.Number("-1") {
		t.Fatalf("MapServer jobs %v", m)
	}
}

func TestJobsQueryFilters(t *testing.T) {
	e := newEnv(t, simulator.Config{})
	all := e.allJobs(publishingJobs)
	times := make([]int64, 0, len(all))
	for _, j := range all {
		n, _ := j["submittedTime"].(json.Number).Int64()
		times = append(times, n)
	}
	sort.Slice(times, func(i, j int) bool { return times[i] < times[j] })
	mid := times[len(times)/2]

	tests := []struct {
		name  string
		pairs []string
		keep  func(j map[string]any) bool
	}{
		{"jobStatus", []string{"jobStatus", "esriJobSucceeded"}, func(j map[string]any) bool { return j["status"] == "esriJobSucceeded" }},
		{"userName", []string{"userName", "publisher1"}, func(j map[string]any) bool { return j["username"] == "publisher1" }},
		{"machineName", []string{"machineName", "GPSERVER2.EXAMPLE.COM"}, func(j map[string]any) bool { return j["machinename"] == "GPSERVER2.EXAMPLE.COM" }},
		{"startTime", []string{"startTime", fmt.Sprint(mid)}, func(j map[string]any) bool {
			n, _ := j["submittedTime"].(json.Number).Int64()
			return n >= mid
		}},
		{"endTime", []string{"endTime", fmt.Sprint(mid)}, func(j map[string]any) bool {
			n, _ := j["submittedTime"].(json.Number).Int64()
			return n <= mid
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := e.allJobs(publishingJobs, tt.pairs...)
			want := 0
			for id, j := range all {
				if tt.keep(j) {
					want++
					if got[id] == nil {
						t.Errorf("job %s missing", id)
					}
				}
			}
			if want == 0 || want == len(all) || len(got) != want {
				t.Errorf("%d jobs, want %d of %d", len(got), want, len(all))
			}
		})
	}
}

func TestJobsQueryErrors(t *testing.T) {
	e := newEnv(t, simulator.Config{})
	for _, tt := range []struct {
		pairs []string
		msg   string
	}{
		{nil, "Missing required parameter 'startTime'."},
		{[]string{"startTime", "yesterday"}, "Invalid value 'yesterday' for parameter 'startTime'."},
		{[]string{"startTime", "", "number", "0"}, "Invalid value '0' for parameter 'number'."},
		{[]string{"startTime", "", "start", "-1"}, "Invalid value '-1' for parameter 'start'."},
		{[]string{"startTime", "", "jobStatus", "done"}, "Invalid value 'done' for parameter 'jobStatus'."},
	} {
		wantError(t, e.getJSON(publishingJobs+"/query", tt.pairs...), 400, tt.msg)
	}
}

func TestJobsCancelDeletePurge(t *testing.T) {
	e := newEnv(t, simulator.Config{})
	byStatus := map[string]string{}
	for id, j := range e.allJobs(publishingJobs) {
		byStatus[j["status"].(string)] = id
	}
	// Only submitted or executing jobs can be cancelled (D:cancel-job), with
	// the recorded error otherwise.
	for _, st := range []string{"esriJobSucceeded", "esriJobNew", "esriJobWaiting", "esriJobCancelled"} {
		id := byStatus[st]
		wantError(t, e.postJSON(publishingJobs+"/"+id+"/cancel"), 500, "Unable to cancel job :["+id+"]")
	}
	for _, st := range []string{"esriJobSubmitted", "esriJobExecuting"} {
		id := byStatus[st]
		wantSuccess(t, e.postJSON(publishingJobs+"/"+id+"/cancel"))
		if got := e.getJSON(publishingJobs + "/" + id); got["status"] != "esriJobCancelled" || got["endTime"] == json.Number("0") {
			t.Fatalf("%s after cancel: %v", st, got)
		}
	}
	// Cancel and delete are POST only.
	r := e.get(publishingJobs+"/"+byStatus["esriJobSucceeded"]+"/cancel", e.authed())
	wantError(t, r.object(t), 405, "Method not supported.")

	// Delete removes the job; a job being cancelled or deleted cannot be
	// deleted (recorded message).
	id := byStatus["esriJobFailed"]
	wantSuccess(t, e.postJSON(publishingJobs+"/"+id+"/delete"))
	wantCode(t, e.getJSON(publishingJobs+"/"+id), 404)
	wantCode(t, e.postJSON(publishingJobs+"/"+id+"/delete"), 404)
	for _, st := range []string{"esriJobCancelling", "esriJobDeleting"} {
		id := byStatus[st]
		wantError(t, e.postJSON(publishingJobs+"/"+id+"/delete"), 400, "Unable to delete job :["+id+"]")
	}

	// purgeQueue cancels new, submitted and waiting jobs, nothing else.
	before := e.allJobs(publishingJobs)
	wantSuccess(t, e.postJSON(publishingJobs+"/purgeQueue"))
	for id, j := range e.allJobs(publishingJobs) {
		was := before[id]["status"]
		switch was {
		case "esriJobNew", "esriJobSubmitted", "esriJobWaiting":
			if j["status"] != "esriJobCancelled" {
				t.Errorf("%s job %s is %v after purge", was, id, j["status"])
			}
		default:
			if j["status"] != was {
				t.Errorf("%s job %s became %v after purge", was, id, j["status"])
			}
		}
	}
}

func TestSubmitJobProgression(t *testing.T) {
	const step = time.Minute
	e := newEnv(t, simulator.Config{JobStepDuration: step})
	id, err := e.sim.SubmitJob("System/publishingtools.GPServer", "")
	if err != nil {
		t.Fatal(err)
	}
	if !jobIDPattern.MatchString(id) {
		t.Fatalf("id %q", id)
	}
	failing, err := e.sim.SubmitJob("System/PublishingTools.GPServer", "esriJobFailed")
	if err != nil {
		t.Fatal(err)
	}
	var submitted int64
	for i, want := range []string{"esriJobNew", "esriJobSubmitted", "esriJobExecuting", "esriJobSucceeded", "esriJobSucceeded"} {
		j := e.getJSON(publishingJobs + "/" + id)
		if j["status"] != want {
			t.Fatalf("after %d steps: status %v, want %s", i, j["status"], want)
		}
		if i == 0 {
			submitted, _ = j["submittedTime"].(json.Number).Int64()
		}
		end, _ := j["endTime"].(json.Number).Int64()
		if (want == "esriJobSucceeded") != (end == submitted+int64(3*step/time.Millisecond)) {
			t.Fatalf("status %s with endTime %d (submitted %d)", want, end, submitted)
		}
		if st, err := e.sim.JobStatus("System/PublishingTools.GPServer", id); err != nil || st != want {
			t.Fatalf("JobStatus = %q, %v", st, err)
		}
		e.clock.Advance(step)
	}
	if j := e.getJSON(publishingJobs + "/" + failing); j["status"] != "esriJobFailed" {
		t.Fatalf("failing job %v", j)
	}

	// A cancelled job is cancelling for one step, then cancelled.
	id, _ = e.sim.SubmitJob("System/PublishingTools.GPServer", "")
	wantError(t, e.postJSON(publishingJobs+"/"+id+"/cancel"), 500, "Unable to cancel job :["+id+"]") // still new
	e.clock.Advance(step)
	wantSuccess(t, e.postJSON(publishingJobs+"/"+id+"/cancel"))
	if j := e.getJSON(publishingJobs + "/" + id); j["status"] != "esriJobCancelling" {
		t.Fatalf("just cancelled: %v", j)
	}
	wantError(t, e.postJSON(publishingJobs+"/"+id+"/delete"), 400, "Unable to delete job :["+id+"]")
	e.clock.Advance(step)
	if j := e.getJSON(publishingJobs + "/" + id); j["status"] != "esriJobCancelled" {
		t.Fatalf("a step after cancelling: %v", j)
	}

	for _, bad := range []struct{ path, outcome string }{
		{"SampleWorldCities.MapServer", ""}, {"System/Nope.GPServer", ""}, {"System/PublishingTools.GPServer", "esriJobCancelled"}, {"", ""},
	} {
		if _, err := e.sim.SubmitJob(bad.path, bad.outcome); err == nil {
			t.Errorf("SubmitJob(%q, %q) succeeded", bad.path, bad.outcome)
		}
	}
	if _, err := e.sim.JobStatus("System/PublishingTools.GPServer", "jnope"); err == nil {
		t.Error("JobStatus of an unknown job succeeded")
	}
}

func TestSubmitJobWithoutStepStaysNew(t *testing.T) {
	e := newEnv(t, simulator.Config{})
	id, err := e.sim.SubmitJob("System/PublishingTools.GPServer", "")
	if err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(24 * time.Hour)
	if j := e.getJSON(publishingJobs + "/" + id); j["status"] != "esriJobNew" || j["username"] != "admin" {
		t.Fatalf("job %v", j)
	}
}

func TestJobsGoneWithTheirService(t *testing.T) {
	e := newEnv(t, simulator.Config{})
	var id string
	for k := range e.allJobs(printingJobs) {
		id = k
	}
	wantSuccess(t, e.postJSON("services/Utilities/PrintingTools.GPServer/delete"))
	wantError(t, e.getJSON(printingJobs+"/"+id), 404, "Could not find resource or operation 'PrintingTools.GPServer' on the system.")
}

func TestJobsWire(t *testing.T) {
	e := newEnv(t, simulator.Config{})
	r := e.get(publishingJobs+"/query", e.authed("startTime", ""))
	checkJSONWire(t, r)
	// Without a token: the recorded 499.
	r = e.get(publishingJobs+"/query", url.Values{"f": {"json"}, "startTime": {""}})
	checkJSONWire(t, r)
	wantCode(t, r.object(t), 499)
}

// FuzzJobsQuery sends arbitrary jobs/query parameters: the answer is always
// the code 400 envelope or a consistent page (at most num results, start
// as asked, nextStart -1 or just after the page, every result matching the
// status filter).
func FuzzJobsQuery(f *testing.F) {
	for _, s := range [][6]string{
		{"", "", "", "", "1", "10"},
		{"0", "", "esriJobSucceeded", "admin", "1", "10"},
		{"", "", "esrijobsucceeded", "", "21", "5"},
		{"yesterday", "", "", "", "", ""},
		{"", "1e3", "", "", "0", "-1"},
		{"", "", "done", "", "1", "99999999999999999999"},
		{"1", "2", "", "", "1", "1"},
	} {
		f.Add(s[0], s[1], s[2], s[3], s[4], s[5])
	}
	sim := simulator.New(simulator.Config{})
	tok := sim.IssueToken(0)
	f.Fuzz(func(t *testing.T, startTime, endTime, jobStatus, userName, start, number string) {
		q := url.Values{"f": {"json"}, "token": {tok}, "startTime": {startTime}, "endTime": {endTime},
			"jobStatus": {jobStatus}, "userName": {userName}, "start": {start}, "number": {number}}
		req := httptest.NewRequest(http.MethodGet, sim.AdminPath()+publishingJobs+"/query?"+q.Encode(), nil)
		w := httptest.NewRecorder()
		sim.ServeHTTP(w, req)
		var m struct {
			Status    string                    `json:"status"`
			Code      int                       `json:"code"`
			Num       int                       `json:"num"`
			Start     int                       `json:"start"`
			NextStart int                       `json:"nextStart"`
			Total     int                       `json:"total"`
			Results   map[string]map[string]any `json:"results"`
		}
		if err := json.Unmarshal(w.Body.Bytes(), &m); err != nil {
			t.Fatalf("answer is not JSON: %v: %s", err, w.Body.Bytes())
		}
		if m.Status == "error" {
			if m.Code != 400 {
				t.Fatalf("error code %d: %s", m.Code, w.Body.Bytes())
			}
			return
		}
		if len(m.Results) > m.Num || m.Start < 1 || (m.NextStart != -1 && m.NextStart != m.Start+m.Num) {
			t.Fatalf("inconsistent page: %s", w.Body.Bytes())
		}
		for _, j := range m.Results {
			if jobStatus != "" && !strings.EqualFold(j["status"].(string), jobStatus) {
				t.Fatalf("status filter %q returned %v", jobStatus, j["status"])
			}
		}
	})
}

// Deleting a service, or its folder, drops its jobs: they are never
// served again, and the store does not keep them.
func TestDeletedServicesLeaveNoJobs(t *testing.T) {
	e := newEnv(t, simulator.Config{})
	wantSuccess(t, e.postJSON("services/createFolder", "folderName", "Gp"))
	for _, name := range []string{"A", "B"} {
		wantSuccess(t, e.postJSON("services/Gp/createService", "service", `{"serviceName":"`+name+`","type":"GPServer"}`))
	}
	before := simulator.JobServices(e.sim) // the seeded jobs' services
	for _, path := range []string{"Gp/A.GPServer", "Gp/B.GPServer", "Gp/B.GPServer"} {
		if _, err := e.sim.SubmitJob(path, ""); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
	}
	if n := simulator.JobServices(e.sim); n != before+2 {
		t.Fatalf("jobs kept for %d services, want %d", n, before+2)
	}
	wantSuccess(t, e.postJSON("services/Gp/A.GPServer/delete"))
	if n := simulator.JobServices(e.sim); n != before+1 {
		t.Fatalf("after deleting a service: jobs kept for %d services, want %d", n, before+1)
	}
	wantSuccess(t, e.postJSON("services/Gp/deleteFolder"))
	if n := simulator.JobServices(e.sim); n != before {
		t.Fatalf("after deleting its folder: jobs kept for %d services, want %d", n, before)
	}
}
