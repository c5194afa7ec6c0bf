package upstream

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
)

// JobsService manages the jobs of GP services under
// admin/services/[<folder>/]<name>.<Type>/jobs (ArcGIS Server 10.6.1+).
//
// Upstream routes jobs on every service type (Esri's own example uses a
// MapServer), but only GPServer services have any.
type JobsService service

// Job status strings (the esriJob* values). The admin docs list the first
// eight; the GP REST API adds the last three.
const (
	JobNew        = "esriJobNew"
	JobSubmitted  = "esriJobSubmitted"
	JobWaiting    = "esriJobWaiting"
	JobExecuting  = "esriJobExecuting"
	JobSucceeded  = "esriJobSucceeded"
	JobFailed     = "esriJobFailed"
	JobCancelling = "esriJobCancelling"
	JobCancelled  = "esriJobCancelled"
	JobTimedOut   = "esriJobTimedOut"
	JobDeleting   = "esriJobDeleting"
	JobDeleted    = "esriJobDeleted"
)

// Job is a GP job resource (…/jobs/<jobID>), or one entry of a jobs query.
//
// Decoding is tolerant: keys are matched without regard to case (the job
// resource spells "machinename" with a lower-case n while the query filter
// is "machineName"), times are epoch milliseconds sent as numbers or
// numeric strings (null, "", 0 and negative values mean "not set"), and a
// null username (anonymous submission) becomes "".
type Job struct {
	// ID is "jobID", e.g. "j0550714f334d4114af9f7a5d05cb145e".
	ID string
	// Status is "status", one of the esriJob* strings (kept verbatim, also
	// when unknown).
	Status string
	// SubmittedTime is "submittedTime"; zero when not reported.
	SubmittedTime time.Time
	// EndTime is "endTime"; zero while the job runs.
	EndTime time.Time
	// Username is "username", the submitter; "" for anonymous jobs.
	Username string
	// MachineName is "machinename", the machine that runs the job.
	MachineName string
	// URL is "url", the job's page in the services directory.
	URL string
}

// UnmarshalJSON decodes a job object tolerantly, in one pass into jobWire,
// whose keys encoding/json matches without regard to case. Where that
// could choose another value than the rule below (a key in two spellings,
// or spelled with a non-ASCII letter that encoding/json folds onto an
// ASCII one), the object is decoded key by key instead.
func (j *Job) UnmarshalJSON(b []byte) error {
	if !mayFoldNonASCII(b) {
		var w jobWire
		if err := json.Unmarshal(b, &w); err != nil {
			return err
		}
		if w.ID.n <= 1 && w.Status.n <= 1 && w.Username.n <= 1 && w.MachineName.n <= 1 && w.URL.n <= 1 &&
			w.SubmittedTime.n <= 1 && w.EndTime.n <= 1 {
			*j = Job{ID: string(w.ID.jsonText), Status: string(w.Status.jsonText), Username: string(w.Username.jsonText),
				MachineName: string(w.MachineName.jsonText), URL: string(w.URL.jsonText),
				SubmittedTime: time.Time(w.SubmittedTime.jobTime), EndTime: time.Time(w.EndTime.jobTime)}
			return nil
		}
	}
	return j.decodeByKey(b)
}

// jobWire is the wire shape of Job; its fields count the keys that reached
// them.
type jobWire struct {
	ID            countedText `json:"jobID"`
	Status        countedText `json:"status"`
	Username      countedText `json:"username"`
	MachineName   countedText `json:"machinename"`
	URL           countedText `json:"url"`
	SubmittedTime countedTime `json:"submittedTime"`
	EndTime       countedTime `json:"endTime"`
}

// countedText is a jsonText that counts the keys decoded into it.
type countedText struct {
	jsonText
	n int
}

func (t *countedText) UnmarshalJSON(b []byte) error {
	t.n++
	return t.jsonText.UnmarshalJSON(b)
}

// countedTime is a jobTime that counts the keys decoded into it.
type countedTime struct {
	jobTime
	n int
}

func (t *countedTime) UnmarshalJSON(b []byte) error {
	t.n++
	return t.jobTime.UnmarshalJSON(b)
}

// decodeByKey is UnmarshalJSON key by key, through a map of the object's
// keys folded to lower case.
func (j *Job) decodeByKey(b []byte) error {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	// Fold keys to lower case. When several spellings of one key are sent,
	// the lower-case one wins, else the first in byte order, so that the
	// result does not depend on map order.
	keys := make([]string, 0, len(raw))
	for k := range raw {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	folded := make(map[string]json.RawMessage, len(raw))
	for _, k := range keys {
		lk := strings.ToLower(k)
		if _, dup := folded[lk]; dup && k != lk {
			continue
		}
		folded[lk] = raw[k]
	}
	d := objectDecoder{raw: folded}
	var job Job
	d.text("jobid", &job.ID)
	d.text("status", &job.Status)
	d.text("username", &job.Username)
	d.text("machinename", &job.MachineName)
	d.text("url", &job.URL)
	var submitted, ended jobTime
	d.decode("submittedtime", &submitted)
	d.decode("endtime", &ended)
	if d.err != nil {
		return d.err
	}
	job.SubmittedTime, job.EndTime = time.Time(submitted), time.Time(ended)
	*j = job
	return nil
}

// jobTime decodes epoch milliseconds sent as a JSON number or numeric
// string; null, "", 0 and negative values decode to the zero time.
type jobTime time.Time

// maxJobTimeMillis bounds accepted times (year 9999), so that conversions
// cannot overflow.
const maxJobTimeMillis = 253402300799999

// UnmarshalJSON implements json.Unmarshaler.
func (t *jobTime) UnmarshalJSON(b []byte) error {
	s, err := numberText(b)
	if err != nil {
		return err
	}
	if s == "" {
		*t = jobTime{}
		return nil
	}
	ms, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		f, ferr := strconv.ParseFloat(s, 64)
		if ferr != nil || math.IsNaN(f) || math.IsInf(f, 0) || math.Abs(f) > maxJobTimeMillis {
			return fmt.Errorf("invalid epoch milliseconds %q", truncate(s, 32))
		}
		ms = int64(f)
	}
	if ms > maxJobTimeMillis {
		return fmt.Errorf("epoch milliseconds %d out of range", ms)
	}
	if ms <= 0 {
		*t = jobTime{}
		return nil
	}
	*t = jobTime(time.UnixMilli(ms).UTC())
	return nil
}

// JobQuery holds the parameters of a jobs query. Zero fields are not
// filters.
type JobQuery struct {
	// StartTime and EndTime bound the submission time ("startTime",
	// "endTime", sent as epoch milliseconds). startTime is documented as
	// required, so it is always sent, empty when unset (as the docs'
	// example does); an EndTime without a StartTime sends startTime=0.
	StartTime, EndTime time.Time
	// Status is "jobStatus", one esriJob* value.
	Status string
	// UserName is "userName", the submitter.
	UserName string
	// MachineName is "machineName", one machine.
	MachineName string
	// Start is "start", the 1-based ordinal of the first job to return
	// (upstream default 1).
	Start int
	// Number is "number", the page size (upstream default 10).
	Number int
}

// values encodes q as query parameters.
func (q JobQuery) values(op string) (url.Values, error) {
	if q.Start < 0 || q.Number < 0 {
		return nil, invalid(op, "start and number must not be negative")
	}
	v := url.Values{"startTime": {millisParam(q.StartTime)}, "endTime": {millisParam(q.EndTime)}}
	if q.StartTime.IsZero() && !q.EndTime.IsZero() {
		v.Set("startTime", "0") // endTime requires startTime
	}
	for k, s := range map[string]string{"jobStatus": q.Status, "userName": q.UserName, "machineName": q.MachineName} {
		if s != "" {
			v.Set(k, s)
		}
	}
	if q.Start > 0 {
		v.Set("start", strconv.Itoa(q.Start))
	}
	if q.Number > 0 {
		v.Set("number", strconv.Itoa(q.Number))
	}
	return v, nil
}

// millisParam formats t as epoch milliseconds, "" for the zero time.
func millisParam(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return strconv.FormatInt(t.UnixMilli(), 10)
}

// JobPage is one page of a jobs query.
type JobPage struct {
	// Total is "total", the number of jobs matching the query.
	Total int
	// Num is "num", the page size used.
	Num int
	// Start is "start", the 1-based ordinal of the page's first job.
	Start int
	// NextStart is "nextStart", the start of the next page, -1 after the
	// last page. When upstream omits it, it is derived from Start, the
	// number of results and Total.
	NextStart int
	// Query is "query", upstream's echo of the filters, as text.
	Query map[string]string
	// Jobs are the "results", ordered by submission time, then id (upstream
	// sends them as an object keyed by job id, which has no order). A job
	// whose entry lacks "jobID" takes its key.
	Jobs []Job
}

// UnmarshalJSON decodes a jobs query answer tolerantly: "results" may be an
// object keyed by job id (documented), an array of jobs, or null.
func (p *JobPage) UnmarshalJSON(b []byte) error {
	var w struct {
		Total     jsonInt         `json:"total"`
		Num       jsonInt         `json:"num"`
		Start     jsonInt         `json:"start"`
		NextStart *jsonInt        `json:"nextStart"`
		Query     json.RawMessage `json:"query"`
		Results   json.RawMessage `json:"results"`
	}
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	page := JobPage{Total: int(w.Total), Num: int(w.Num), Start: int(w.Start)}
	if len(w.Query) > 0 && bytes.TrimSpace(w.Query)[0] == '{' {
		q, err := decodeProps(w.Query)
		if err != nil {
			return fmt.Errorf("query: %w", err)
		}
		page.Query = q
	}
	jobs, err := decodeJobResults(w.Results)
	if err != nil {
		return fmt.Errorf("results: %w", err)
	}
	page.Jobs = jobs
	switch {
	case w.NextStart != nil:
		page.NextStart = int(*w.NextStart)
	case page.Start > 0 && page.Start-1+len(jobs) < page.Total && len(jobs) > 0:
		page.NextStart = page.Start + len(jobs)
	default:
		page.NextStart = -1
	}
	*p = page
	return nil
}

// decodeJobResults decodes the results of a jobs query and sorts them.
func decodeJobResults(raw json.RawMessage) ([]Job, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	var jobs []Job
	switch raw[0] {
	case '{':
		var byID map[string]json.RawMessage
		if err := json.Unmarshal(raw, &byID); err != nil {
			return nil, err
		}
		for id, v := range byID {
			var j Job
			if t := bytes.TrimSpace(v); len(t) > 0 && t[0] == '{' {
				if err := json.Unmarshal(t, &j); err != nil {
					return nil, fmt.Errorf("%s: %w", truncate(id, 40), err)
				}
			}
			if j.ID == "" {
				j.ID = id
			}
			jobs = append(jobs, j)
		}
	case '[':
		if err := json.Unmarshal(raw, &jobs); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("expected an object or an array, found %s", kindOfJSON(raw))
	}
	sort.SliceStable(jobs, func(a, b int) bool {
		ja, jb := jobs[a], jobs[b]
		if !ja.SubmittedTime.Equal(jb.SubmittedTime) {
			return ja.SubmittedTime.Before(jb.SubmittedTime)
		}
		return ja.ID < jb.ID
	})
	return jobs, nil
}

// jobsPath returns the escaped path of a service's jobs resource, after
// checking ref.
func jobsPath(op string, ref ServiceRef) (string, error) {
	if err := ref.check(op); err != nil {
		return "", err
	}
	return ref.Path() + "/jobs", nil
}

// jobPath returns the escaped path of one job, after checking ref and id.
func jobPath(op string, ref ServiceRef, jobID string) (string, error) {
	base, err := jobsPath(op, ref)
	if err != nil {
		return "", err
	}
	if msg := checkSegment("job id", jobID); msg != "" {
		return "", invalid(op, msg)
	}
	return base + "/" + url.PathEscape(jobID), nil
}

// Query returns one page of a service's jobs matching q. Walk the pages by
// setting q.Start to the previous page's NextStart until it is -1.
//
// ArcGIS docs: https://developers.arcgis.com/rest/enterprise-administration/server/query-jobs/
//
//upstream:operation GET services/{folder}/{service}.{type}/jobs/query
func (s *JobsService) Query(ctx context.Context, ref ServiceRef, q JobQuery) (*JobPage, error) {
	const op = "jobs.query"
	path, err := jobsPath(op, ref)
	if err != nil {
		return nil, err
	}
	params, err := q.values(op)
	if err != nil {
		return nil, err
	}
	var page JobPage
	if err := s.client.get(ctx, op, path+"/query", params, &page); err != nil {
		return nil, err
	}
	return &page, nil
}

// Get returns one job. An answer without "jobID" takes jobID.
//
// ArcGIS docs: https://developers.arcgis.com/rest/enterprise-administration/server/job-get/
//
//upstream:operation GET services/{folder}/{service}.{type}/jobs/{jobID}
func (s *JobsService) Get(ctx context.Context, ref ServiceRef, jobID string) (*Job, error) {
	const op = "jobs.get"
	path, err := jobPath(op, ref, jobID)
	if err != nil {
		return nil, err
	}
	var j Job
	if err := s.client.get(ctx, op, path, nil, &j); err != nil {
		return nil, err
	}
	if j.ID == "" {
		j.ID = jobID
	}
	return &j, nil
}

// Cancel cancels a job. Upstream cancels only esriJobSubmitted and
// esriJobExecuting jobs; for any other it answers code 500 "Unable to
// cancel job :[<jobID>]".
//
// ArcGIS docs: https://developers.arcgis.com/rest/enterprise-administration/server/cancel-job/
//
//upstream:operation POST services/{folder}/{service}.{type}/jobs/{jobID}/cancel
func (s *JobsService) Cancel(ctx context.Context, ref ServiceRef, jobID string) error {
	const op = "jobs.cancel"
	path, err := jobPath(op, ref, jobID)
	if err != nil {
		return err
	}
	return s.client.post(ctx, op, path+"/cancel", nil, nil)
}

// Delete deletes a job and every trace of it, cancelling it first if it
// runs. A refusal is code 400 "Unable to delete job :[<jobID>]".
//
// ArcGIS docs: https://developers.arcgis.com/rest/enterprise-administration/server/delete-job/
//
//upstream:operation POST services/{folder}/{service}.{type}/jobs/{jobID}/delete
func (s *JobsService) Delete(ctx context.Context, ref ServiceRef, jobID string) error {
	const op = "jobs.delete"
	path, err := jobPath(op, ref, jobID)
	if err != nil {
		return err
	}
	return s.client.post(ctx, op, path+"/delete", nil, nil)
}

// PurgeQueue cancels every esriJobNew, esriJobSubmitted and esriJobWaiting
// job of a service. The answer's shape is not documented; any answer that
// is not an error envelope is success.
//
// ArcGIS docs: https://developers.arcgis.com/rest/enterprise-administration/server/jobs-service/
//
//upstream:operation POST services/{folder}/{service}.{type}/jobs/purgeQueue
func (s *JobsService) PurgeQueue(ctx context.Context, ref ServiceRef) error {
	const op = "jobs.purgeQueue"
	path, err := jobsPath(op, ref)
	if err != nil {
		return err
	}
	return s.client.post(ctx, op, path+"/purgeQueue", nil, nil)
}

// IsJobRefusal reports whether err is upstream's refusal to cancel or delete
// a job in its current state: an error envelope whose message starts with
// "Unable to cancel job" or "Unable to delete job" (codes 500 and 400).
func IsJobRefusal(err error) bool {
	var e *Error
	if !errors.As(err, &e) || e.Kind != KindAPI {
		return false
	}
	for _, m := range e.Messages {
		if strings.HasPrefix(m, "Unable to cancel job") || strings.HasPrefix(m, "Unable to delete job") {
			return true
		}
	}
	return false
}
