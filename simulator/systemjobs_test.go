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
