package upstream_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"reflect"
	"testing"
	"time"

	"github.com/arcgate/arcgate/upstream"
)

var (
	publishingTools = upstream.ServiceRef{Folder: "System", Name: "PublishingTools", Type: "GPServer"}
	rootGP          = upstream.ServiceRef{Name: "Buffer", Type: "GPServer"}
)

// A job resource with the fields of D:job-get
// (docs/upstream.md#job-resource): "machinename" with a lower-case n,
// username null for anonymous jobs.
const jobJSON = `{
  "jobID": "j0550714f334d4114af9f7a5d05cb145e",
  "submittedTime": 1535661831380,
  "endTime": 1535661891380,
  "status": "esriJobSucceeded",
  "username": null,
  "machinename": "GPSERVER1.EXAMPLE.COM",
  "url": "https://host/arcgis/rest/services/System/PublishingTools/GPServer/jobs/j0550714f334d4114af9f7a5d05cb145e"
}`

// A jobs/query answer (docs/upstream.md#job-queries: total, num, query,
// start, nextStart, results keyed by job id).
const jobQueryJSON = `{
  "total": 41,
  "num": 2,
  "query": {"serviceName": "PublishingTools", "userName": "", "jobStatus": "esriJobSucceeded", "number": 2},
  "start": 1,
  "nextStart": 3,
  "results": {
    "jb0000000000000000000000000000002": {"jobID": "jb0000000000000000000000000000002", "submittedTime": 2000, "endTime": 0, "status": "esriJobExecuting", "username": "admin", "machinename": "M1", "url": "u2"},
    "ja0000000000000000000000000000001": {"submittedTime": "1000", "endTime": "1500", "status": "esriJobSucceeded", "username": null, "machineName": "M2", "url": "u1"}
  }
}`

func TestJobs_Get(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		ref  upstream.ServiceRef
		path string
		body string
		want *upstream.Job
	}{
		{"documented fields", publishingTools, "/services/System/PublishingTools.GPServer/jobs/j0550714f334d4114af9f7a5d05cb145e", jobJSON, &upstream.Job{
			ID:            "j0550714f334d4114af9f7a5d05cb145e",
			Status:        "esriJobSucceeded",
			SubmittedTime: time.UnixMilli(1535661831380).UTC(),
			EndTime:       time.UnixMilli(1535661891380).UTC(),
			MachineName:   "GPSERVER1.EXAMPLE.COM",
			URL:           "https://host/arcgis/rest/services/System/PublishingTools/GPServer/jobs/j0550714f334d4114af9f7a5d05cb145e",
		}},
		{"other casing, string times, running", rootGP, "/services/Buffer.GPServer/jobs/j0550714f334d4114af9f7a5d05cb145e",
			`{"JobId":"j0550714f334d4114af9f7a5d05cb145e","SubmittedTime":"1535661831380","endTime":-1,"Status":"esriJobExecuting","userName":"publisher","machineName":"M"}`,
			&upstream.Job{
				ID: "j0550714f334d4114af9f7a5d05cb145e", Status: "esriJobExecuting", Username: "publisher", MachineName: "M",
				SubmittedTime: time.UnixMilli(1535661831380).UTC(),
			}},
		{"no jobID, null times", rootGP, "/services/Buffer.GPServer/jobs/j0550714f334d4114af9f7a5d05cb145e",
			`{"submittedTime":null,"endTime":"","status":"esriJobNew","username":"","machinename":null}`,
			&upstream.Job{ID: "j0550714f334d4114af9f7a5d05cb145e", Status: "esriJobNew"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, mux := setupStatic(t)
			mux.HandleFunc(tt.path, func(w http.ResponseWriter, r *http.Request) {
				testGET(t, r, authed(testToken, nil))
				writeBody(w, tt.body)
			})
			got, err := c.Jobs.Get(context.Background(), tt.ref, "j0550714f334d4114af9f7a5d05cb145e")
			if err != nil {
				t.Fatalf("Get: %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Get =\n%+v\nwant\n%+v", got, tt.want)
			}
		})
	}
}

func TestJobs_Query(t *testing.T) {
	t.Parallel()
	c, mux := setupStatic(t)
	start := time.UnixMilli(1000)
	end := time.UnixMilli(5000)
	mux.HandleFunc("/services/System/PublishingTools.GPServer/jobs/query", func(w http.ResponseWriter, r *http.Request) {
		testGET(t, r, authed(testToken, url.Values{
			"startTime": {"1000"}, "endTime": {"5000"}, "jobStatus": {"esriJobSucceeded"},
			"userName": {"admin"}, "machineName": {"M1"}, "start": {"1"}, "number": {"2"},
		}))
		writeBody(w, jobQueryJSON)
	})
	got, err := c.Jobs.Query(context.Background(), publishingTools, upstream.JobQuery{
		StartTime: start, EndTime: end, Status: "esriJobSucceeded", UserName: "admin", MachineName: "M1", Start: 1, Number: 2,
	})
	if err != nil {
		t.Fatalf("Query: %v", err)
	}
	want := &upstream.JobPage{
		Total: 41, Num: 2, Start: 1, NextStart: 3,
		Query: map[string]string{"serviceName": "PublishingTools", "userName": "", "jobStatus": "esriJobSucceeded", "number": "2"},
		Jobs: []upstream.Job{ // ordered by submission time although the object is not
			{ID: "ja0000000000000000000000000000001", Status: "esriJobSucceeded", MachineName: "M2", URL: "u1",
				SubmittedTime: time.UnixMilli(1000).UTC(), EndTime: time.UnixMilli(1500).UTC()},
			{ID: "jb0000000000000000000000000000002", Status: "esriJobExecuting", Username: "admin", MachineName: "M1", URL: "u2",
				SubmittedTime: time.UnixMilli(2000).UTC()},
		},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Query =\n%+v\nwant\n%+v", got, want)
	}
}

func TestJobs_QueryParameters(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		q    upstream.JobQuery
		want url.Values
	}{
		// startTime is documented as required: always sent, empty when unset,
		// as in the docs' example request.
		{"no filter", upstream.JobQuery{}, url.Values{"startTime": {""}, "endTime": {""}}},
		{"end only", upstream.JobQuery{EndTime: time.UnixMilli(42)}, url.Values{"startTime": {"0"}, "endTime": {"42"}}},
		{"page", upstream.JobQuery{Start: 11, Number: 10}, url.Values{"startTime": {""}, "endTime": {""}, "start": {"11"}, "number": {"10"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, mux := setupStatic(t)
			mux.HandleFunc("/services/Buffer.GPServer/jobs/query", func(w http.ResponseWriter, r *http.Request) {
				testGET(t, r, authed(testToken, tt.want))
				writeBody(w, `{"total":0,"num":10,"start":1,"nextStart":-1,"results":{}}`)
			})
			page, err := c.Jobs.Query(context.Background(), rootGP, tt.q)
			if err != nil {
				t.Fatal(err)
			}
			if page.NextStart != -1 || len(page.Jobs) != 0 {
				t.Errorf("page = %+v", page)
			}
		})
	}
}

func TestJobPage_Decode(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		body      string
		ids       []string
		nextStart int
	}{
		{"last page", `{"total":3,"num":10,"start":1,"nextStart":-1,"results":{"j2":{"submittedTime":2},"j1":{"submittedTime":1},"j3":{"submittedTime":2}}}`,
			[]string{"j1", "j2", "j3"}, -1},
		{"nextStart missing, more", `{"total":5,"num":2,"start":1,"results":{"j1":{},"j2":{}}}`, []string{"j1", "j2"}, 3},
		{"nextStart missing, last", `{"total":2,"num":2,"start":1,"results":{"j1":{},"j2":{}}}`, []string{"j1", "j2"}, -1},
		{"null results", `{"total":0,"num":10,"start":1,"nextStart":-1,"results":null}`, nil, -1},
		{"array results", `{"total":1,"start":"1","nextStart":"-1","results":[{"jobID":"j1"}]}`, []string{"j1"}, -1},
		{"entry not an object", `{"total":1,"start":1,"nextStart":-1,"results":{"j1":"https://host/jobs/j1"}}`, []string{"j1"}, -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var p upstream.JobPage
			if err := json.Unmarshal([]byte(tt.body), &p); err != nil {
				t.Fatal(err)
			}
			var ids []string
			for _, j := range p.Jobs {
				ids = append(ids, j.ID)
			}
			if !reflect.DeepEqual(ids, tt.ids) || p.NextStart != tt.nextStart {
				t.Errorf("ids %v nextStart %d, want %v %d", ids, p.NextStart, tt.ids, tt.nextStart)
			}
		})
	}
	for _, bad := range []string{
		`{"results":"x"}`, `{"results":{"j1":{"submittedTime":"soon"}}}`, `{"total":"many"}`,
		`{"results":{"j1":{"endTime":1e300}}}`,
	} {
		var p upstream.JobPage
		if err := json.Unmarshal([]byte(bad), &p); err == nil {
			t.Errorf("%s decoded without error: %+v", bad, p)
		}
	}
}

func TestJobs_Operations(t *testing.T) {
	t.Parallel()
	const id = "j0550714f334d4114af9f7a5d05cb145e"
	tests := []struct {
		name string
		path string
		call func(s *upstream.JobsService) error
	}{
		{"Cancel", "/services/System/PublishingTools.GPServer/jobs/" + id + "/cancel",
			func(s *upstream.JobsService) error { return s.Cancel(context.Background(), publishingTools, id) }},
		{"Delete", "/services/System/PublishingTools.GPServer/jobs/" + id + "/delete",
			func(s *upstream.JobsService) error { return s.Delete(context.Background(), publishingTools, id) }},
		{"PurgeQueue", "/services/Buffer.GPServer/jobs/purgeQueue",
			func(s *upstream.JobsService) error { return s.PurgeQueue(context.Background(), rootGP) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, mux := setupStatic(t)
			var calls counter
			mux.HandleFunc(tt.path, func(w http.ResponseWriter, r *http.Request) {
				calls.inc()
				testPOST(t, r, authed(testToken, nil))
				writeBody(w, `{"status": "success"}`)
			})
			if err := tt.call(c.Jobs); err != nil {
				t.Fatal(err)
			}
			if calls.get() != 1 {
				t.Errorf("calls = %d", calls.get())
			}
		})
	}
}

func TestJobs_Refusals(t *testing.T) {
	t.Parallel()
	const id = "j0550714f334d4114af9f7a5d05cb145e"
	tests := []struct {
		name    string
		op      string
		body    string
		code    int
		refusal bool
	}{
		// Recorded texts, docs/upstream.md#cancel-delete-purge and
		// docs/upstream.md#recorded-payloads.
		{"cancel", "cancel", `{"status": "error", "messages": ["Unable to cancel job :[` + id + `]"], "code": 500}`, 500, true},
		{"delete", "delete", `{"status": "error", "messages": ["Unable to delete job :[` + id + `]"], "code": 400}`, 400, true},
		{"unknown job", "cancel", `{"status": "error", "messages": ["Could not find resource or operation '` + id + `' on the system."], "code": 404}`, 404, false},
		{"other failure", "delete", `{"status":"error","messages":["java.lang.NullPointerException"],"code":500}`, 500, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, mux := setupStatic(t)
			mux.HandleFunc("/services/Buffer.GPServer/jobs/"+id+"/"+tt.op, func(w http.ResponseWriter, r *http.Request) {
				writeBody(w, tt.body)
			})
			var err error
			if tt.op == "cancel" {
				err = c.Jobs.Cancel(context.Background(), rootGP, id)
			} else {
				err = c.Jobs.Delete(context.Background(), rootGP, id)
			}
			e := asError(t, err)
			if e.Kind != upstream.KindAPI || e.Code != tt.code {
				t.Errorf("error %v: kind %v code %d", e, e.Kind, e.Code)
			}
			if got := upstream.IsJobRefusal(err); got != tt.refusal {
				t.Errorf("IsJobRefusal = %v, want %v", got, tt.refusal)
			}
			if upstream.IsNotFound(err) != (tt.code == 404) {
				t.Errorf("IsNotFound = %v", upstream.IsNotFound(err))
			}
		})
	}
	if upstream.IsJobRefusal(context.Canceled) || upstream.IsJobRefusal(nil) {
		t.Error("IsJobRefusal accepts errors that are not upstream refusals")
	}
}

func TestJobs_InvalidArguments(t *testing.T) {
	t.Parallel()
	c, _ := setupStatic(t) // the mux fails the test on any request
	ctx := context.Background()
	for name, call := range map[string]func() error{
		"empty job id":   func() error { _, err := c.Jobs.Get(ctx, rootGP, ""); return err },
		"dot-dot job id": func() error { return c.Jobs.Cancel(ctx, rootGP, "..") },
		"empty service":  func() error { return c.Jobs.PurgeQueue(ctx, upstream.ServiceRef{Type: "GPServer"}) },
		"dot folder": func() error {
			return c.Jobs.Delete(ctx, upstream.ServiceRef{Folder: ".", Name: "a", Type: "GPServer"}, "j1")
		},
		"negative start":  func() error { _, err := c.Jobs.Query(ctx, rootGP, upstream.JobQuery{Start: -1}); return err },
		"negative number": func() error { _, err := c.Jobs.Query(ctx, rootGP, upstream.JobQuery{Number: -5}); return err },
		"empty query type": func() error {
			_, err := c.Jobs.Query(ctx, upstream.ServiceRef{Name: "a"}, upstream.JobQuery{})
			return err
		},
	} {
		if e := asError(t, call()); e.Kind != upstream.KindInvalid {
			t.Errorf("%s: kind %v, want invalid argument", name, e.Kind)
		}
	}
}

func TestJobs_PathEscaping(t *testing.T) {
	t.Parallel()
	c, mux := setupStatic(t)
	var calls counter
	mux.HandleFunc("/services/", func(w http.ResponseWriter, r *http.Request) {
		calls.inc()
		if r.URL.EscapedPath() != "/services/My%20Folder/A%2FB.GPServer/jobs/j%3F1" {
			t.Errorf("escaped path %q", r.URL.EscapedPath())
		}
		writeBody(w, `{"status":"esriJobNew"}`)
	})
	j, err := c.Jobs.Get(context.Background(), upstream.ServiceRef{Folder: "My Folder", Name: "A/B", Type: "GPServer"}, "j?1")
	if err != nil {
		t.Fatal(err)
	}
	if j.ID != "j?1" || calls.get() != 1 {
		t.Errorf("job %+v, calls %d", j, calls.get())
	}
}

func FuzzJobJSON(f *testing.F) {
	for _, s := range []string{
		jobJSON, jobQueryJSON,
		`{"jobID":1,"submittedTime":"1e3","endTime":-5,"username":true}`,
		`{"JOBID":"a","jobid":"b","MachineName":"x","machinename":"y"}`,
		`{"results":{"j1":null,"j2":[1],"j3":{"status":null}},"nextStart":"2"}`,
		`{"results":[null,{"jobID":"j"}],"total":"3","start":1}`,
		`{"submittedTime":253402300799999}`, `{"submittedTime":253402300800000}`,
		`null`, `[]`, `{}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		var j upstream.Job
		if err := json.Unmarshal(in, &j); err == nil {
			for _, ts := range []time.Time{j.SubmittedTime, j.EndTime} {
				if !ts.IsZero() && (ts.Year() < 1970 || ts.Year() > 9999) {
					t.Fatalf("time %v out of range from %q", ts, in)
				}
			}
		}
		var p upstream.JobPage
		if err := json.Unmarshal(in, &p); err != nil {
			return
		}
		for i := 1; i < len(p.Jobs); i++ {
			a, b := p.Jobs[i-1], p.Jobs[i]
			if a.SubmittedTime.After(b.SubmittedTime) || a.SubmittedTime.Equal(b.SubmittedTime) && a.ID > b.ID {
				t.Fatalf("jobs out of order: %+v before %+v", a, b)
			}
		}
	})
}

// TestJob_SpellingRule checks that a key sent in several spellings decodes
// by Job's rule (the lower-case spelling, else the first in byte order),
// and that a key spelled with a non-ASCII letter is no spelling of a job
// key, whichever way UnmarshalJSON decodes.
func TestJob_SpellingRule(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ body, status, user string }{
		{`{"Status":"a","status":"b","STATUS":"c","username":"u"}`, "b", "u"},
		{`{"STATUS":"c","Status":"a"}`, "c", ""},
		{`{"\u017ftatus":"long s","userName":"u"}`, "", "u"},
		{`{"ſtatus":"long s","userName":"u","UserName":"v"}`, "", "v"},
	} {
		var j upstream.Job
		if err := json.Unmarshal([]byte(tt.body), &j); err != nil {
			t.Fatalf("%s: %v", tt.body, err)
		}
		if j.Status != tt.status || j.Username != tt.user {
			t.Errorf("%s: status %q, username %q; want %q, %q", tt.body, j.Status, j.Username, tt.status, tt.user)
		}
	}
}
