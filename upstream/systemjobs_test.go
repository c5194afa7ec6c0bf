package upstream_test

import (
	"context"
	"errors"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/arcgate/arcgate/simulator"
	"github.com/arcgate/arcgate/upstream"
)

// D:job — the recorded system job whose operation failed.
const failedSystemJobJSON = `{"jobid": "jcbdbf7aa-385e-417a-b629-29a310895b9b", "status": "COMPLETED", "totalsteps": 3, "currentstep": 3,
 "stepInfo": ["Stopping the service 'USA' on  machine 'MACHINE.DOMAIN.COM'", "Saving edits to the configuration store",
              "Starting the service 'USA' on machine 'MACHINE.DOMAIN.COM'", "Stopping the service 'USA' on machine 'MACHINE.DOMAIN.COM'"],
 "operationResponse": {"status": "error", "messages": ["service failed to start"],
   "detail": {"service": "USA.MapServer", "state": "FAILED", "message": ""}}}`

func TestSystemJobs_EditAsyncOnSimulator(t *testing.T) {
	ctx := context.Background()
	ref := upstream.ServiceRef{Folder: "Maps", Name: "Parcels", Type: "MapServer"}
	for _, async := range []bool{true, false} {
		e := newSimEnv(t, simulator.Config{AsyncExecution: async, SystemJobDuration: 2 * time.Second}, adminCreds)
		cfg, err := e.client.Services.Get(ctx, ref)
		if err != nil {
			t.Fatal(err)
		}
		cfg.Description = "edited"
		id, err := e.client.Services.EditAsync(ctx, ref, cfg)
		if err != nil {
			t.Fatalf("async=%v: EditAsync: %v", async, err)
		}
		if !async {
			if id != "" {
				t.Fatalf("synchronous site: job id %q, want none", id)
			}
			continue
		}
		if id == "" {
			t.Fatal("asynchronous site: no job id")
		}
		j, err := e.client.SystemJobs.Get(ctx, id)
		if err != nil {
			t.Fatalf("Get: %v", err)
		}
		if j.ID != id || j.Done() || j.Err != nil || j.TotalSteps != 3 || j.CurrentStep != 1 || len(j.StepInfo) != 1 {
			t.Fatalf("running job = %+v", j)
		}
		e.clock.Advance(2 * time.Second)
		j, err = e.client.SystemJobs.Get(ctx, id)
		if err != nil {
			t.Fatalf("Get: %v", err)
		}
		if !j.Done() || j.Status != upstream.SystemJobCompleted || j.Err != nil || j.CurrentStep != 3 || len(j.StepInfo) != 3 {
			t.Fatalf("completed job = %+v", j)
		}
		got, err := e.client.Services.Get(ctx, ref)
		if err != nil || got.Description != "edited" {
			t.Fatalf("after the job: description %q, %v", got.Description, err)
		}
	}
}

func TestSystemJobs_Get(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c, mux := setupStatic(t)
	mux.HandleFunc("/system/jobs/", func(w http.ResponseWriter, r *http.Request) {
		switch strings.TrimPrefix(r.URL.Path, "/system/jobs/") {
		case "jcbdbf7aa-385e-417a-b629-29a310895b9b":
			writeBody(w, failedSystemJobJSON)
		case "jrunning":
			writeBody(w, `{"jobid":"jrunning","status":"SOMETHING_NEW","totalsteps":"3","currentstep":1,"stepInfo":["a"]}`)
		case "jfailed":
			writeBody(w, `{"jobid":"jfailed","status":"FAILED","totalsteps":3,"currentstep":2,"stepInfo":["a","b"]}`)
		default:
			writeBody(w, `{"status":"error","messages":["Could not find resource"],"code":404}`)
		}
	})
	j, err := c.SystemJobs.Get(ctx, "jcbdbf7aa-385e-417a-b629-29a310895b9b")
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	if !j.Done() || j.TotalSteps != 3 || j.CurrentStep != 3 || len(j.StepInfo) != 4 {
		t.Fatalf("job = %+v", j)
	}
	if j.Err == nil || j.Err.Kind != upstream.KindAPI || j.Err.Code != 500 ||
		!reflect.DeepEqual(j.Err.Messages, []string{"service failed to start"}) {
		t.Fatalf("job error = %#v", j.Err)
	}

	j, err = c.SystemJobs.Get(ctx, "jrunning")
	if err != nil || j.Done() || j.Err != nil || j.TotalSteps != 3 {
		t.Fatalf("unknown status: %+v, %v (want running)", j, err)
	}
	j, err = c.SystemJobs.Get(ctx, "jfailed")
	if err != nil || !j.Done() || j.Err == nil || j.Err.Kind != upstream.KindAPI {
		t.Fatalf("FAILED without operationResponse: %+v, %v", j, err)
	}
	if _, err := c.SystemJobs.Get(ctx, "jgone"); !upstream.IsNotFound(err) {
		t.Fatalf("unknown job: %v, want not found", err)
	}
}

func TestSystemJobs_InvalidID(t *testing.T) {
	t.Parallel()
	c, mux := setupStatic(t)
	mux.HandleFunc("/system/", func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("request sent for an invalid id: %s", r.URL)
	})
	for _, id := range []string{"", "..", "a/b", "a b", "j%2F", "j?x", "jé", strings.Repeat("a", 129)} {
		_, err := c.SystemJobs.Get(context.Background(), id)
		var e *upstream.Error
		if !errors.As(err, &e) || e.Kind != upstream.KindInvalid {
			t.Errorf("Get(%q) = %v, want an invalid argument", id, err)
		}
	}
}
