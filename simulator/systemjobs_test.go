package simulator_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/arcgate/arcgate/simulator"
)

// editBody is the Parcels service's current JSON with a new description.
func editBody(t *testing.T, e *env, desc string) string {
	t.Helper()
	cfg := e.getJSON("services/Maps/Parcels.MapServer")
	cfg["description"] = desc
	return string(mustMarshal(t, cfg))
}

func TestSystemJobOfAsyncEdit(t *testing.T) {
	e := newEnv(t, simulator.Config{AsyncExecution: true, SystemJobDuration: 3 * time.Second})
	m := e.postJSON("services/Maps/Parcels.MapServer/edit", "service", editBody(t, e, "async"), "runAsync", "true")
	id, _ := m["jobid"].(string)
	if m["status"] != "success" || !strings.HasPrefix(id, "j") {
		t.Fatalf("async edit answer: %v", m)
	}
	if got := e.getJSON("services/Maps/Parcels.MapServer")["description"]; got != "async" {
		t.Fatalf("edit not applied: description %v", got)
	}
	tests := []struct {
		advance  time.Duration
		status   string
		step     float64
		lastStep string
	}{
		{0, "EXECUTING", 1, "Stopping the service 'Parcels'"},
		{time.Second, "EXECUTING", 2, "Saving edits"},
		{time.Second, "EXECUTING", 3, "Starting the service 'Parcels'"},
		{time.Second, "COMPLETED", 3, "Starting the service 'Parcels'"},
	}
	for _, tc := range tests {
		e.clock.Advance(tc.advance)
		j := e.getJSON("system/jobs/" + id)
		steps, _ := j["stepInfo"].([]any)
		if j["jobid"] != id || j["status"] != tc.status || fmt.Sprint(j["currentstep"]) != fmt.Sprint(tc.step) || fmt.Sprint(j["totalsteps"]) != "3" ||
			len(steps) != int(tc.step) || !strings.HasPrefix(steps[len(steps)-1].(string), tc.lastStep) {
			t.Fatalf("after %v: job %v", tc.advance, j)
		}
		resp, done := j["operationResponse"].(map[string]any)
		if done != (tc.status == "COMPLETED") || done && resp["status"] != "success" {
			t.Fatalf("operationResponse %v in %v", j["operationResponse"], j)
		}
	}
	wantError(t, e.getJSON("system/jobs/jnope"), 404, "Could not find resource or operation 'jnope' on the system.")
}

func TestAsyncEditWithoutAsyncExecution(t *testing.T) {
	e := newEnv(t, simulator.Config{})
	m := e.postJSON("services/Maps/Parcels.MapServer/edit", "service", editBody(t, e, "sync"), "runAsync", "true")
	if _, has := m["jobid"]; has || m["status"] != "success" {
		t.Fatalf("synchronous site answered %v", m)
	}
	if got := e.getJSON("services/Maps/Parcels.MapServer")["description"]; got != "sync" {
		t.Fatalf("edit not applied: description %v", got)
	}
}

func mustMarshal(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// asyncOps are the service operations that may run as jobs, each with
// its form and a check that it was applied.
func asyncOps(t *testing.T, e *env) []struct {
	name, path string
	form       []string
	applied    func() bool
} {
	svc := func(path string) map[string]any { return e.getJSON(path) }
	return []struct {
		name, path string
		form       []string
		applied    func() bool
	}{
		{"createService", "services/Maps/createService", []string{"service", `{"serviceName":"Async","type":"MapServer"}`},
			func() bool { return svc("services/Maps/Async.MapServer")["serviceName"] == "Async" }},
		{"edit", "services/Maps/Parcels.MapServer/edit", []string{"service", editBody(t, e, "edited async")},
			func() bool { return svc("services/Maps/Parcels.MapServer")["description"] == "edited async" }},
		{"stop", "services/Maps/Parcels.MapServer/stop", nil,
			func() bool { return svc("services/Maps/Parcels.MapServer/status")["configuredState"] == "STOPPED" }},
		{"start", "services/Maps/Parcels.MapServer/start", nil,
			func() bool { return svc("services/Maps/Parcels.MapServer/status")["configuredState"] == "STARTED" }},
		{"stopServices", "services/stopServices", []string{"services", `{"services":[{"folderName":"Maps","serviceName":"Parcels","type":"MapServer"}]}`},
			func() bool { return svc("services/Maps/Parcels.MapServer/status")["configuredState"] == "STOPPED" }},
		{"startServices", "services/startServices", []string{"services", `{"services":[{"folderName":"Maps","serviceName":"Parcels","type":"MapServer"}]}`},
			func() bool { return svc("services/Maps/Parcels.MapServer/status")["configuredState"] == "STARTED" }},
		{"delete", "services/Maps/Async.MapServer/delete", nil,
			func() bool { return svc("services/Maps/Async.MapServer")["status"] == "error" }},
		{"deleteFolder", "services/Maps/deleteFolder", nil,
			func() bool { return svc("services/Maps")["status"] == "error" }},
	}
}

// TestAsyncOperationsBothFlavors: each service operation asked to run
// asynchronously in the site's flavor is applied and answered with a job
// id, read at the flavor's job resource in its shape; asked the other
// flavor's way, it answers synchronously.
func TestAsyncOperationsBothFlavors(t *testing.T) {
	for _, flavor := range []string{simulator.FlavorServer, simulator.FlavorKubernetes} {
		param, other, jobs, otherJobs := "runAsync", "async", "system/jobs/", "jobs/"
		if flavor == simulator.FlavorKubernetes {
			param, other, jobs, otherJobs = other, param, otherJobs, jobs
		}
		t.Run(flavor, func(t *testing.T) {
			e := newEnv(t, simulator.Config{Flavor: flavor, AsyncExecution: true, SystemJobDuration: 3 * time.Second})
			if m := e.postJSON("services/Maps/Parcels.MapServer/start", other, "true"); m["jobid"] != nil || m["status"] != "success" {
				t.Fatalf("start asked with %s: %v, want a synchronous answer", other, m)
			}
			for _, op := range asyncOps(t, e) {
				m := e.postJSON(op.path, append(append([]string(nil), op.form...), param, "true")...)
				id, _ := m["jobid"].(string)
				if m["status"] != "success" || !strings.HasPrefix(id, "j") || !op.applied() {
					t.Fatalf("%s asked with %s: %v (applied %v)", op.name, param, m, op.applied())
				}
				wantCode(t, e.getJSON(otherJobs+id), 404)
				running := e.getJSON(jobs + id)
				e.clock.Advance(3 * time.Second)
				ended := e.getJSON(jobs + id)
				if flavor == simulator.FlavorServer {
					steps, _ := running["stepInfo"].([]any)
					if running["status"] != "EXECUTING" || len(steps) != 1 || ended["status"] != "COMPLETED" ||
						fmt.Sprint(ended["operationResponse"]) != "map[status:success]" {
						t.Fatalf("%s: job %v then %v", op.name, running, ended)
					}
					continue
				}
				if running["status"] != "SUBMITTED" || running["jobid"] != id || running["operationURI"] != op.path ||
					running["username"] != "admin" || running["result"] != nil || running["endtime"] != nil {
					t.Fatalf("%s: running job %v", op.name, running)
				}
				e.clock.Advance(-2 * time.Second)
				if j := e.getJSON(jobs + id); j["status"] != "EXECUTING" {
					t.Fatalf("%s: job %v, want EXECUTING", op.name, j)
				}
				e.clock.Advance(2 * time.Second)
				res, _ := ended["result"].(map[string]any)
				if ended["status"] != "COMPLETED" || res == nil || fmt.Sprint(ended["endtime"]) != fmt.Sprint(ended["updatedtime"]) {
					t.Fatalf("%s: ended job %v", op.name, ended)
				}
				if svc, _ := res["service"].(map[string]any); op.name == "edit" && svc["description"] != "edited async" {
					t.Fatalf("edit: result %v, want the service", res)
				}
			}
		})
	}
}

// TestAsyncJobFaults: a failing job (nothing applied), an id answered
// verbatim, and jobs forgotten.
func TestAsyncJobFaults(t *testing.T) {
	for _, flavor := range []string{simulator.FlavorServer, simulator.FlavorKubernetes} {
		param, jobs := "runAsync", "system/jobs/"
		if flavor == simulator.FlavorKubernetes {
			param, jobs = "async", "jobs/"
		}
		t.Run(flavor, func(t *testing.T) {
			e := newEnv(t, simulator.Config{Flavor: flavor, AsyncExecution: true})
			e.sim.FailNextAsyncJob(404, "Service 'Parcels.MapServer' not found.")
			m := e.postJSON("services/Maps/Parcels.MapServer/stop", param, "true")
			id, _ := m["jobid"].(string)
			if id == "" || e.getJSON("services/Maps/Parcels.MapServer/status")["configuredState"] != "STARTED" {
				t.Fatalf("failing job: %v, or the stop was applied", m)
			}
			j := e.getJSON(jobs + id)
			failure := j["operationResponse"]
			if flavor == simulator.FlavorKubernetes {
				failure = j["result"]
				if j["status"] != "FAILED" {
					t.Fatalf("job %v, want FAILED", j)
				}
			}
			wantError(t, failure.(map[string]any), 404, "Service 'Parcels.MapServer' not found.")

			e.sim.NextAsyncJobID("../not-a-job")
			if m := e.postJSON("services/Maps/Parcels.MapServer/stop", param, "true"); m["jobid"] != "../not-a-job" ||
				e.getJSON("services/Maps/Parcels.MapServer/status")["configuredState"] != "STOPPED" {
				t.Fatalf("verbatim id: %v", m)
			}
			m = e.postJSON("services/Maps/Parcels.MapServer/start", param, "true")
			id, _ = m["jobid"].(string)
			e.sim.ForgetAsyncJobs()
			wantCode(t, e.getJSON(jobs+id), 404)
		})
	}
}
