package server

import (
	"sort"
	"strings"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	adminv1 "github.com/arcgate/arcgate/gen/go/arcgate/admin/v1"
	"github.com/arcgate/arcgate/upstream"
)

const testJobID = "j0550714f334d4114af9f7a5d05cb145e"

func TestParseJobName(t *testing.T) {
	for _, tc := range []struct {
		in   string
		ref  serviceRef
		id   string
		okay bool
	}{
		{"services/Buffer.GPServer/jobs/" + testJobID, serviceRef{"", "Buffer", "GPServer"}, testJobID, true},
		{"folders/System/services/PublishingTools.GPServer/jobs/" + testJobID, serviceRef{"System", "PublishingTools", "GPServer"}, testJobID, true},
		{"services/Test.MapServer/jobs/" + testJobID, serviceRef{"", "Test", "MapServer"}, testJobID, true}, // upstream routes jobs on any type
		{"services/Buffer.GPServer/jobs/J0550714F334D4114AF9F7A5D05CB145E", serviceRef{}, "", false},
		{"services/Buffer.GPServer/jobs/j290c2d4e60364xx2a0c735fb9b68428a", serviceRef{}, "", false}, // the docs' redacted example
		{"services/Buffer.GPServer/jobs/j0550714f334d4114af9f7a5d05cb145", serviceRef{}, "", false},
		{"services/Buffer.GPServer/jobs/j0550714f334d4114af9f7a5d05cb145e0", serviceRef{}, "", false},
		{"services/Buffer.GPServer/jobs/x0550714f334d4114af9f7a5d05cb145e", serviceRef{}, "", false},
		{"services/Buffer.GPServer/jobs/", serviceRef{}, "", false},
		{"services/Buffer.GPServer/jobs/" + testJobID + "/cancel", serviceRef{}, "", false},
		{"services/Buffer.GPServer/jobs/jobs/" + testJobID, serviceRef{}, "", false},
		{"services/Buffer.GPServer/" + testJobID, serviceRef{}, "", false},
		{"services/../jobs/" + testJobID, serviceRef{}, "", false},
		{"folders/-/services/Buffer.GPServer/jobs/" + testJobID, serviceRef{}, "", false},
		{"services/Buffer.GPServer/jobs/%2e%2e", serviceRef{}, "", false},
		{"", serviceRef{}, "", false},
	} {
		ref, id, err := parseJobName("name", tc.in)
		if tc.okay != (err == nil) || tc.okay && (ref != tc.ref || id != tc.id) {
			t.Errorf("parseJobName(%q) = %v, %q, %v", tc.in, ref, id, err)
			continue
		}
		if err != nil {
			assertFieldViolation(t, err, "name")
			continue
		}
		if got := jobResourceName(ref, id); got != tc.in {
			t.Errorf("round trip of %q gave %q", tc.in, got)
		}
	}
}

// assertFieldViolation checks an INVALID_ARGUMENT naming field.
func assertFieldViolation(t *testing.T, err error, field string) {
	t.Helper()
	st, _ := status.FromError(err)
	if st.Code() != codes.InvalidArgument || !strings.HasPrefix(st.Message(), field+": ") {
		t.Fatalf("error %v: want INVALID_ARGUMENT naming %s", err, field)
	}
	for _, d := range st.Details() {
		if br, ok := d.(*errdetails.BadRequest); ok && len(br.GetFieldViolations()) == 1 && br.GetFieldViolations()[0].GetField() == field {
			return
		}
	}
	t.Fatalf("error %v has no BadRequest naming %s", err, field)
}

// FuzzParseJobName checks that an accepted name is a safe job name: a
// valid service name, a strict job id, and a lossless round trip.
func FuzzParseJobName(f *testing.F) {
	for _, s := range []string{
		"services/Buffer.GPServer/jobs/" + testJobID,
		"folders/System/services/PublishingTools.GPServer/jobs/" + testJobID,
		"services/Buffer.GPServer/jobs/j290c2d4e60364xx2a0c735fb9b68428a",
		"services/a.GPServer/jobs/jobs/" + testJobID,
		"folders/a/services/b.MapServer/jobs/../" + testJobID,
		"services//jobs/", "/jobs/", "",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		ref, id, err := parseJobName("name", in)
		if err != nil {
			if status.Code(err) != codes.InvalidArgument {
				t.Fatalf("error %v is not INVALID_ARGUMENT", err)
			}
			return
		}
		if checkJobID(id) != "" || checkArcGISName(ref.Name) != "" || !knownTypes[ref.Type] ||
			ref.Folder != "" && checkArcGISName(ref.Folder) != "" {
			t.Fatalf("accepted unsafe name %q: %+v %q", in, ref, id)
		}
		if jobResourceName(ref, id) != in {
			t.Fatalf("round trip of %q gave %q", in, jobResourceName(ref, id))
		}
	})
}

func TestJobState(t *testing.T) {
	for raw, want := range map[string]adminv1.JobState{
		upstream.JobNew:        adminv1.JobState_JOB_STATE_NEW,
		upstream.JobSubmitted:  adminv1.JobState_JOB_STATE_SUBMITTED,
		upstream.JobWaiting:    adminv1.JobState_JOB_STATE_WAITING,
		upstream.JobExecuting:  adminv1.JobState_JOB_STATE_EXECUTING,
		upstream.JobSucceeded:  adminv1.JobState_JOB_STATE_SUCCEEDED,
		upstream.JobFailed:     adminv1.JobState_JOB_STATE_FAILED,
		upstream.JobTimedOut:   adminv1.JobState_JOB_STATE_TIMED_OUT,
		upstream.JobCancelling: adminv1.JobState_JOB_STATE_CANCELLING,
		upstream.JobCancelled:  adminv1.JobState_JOB_STATE_CANCELLED,
		upstream.JobDeleting:   adminv1.JobState_JOB_STATE_DELETING,
		upstream.JobDeleted:    adminv1.JobState_JOB_STATE_DELETED,
		"ESRIJOBSUCCEEDED":     adminv1.JobState_JOB_STATE_SUCCEEDED,
		"Succeeded":            adminv1.JobState_JOB_STATE_SUCCEEDED, // K8s spelling
		"esriJobCanceled":      adminv1.JobState_JOB_STATE_CANCELLED,
		"esriJobPaused":        adminv1.JobState_JOB_STATE_UNSPECIFIED,
		"":                     adminv1.JobState_JOB_STATE_UNSPECIFIED,
		"esriJob":              adminv1.JobState_JOB_STATE_UNSPECIFIED,
	} {
		if got := jobState(raw); got != want {
			t.Errorf("jobState(%q) = %v, want %v", raw, got, want)
		}
		j := jobFromUpstream(serviceRef{Name: "A", Type: "GPServer"}, testJobID, &upstream.Job{Status: raw})
		if j.GetStateRaw() != raw || j.GetState() != want || j.GetName() != "services/A.GPServer/jobs/"+testJobID {
			t.Errorf("jobFromUpstream with %q = %v", raw, j)
		}
	}
	// Every enum value has its upstream string, and back.
	for v := range adminv1.JobState_name {
		st := adminv1.JobState(v)
		if st == adminv1.JobState_JOB_STATE_UNSPECIFIED {
			continue
		}
		if raw, ok := upstreamJobStatus[st]; !ok || jobState(raw) != st {
			t.Errorf("%v has no round trip through %q", st, raw)
		}
	}
}

func TestJobFromUpstreamTimes(t *testing.T) {
	submitted := time.UnixMilli(1535661831380).UTC()
	j := jobFromUpstream(serviceRef{Folder: "System", Name: "P", Type: "GPServer"}, "ignored", &upstream.Job{
		ID: testJobID, Status: upstream.JobExecuting, SubmittedTime: submitted, MachineName: "M", Username: "",
	})
	if !j.GetSubmitTime().AsTime().Equal(submitted) || j.GetEndTime() != nil || j.GetJobId() != testJobID ||
		j.GetName() != "folders/System/services/P.GPServer/jobs/"+testJobID || j.GetSubmitter() != "" || j.GetMachine() != "M" {
		t.Fatalf("job %v", j)
	}
}

func TestParseListJobs(t *testing.T) {
	ts := func(sec int64) *timestamppb.Timestamp { return timestamppb.New(time.Unix(sec, 0)) }
	for _, tc := range []struct {
		name  string
		req   *adminv1.ListJobsRequest
		field string // "" = valid
	}{
		{"minimal", &adminv1.ListJobsRequest{Parent: "services/Buffer.GPServer"}, ""},
		{"all filters", &adminv1.ListJobsRequest{Parent: "folders/System/services/PublishingTools.GPServer",
			State: adminv1.JobState_JOB_STATE_FAILED, Submitter: "admin", Machine: "M1", StartTime: ts(10), EndTime: ts(10)}, ""},
		{"epoch start", &adminv1.ListJobsRequest{Parent: "services/Buffer.GPServer", StartTime: ts(0)}, ""},
		{"no parent", &adminv1.ListJobsRequest{}, "parent"},
		{"job as parent", &adminv1.ListJobsRequest{Parent: "services/Buffer.GPServer/jobs/" + testJobID}, "parent"},
		{"unknown state", &adminv1.ListJobsRequest{Parent: "services/Buffer.GPServer", State: 42}, "state"},
		{"control character", &adminv1.ListJobsRequest{Parent: "services/Buffer.GPServer", Submitter: "a\nb"}, "submitter"},
		{"long machine", &adminv1.ListJobsRequest{Parent: "services/Buffer.GPServer", Machine: strings.Repeat("m", 257)}, "machine"},
		{"bad UTF-8", &adminv1.ListJobsRequest{Parent: "services/Buffer.GPServer", Machine: "\xff"}, "machine"},
		{"before 1970", &adminv1.ListJobsRequest{Parent: "services/Buffer.GPServer", StartTime: ts(-1)}, "start_time"},
		{"invalid timestamp", &adminv1.ListJobsRequest{Parent: "services/Buffer.GPServer", EndTime: &timestamppb.Timestamp{Nanos: -1}}, "end_time"},
		{"end before start", &adminv1.ListJobsRequest{Parent: "services/Buffer.GPServer", StartTime: ts(10), EndTime: ts(9)}, "end_time"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, key, err := parseListJobs(tc.req)
			if tc.field == "" {
				if err != nil || key == "" {
					t.Fatalf("valid request refused: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("accepted")
			}
			assertFieldViolation(t, err, tc.field)
		})
	}
	// Page tokens are bound to the filters.
	_, k1, _ := parseListJobs(&adminv1.ListJobsRequest{Parent: "services/Buffer.GPServer", Submitter: "a"})
	_, k2, _ := parseListJobs(&adminv1.ListJobsRequest{Parent: "services/Buffer.GPServer", Submitter: "b"})
	_, k3, _ := parseListJobs(&adminv1.ListJobsRequest{Parent: "services/Buffer.GPServer", Submitter: "a", PageSize: 3})
	if k1 == k2 || k1 != k3 {
		t.Errorf("query keys %q %q %q", k1, k2, k3)
	}
}

func TestJobKeyOrder(t *testing.T) {
	job := func(ms int64, id string) *adminv1.Job {
		j := &adminv1.Job{JobId: id}
		if ms >= 0 {
			j.SubmitTime = timestamppb.New(time.UnixMilli(ms))
		}
		return j
	}
	jobs := []*adminv1.Job{job(9, "ja"), job(10, "jb"), job(-1, "jz"), job(10, "ja"), job(1e12, "j0"), job(2, "jc")}
	sort.Slice(jobs, func(a, b int) bool { return jobKey(jobs[a]) < jobKey(jobs[b]) })
	var got []string
	for _, j := range jobs {
		got = append(got, j.GetJobId())
	}
	if strings.Join(got, ",") != "jz,jc,ja,ja,jb,j0" || jobs[2].GetSubmitTime().AsTime().UnixMilli() != 9 {
		t.Fatalf("order %v", got)
	}
	if keyMillis(jobKey(job(1e12, "j0"))) != 1e12 || keyMillis("garbage") != 0 {
		t.Fatal("keyMillis does not invert jobKey")
	}
}

func TestJobQueryMatches(t *testing.T) {
	at := func(sec int64) *timestamppb.Timestamp { return timestamppb.New(time.Unix(sec, 0)) }
	j := &adminv1.Job{State: adminv1.JobState_JOB_STATE_FAILED, Submitter: "Admin", Machine: "m1", SubmitTime: at(100)}
	for _, tc := range []struct {
		q    jobQuery
		want bool
	}{
		{jobQuery{}, true},
		{jobQuery{state: adminv1.JobState_JOB_STATE_FAILED, submitter: "admin", machine: "M1"}, true},
		{jobQuery{state: adminv1.JobState_JOB_STATE_SUCCEEDED}, false},
		{jobQuery{submitter: "other"}, false},
		{jobQuery{start: time.Unix(100, 0)}, true}, // start inclusive
		{jobQuery{start: time.Unix(101, 0)}, false},
		{jobQuery{end: time.Unix(100, 0)}, false}, // end exclusive
		{jobQuery{end: time.Unix(100, 1)}, true},
	} {
		if got := tc.q.matches(j); got != tc.want {
			t.Errorf("%+v matches = %v, want %v", tc.q, got, tc.want)
		}
	}
	if (jobQuery{start: time.Unix(1, 0)}).matches(&adminv1.Job{}) {
		t.Error("a job without a submission time matches a time filter")
	}
}
