package simulator

import (
	"crypto/rand"
	"encoding/hex"
	"strings"
	"sync"
	"time"
)

// This file simulates the asynchronous execution of admin operations: an
// edit sent with runAsync=true (when Config.AsyncExecution is set) is
// applied and answered with {"status":"success","jobid":"<id>"}, and the
// job is read at GET /admin/system/jobs/<id>. A job goes through three
// steps over Config.SystemJobDuration (by Clock) and ends COMPLETED with
// operationResponse {"status":"success"}. Without AsyncExecution, runAsync
// is ignored and the edit answers synchronously, like a site that does not
// support it.

// maxSystemJobs bounds the jobs kept; the oldest are dropped first.
const maxSystemJobs = 1000

// systemJobMachine is the machine named in the steps.
const systemJobMachine = "MACHINE.EXAMPLE.COM"

// systemJob is one asynchronous operation.
type systemJob struct {
	id      string
	created time.Time
	steps   []string
}

// systemJobStore holds the system jobs, with its own lock.
type systemJobStore struct {
	mu       sync.Mutex
	duration time.Duration
	byID     map[string]*systemJob
	order    []string // ids, oldest first
}

// newSystemJob records a job for an edit of the service named seg and
// returns its id.
func (s *Server) newSystemJob(seg string) string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	h := hex.EncodeToString(b)
	id := "j" + h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
	name := seg
	if i := strings.LastIndexByte(name, '.'); i > 0 {
		name = name[:i]
	}
	j := &systemJob{id: id, created: s.clock(), steps: []string{
		"Stopping the service '" + name + "' on machine '" + systemJobMachine + "'",
		"Saving edits to the configuration store",
		"Starting the service '" + name + "' on machine '" + systemJobMachine + "'",
	}}
	st := &s.systemJobs
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.byID == nil {
		st.byID = make(map[string]*systemJob)
	}
	if len(st.order) >= maxSystemJobs {
		delete(st.byID, st.order[0])
		st.order = st.order[1:]
	}
	st.byID[id] = j
	st.order = append(st.order, id)
	return id
}

// systemJobBody is the wire shape of a system job.
type systemJobBody struct {
	JobID             string       `json:"jobid"`
	Status            string       `json:"status"`
	TotalSteps        int          `json:"totalsteps"`
	CurrentStep       int          `json:"currentstep"`
	StepInfo          []string     `json:"stepInfo"`
	OperationResponse *successBody `json:"operationResponse,omitempty"`
}

// serveSystem serves /admin/system/...: only jobs/<id> is simulated.
func (s *Server) serveSystem(c *call) {
	rest := c.segs[1:]
	if len(rest) == 0 {
		c.writeJSON(struct {
			Resources []string `json:"resources"`
		}{[]string{"jobs"}})
		return
	}
	if rest[0] != "jobs" {
		c.notFound(rest[0])
		return
	}
	if len(rest) != 2 {
		c.notFound(rest[len(rest)-1])
		return
	}
	st := &s.systemJobs
	st.mu.Lock()
	j := st.byID[rest[1]]
	d := st.duration
	st.mu.Unlock()
	if j == nil {
		c.notFound(rest[1])
		return
	}
	n := len(j.steps)
	body := systemJobBody{JobID: j.id, TotalSteps: n}
	elapsed := s.clock().Sub(j.created)
	if d <= 0 || elapsed >= d {
		body.Status, body.CurrentStep, body.StepInfo = "COMPLETED", n, j.steps
		body.OperationResponse = &successBody{Status: "success"}
	} else {
		k := 1 + int(elapsed*time.Duration(n)/d)
		body.Status, body.CurrentStep, body.StepInfo = "EXECUTING", k, j.steps[:k]
	}
	c.writeJSON(body)
}
