package upstream

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
)

// SystemJobsService reads the asynchronous jobs of the admin API
// (admin/system/jobs/<jobid>) of ArcGIS Server (FlavorServer): an
// operation sent with runAsync=true (the ServicesService methods named
// ...Async) may answer with a job id at once and run as such a job. These
// are unrelated to the GP jobs of JobsService. Enterprise on Kubernetes
// (FlavorKubernetes) asks with async=true and reports its jobs at
// admin/jobs/<id> in another shape: KubernetesJobsService reads those.
type SystemJobsService service

// System job status strings. The upstream documents COMPLETED; the others
// are the values seen in the field. Unknown values are treated as running.
const (
	SystemJobCompleted = "COMPLETED"
	SystemJobFailed    = "FAILED"
	SystemJobCancelled = "CANCELLED"
)

// maxSystemJobID bounds the length of a system job id.
const maxSystemJobID = 128

// SystemJob is an asynchronous admin job (admin/system/jobs/<jobid>).
type SystemJob struct {
	// ID is "jobid".
	ID string
	// Status is "status", kept verbatim (e.g. "COMPLETED").
	Status string
	// TotalSteps and CurrentStep are "totalsteps" and "currentstep"; 0
	// when not reported.
	TotalSteps, CurrentStep int
	// StepInfo is "stepInfo", the steps reported so far, oldest first.
	StepInfo []string
	// Err is the job's "operationResponse" when it is an error envelope
	// (Kind KindAPI, with its code and messages), or a KindAPI error when
	// the job ended FAILED or CANCELLED without one; nil otherwise.
	Err *Error
}

// Done reports whether the job has ended: its status is COMPLETED, FAILED
// or CANCELLED (in any letter case). Any other status, including unknown
// ones, means the job still runs.
func (j *SystemJob) Done() bool {
	switch strings.ToUpper(j.Status) {
	case SystemJobCompleted, SystemJobFailed, SystemJobCancelled, "CANCELED":
		return true
	}
	return false
}

// systemJobWire is the wire shape of SystemJob.
type systemJobWire struct {
	ID                jsonText        `json:"jobid"`
	Status            jsonText        `json:"status"`
	TotalSteps        jsonInt         `json:"totalsteps"`
	CurrentStep       jsonInt         `json:"currentstep"`
	StepInfo          []anyText       `json:"stepInfo"`
	OperationResponse json.RawMessage `json:"operationResponse"`
}

// checkSystemJobID reports whether id can be a system job id: 1 to 128
// ASCII letters, digits and '-'. It returns nil or a KindInvalid error.
func checkSystemJobID(op, id string) error { return checkAsyncJobID(op, "system job id", id) }

// checkAsyncJobID reports whether id can be the id of an asynchronous job
// of either flavor (what names it in the error): 1 to 128 ASCII letters,
// digits and '-', so that it is a path segment with nothing to escape.
// It returns nil or a KindInvalid error.
func checkAsyncJobID(op, what, id string) error {
	if id == "" {
		return invalid(op, what+" is empty")
	}
	if len(id) > maxSystemJobID {
		return invalid(op, fmt.Sprintf("%s is longer than %d characters", what, maxSystemJobID))
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-') {
			return invalid(op, what+" may hold only letters, digits and '-'")
		}
	}
	return nil
}

// Get returns the system job id. A job whose operation failed is returned
// without error: its Err says why.
//
// ArcGIS docs: https://developers.arcgis.com/rest/enterprise-administration/server/job/
//
//upstream:operation GET system/jobs/{jobid}
func (s *SystemJobsService) Get(ctx context.Context, id string) (*SystemJob, error) {
	const op = "system.jobs.get"
	if err := checkSystemJobID(op, id); err != nil {
		return nil, err
	}
	path := "system/jobs/" + id // checked above: nothing to escape
	var w systemJobWire
	if err := s.client.get(ctx, op, path, nil, &w); err != nil {
		return nil, err
	}
	j := &SystemJob{ID: string(w.ID), Status: string(w.Status),
		TotalSteps: int(w.TotalSteps), CurrentStep: int(w.CurrentStep)}
	for _, st := range w.StepInfo {
		j.StepInfo = append(j.StepInfo, string(st))
	}
	if len(w.OperationResponse) > 0 {
		var obj map[string]json.RawMessage
		if json.Unmarshal(w.OperationResponse, &obj) == nil && obj != nil {
			if e := envelopeError(200, obj); e != nil {
				e.Op, e.Method, e.Path = op, "GET", path
				j.Err = e
			}
		}
	}
	if j.Err == nil && j.Done() && !strings.EqualFold(j.Status, SystemJobCompleted) {
		j.Err = &Error{Kind: KindAPI, Op: op, Method: "GET", Path: path, Code: 500,
			Messages: []string{"system job " + id + " ended " + j.Status}}
	}
	return j, nil
}
