package upstream_test

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/arcgate/arcgate/upstream"
)

func TestDecodeKubernetesJob(t *testing.T) {
	t.Parallel()
	ms := func(v int64) time.Time { return time.UnixMilli(v).UTC() }
	for _, tc := range []struct {
		name     string
		body     string
		status   string
		done     bool
		errMsgs  []string // nil: no Err
		errCode  int
		result   string
		uri      string
		started  time.Time
		updated  time.Time
		wantFail bool // decode error
	}{
		{name: "executing", body: `{"jobid":"j1","status":"EXECUTING","starttime":1700000000000,"endtime":-1,"updatedtime":"1700000000500","operationURI":"services/Maps/Parcels.MapServer/edit","username":"admin"}`,
			status: "EXECUTING", uri: "services/Maps/Parcels.MapServer/edit", started: ms(1700000000000), updated: ms(1700000000500)},
		{name: "submitted", body: `{"jobid":"j1","status":"SUBMITTED"}`, status: "SUBMITTED"},
		{name: "unavailable is not an end", body: `{"jobid":"j1","status":"UNAVAILABLE","result":null}`, status: "UNAVAILABLE"},
		{name: "cancelling is not an end", body: `{"jobid":"j1","status":"CANCELLING"}`, status: "CANCELLING"},
		{name: "unknown status runs", body: `{"jobid":"j1","status":"SOMETHING_NEW"}`, status: "SOMETHING_NEW"},
		{name: "completed with the service", body: `{"jobid":"j1","status":"COMPLETED","result":{"service":{"serviceName":"Parcels","type":"MapServer"}}}`,
			status: "COMPLETED", done: true, result: `{"service":{"serviceName":"Parcels","type":"MapServer"}}`},
		{name: "completed, lower case", body: `{"jobid":"j1","status":"completed","result":{"status":"success"}}`,
			status: "completed", done: true, result: `{"status":"success"}`},
		{name: "failed with an admin error envelope", body: `{"jobid":"j1","status":"FAILED","result":{"status":"error","messages":["Service 'Parcels.MapServer' not found."],"code":404}}`,
			status: "FAILED", done: true, errMsgs: []string{"Service 'Parcels.MapServer' not found."}, errCode: 404, result: `{"status":"error","messages":["Service 'Parcels.MapServer' not found."],"code":404}`},
		{name: "failed with a REST error envelope", body: `{"jobid":"j1","status":"FAILED","result":{"error":{"code":400,"message":"bad service","details":["x"]}}}`,
			status: "FAILED", done: true, errMsgs: []string{"bad service", "x"}, errCode: 400, result: `{"error":{"code":400,"message":"bad service","details":["x"]}}`},
		{name: "failed with messages only", body: `{"jobid":"j1","status":"FAILED","result":{"messages":["disk full"]}}`,
			status: "FAILED", done: true, errMsgs: []string{"disk full"}, errCode: 500, result: `{"messages":["disk full"]}`},
		{name: "failed with a text", body: `{"jobid":"j1","status":"FAILED","result":"it broke"}`,
			status: "FAILED", done: true, errMsgs: []string{"it broke"}, errCode: 500, result: `"it broke"`},
		{name: "failed without a result", body: `{"jobid":"j1","status":"FAILED"}`,
			status: "FAILED", done: true, errMsgs: []string{"job j1 ended FAILED"}, errCode: 500},
		{name: "cancelled", body: `{"jobid":"j1","status":"CANCELLED","result":{}}`,
			status: "CANCELLED", done: true, errMsgs: []string{"job j1 ended CANCELLED"}, errCode: 500, result: `{}`},
		{name: "completed but the result is an error", body: `{"jobid":"j1","status":"COMPLETED","result":{"status":"error","messages":["service failed to start"]}}`,
			status: "COMPLETED", done: true, errMsgs: []string{"service failed to start"}, errCode: 500, result: `{"status":"error","messages":["service failed to start"]}`},
		{name: "numbers as text", body: `{"jobid":12,"status":"EXECUTING","operationURI":{"a":1}}`, status: "EXECUTING", uri: `{"a":1}`},
		{name: "not an object", body: `[1]`, wantFail: true},
		{name: "bad time", body: `{"jobid":"j1","status":"EXECUTING","starttime":"soon"}`, wantFail: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			j, err := upstream.DecodeKubernetesJob([]byte(tc.body))
			if tc.wantFail {
				if err == nil {
					t.Fatalf("decoded %+v, want an error", j)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if j.Status != tc.status || j.Done() != tc.done || j.OperationURI != tc.uri || string(j.Result) != tc.result ||
				!j.Started.Equal(tc.started) || !j.Updated.Equal(tc.updated) || !j.Ended.IsZero() {
				t.Fatalf("job = %+v (result %s)", j, j.Result)
			}
			if tc.errMsgs == nil {
				if j.Err != nil {
					t.Fatalf("Err = %v, want none", j.Err)
				}
				return
			}
			if j.Err == nil || j.Err.Kind != upstream.KindAPI || j.Err.Code != tc.errCode || !reflect.DeepEqual(j.Err.Messages, tc.errMsgs) {
				t.Fatalf("Err = %#v, want code %d %q", j.Err, tc.errCode, tc.errMsgs)
			}
		})
	}
}

// FuzzDecodeKubernetesJob: any body decodes or fails without panicking; a
// decoded job's failure is bounded text, and a job that ended other than
// COMPLETED always has one.
func FuzzDecodeKubernetesJob(f *testing.F) {
	for _, s := range []string{
		`{"jobid":"j1","status":"FAILED","result":{"status":"error","messages":["x"],"code":"404"}}`,
		`{"jobid":"j1","status":"COMPLETED","result":{"service":{}}}`,
		`{"jobid":"j1","status":"CANCELLED","result":[1,"a",{"b":null}]}`,
		`{"status":"EXECUTING","starttime":1e3,"updatedtime":"-5"}`,
		`{"status":"FAILED","result":"` + strings.Repeat("é", 400) + `"}`,
		`null`, `{}`, `"x"`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		j, err := upstream.DecodeKubernetesJob(body)
		if err != nil {
			return
		}
		if len(j.OperationURI) > 515 || len(j.Username) > 515 {
			t.Fatalf("unbounded texts: %d, %d bytes", len(j.OperationURI), len(j.Username))
		}
		if j.Done() && !strings.EqualFold(j.Status, "COMPLETED") && j.Err == nil {
			t.Fatalf("job ended %q without an error", j.Status)
		}
		if j.Err != nil {
			if j.Err.Kind != upstream.KindAPI || len(j.Err.Messages) == 0 && !strings.Contains(string(j.Result), "error") {
				t.Fatalf("Err = %#v", j.Err)
			}
			for _, m := range j.Err.Messages {
				if len(m) > 515+6 || !utf8.ValidString(m) {
					t.Fatalf("message %q: unbounded or not UTF-8", m)
				}
			}
		}
	})
}

func TestKubernetesJobs_Get(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c, mux := setupStatic(t, upstream.WithFlavor(upstream.FlavorKubernetes))
	mux.HandleFunc("/jobs/", func(w http.ResponseWriter, r *http.Request) {
		testMethod(t, r, http.MethodGet)
		switch strings.TrimPrefix(r.URL.Path, "/jobs/") {
		case "jrunning":
			writeBody(w, `{"jobid":"jrunning","status":"EXECUTING","operationURI":"services/A.MapServer/start"}`)
		case "jfailed":
			writeBody(w, `{"jobid":"jfailed","status":"FAILED","result":{"status":"error","messages":["Service 'A.MapServer' not found."],"code":404}}`)
		default:
			writeBody(w, `{"status":"error","messages":["Could not find resource"],"code":404}`)
		}
	})
	j, err := c.KubernetesJobs.Get(ctx, "jrunning")
	if err != nil || j.Done() || j.ID != "jrunning" || j.OperationURI != "services/A.MapServer/start" {
		t.Fatalf("running job: %+v, %v", j, err)
	}
	j, err = c.KubernetesJobs.Get(ctx, "jfailed")
	if err != nil || !j.Done() || j.Err == nil || j.Err.Code != 404 || j.Err.Path != "jobs/jfailed" {
		t.Fatalf("failed job: %+v, %v", j, err)
	}
	if _, err := c.KubernetesJobs.Get(ctx, "jgone"); !upstream.IsNotFound(err) {
		t.Fatalf("unknown job: %v, want not found", err)
	}
}

func TestKubernetesJobs_InvalidID(t *testing.T) {
	t.Parallel()
	c, _ := setupStatic(t, upstream.WithFlavor(upstream.FlavorKubernetes)) // any request fails the test
	for _, id := range []string{"", "..", "a/b", "a b", "j%2F", "j?x", "jé", strings.Repeat("a", 129)} {
		_, err := c.KubernetesJobs.Get(context.Background(), id)
		var e *upstream.Error
		if !errors.As(err, &e) || e.Kind != upstream.KindInvalid {
			t.Errorf("Get(%q) = %v, want an invalid argument", id, err)
		}
	}
}

// TestAsyncWritesAskInTheFlavorsWay: every ...Async write sends the
// asynchronous flag of the client's flavor, runAsync=true (server, the
// default) or async=true (kubernetes), never both, and returns the job id
// answered ("" for a synchronous answer).
func TestAsyncWritesAskInTheFlavorsWay(t *testing.T) {
	t.Parallel()
	ref := upstream.ServiceRef{Folder: "Maps", Name: "Parcels", Type: "MapServer"}
	cfg := &upstream.ServiceConfig{ServiceName: "Parcels", Type: "MapServer"}
	refs := []upstream.ServiceRef{ref}
	writes := []struct {
		path string
		call func(context.Context, *upstream.Client) (string, error)
	}{
		{"/services/Maps/createService", func(ctx context.Context, c *upstream.Client) (string, error) {
			return c.Services.CreateAsync(ctx, "Maps", cfg)
		}},
		{"/services/Maps/Parcels.MapServer/edit", func(ctx context.Context, c *upstream.Client) (string, error) {
			return c.Services.EditAsync(ctx, ref, cfg)
		}},
		{"/services/Maps/Parcels.MapServer/delete", func(ctx context.Context, c *upstream.Client) (string, error) { return c.Services.DeleteAsync(ctx, ref) }},
		{"/services/Maps/Parcels.MapServer/start", func(ctx context.Context, c *upstream.Client) (string, error) { return c.Services.StartAsync(ctx, ref) }},
		{"/services/Maps/Parcels.MapServer/stop", func(ctx context.Context, c *upstream.Client) (string, error) { return c.Services.StopAsync(ctx, ref) }},
		{"/services/Maps/deleteFolder", func(ctx context.Context, c *upstream.Client) (string, error) {
			return c.Services.DeleteFolderAsync(ctx, "Maps")
		}},
		{"/services/startServices", func(ctx context.Context, c *upstream.Client) (string, error) {
			return c.Services.StartManyAsync(ctx, refs)
		}},
		{"/services/stopServices", func(ctx context.Context, c *upstream.Client) (string, error) {
			return c.Services.StopManyAsync(ctx, refs)
		}},
	}
	for _, flavor := range []upstream.Flavor{"", upstream.FlavorServer, upstream.FlavorKubernetes} {
		want, other := "runAsync", "async"
		if flavor == upstream.FlavorKubernetes {
			want, other = other, want
		}
		for _, answer := range []string{`{"status":"success","jobid":"j1"}`, `{"status":"success"}`} {
			c, mux := setupStatic(t, upstream.WithFlavor(flavor))
			var got url.Values
			mux.HandleFunc("/services/", func(w http.ResponseWriter, r *http.Request) {
				testMethod(t, r, http.MethodPost)
				_ = r.ParseForm()
				got = r.PostForm
				writeBody(w, answer)
			})
			for _, w := range writes {
				got = nil
				id, err := w.call(context.Background(), c)
				if err != nil {
					t.Fatalf("%s %s: %v", flavor, w.path, err)
				}
				if got.Get(want) != "true" || got.Has(other) {
					t.Errorf("flavor %q: %s sent %v, want %s=true and no %s", flavor, w.path, got, want, other)
				}
				if wantID := map[bool]string{true: "j1"}[strings.Contains(answer, "jobid")]; id != wantID {
					t.Errorf("flavor %q: %s returned job %q, want %q", flavor, w.path, id, wantID)
				}
			}
		}
	}
}

func TestWithFlavor(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   upstream.Flavor
		want upstream.Flavor
		bad  bool
	}{{"", upstream.FlavorServer, false}, {"server", upstream.FlavorServer, false}, {"kubernetes", upstream.FlavorKubernetes, false},
		{"Kubernetes", "", true}, {"k8s", "", true}} {
		c, err := upstream.New("http://127.0.0.1:1/arcgis", upstream.WithFlavor(tc.in))
		if tc.bad {
			if err == nil {
				t.Errorf("WithFlavor(%q) accepted", tc.in)
				c.Close()
			}
			continue
		}
		if err != nil || c.Flavor() != tc.want {
			t.Errorf("WithFlavor(%q): %v, flavor %q", tc.in, err, c.Flavor())
		}
		if c != nil {
			c.Close()
		}
	}
	if c, err := upstream.New("http://127.0.0.1:1/arcgis"); err != nil || c.Flavor() != upstream.FlavorServer {
		t.Errorf("default flavor: %v", err)
	} else {
		c.Close()
	}
}
