package simulator

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// This file simulates the jobs of GP services (docs/upstream.md#gp-jobs):
// .../<service>/jobs, jobs/query, jobs/<id>, jobs/<id>/cancel,
// jobs/<id>/delete and jobs/purgeQueue.
//
// Jobs belong to a service object: deleting a service removes its jobs, and
// a service created again under the same name starts without jobs. Every
// service routes /jobs (Esri's own example uses a MapServer), but only
// GPServer services have jobs; on others the query is empty and every job
// id is unknown (docs/upstream.md#gp-jobs, INFERRED).
//
// A job's state is computed from the Clock, so no goroutine runs: jobs made
// by SubmitJob move NEW → SUBMITTED → EXECUTING → outcome, one state per
// Config.JobStepDuration; a cancelled job is CANCELLING for one step, then
// CANCELLED.

// Job status strings (docs/upstream.md#job-resource: eight in the admin
// docs, three more in the GP REST API).
const (
	jobNew        = "esriJobNew"
	jobSubmitted  = "esriJobSubmitted"
	jobWaiting    = "esriJobWaiting"
	jobExecuting  = "esriJobExecuting"
	jobSucceeded  = "esriJobSucceeded"
	jobFailed     = "esriJobFailed"
	jobCancelling = "esriJobCancelling"
	jobCancelled  = "esriJobCancelled"
	jobTimedOut   = "esriJobTimedOut"
	jobDeleting   = "esriJobDeleting"
	jobDeleted    = "esriJobDeleted"
)

// jobStatuses lists every status string, for validating jobStatus.
var jobStatuses = []string{
	jobNew, jobSubmitted, jobWaiting, jobExecuting, jobSucceeded, jobFailed,
	jobCancelling, jobCancelled, jobTimedOut, jobDeleting, jobDeleted,
}

// defaultJobNumber is the page size of jobs/query when number is not sent
// (docs/upstream.md#job-queries: 10 in the K8s docs and the Python API).
const defaultJobNumber = 10

// msgUnableToCancel is recorded (D:cancel-job,
// docs/upstream.md#recorded-payloads), code 500.
func msgUnableToCancel(id string) string { return "Unable to cancel job :[" + id + "]" }

// msgUnableToDelete is recorded (D:delete-job,
// docs/upstream.md#recorded-payloads), code 400.
func msgUnableToDelete(id string) string { return "Unable to delete job :[" + id + "]" }

// msgMissingParam is INVENTED: a required parameter (startTime of
// jobs/query, documented as required) was not sent at all (code 400).
func msgMissingParam(param string) string {
	return "Missing required parameter '" + param + "'."
}

// msgBadParam is INVENTED: a parameter with a value the operation cannot
// use (code 400).
func msgBadParam(param, value string) string {
	return "Invalid value '" + value + "' for parameter '" + param + "'."
}

// simJob is one job. Seeded jobs have a fixed status; jobs made by
// SubmitJob progress with the clock.
type simJob struct {
	id        string
	submitted time.Time // millisecond precision
	username  *string   // nil: anonymous, sent as null
	machine   string

	status string    // fixed status (when !progress)
	end    time.Time // fixed end time (when !progress), zero while running

	progress bool   // state follows the clock from submitted
	outcome  string // final status of a progressing job

	cancelledAt time.Time // set when a cancel (or purge) was accepted
}

// state returns the job's status and end time at now.
func (j *simJob) state(now time.Time, step time.Duration) (string, time.Time) {
	if !j.cancelledAt.IsZero() {
		if step > 0 && now.Before(j.cancelledAt.Add(step)) {
			return jobCancelling, time.Time{}
		}
		return jobCancelled, j.cancelledAt.Add(step)
	}
	if !j.progress {
		return j.status, j.end
	}
	if step <= 0 {
		return jobNew, time.Time{}
	}
	steps := []string{jobNew, jobSubmitted, jobExecuting}
	i := int(now.Sub(j.submitted) / step)
	if i < 0 {
		i = 0
	}
	if i < len(steps) {
		return steps[i], time.Time{}
	}
	return j.outcome, j.submitted.Add(time.Duration(len(steps)) * step)
}

// jobStore holds the jobs of every service. It has its own lock; callers
// never hold s.mu while taking it.
type jobStore struct {
	mu    sync.Mutex
	step  time.Duration
	jobs  map[*service]map[string]*simJob
	count int // jobs submitted through SubmitJob, for ids
}

// jobsOf returns the jobs map of svc, creating it. The caller holds mu.
func (st *jobStore) jobsOf(svc *service) map[string]*simJob {
	if st.jobs == nil {
		st.jobs = make(map[*service]map[string]*simJob)
	}
	m := st.jobs[svc]
	if m == nil {
		m = make(map[string]*simJob)
		st.jobs[svc] = m
	}
	return m
}

// forget drops the jobs of deleted services (a service created again under
// the same name is a new one, without them).
func (st *jobStore) forget(svcs ...*service) {
	st.mu.Lock()
	defer st.mu.Unlock()
	for _, svc := range svcs {
		delete(st.jobs, svc)
	}
}

// jobID derives a deterministic job id, "j" followed by 32 hex digits.
func jobID(parts ...string) string {
	sum := sha256.Sum256([]byte("job\x00" + strings.Join(parts, "\x00")))
	return "j" + hex.EncodeToString(sum[:16])
}

// seedJobs sets the step duration and seeds GP jobs:
// System/PublishingTools.GPServer gets 25 jobs and
// Utilities/PrintingTools.GPServer 6, spread over the last hours, across
// every status, three submitters and anonymous submissions, and two
// machines. Pairs of jobs share a submission time, so that ordering ties
// are exercised.
func (s *Server) seedJobs(step time.Duration) {
	base := s.now().UTC().Truncate(time.Millisecond)
	statuses := []string{
		jobSucceeded, jobSucceeded, jobFailed, jobExecuting, jobSubmitted, jobWaiting, jobNew,
		jobCancelled, jobTimedOut, jobCancelling, jobSucceeded, jobDeleting, jobDeleted,
	}
	users := []*string{strPtr("admin"), strPtr("publisher1"), nil, strPtr("analyst")}
	machines := []string{"GPSERVER1.EXAMPLE.COM", "GPSERVER2.EXAMPLE.COM"}
	seed := func(folderKey, seg string, n int) {
		name, typ, _ := parseServiceSegment(seg)
		s.mu.RLock()
		_, svc := s.lookup(serviceRef{folderKey: folderKey, key: serviceKey(name, typ), seg: seg})
		s.mu.RUnlock()
		if svc == nil {
			return
		}
		s.jobs.mu.Lock()
		defer s.jobs.mu.Unlock()
		m := s.jobs.jobsOf(svc)
		for i := range n {
			j := &simJob{
				id:        jobID("seed", folderKey, seg, strconv.Itoa(i)),
				submitted: base.Add(-time.Duration(n/2-i/2+1) * 37 * time.Minute),
				username:  users[i%len(users)],
				machine:   machines[(i/3)%len(machines)],
				status:    statuses[i%len(statuses)],
			}
			if isTerminalJobStatus(j.status) {
				j.end = j.submitted.Add(time.Duration(i%5+1) * time.Minute)
			}
			m[j.id] = j
		}
	}
	s.jobs.mu.Lock()
	s.jobs.step = step
	s.jobs.mu.Unlock()
	seed("system", "PublishingTools.GPServer", 25)
	seed("utilities", "PrintingTools.GPServer", 6)
}

func strPtr(s string) *string { return &s }

// isTerminalJobStatus reports whether a job in status st has ended.
func isTerminalJobStatus(st string) bool {
	switch st {
	case jobSucceeded, jobFailed, jobCancelled, jobTimedOut, jobDeleted:
		return true
	}
	return false
}

// SubmitJob submits a new job to a GP service, as a client of the service
// would, and returns its id. servicePath is "[<folder>/]<name>.GPServer"
// (folder and name matched without regard to case). outcome is the job's
// final status: "esriJobSucceeded" (also for ""), "esriJobFailed" or
// "esriJobTimedOut". The job is esriJobNew when submitted and then moves to
// esriJobSubmitted, esriJobExecuting and outcome, one state per
// Config.JobStepDuration of the Clock; with a zero JobStepDuration it stays
// esriJobNew.
func (s *Server) SubmitJob(servicePath, outcome string) (string, error) {
	switch outcome {
	case "":
		outcome = jobSucceeded
	case jobSucceeded, jobFailed, jobTimedOut:
	default:
		return "", fmt.Errorf("simulator: SubmitJob: outcome %q is not esriJobSucceeded, esriJobFailed or esriJobTimedOut", outcome)
	}
	svc, typ := s.lookupServicePath(servicePath)
	if svc == nil || typ != "GPServer" {
		return "", fmt.Errorf("simulator: SubmitJob: no GPServer service %q", servicePath)
	}
	s.authMu.RLock()
	user := s.username // SetCredentials may change it concurrently
	s.authMu.RUnlock()
	s.jobs.mu.Lock()
	s.jobs.count++
	j := &simJob{
		id:        jobID("submitted", strconv.Itoa(s.jobs.count), servicePath),
		submitted: s.now().UTC().Truncate(time.Millisecond),
		username:  strPtr(user),
		machine:   "GPSERVER1.EXAMPLE.COM",
		progress:  true,
		outcome:   outcome,
	}
	s.jobs.jobsOf(svc)[j.id] = j
	s.jobs.mu.Unlock()
	s.logEvent("simulator: job %s submitted to %q", j.id, servicePath)
	return j.id, nil
}

// jobService is a service resolved for a jobs request.
type jobService struct {
	svc    *service
	folder string // stored case, "" for the root
	name   string
	typ    string
}

// resolveJobService looks the service of ref up, copying what the jobs
// handlers need while s.mu is held. It writes the 404 envelope and returns
// false when the service is gone.
func (s *Server) resolveJobService(c *call, ref serviceRef) (jobService, bool) {
	s.mu.RLock()
	f, svc := s.lookup(ref)
	var js jobService
	if svc != nil {
		js = jobService{svc: svc, folder: f.name, name: svc.name, typ: svc.typ}
	}
	s.mu.RUnlock()
	if svc == nil {
		c.notFound(ref.seg)
		return js, false
	}
	return js, true
}

// jobJSON is the wire form of a job (D:job-get field list,
// docs/upstream.md#job-resource): note "machinename" with a lower-case n and
// "username" null for anonymous jobs. The exact body is not recorded;
// endTime is 0 while the job runs (INFERRED).
type jobJSON struct {
	JobID         string  `json:"jobID"`
	SubmittedTime int64   `json:"submittedTime"`
	EndTime       int64   `json:"endTime"`
	Status        string  `json:"status"`
	Username      *string `json:"username"`
	MachineName   string  `json:"machinename"`
	URL           string  `json:"url"`
}

// wire returns the job's JSON at now.
func (j *simJob) wire(c *call, js jobService, now time.Time, step time.Duration) jobJSON {
	status, end := j.state(now, step)
	out := jobJSON{
		JobID:         j.id,
		SubmittedTime: j.submitted.UnixMilli(),
		Status:        status,
		Username:      j.username,
		MachineName:   j.machine,
		URL:           jobURL(c, js, j.id),
	}
	if !end.IsZero() {
		out.EndTime = end.UnixMilli()
	}
	return out
}

// jobURL is the job's page in the services directory.
func jobURL(c *call, js jobService, id string) string {
	scheme := "http"
	if c.r.TLS != nil {
		scheme = "https"
	}
	path := js.name
	if js.folder != "" {
		path = js.folder + "/" + js.name
	}
	return scheme + "://" + c.r.Host + "/" + c.s.context + "/rest/services/" + path + "/" + js.typ + "/jobs/" + id
}

// serveJobs dispatches .../<service>/jobs[/...].
func (s *Server) serveJobs(c *call, ref serviceRef, rest []string) {
	if len(rest) == 0 {
		if _, ok := s.resolveJobService(c, ref); ok {
			// D:jobs-service: the resource lists only its child resource.
			c.writeJSON(struct {
				Resources []string `json:"resources"`
			}{[]string{"statistics"}})
		}
		return
	}
	if handle, found, ok := jobsRoutes.match(c, rest); found {
		if ok {
			handle(s, c, ref)
		}
		return
	}
	id := rest[0]
	if len(rest) == 1 {
		s.getJob(c, ref, id)
		return
	}
	handle, found, ok := jobRoutes.match(c, rest[1:])
	if !found {
		if s.findJob(c, ref, id) {
			c.notFound(rest[1])
		}
		return
	}
	if ok {
		handle(s, c, ref, id)
	}
}

// findJob reports whether the job exists, writing the 404 envelope when it
// (or its service) does not.
func (s *Server) findJob(c *call, ref serviceRef, id string) bool {
	js, ok := s.resolveJobService(c, ref)
	if !ok {
		return false
	}
	s.jobs.mu.Lock()
	_, found := s.jobs.jobs[js.svc][id]
	s.jobs.mu.Unlock()
	if !found {
		c.notFound(id)
	}
	return found
}

// getJob implements GET .../jobs/<id>.
func (s *Server) getJob(c *call, ref serviceRef, id string) {
	js, ok := s.resolveJobService(c, ref)
	if !ok {
		return
	}
	now := s.now()
	s.jobs.mu.Lock()
	j := s.jobs.jobs[js.svc][id]
	var out jobJSON
	if j != nil {
		out = j.wire(c, js, now, s.jobs.step)
	}
	s.jobs.mu.Unlock()
	if j == nil {
		c.notFound(id)
		return
	}
	c.writeJSON(out)
}

// cancelJob implements POST .../jobs/<id>/cancel: only submitted or
// executing jobs can be cancelled (D:cancel-job).
func (s *Server) cancelJob(c *call, ref serviceRef, id string) {
	js, ok := s.resolveJobService(c, ref)
	if !ok {
		return
	}
	now := s.now()
	s.jobs.mu.Lock()
	j := s.jobs.jobs[js.svc][id]
	var status string
	if j != nil {
		status, _ = j.state(now, s.jobs.step)
		if status == jobSubmitted || status == jobExecuting {
			j.cancelledAt = now
		}
	}
	s.jobs.mu.Unlock()
	switch {
	case j == nil:
		c.notFound(id)
	case status != jobSubmitted && status != jobExecuting:
		c.fail(500, msgUnableToCancel(id))
	default:
		s.logEvent("simulator: job %s cancelled", id)
		c.success()
	}
}

// deleteJob implements POST .../jobs/<id>/delete: the job is cancelled if it
// runs and removed. A job that is being cancelled or deleted cannot be
// deleted (the condition is INFERRED; the message is recorded).
func (s *Server) deleteJob(c *call, ref serviceRef, id string) {
	js, ok := s.resolveJobService(c, ref)
	if !ok {
		return
	}
	now := s.now()
	s.jobs.mu.Lock()
	jobs := s.jobs.jobs[js.svc]
	j := jobs[id]
	var status string
	if j != nil {
		status, _ = j.state(now, s.jobs.step)
		if status != jobCancelling && status != jobDeleting {
			delete(jobs, id)
		}
	}
	s.jobs.mu.Unlock()
	switch {
	case j == nil:
		c.notFound(id)
	case status == jobCancelling || status == jobDeleting:
		c.fail(400, msgUnableToDelete(id))
	default:
		s.logEvent("simulator: job %s deleted", id)
		c.success()
	}
}

// purgeJobQueue implements POST .../jobs/purgeQueue: every new, submitted
// or waiting job is cancelled. The answer is not recorded;
// {"status":"success"} is INFERRED.
func (s *Server) purgeJobQueue(c *call, ref serviceRef) {
	js, ok := s.resolveJobService(c, ref)
	if !ok {
		return
	}
	now := s.now()
	n := 0
	s.jobs.mu.Lock()
	for _, j := range s.jobs.jobs[js.svc] {
		switch st, _ := j.state(now, s.jobs.step); st {
		case jobNew, jobSubmitted, jobWaiting:
			j.cancelledAt = now
			n++
		}
	}
	s.jobs.mu.Unlock()
	s.logEvent("simulator: purged %d queued jobs of %q", n, ref.seg)
	c.success()
}

// jobFilter is a parsed jobs/query request.
type jobFilter struct {
	start, end   int64 // epoch ms; end -1 = now
	status       string
	user         string
	machine      string
	first, count int // 1-based start, number
}

// parseJobQuery validates the jobs/query parameters, writing a code 400
// envelope on failure.
func parseJobQuery(c *call) (jobFilter, bool) {
	f := jobFilter{start: 0, end: -1, first: 1, count: defaultJobNumber}
	if !c.hasParam("startTime") {
		c.fail(400, msgMissingParam("startTime"))
		return f, false
	}
	millis := func(param string, dst *int64) bool {
		v := strings.TrimSpace(c.param(param))
		if v == "" {
			return true
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			c.fail(400, msgBadParam(param, v))
			return false
		}
		*dst = n
		return true
	}
	positive := func(param string, dst *int) bool {
		v := strings.TrimSpace(c.param(param))
		if v == "" {
			return true
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			c.fail(400, msgBadParam(param, v))
			return false
		}
		*dst = n
		return true
	}
	if !millis("startTime", &f.start) || !millis("endTime", &f.end) ||
		!positive("start", &f.first) || !positive("number", &f.count) {
		return f, false
	}
	if st := c.param("jobStatus"); st != "" {
		for _, known := range jobStatuses {
			if strings.EqualFold(st, known) {
				f.status = known
			}
		}
		if f.status == "" {
			c.fail(400, msgBadParam("jobStatus", st))
			return f, false
		}
	}
	f.user, f.machine = c.param("userName"), c.param("machineName")
	return f, true
}

// queryJobs implements GET .../jobs/query (docs/upstream.md#job-queries):
// filters on submission time, status, submitter and machine; 1-based start
// and number; nextStart -1 after the last page; results keyed by job id.
// Jobs are paged newest first (the order is not recorded: INFERRED).
func (s *Server) queryJobs(c *call, ref serviceRef) {
	js, ok := s.resolveJobService(c, ref)
	if !ok {
		return
	}
	f, ok := parseJobQuery(c)
	if !ok {
		return
	}
	now := s.now()
	end := f.end
	if end < 0 {
		end = now.UnixMilli()
	}
	var matched []jobJSON
	if js.typ == "GPServer" {
		s.jobs.mu.Lock()
		for _, j := range s.jobs.jobs[js.svc] {
			w := j.wire(c, js, now, s.jobs.step)
			switch {
			case w.SubmittedTime < f.start || w.SubmittedTime > end:
			case f.status != "" && w.Status != f.status:
			case f.user != "" && (w.Username == nil || !strings.EqualFold(*w.Username, f.user)):
			case f.machine != "" && !strings.EqualFold(w.MachineName, f.machine):
			default:
				matched = append(matched, w)
			}
		}
		s.jobs.mu.Unlock()
	}
	sort.Slice(matched, func(a, b int) bool {
		if matched[a].SubmittedTime != matched[b].SubmittedTime {
			return matched[a].SubmittedTime > matched[b].SubmittedTime
		}
		return matched[a].JobID > matched[b].JobID
	})
	results := make(map[string]jobJSON)
	next := -1
	if from := f.first - 1; from < len(matched) {
		to := min(from+f.count, len(matched))
		for _, w := range matched[from:to] {
			results[w.JobID] = w
		}
		if to < len(matched) {
			next = to + 1
		}
	}
	c.writeJSON(struct {
		Total     int                `json:"total"`
		Num       int                `json:"num"`
		Query     map[string]string  `json:"query"`
		Start     int                `json:"start"`
		NextStart int                `json:"nextStart"`
		Results   map[string]jobJSON `json:"results"`
	}{
		Total: len(matched),
		Num:   f.count,
		Query: map[string]string{
			"serviceName": js.name,
			"startTime":   c.param("startTime"),
			"endTime":     c.param("endTime"),
			"jobStatus":   f.status,
			"userName":    f.user,
			"machineName": f.machine,
		},
		Start:     f.first,
		NextStart: next,
		Results:   results,
	})
}

// errNoJob is returned by JobStatus for an unknown service or job.
var errNoJob = errors.New("simulator: no such job")

// JobStatus returns a job's current status string, for tests that check
// what really is upstream. servicePath is "[<folder>/]<name>.<Type>".
func (s *Server) JobStatus(servicePath, id string) (string, error) {
	svc, _ := s.lookupServicePath(servicePath)
	if svc == nil {
		return "", errNoJob
	}
	now := s.now()
	s.jobs.mu.Lock()
	defer s.jobs.mu.Unlock()
	j := s.jobs.jobs[svc][id]
	if j == nil {
		return "", errNoJob
	}
	st, _ := j.state(now, s.jobs.step)
	return st, nil
}

// lookupServicePath returns the service at "[<folder>/]<name>.<Type>"
// (folder and name matched without regard to case) and its type, or nil.
func (s *Server) lookupServicePath(servicePath string) (*service, string) {
	folderKey, seg := "", servicePath
	if i := strings.LastIndexByte(servicePath, '/'); i >= 0 {
		folderKey, seg = strings.ToLower(servicePath[:i]), servicePath[i+1:]
	}
	name, typ, ok := parseServiceSegment(seg)
	if !ok {
		return nil, ""
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	_, svc := s.lookup(serviceRef{folderKey: folderKey, key: serviceKey(name, typ), seg: seg})
	return svc, typ
}
