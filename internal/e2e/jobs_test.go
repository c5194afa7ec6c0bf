package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/timestamppb"

	adminv1 "github.com/arcgate/arcgate/gen/go/arcgate/admin/v1"
	"github.com/arcgate/arcgate/server"
	"github.com/arcgate/arcgate/simulator"
)

const (
	publishing     = "folders/System/services/PublishingTools.GPServer"
	publishingPath = "System/PublishingTools.GPServer"
	jobStep        = time.Minute // simulated time per job state
)

// newJobClock starts at the real time: arcgate checks the expiry of the
// simulator's tokens against its own clock.
func newJobClock() *fakeClock {
	return &fakeClock{now: time.Now().UTC().Truncate(time.Millisecond)}
}

// startJobs starts arcgate in front of a simulator whose jobs progress one
// state per jobStep of the returned clock.
func startJobs(t *testing.T) (*env, *fakeClock, adminv1.JobsServiceClient) {
	t.Helper()
	clock := newJobClock()
	e := start(t, simulator.Config{Clock: clock.Now, JobStepDuration: jobStep})
	return e, clock, adminv1.NewJobsServiceClient(e.conn)
}

// listAll pages through ListJobs and fails on a job seen twice.
func listAll(t *testing.T, jobs adminv1.JobsServiceClient, req *adminv1.ListJobsRequest) []*adminv1.Job {
	t.Helper()
	var out []*adminv1.Job
	seen := map[string]bool{}
	for range 100 {
		resp, err := jobs.ListJobs(ctx(t), req)
		if err != nil {
			t.Fatal(err)
		}
		for _, j := range resp.GetJobs() {
			if seen[j.GetName()] {
				t.Fatalf("job %s on two pages", j.GetName())
			}
			seen[j.GetName()] = true
			out = append(out, j)
		}
		if resp.GetNextPageToken() == "" {
			return out
		}
		req.PageToken = resp.GetNextPageToken()
	}
	t.Fatal("paging never ended")
	return nil
}

// jobBefore reports whether a sorts before b in ListJobs order.
func jobBefore(a, b *adminv1.Job) bool {
	ta, tb := a.GetSubmitTime().AsTime(), b.GetSubmitTime().AsTime()
	if !ta.Equal(tb) {
		return ta.Before(tb)
	}
	return a.GetJobId() < b.GetJobId()
}

func TestListJobsGRPC(t *testing.T) {
	e, _, jobs := startJobs(t)

	all := listAll(t, jobs, &adminv1.ListJobsRequest{Parent: publishing, PageSize: 7})
	if len(all) != 25 {
		t.Fatalf("%d jobs, want the 25 seeded", len(all))
	}
	if !sort.SliceIsSorted(all, func(i, j int) bool { return jobBefore(all[i], all[j]) }) {
		t.Fatal("jobs are not ordered by submission time, then id")
	}
	states, anonymous := map[adminv1.JobState]int{}, 0
	for _, j := range all {
		if !strings.HasPrefix(j.GetName(), publishing+"/jobs/j") || j.GetName() != publishing+"/jobs/"+j.GetJobId() {
			t.Fatalf("name %q, id %q", j.GetName(), j.GetJobId())
		}
		if j.GetStateRaw() == "" || j.GetState() == adminv1.JobState_JOB_STATE_UNSPECIFIED || j.GetSubmitTime() == nil || j.GetMachine() == "" {
			t.Fatalf("job %v", j)
		}
		if (j.GetEndTime() != nil) != (j.GetState() == adminv1.JobState_JOB_STATE_SUCCEEDED || j.GetState() == adminv1.JobState_JOB_STATE_FAILED ||
			j.GetState() == adminv1.JobState_JOB_STATE_CANCELLED || j.GetState() == adminv1.JobState_JOB_STATE_TIMED_OUT || j.GetState() == adminv1.JobState_JOB_STATE_DELETED) {
			t.Fatalf("end time of %v", j)
		}
		states[j.GetState()]++
		if j.GetSubmitter() == "" {
			anonymous++
		}
	}
	if len(states) != 11 || anonymous == 0 {
		t.Fatalf("states %v, %d anonymous: the seed covers every state and anonymous submitters", states, anonymous)
	}

	// Each filter keeps exactly the matching jobs.
	mid := all[len(all)/2].GetSubmitTime()
	late := timestamppb.New(all[len(all)-3].GetSubmitTime().AsTime())
	for _, tc := range []struct {
		name string
		req  *adminv1.ListJobsRequest
		keep func(j *adminv1.Job) bool
	}{
		{"state", &adminv1.ListJobsRequest{State: adminv1.JobState_JOB_STATE_SUCCEEDED},
			func(j *adminv1.Job) bool { return j.GetState() == adminv1.JobState_JOB_STATE_SUCCEEDED }},
		{"submitter", &adminv1.ListJobsRequest{Submitter: "publisher1"},
			func(j *adminv1.Job) bool { return j.GetSubmitter() == "publisher1" }},
		{"machine", &adminv1.ListJobsRequest{Machine: "GPSERVER2.EXAMPLE.COM"},
			func(j *adminv1.Job) bool { return j.GetMachine() == "GPSERVER2.EXAMPLE.COM" }},
		{"time range", &adminv1.ListJobsRequest{StartTime: mid, EndTime: late},
			func(j *adminv1.Job) bool {
				return !jobBefore(j, all[len(all)/2]) && j.GetSubmitTime().AsTime().Before(late.AsTime())
			}},
		{"state and machine", &adminv1.ListJobsRequest{State: adminv1.JobState_JOB_STATE_SUCCEEDED, Machine: "GPSERVER1.EXAMPLE.COM"},
			func(j *adminv1.Job) bool {
				return j.GetState() == adminv1.JobState_JOB_STATE_SUCCEEDED && j.GetMachine() == "GPSERVER1.EXAMPLE.COM"
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.req.Parent, tc.req.PageSize = publishing, 2
			got := listAll(t, jobs, tc.req)
			var want []string
			for _, j := range all {
				if tc.keep(j) {
					want = append(want, j.GetName())
				}
			}
			var names []string
			for _, j := range got {
				names = append(names, j.GetName())
			}
			if len(want) == 0 || len(want) == len(all) || strings.Join(names, ",") != strings.Join(want, ",") {
				t.Fatalf("got %d jobs %v\nwant %d %v", len(names), names, len(want), want)
			}
		})
	}

	// A page token narrows the upstream query to jobs from the last
	// returned job's millisecond on.
	first, err := jobs.ListJobs(ctx(t), &adminv1.ListJobsRequest{Parent: publishing, PageSize: 20})
	if err != nil {
		t.Fatal(err)
	}
	e.sim.ResetRequests()
	second, err := jobs.ListJobs(ctx(t), &adminv1.ListJobsRequest{Parent: publishing, PageSize: 20, PageToken: first.GetNextPageToken()})
	if err != nil {
		t.Fatal(err)
	}
	if len(second.GetJobs()) != 5 || second.GetNextPageToken() != "" {
		t.Fatalf("second page: %d jobs, token %q", len(second.GetJobs()), second.GetNextPageToken())
	}
	lastMs := first.GetJobs()[19].GetSubmitTime().AsTime().UnixMilli()
	for _, r := range e.sim.Requests() {
		if strings.HasSuffix(r.Path, "/jobs/query") && r.Form.Get("startTime") != itoa64(lastMs-1) {
			t.Fatalf("second page queried upstream with startTime %q, want %d", r.Form.Get("startTime"), lastMs-1)
		}
	}

	// A token belongs to its query.
	_, err = jobs.ListJobs(ctx(t), &adminv1.ListJobsRequest{Parent: publishing, Submitter: "admin", PageToken: first.GetNextPageToken()})
	if info := wantCode(t, err, codes.InvalidArgument); info.GetMetadata()["field"] != "page_token" {
		t.Fatalf("ErrorInfo %v", info)
	}
	// A service that is not a GP service has no jobs; a missing one is NOT_FOUND.
	if l, err := jobs.ListJobs(ctx(t), &adminv1.ListJobsRequest{Parent: "services/SampleWorldCities.MapServer"}); err != nil || len(l.GetJobs()) != 0 {
		t.Fatalf("MapServer jobs: %v, %v", l, err)
	}
	_, err = jobs.ListJobs(ctx(t), &adminv1.ListJobsRequest{Parent: "folders/System/services/Missing.GPServer"})
	if info := wantCode(t, err, codes.NotFound); info.GetMetadata()["upstreamCode"] != "404" {
		t.Fatalf("ErrorInfo %v", info)
	}
}

func itoa64(n int64) string { return strconv.FormatInt(n, 10) }

func TestListJobsTooManyForOneCall(t *testing.T) {
	e, clock, jobs := startJobs(t)
	const n = 2001 // one more than 20 upstream pages of 100
	for range n {
		if _, err := e.sim.SubmitJob("Utilities/PrintingTools.GPServer", ""); err != nil {
			t.Fatal(err)
		}
	}
	const printing = "folders/Utilities/services/PrintingTools.GPServer"
	_, err := jobs.ListJobs(ctx(t), &adminv1.ListJobsRequest{Parent: printing})
	info := wantCode(t, err, codes.FailedPrecondition)
	if info.GetReason() != server.ReasonJobQueryTooLarge || info.GetMetadata()["limit"] != "2000" {
		t.Fatalf("ErrorInfo %v", info)
	}
	// A time range that leaves out the burst answers.
	got := listAll(t, jobs, &adminv1.ListJobsRequest{Parent: printing, EndTime: timestamppb.New(clock.Now().Add(-time.Millisecond))})
	if len(got) != 6 {
		t.Fatalf("%d jobs before the burst, want the 6 seeded", len(got))
	}
}

func TestJobOperationsGRPC(t *testing.T) {
	e, _, jobs := startJobs(t)
	all := listAll(t, jobs, &adminv1.ListJobsRequest{Parent: publishing, PageSize: 100})
	byState := map[adminv1.JobState]*adminv1.Job{}
	for _, j := range all {
		byState[j.GetState()] = j
	}

	// GetJob: an anonymous job has no submitter; machinename is read.
	for _, j := range all {
		if j.GetSubmitter() != "" {
			continue
		}
		g, err := jobs.GetJob(ctx(t), &adminv1.GetJobRequest{Name: j.GetName()})
		if err != nil {
			t.Fatal(err)
		}
		if got := g; got.GetName() != j.GetName() || got.GetSubmitter() != "" || got.GetMachine() == "" ||
			!strings.HasSuffix(got.GetUrl(), "/rest/services/System/PublishingTools/GPServer/jobs/"+j.GetJobId()) {
			t.Fatalf("GetJob = %v", got)
		}
		break
	}

	// Cancel: SUBMITTED and EXECUTING jobs only.
	for _, st := range []adminv1.JobState{adminv1.JobState_JOB_STATE_SUCCEEDED, adminv1.JobState_JOB_STATE_NEW, adminv1.JobState_JOB_STATE_CANCELLED} {
		_, err := jobs.CancelJob(ctx(t), &adminv1.CancelJobRequest{Name: byState[st].GetName()})
		info := wantCode(t, err, codes.FailedPrecondition)
		md := info.GetMetadata()
		if info.GetReason() != server.ReasonJobNotCancellable || md["state"] != st.String() || md["upstreamState"] != byState[st].GetStateRaw() ||
			md["upstreamCode"] != "500" || md["resource"] != byState[st].GetName() {
			t.Fatalf("cancel %v: ErrorInfo %v", st, info)
		}
	}
	for _, st := range []adminv1.JobState{adminv1.JobState_JOB_STATE_SUBMITTED, adminv1.JobState_JOB_STATE_EXECUTING} {
		j := byState[st]
		c, err := jobs.CancelJob(ctx(t), &adminv1.CancelJobRequest{Name: j.GetName()})
		if err != nil {
			t.Fatal(err)
		}
		// The simulator takes one step to cancel.
		if c.GetJob().GetState() != adminv1.JobState_JOB_STATE_CANCELLING || c.GetJob().GetEndTime() != nil {
			t.Fatalf("cancelled %v job: %v", st, c.GetJob())
		}
		if raw, _ := e.sim.JobStatus(publishingPath, j.GetJobId()); raw != "esriJobCancelling" {
			t.Fatalf("upstream status %q", raw)
		}
	}

	// Delete: gone afterwards; a job being cancelled cannot be deleted.
	failed := byState[adminv1.JobState_JOB_STATE_FAILED]
	if _, err := jobs.DeleteJob(ctx(t), &adminv1.DeleteJobRequest{Name: failed.GetName()}); err != nil {
		t.Fatal(err)
	}
	_, err := jobs.GetJob(ctx(t), &adminv1.GetJobRequest{Name: failed.GetName()})
	wantCode(t, err, codes.NotFound)
	_, err = jobs.DeleteJob(ctx(t), &adminv1.DeleteJobRequest{Name: failed.GetName()})
	wantCode(t, err, codes.NotFound)
	_, err = jobs.CancelJob(ctx(t), &adminv1.CancelJobRequest{Name: failed.GetName()})
	wantCode(t, err, codes.NotFound)
	cancelling := byState[adminv1.JobState_JOB_STATE_CANCELLING]
	_, err = jobs.DeleteJob(ctx(t), &adminv1.DeleteJobRequest{Name: cancelling.GetName()})
	info := wantCode(t, err, codes.FailedPrecondition)
	if info.GetReason() != server.ReasonJobNotDeletable || info.GetMetadata()["state"] != "JOB_STATE_CANCELLING" || info.GetMetadata()["upstreamCode"] != "400" {
		t.Fatalf("ErrorInfo %v", info)
	}

	// Purge cancels the queue: no NEW, SUBMITTED or WAITING job is left.
	if _, err := jobs.PurgeJobs(ctx(t), &adminv1.PurgeJobsRequest{Parent: publishing}); err != nil {
		t.Fatal(err)
	}
	for _, j := range listAll(t, jobs, &adminv1.ListJobsRequest{Parent: publishing, PageSize: 100}) {
		switch j.GetState() {
		case adminv1.JobState_JOB_STATE_NEW, adminv1.JobState_JOB_STATE_SUBMITTED, adminv1.JobState_JOB_STATE_WAITING:
			t.Fatalf("job %s still %v after purge", j.GetName(), j.GetState())
		}
	}
	_, err = jobs.PurgeJobs(ctx(t), &adminv1.PurgeJobsRequest{Parent: "services/Missing.GPServer"})
	wantCode(t, err, codes.NotFound)
}

// TestJobNamesRefusedBeforeUpstream: malformed names and filters are
// INVALID_ARGUMENT naming the field, and nothing reaches the upstream.
func TestJobNamesRefusedBeforeUpstream(t *testing.T) {
	e, _, jobs := startJobs(t)
	c := ctx(t)
	const id = "j0550714f334d4114af9f7a5d05cb145e"
	badNames := []string{
		publishing + "/jobs/J0550714F334D4114AF9F7A5D05CB145E",
		publishing + "/jobs/../" + id,
		publishing + "/jobs/" + id + "x",
		publishing + "/jobs/",
		"services/../jobs/" + id,
		"folders/System/services/PublishingTools.NoServer/jobs/" + id,
		publishing,
		"",
	}
	badParents := []string{"", "services", publishing + "/jobs", "folders/-/services/A.GPServer", "services/a b.GPServer"}
	e.sim.ResetRequests()
	check := func(what, field string, err error) {
		t.Helper()
		info := wantCode(t, err, codes.InvalidArgument)
		if info.GetMetadata()["field"] != field {
			t.Fatalf("%s: ErrorInfo %v, want field %s", what, info, field)
		}
	}
	for _, n := range badNames {
		_, err := jobs.GetJob(c, &adminv1.GetJobRequest{Name: n})
		check("GetJob "+n, "name", err)
		_, err = jobs.CancelJob(c, &adminv1.CancelJobRequest{Name: n})
		check("CancelJob "+n, "name", err)
		_, err = jobs.DeleteJob(c, &adminv1.DeleteJobRequest{Name: n})
		check("DeleteJob "+n, "name", err)
		stream, err := jobs.WatchJob(c, &adminv1.WatchJobRequest{Name: n})
		if err == nil {
			_, err = stream.Recv()
		}
		check("WatchJob "+n, "name", err)
	}
	for _, p := range badParents {
		_, err := jobs.ListJobs(c, &adminv1.ListJobsRequest{Parent: p})
		check("ListJobs "+p, "parent", err)
		_, err = jobs.PurgeJobs(c, &adminv1.PurgeJobsRequest{Parent: p})
		check("PurgeJobs "+p, "parent", err)
	}
	for field, req := range map[string]*adminv1.ListJobsRequest{
		"state":      {Parent: publishing, State: 99},
		"submitter":  {Parent: publishing, Submitter: "a\x00b"},
		"end_time":   {Parent: publishing, StartTime: timestamppb.New(time.Unix(10, 0)), EndTime: timestamppb.New(time.Unix(5, 0))},
		"start_time": {Parent: publishing, StartTime: timestamppb.New(time.Unix(-10, 0))},
		"page_size":  {Parent: publishing, PageSize: -1},
		"page_token": {Parent: publishing, PageToken: "garbage"},
	} {
		_, err := jobs.ListJobs(c, req)
		check("ListJobs "+field, field, err)
	}
	// Over REST too; a stream's error comes as {"error": google.rpc.Status}.
	r := e.do(t, http.MethodGet, "/v1/"+publishing+"/jobs/J0550714F334D4114AF9F7A5D05CB145E", nil)
	if reason, md := restError(t, r, 400, codes.InvalidArgument); reason != "INVALID_ARGUMENT" || md["field"] != "name" {
		t.Fatalf("GET job: %s %v", reason, md)
	}
	r = e.do(t, http.MethodGet, "/v1/"+publishing+"/jobs/"+id+"x:watch", nil)
	if code, reason, md := streamError(t, r); r.Status != 400 || code != codes.InvalidArgument || reason != "INVALID_ARGUMENT" || md["field"] != "name" {
		t.Fatalf("GET :watch: %d %s", r.Status, r.Raw)
	}
	if n := e.sim.RequestCount(); n != 0 {
		t.Fatalf("%d requests reached the upstream for bad input: %v", n, e.sim.Requests())
	}
}

func TestJobsREST(t *testing.T) {
	e, clock, jobs := startJobs(t)
	// A GP service in the root folder, for the services/{service} bindings.
	if _, err := done[adminv1.Service](ctx(t), e.conn)(e.services.CreateService(ctx(t), &adminv1.CreateServiceRequest{ServiceId: "Buffer.GPServer", Service: &adminv1.Service{}})); err != nil {
		t.Fatal(err)
	}
	running, err := e.sim.SubmitJob("Buffer.GPServer", "")
	if err != nil {
		t.Fatal(err)
	}
	done, _ := e.sim.SubmitJob("Buffer.GPServer", "esriJobFailed")
	clock.Advance(2 * jobStep) // both EXECUTING
	r := e.do(t, http.MethodGet, "/v1/services/Buffer.GPServer/jobs?pageSize=1", nil)
	if r.Status != 200 || len(r.Body["jobs"].([]any)) != 1 || r.Body["nextPageToken"] == "" {
		t.Fatalf("GET root jobs: %d %s", r.Status, r.Raw)
	}
	j := r.Body["jobs"].([]any)[0].(map[string]any)
	if !strings.HasPrefix(j["name"].(string), "services/Buffer.GPServer/jobs/j") || j["state"] != "JOB_STATE_EXECUTING" ||
		j["stateRaw"] != "esriJobExecuting" || j["submitter"] != "admin" || j["endTime"] != nil {
		t.Fatalf("job JSON %s", r.Raw)
	}
	if _, err := time.Parse(time.RFC3339, j["submitTime"].(string)); err != nil {
		t.Fatalf("submitTime %v: %v", j["submitTime"], err)
	}

	q := url.Values{"state": {"JOB_STATE_SUCCEEDED"}, "submitter": {"publisher1"}, "pageSize": {"50"},
		"startTime": {"2000-01-01T00:00:00Z"}}
	r = e.do(t, http.MethodGet, "/v1/"+publishing+"/jobs?"+q.Encode(), nil)
	if r.Status != 200 {
		t.Fatalf("GET filtered jobs: %d %s", r.Status, r.Raw)
	}
	for _, x := range r.Body["jobs"].([]any) {
		if x := x.(map[string]any); x["state"] != "JOB_STATE_SUCCEEDED" || x["submitter"] != "publisher1" {
			t.Fatalf("filter let through %v", x)
		}
	}

	root := "/v1/services/Buffer.GPServer/jobs/"
	r = e.do(t, http.MethodGet, root+running, nil)
	if r.Status != 200 || r.Body["jobId"] != running {
		t.Fatalf("GET job: %d %s", r.Status, r.Raw)
	}
	r = e.do(t, http.MethodPost, root+running+":cancel", map[string]any{})
	if r.Status != 200 || r.Body["job"].(map[string]any)["state"] != "JOB_STATE_CANCELLING" {
		t.Fatalf("POST :cancel: %d %s", r.Status, r.Raw)
	}
	r = e.do(t, http.MethodPost, root+running+":cancel", map[string]any{})
	if reason, md := restError(t, r, 400, codes.FailedPrecondition); reason != "JOB_NOT_CANCELLABLE" || md["state"] != "JOB_STATE_CANCELLING" {
		t.Fatalf("second cancel: %s %v", reason, md)
	}
	r = e.do(t, http.MethodDelete, root+running, nil)
	if reason, md := restError(t, r, 400, codes.FailedPrecondition); reason != "JOB_NOT_DELETABLE" || md["upstreamState"] != "esriJobCancelling" {
		t.Fatalf("delete while cancelling: %s %v", reason, md)
	}
	r = e.do(t, http.MethodDelete, root+done, nil)
	if r.Status != 200 {
		t.Fatalf("DELETE job: %d %s", r.Status, r.Raw)
	}
	r = e.do(t, http.MethodGet, root+done, nil)
	if reason, _ := restError(t, r, 404, codes.NotFound); reason != "NOT_FOUND" {
		t.Fatalf("reason %s", reason)
	}
	queued, _ := e.sim.SubmitJob("Buffer.GPServer", "")
	for _, path := range []string{"/v1/services/Buffer.GPServer/jobs:purge", "/v1/" + publishing + "/jobs:purge"} {
		r = e.do(t, http.MethodPost, path, map[string]any{})
		if r.Status != 200 || r.Raw != "{}" {
			t.Fatalf("POST %s: %d %s", path, r.Status, r.Raw)
		}
	}
	g, err := jobs.GetJob(ctx(t), &adminv1.GetJobRequest{Name: "services/Buffer.GPServer/jobs/" + queued})
	if err != nil || g.GetState() != adminv1.JobState_JOB_STATE_CANCELLING {
		t.Fatalf("queued job after purge: %v, %v", g, err)
	}
	r = e.do(t, http.MethodGet, "/v1/folders/System/services/Missing.GPServer/jobs", nil)
	if reason, _ := restError(t, r, 404, codes.NotFound); reason != "NOT_FOUND" {
		t.Fatalf("reason %s", reason)
	}
}

// watchedStates are the states a job submitted to the simulator goes
// through after NEW.
var watchedStates = []adminv1.JobState{
	adminv1.JobState_JOB_STATE_SUBMITTED,
	adminv1.JobState_JOB_STATE_EXECUTING,
	adminv1.JobState_JOB_STATE_SUCCEEDED,
}

// TestWatchJobGRPC: a job watched from SUBMITTED to SUCCEEDED is sent in
// every state exactly once, and the stream ends.
func TestWatchJobGRPC(t *testing.T) {
	e, clock, jobs := startJobs(t)
	id, err := e.sim.SubmitJob(publishingPath, "")
	if err != nil {
		t.Fatal(err)
	}
	clock.Advance(jobStep) // SUBMITTED
	name := publishing + "/jobs/" + id
	stream, err := jobs.WatchJob(ctx(t), &adminv1.WatchJobRequest{Name: name})
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range watchedStates {
		msg, err := stream.Recv()
		if err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
		if j := msg.GetJob(); j.GetState() != want || j.GetName() != name {
			t.Fatalf("message %d: %v, want %v", i, j, want)
		}
		if want == adminv1.JobState_JOB_STATE_SUCCEEDED && msg.GetJob().GetEndTime() == nil {
			t.Fatal("succeeded job without end time")
		}
		clock.Advance(jobStep)
	}
	if msg, err := stream.Recv(); !errors.Is(err, io.EOF) {
		t.Fatalf("after SUCCEEDED: %v, %v; want the end of the stream", msg, err)
	}

	// A finished job is sent once; a missing one ends the stream NOT_FOUND.
	stream, err = jobs.WatchJob(ctx(t), &adminv1.WatchJobRequest{Name: name})
	if err != nil {
		t.Fatal(err)
	}
	if msg, err := stream.Recv(); err != nil || msg.GetJob().GetState() != adminv1.JobState_JOB_STATE_SUCCEEDED {
		t.Fatalf("%v, %v", msg, err)
	}
	if _, err := stream.Recv(); !errors.Is(err, io.EOF) {
		t.Fatalf("%v; want the end of the stream", err)
	}
	stream, err = jobs.WatchJob(ctx(t), &adminv1.WatchJobRequest{Name: publishing + "/jobs/jffffffffffffffffffffffffffffffff"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = stream.Recv()
	wantCode(t, err, codes.NotFound)
}

// TestWatchJobREST: the same over REST, as grpc-gateway's newline-delimited
// JSON stream.
func TestWatchJobREST(t *testing.T) {
	e, clock, _ := startJobs(t)
	id, err := e.sim.SubmitJob(publishingPath, "")
	if err != nil {
		t.Fatal(err)
	}
	clock.Advance(jobStep)
	req, err := http.NewRequestWithContext(ctx(t), http.MethodGet, e.rest+"/v1/"+publishing+"/jobs/"+id+":watch", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := e.hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("HTTP %d", resp.StatusCode)
	}
	lines := bufio.NewScanner(resp.Body)
	var got []string
	for lines.Scan() {
		var msg struct {
			Result struct {
				Job map[string]any `json:"job"`
			} `json:"result"`
			Error map[string]any `json:"error"`
		}
		if err := json.Unmarshal(lines.Bytes(), &msg); err != nil {
			t.Fatalf("line %q: %v", lines.Text(), err)
		}
		if msg.Error != nil {
			t.Fatalf("error line %s", lines.Text())
		}
		got = append(got, msg.Result.Job["state"].(string))
		if msg.Result.Job["jobId"] != id {
			t.Fatalf("line %s", lines.Text())
		}
		clock.Advance(jobStep)
	}
	if err := lines.Err(); err != nil {
		t.Fatal(err)
	}
	if strings.Join(got, ",") != "JOB_STATE_SUBMITTED,JOB_STATE_EXECUTING,JOB_STATE_SUCCEEDED" {
		t.Fatalf("states %v", got)
	}

	// An upstream error is the stream's last line.
	r := e.do(t, http.MethodGet, "/v1/"+publishing+"/jobs/jffffffffffffffffffffffffffffffff:watch", nil)
	if code, reason, md := streamError(t, r); code != codes.NotFound || reason != "NOT_FOUND" || md["upstreamCode"] != "404" {
		t.Fatalf("watch of a missing job: %d %s", r.Status, r.Raw)
	}
}

// streamError decodes the last line of a REST stream, which must be an
// error: {"error": google.rpc.Status}.
func streamError(t *testing.T, r restResp) (codes.Code, string, map[string]any) {
	t.Helper()
	lines := strings.Split(strings.TrimSpace(r.Raw), "\n")
	var last struct {
		Error struct {
			Code    int              `json:"code"`
			Details []map[string]any `json:"details"`
		} `json:"error"`
	}
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &last); err != nil {
		t.Fatalf("stream %q: %v", r.Raw, err)
	}
	for _, d := range last.Error.Details {
		if d["@type"] == "type.googleapis.com/google.rpc.ErrorInfo" {
			md, _ := d["metadata"].(map[string]any)
			reason, _ := d["reason"].(string)
			return codes.Code(last.Error.Code), reason, md
		}
	}
	t.Fatalf("no ErrorInfo in %s", r.Raw)
	return 0, "", nil
}

// TestWatchJobSharedPoll: 50 watchers of one job cause one upstream poll
// per interval, not one each, and each sees every state exactly once.
func TestWatchJobSharedPoll(t *testing.T) {
	const watchers = 50
	e, clock, jobs := startJobs(t)
	id, err := e.sim.SubmitJob(publishingPath, "")
	if err != nil {
		t.Fatal(err)
	}
	clock.Advance(jobStep)
	name := publishing + "/jobs/" + id
	jobPath := e.sim.AdminPath() + "services/" + publishingPath + "/jobs/" + id

	e.sim.ResetRequests()
	began := time.Now()
	type result struct {
		states []adminv1.JobState
		err    error
	}
	seen := make(chan adminv1.JobState, watchers*len(watchedStates))
	results := make(chan result, watchers)
	c := ctx(t)
	for range watchers {
		go func() {
			var res result
			defer func() { results <- res }()
			stream, err := jobs.WatchJob(c, &adminv1.WatchJobRequest{Name: name})
			if err != nil {
				res.err = err
				return
			}
			for {
				msg, err := stream.Recv()
				if err != nil {
					if !errors.Is(err, io.EOF) {
						res.err = err
					}
					return
				}
				res.states = append(res.states, msg.GetJob().GetState())
				seen <- msg.GetJob().GetState()
			}
		}()
	}
	// The job moves on only once every watcher has seen its current state,
	// so a watcher that misses a state or gets one twice shows.
	for _, want := range watchedStates {
		for range watchers {
			select {
			case st := <-seen:
				if st != want {
					t.Fatalf("a watcher got %v while the job was %v", st, want)
				}
			case <-c.Done():
				t.Fatalf("watchers never all got %v", want)
			}
		}
		clock.Advance(jobStep)
	}
	for range watchers {
		res := <-results
		if res.err != nil || len(res.states) != len(watchedStates) {
			t.Fatalf("watcher got %v, %v; want %v and the end of the stream", res.states, res.err, watchedStates)
		}
	}
	elapsed := time.Since(began)

	polls := 0
	for _, r := range e.sim.Requests() {
		if r.Path == jobPath {
			polls++
		}
	}
	// Polls of one shared poll are at least DefaultJobPollMin apart; one
	// poll per watcher would make at least watchers*3.
	if limit := 1 + int(elapsed/server.DefaultJobPollMin); polls < len(watchedStates) || polls > limit || polls >= watchers {
		t.Fatalf("%d upstream polls of the job for %d watchers in %v (at most %d for one shared poll)", polls, watchers, elapsed, limit)
	}
	t.Logf("%d watchers, %d upstream polls in %v", watchers, polls, elapsed)
}

// TestWatchJobCancelLeaksNothing: a watcher that cancels stops the shared
// poll and leaves no goroutine behind.
func TestWatchJobCancelLeaksNothing(t *testing.T) {
	e, clock, jobs := startJobs(t)
	id, err := e.sim.SubmitJob(publishingPath, "")
	if err != nil {
		t.Fatal(err)
	}
	clock.Advance(jobStep) // SUBMITTED, and it stays so: the clock does not move
	name := publishing + "/jobs/" + id
	if _, err := jobs.GetJob(ctx(t), &adminv1.GetJobRequest{Name: name}); err != nil { // connections warm
		t.Fatal(err)
	}
	before := goleak.IgnoreCurrent()

	wctx, cancel := context.WithCancel(context.Background())
	stream, err := jobs.WatchJob(wctx, &adminv1.WatchJobRequest{Name: name})
	if err != nil {
		t.Fatal(err)
	}
	if msg, err := stream.Recv(); err != nil || msg.GetJob().GetState() != adminv1.JobState_JOB_STATE_SUBMITTED {
		t.Fatalf("%v, %v", msg, err)
	}
	cancel()
	if _, err := stream.Recv(); err == nil {
		t.Fatal("stream goes on after cancel")
	}
	// The server's stream handler, the hub's poll goroutine and the client's
	// stream goroutines all end. Idle pooled HTTP connections are not the
	// watch's.
	goleak.VerifyNone(t, before,
		goleak.IgnoreTopFunction("net/http.(*persistConn).readLoop"),
		goleak.IgnoreTopFunction("net/http.(*persistConn).writeLoop"),
		goleak.IgnoreTopFunction("internal/poll.runtime_pollWait"))
}
