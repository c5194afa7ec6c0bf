package simulator

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"strconv"
	"strings"
	"sync"
	"time"
)

// This file simulates the asynchronous execution of the service
// operations (createService, edit, start, stop, delete, deleteFolder,
// startServices, stopServices; their routes are marked async), in the
// shape of the site's Config.Flavor:
//
//   - ArcGIS Server (the default): an operation sent with runAsync=true,
//     when Config.AsyncExecution is set, is applied and answered with
//     {"status":"success","jobid":"<id>"}, and the job is read at GET
//     /admin/system/jobs/<id>. It goes through its steps over
//     Config.SystemJobDuration (by Clock) and ends COMPLETED with
//     operationResponse {"status":"success"}. Without AsyncExecution,
//     runAsync is ignored and the operation answers synchronously, like a
//     site that does not support it; async is always ignored.
//   - Enterprise on Kubernetes (FlavorKubernetes): an operation sent with
//     async=true answers the same way, and the job is read at GET
//     /admin/jobs/<id> ({"jobid","status","starttime","endtime",
//     "updatedtime","operationURI","username","result"}): SUBMITTED for
//     the first third of SystemJobDuration, EXECUTING until it ends, then
//     COMPLETED with the operation's answer in result (an edit's service
//     JSON under result.service). runAsync is ignored.
//
// Tests make jobs misbehave with FailNextAsyncJob, NextAsyncJobID and
// ForgetAsyncJobs. The step texts of the operations other than edit, and
// the failure shapes, are INVENTED (docs/upstream.md#simulator).

// Site flavors (Config.Flavor).
const (
	// FlavorServer simulates ArcGIS Server: runAsync and
	// admin/system/jobs (the default).
	FlavorServer = "server"
	// FlavorKubernetes simulates Enterprise on Kubernetes: async and
	// admin/jobs.
	FlavorKubernetes = "kubernetes"
)

// maxSystemJobs bounds the jobs kept; the oldest are dropped first.
const maxSystemJobs = 1000

// systemJobMachine is the machine named in the steps.
const systemJobMachine = "MACHINE.EXAMPLE.COM"

// systemJob is one asynchronous operation, of either flavor.
type systemJob struct {
	id           string
	kubernetes   bool // read at admin/jobs/<id>, else at admin/system/jobs/<id>
	created      time.Time
	steps        []string
	operationURI string          // the operation's path below admin/
	result       json.RawMessage // the operation's answer once done
	failure      *adminError     // set: the job ends failed with it (nothing was applied)
}

// asyncFault is a misbehaviour of the next asynchronous operation.
type asyncFault struct {
	failure *adminError // the job fails with it, the operation is not applied
	id      string      // the operation is applied and answered with this id, no job is kept
}

// systemJobStore holds the asynchronous jobs, with its own lock.
type systemJobStore struct {
	mu       sync.Mutex
	duration time.Duration
	byID     map[string]*systemJob
	order    []string     // ids, oldest first
	faults   []asyncFault // for the next asynchronous operations, in turn
}

// asyncCall is the asynchronous execution a call asked for.
type asyncCall struct {
	op      string // the operation's segment, e.g. "edit"
	subject string // what it acts on, for the steps
	badID   string // answer this id (asyncFault.id)
}

// asksAsync reports whether c asks for asynchronous execution in a way
// the site honours: async=true on Enterprise on Kubernetes, runAsync=true
// on ArcGIS Server with AsyncExecution.
func (s *Server) asksAsync(c *call) bool {
	if s.flavor == FlavorKubernetes {
		return strings.EqualFold(c.param("async"), "true")
	}
	return s.asyncExecution && strings.EqualFold(c.param("runAsync"), "true")
}

// startAsync prepares the asynchronous execution of the operation c is
// about to run (a route marked async). It returns false when it answered
// c itself: a pending FailNextAsyncJob makes the operation a job that
// fails without the operation being applied.
func (s *Server) startAsync(c *call) bool {
	if !s.asksAsync(c) {
		return true
	}
	a := &asyncCall{op: c.segs[len(c.segs)-1], subject: asyncSubject(c)}
	st := &s.systemJobs
	st.mu.Lock()
	var f asyncFault
	if len(st.faults) > 0 {
		f, st.faults = st.faults[0], st.faults[1:]
	}
	st.mu.Unlock()
	if f.failure != nil {
		j := s.newJob(c, a)
		j.failure = f.failure
		s.answerJob(c, j)
		return false
	}
	a.badID = f.id
	c.async = a
	return true
}

// asyncSubject names what the operation of c acts on, for its steps: the
// service (without its type), the folder, or the number of services.
func asyncSubject(c *call) string {
	n := len(c.segs)
	switch op := c.segs[n-1]; op {
	case "createService":
		var p struct {
			ServiceName string `json:"serviceName"`
		}
		_ = json.Unmarshal([]byte(c.param("service")), &p)
		return p.ServiceName
	case "deleteFolder":
		return c.segs[n-2]
	case "startServices", "stopServices":
		var p struct {
			Services []json.RawMessage `json:"services"`
		}
		_ = json.Unmarshal([]byte(c.param("services")), &p)
		return strconv.Itoa(len(p.Services))
	}
	name := c.segs[n-2]
	if i := strings.LastIndexByte(name, '.'); i > 0 {
		name = name[:i]
	}
	return name
}

// asyncSteps are the steps of a system job running op on subject. Only
// edit's are recorded; the others are INVENTED.
func asyncSteps(op, subject string) []string {
	machine := " on machine '" + systemJobMachine + "'"
	svc := "the service '" + subject + "'" + machine
	switch op {
	case "edit":
		return []string{"Stopping " + svc, "Saving edits to the configuration store", "Starting " + svc}
	case "createService":
		return []string{"Creating " + svc, "Starting " + svc}
	case "start":
		return []string{"Starting " + svc}
	case "stop":
		return []string{"Stopping " + svc}
	case "delete":
		return []string{"Stopping " + svc, "Deleting the service '" + subject + "' from the configuration store"}
	case "deleteFolder":
		return []string{"Deleting the services of the folder '" + subject + "'" + machine, "Deleting the folder '" + subject + "'"}
	case "startServices":
		return []string{"Starting " + subject + " services" + machine}
	case "stopServices":
		return []string{"Stopping " + subject + " services" + machine}
	}
	return []string{"Running the operation '" + op + "'" + machine}
}

// newJob records the job of the asynchronous operation a of c.
func (s *Server) newJob(c *call, a *asyncCall) *systemJob {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	h := hex.EncodeToString(b)
	j := &systemJob{
		id:           "j" + h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:],
		kubernetes:   s.flavor == FlavorKubernetes,
		created:      s.clock(),
		steps:        asyncSteps(a.op, a.subject),
		operationURI: strings.Join(c.segs, "/"),
		result:       json.RawMessage(`{"status":"success"}`),
	}
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
	st.byID[j.id] = j
	st.order = append(st.order, j.id)
	return j
}

// answerJob answers c with {"status":"success","jobid":"<id>"}.
func (s *Server) answerJob(c *call, j *systemJob) {
	c.writeJSON(struct {
		Status string `json:"status"`
		JobID  string `json:"jobid"`
	}{"success", j.id})
}

// succeedAsync answers the asynchronous operation of c, which has been
// applied: with a new job whose answer is result (nil: {"status":
// "success"}), or with the id a NextAsyncJobID gave.
func (s *Server) succeedAsync(c *call, result any) {
	a := c.async
	if a.badID != "" {
		c.writeJSON(struct {
			Status string `json:"status"`
			JobID  string `json:"jobid"`
		}{"success", a.badID})
		return
	}
	j := s.newJob(c, a)
	if result != nil {
		j.result = mustJSON(result)
	}
	s.answerJob(c, j)
}

// FailNextAsyncJob makes the next service operation that asks for
// asynchronous execution (in the site's flavor) answer with a job that
// fails with code and message, without applying the operation: on ArcGIS
// Server the job ends COMPLETED with an error operationResponse (as
// recorded), on Enterprise on Kubernetes it ends FAILED with the error
// envelope as its result. Calls queue up.
func (s *Server) FailNextAsyncJob(code int, message string) {
	s.systemJobs.mu.Lock()
	s.systemJobs.faults = append(s.systemJobs.faults, asyncFault{
		failure: &adminError{Status: "error", Messages: []string{message}, Code: code}})
	s.systemJobs.mu.Unlock()
}

// NextAsyncJobID makes the next service operation that asks for
// asynchronous execution be applied and answered with the job id id,
// verbatim, without any job behind it (for clients that must not trust
// the id). Calls queue up.
func (s *Server) NextAsyncJobID(id string) {
	s.systemJobs.mu.Lock()
	s.systemJobs.faults = append(s.systemJobs.faults, asyncFault{id: id})
	s.systemJobs.mu.Unlock()
}

// ForgetAsyncJobs drops every asynchronous job: reading one answers 404
// from now on, as if the site had lost it.
func (s *Server) ForgetAsyncJobs() {
	s.systemJobs.mu.Lock()
	s.systemJobs.byID, s.systemJobs.order = nil, nil
	s.systemJobs.mu.Unlock()
}

// lookupJob returns the job id of the given flavor and the jobs'
// duration; nil if there is none.
func (s *Server) lookupJob(id string, kubernetes bool) (*systemJob, time.Duration) {
	st := &s.systemJobs
	st.mu.Lock()
	defer st.mu.Unlock()
	j := st.byID[id]
	if j == nil || j.kubernetes != kubernetes {
		return nil, 0
	}
	return j, st.duration
}

// systemJobBody is the wire shape of a system job.
type systemJobBody struct {
	JobID             string   `json:"jobid"`
	Status            string   `json:"status"`
	TotalSteps        int      `json:"totalsteps"`
	CurrentStep       int      `json:"currentstep"`
	StepInfo          []string `json:"stepInfo"`
	OperationResponse any      `json:"operationResponse,omitempty"`
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
	j, d := s.lookupJob(rest[1], false)
	if j == nil {
		c.notFound(rest[1])
		return
	}
	n := len(j.steps)
	body := systemJobBody{JobID: j.id, TotalSteps: n}
	elapsed := s.clock().Sub(j.created)
	switch {
	case d <= 0 || elapsed >= d:
		body.Status, body.CurrentStep, body.StepInfo = "COMPLETED", n, j.steps
		body.OperationResponse = successBody{Status: "success"}
		if j.failure != nil {
			body.OperationResponse = j.failure
		}
	default:
		k := 1 + int(elapsed*time.Duration(n)/d)
		body.Status, body.CurrentStep, body.StepInfo = "EXECUTING", k, j.steps[:k]
	}
	c.writeJSON(body)
}
