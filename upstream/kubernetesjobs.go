package upstream

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"time"
)

// KubernetesJobsService reads the asynchronous jobs of ArcGIS Enterprise
// on Kubernetes (admin/jobs/<jobid>): with FlavorKubernetes, an operation
// sent with async=true (the ServicesService methods named ...Async) may
// answer with a job id at once and run as such a job. The job has no
// steps: its status says where it is, and when it ends its result holds
// the operation's answer (COMPLETED) or its failure (FAILED). ArcGIS
// Server's own jobs (runAsync, admin/system/jobs) are SystemJobsService's.
type KubernetesJobsService service

// Kubernetes job status strings (docs/upstream.md#asynchronous-operations).
// UNAVAILABLE means that the status cannot be told right now: the job may
// still run, so it is not an end. Unknown values are treated as running.
const (
	KubernetesJobSubmitted   = "SUBMITTED"
	KubernetesJobExecuting   = "EXECUTING"
	KubernetesJobCancelling  = "CANCELLING"
	KubernetesJobCancelled   = "CANCELLED"
	KubernetesJobFailed      = "FAILED"
	KubernetesJobCompleted   = "COMPLETED"
	KubernetesJobUnavailable = "UNAVAILABLE"
)

// maxJobText bounds the operationURI and username kept from a job, and
// each message of its failure.
const maxJobText = 512

// KubernetesJob is an asynchronous job of Enterprise on Kubernetes
// (admin/jobs/<jobid>).
type KubernetesJob struct {
	// ID is "jobid".
	ID string
	// Status is "status", kept verbatim (e.g. "EXECUTING").
	Status string
	// OperationURI is "operationURI", the operation the job runs (at most
	// 512 bytes kept).
	OperationURI string
	// Username is "username", who submitted the job (at most 512 bytes).
	Username string
	// Started, Ended and Updated are "starttime", "endtime" and
	// "updatedtime" (epoch milliseconds); zero when not reported.
	Started, Ended, Updated time.Time
	// Result is "result" as received: the operation's answer once the job
	// is COMPLETED (for an edit, the service JSON under "service"), its
	// failure once it is FAILED; nil when absent or null.
	Result json.RawMessage
	// Err is the job's failure: the result's error envelope (Kind KindAPI,
	// with its code and messages) whatever the status, else, for a job
	// that ended FAILED or CANCELLED, a KindAPI error with the result's
	// messages or the status; nil otherwise.
	Err *Error
}

// Done reports whether the job has ended: its status is COMPLETED, FAILED
// or CANCELLED (in any letter case). Any other status, UNAVAILABLE and
// unknown ones included, means the job may still run.
func (j *KubernetesJob) Done() bool {
	switch strings.ToUpper(j.Status) {
	case KubernetesJobCompleted, KubernetesJobFailed, KubernetesJobCancelled, "CANCELED":
		return true
	}
	return false
}

// kubernetesJobWire is the wire shape of KubernetesJob.
type kubernetesJobWire struct {
	ID           jsonText        `json:"jobid"`
	Status       jsonText        `json:"status"`
	OperationURI anyText         `json:"operationURI"`
	Username     anyText         `json:"username"`
	Started      jobTime         `json:"starttime"`
	Ended        jobTime         `json:"endtime"`
	Updated      jobTime         `json:"updatedtime"`
	Result       json.RawMessage `json:"result"`
}

// decodeKubernetesJob decodes a job's JSON; path and op name the read in
// the job's Err. It fails only on JSON it cannot read as a job object.
func decodeKubernetesJob(op, path string, body []byte) (*KubernetesJob, error) {
	var w kubernetesJobWire
	if err := json.Unmarshal(body, &w); err != nil {
		return nil, err
	}
	j := &KubernetesJob{ID: string(w.ID), Status: string(w.Status),
		OperationURI: boundedText(string(w.OperationURI)), Username: boundedText(string(w.Username)),
		Started: time.Time(w.Started), Ended: time.Time(w.Ended), Updated: time.Time(w.Updated)}
	if r := bytes.TrimSpace(w.Result); len(r) > 0 && !bytes.Equal(r, []byte("null")) {
		j.Result = bytes.Clone(r)
	}
	var obj map[string]json.RawMessage
	if j.Result != nil && json.Unmarshal(j.Result, &obj) == nil && obj != nil {
		if e := envelopeError(200, obj); e != nil {
			e.Op, e.Method, e.Path = op, "GET", path
			j.Err = e
		}
	}
	if j.Err == nil && j.Done() && !strings.EqualFold(j.Status, KubernetesJobCompleted) {
		j.Err = &Error{Kind: KindAPI, Op: op, Method: "GET", Path: path, Code: 500}
		if obj != nil {
			j.Err.Messages = appendTexts(nil, obj["messages"])
			if len(j.Err.Messages) == 0 {
				j.Err.Messages = appendTexts(nil, obj["message"])
			}
		} else if j.Result != nil {
			j.Err.Messages = appendTexts(nil, j.Result) // a text or a list of texts
		}
		if len(j.Err.Messages) == 0 {
			j.Err.Messages = []string{"job " + truncate(j.ID, maxSystemJobID) + " ended " + truncate(j.Status, 32)}
		}
	}
	if j.Err != nil {
		for i, m := range j.Err.Messages {
			j.Err.Messages[i] = boundedText(m)
		}
	}
	return j, nil
}

// boundedText is s cut to maxJobText bytes, as valid UTF-8.
func boundedText(s string) string { return strings.ToValidUTF8(truncate(s, maxJobText), "\uFFFD") }

// Get returns the job id. A job whose operation failed is returned
// without error: its Err says why.
//
// ArcGIS docs: https://developers.arcgis.com/rest/enterprise-administration/enterprise/job/
//
//upstream:operation GET jobs/{jobid}
func (s *KubernetesJobsService) Get(ctx context.Context, id string) (*KubernetesJob, error) {
	const op = "jobs.get"
	if err := checkAsyncJobID(op, "job id", id); err != nil {
		return nil, err
	}
	path := "jobs/" + id // checked above: nothing to escape
	var raw json.RawMessage
	if err := s.client.get(ctx, op, path, nil, &raw); err != nil {
		return nil, err
	}
	j, err := decodeKubernetesJob(op, path, raw)
	if err != nil {
		return nil, &Error{Kind: KindDecode, Op: op, Method: "GET", Path: path, HTTPStatus: 200, Err: err}
	}
	return j, nil
}
