package server

import (
	"strings"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	adminv1 "github.com/arcgate/arcgate/gen/go/arcgate/admin/v1"
	"github.com/arcgate/arcgate/upstream"
)

// jobStates maps the upstream status strings, lower-cased and without the
// "esriJob" prefix, to JobState. US spellings of cancel are accepted too.
var jobStates = map[string]adminv1.JobState{
	"new":        adminv1.JobState_JOB_STATE_NEW,
	"submitted":  adminv1.JobState_JOB_STATE_SUBMITTED,
	"waiting":    adminv1.JobState_JOB_STATE_WAITING,
	"executing":  adminv1.JobState_JOB_STATE_EXECUTING,
	"succeeded":  adminv1.JobState_JOB_STATE_SUCCEEDED,
	"failed":     adminv1.JobState_JOB_STATE_FAILED,
	"timedout":   adminv1.JobState_JOB_STATE_TIMED_OUT,
	"cancelling": adminv1.JobState_JOB_STATE_CANCELLING,
	"canceling":  adminv1.JobState_JOB_STATE_CANCELLING,
	"cancelled":  adminv1.JobState_JOB_STATE_CANCELLED,
	"canceled":   adminv1.JobState_JOB_STATE_CANCELLED,
	"deleting":   adminv1.JobState_JOB_STATE_DELETING,
	"deleted":    adminv1.JobState_JOB_STATE_DELETED,
}

// upstreamJobStatus is the esriJob* string of each JobState, for filters.
var upstreamJobStatus = map[adminv1.JobState]string{
	adminv1.JobState_JOB_STATE_NEW:        upstream.JobNew,
	adminv1.JobState_JOB_STATE_SUBMITTED:  upstream.JobSubmitted,
	adminv1.JobState_JOB_STATE_WAITING:    upstream.JobWaiting,
	adminv1.JobState_JOB_STATE_EXECUTING:  upstream.JobExecuting,
	adminv1.JobState_JOB_STATE_SUCCEEDED:  upstream.JobSucceeded,
	adminv1.JobState_JOB_STATE_FAILED:     upstream.JobFailed,
	adminv1.JobState_JOB_STATE_TIMED_OUT:  upstream.JobTimedOut,
	adminv1.JobState_JOB_STATE_CANCELLING: upstream.JobCancelling,
	adminv1.JobState_JOB_STATE_CANCELLED:  upstream.JobCancelled,
	adminv1.JobState_JOB_STATE_DELETING:   upstream.JobDeleting,
	adminv1.JobState_JOB_STATE_DELETED:    upstream.JobDeleted,
}

// jobState maps an upstream status string (esriJobSucceeded, ...) without
// regard to case; unknown strings are UNSPECIFIED (the caller keeps the raw
// string).
func jobState(raw string) adminv1.JobState {
	s := strings.ToLower(strings.TrimSpace(raw))
	s = strings.TrimPrefix(s, "esrijob")
	return jobStates[s]
}

// isTerminalJobState reports whether a job in state st will not change any
// more, which ends a watch.
func isTerminalJobState(st adminv1.JobState) bool {
	switch st {
	case adminv1.JobState_JOB_STATE_SUCCEEDED, adminv1.JobState_JOB_STATE_FAILED,
		adminv1.JobState_JOB_STATE_TIMED_OUT, adminv1.JobState_JOB_STATE_CANCELLED,
		adminv1.JobState_JOB_STATE_DELETED:
		return true
	}
	return false
}

// timestamp converts a time, nil for the zero time.
func timestamp(t time.Time) *timestamppb.Timestamp {
	if t.IsZero() {
		return nil
	}
	return timestamppb.New(t)
}

// jobFromUpstream converts a job of the service ref. id is the id the job
// was asked for or listed under, used when upstream did not send one.
func jobFromUpstream(ref serviceRef, id string, j *upstream.Job) *adminv1.Job {
	if j.ID != "" {
		id = j.ID
	}
	return &adminv1.Job{
		Name:       jobResourceName(ref, id),
		JobId:      id,
		State:      jobState(j.Status),
		StateRaw:   j.Status,
		SubmitTime: timestamp(j.SubmittedTime),
		EndTime:    timestamp(j.EndTime),
		Submitter:  j.Username,
		Machine:    j.MachineName,
		Url:        j.URL,
	}
}
