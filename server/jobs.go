package server

import (
	"context"
	"errors"
	"fmt"
	"google.golang.org/protobuf/types/known/emptypb"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"google.golang.org/protobuf/types/known/timestamppb"

	adminv1 "github.com/arcgate/arcgate/gen/go/arcgate/admin/v1"
	"github.com/arcgate/arcgate/upstream"
)

// jobsServer implements adminv1.JobsServiceServer.
type jobsServer struct {
	adminv1.UnimplementedJobsServiceServer
	jobs jobsAPI
	hub  *watchHub

	// queryPageSize is the upstream page size ("number") ListJobs asks for,
	// queryMaxPages the most upstream pages one ListJobs call may read.
	queryPageSize, queryMaxPages int
}

var _ adminv1.JobsServiceServer = (*jobsServer)(nil)

// Upstream paging of ListJobs: one call reads at most
// defaultJobQueryMaxPages pages of defaultJobQueryPageSize jobs.
const (
	defaultJobQueryPageSize = 100
	defaultJobQueryMaxPages = 20
)

// newJobsServer returns the jobs service of s.
func newJobsServer(s *Server) *jobsServer {
	hub := newWatchHub(s.jobPollMin, s.jobPollMax, s.timeout)
	hub.stopping = s.watchStop
	return &jobsServer{
		jobs:          jobsOf(s.up),
		hub:           hub,
		queryPageSize: defaultJobQueryPageSize,
		queryMaxPages: defaultJobQueryMaxPages,
	}
}

// jobIDLen is the length of a job id: "j" and 32 hexadecimal digits.
const jobIDLen = 33

// checkJobID reports why id is not an upstream job id ("j" followed by 32
// lower-case hexadecimal digits, docs/upstream.md#job-resource), or "" when
// it is one.
func checkJobID(id string) string {
	ok := len(id) == jobIDLen && id[0] == 'j'
	for i := 1; ok && i < len(id); i++ {
		c := id[i]
		ok = '0' <= c && c <= '9' || 'a' <= c && c <= 'f'
	}
	if !ok {
		return "must be j followed by 32 lower-case hexadecimal digits, got " + quoteName(id)
	}
	return ""
}

// jobResourceName is the API resource name of a job.
func jobResourceName(ref serviceRef, id string) string {
	return ref.resourceName() + "/jobs/" + id
}

// parseJobName parses `services/{service}/jobs/{job}` or
// `folders/{folder}/services/{service}/jobs/{job}`.
func parseJobName(field, name string) (serviceRef, string, error) {
	i := strings.LastIndex(name, "/jobs/")
	if i < 0 {
		return serviceRef{}, "", invalidArgument(field, "must have the form services/{Name.Type}/jobs/{job} or folders/{folder}/services/{Name.Type}/jobs/{job}, got "+quoteName(name))
	}
	ref, err := parseServiceName(field, name[:i])
	if err != nil {
		return serviceRef{}, "", err
	}
	id := name[i+len("/jobs/"):]
	if why := checkJobID(id); why != "" {
		return serviceRef{}, "", invalidArgument(field, "job id "+why)
	}
	return ref, id, nil
}

// maxFilterLen bounds the text filters of ListJobs.
const maxFilterLen = 256

// checkFilterText reports why s cannot be a text filter, or "".
func checkFilterText(s string) string {
	switch {
	case len(s) > maxFilterLen:
		return fmt.Sprintf("must be at most %d bytes", maxFilterLen)
	case !utf8.ValidString(s):
		return "must be valid UTF-8"
	case strings.IndexFunc(s, unicode.IsControl) >= 0:
		return "must not contain control characters"
	}
	return ""
}

// jobQuery is a validated ListJobs request.
type jobQuery struct {
	ref                serviceRef
	state              adminv1.JobState
	submitter, machine string
	start, end         time.Time // zero: unbounded
}

// parseListJobs validates a ListJobs request and returns the query and the
// string its page tokens are bound to.
func parseListJobs(req *adminv1.ListJobsRequest) (jobQuery, string, error) {
	var q jobQuery
	ref, err := parseServiceName("parent", req.GetParent())
	if err != nil {
		return q, "", err
	}
	q.ref = ref
	q.state = req.GetState()
	if _, ok := adminv1.JobState_name[int32(q.state)]; !ok {
		return q, "", invalidArgument("state", "unknown state "+itoa(int(q.state)))
	}
	if why := checkFilterText(req.GetSubmitter()); why != "" {
		return q, "", invalidArgument("submitter", why)
	}
	if why := checkFilterText(req.GetMachine()); why != "" {
		return q, "", invalidArgument("machine", why)
	}
	q.submitter, q.machine = req.GetSubmitter(), req.GetMachine()
	epoch := time.Unix(0, 0)
	for _, f := range []struct {
		field string
		ts    *timestamppb.Timestamp
		dst   *time.Time
	}{{"start_time", req.GetStartTime(), &q.start}, {"end_time", req.GetEndTime(), &q.end}} {
		if f.ts == nil {
			continue
		}
		if f.ts.CheckValid() != nil {
			return q, "", invalidArgument(f.field, "is not a valid timestamp")
		}
		t := f.ts.AsTime()
		if t.Before(epoch) {
			return q, "", invalidArgument(f.field, "must not be before 1970-01-01T00:00:00Z")
		}
		*f.dst = t
	}
	if !q.start.IsZero() && !q.end.IsZero() && q.end.Before(q.start) {
		return q, "", invalidArgument("end_time", "must not be before start_time")
	}
	key := strings.Join([]string{"jobs", req.GetParent(), q.state.String(), q.submitter, q.machine,
		formatTime(q.start), formatTime(q.end)}, "|")
	return q, key, nil
}

// formatTime formats t for a page token's query key, "" for the zero time.
func formatTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

// jobKey is a job's sort and page-token key: submission time in epoch
// milliseconds (zero-padded, 0 when unknown), then the id.
func jobKey(j *adminv1.Job) string {
	var ms int64
	if j.GetSubmitTime() != nil {
		ms = max(j.GetSubmitTime().AsTime().UnixMilli(), 0)
	}
	return fmt.Sprintf("%016d/%s", ms, j.GetJobId())
}

// keyMillis returns the submission time of a page-token key.
func keyMillis(key string) int64 {
	head, _, _ := strings.Cut(key, "/")
	ms, _ := strconv.ParseInt(head, 10, 64)
	return ms
}

// matches applies the query's filters locally, so that the result does not
// depend on how exactly upstream interprets them (for example whether its
// time bounds are inclusive).
func (q jobQuery) matches(j *adminv1.Job) bool {
	switch {
	case q.state != adminv1.JobState_JOB_STATE_UNSPECIFIED && j.GetState() != q.state:
		return false
	case q.submitter != "" && !strings.EqualFold(j.GetSubmitter(), q.submitter):
		return false
	case q.machine != "" && !strings.EqualFold(j.GetMachine(), q.machine):
		return false
	}
	if !q.start.IsZero() || !q.end.IsZero() {
		if j.GetSubmitTime() == nil {
			return false
		}
		t := j.GetSubmitTime().AsTime()
		if !q.start.IsZero() && t.Before(q.start) || !q.end.IsZero() && !t.Before(q.end) {
			return false
		}
	}
	return true
}

// ListJobs implements adminv1.JobsServiceServer.
//
// Upstream pages with 1-based ordinals in an order of its own and returns
// each page as an object keyed by job id, so a stable order needs every
// matching job: ListJobs reads upstream pages until nextStart is -1, sorts
// by submission time then id, and pages by key (AIP-158). A page token
// narrows the upstream query to jobs submitted from the last returned
// job's millisecond on, so later pages read less. More than
// queryMaxPages upstream pages is refused rather than answered unstably.
func (s *jobsServer) ListJobs(ctx context.Context, req *adminv1.ListJobsRequest) (*adminv1.ListJobsResponse, error) {
	q, key, err := parseListJobs(req)
	if err != nil {
		return nil, err
	}
	after, err := checkPage(req.GetPageSize(), req.GetPageToken(), key)
	if err != nil {
		return nil, err
	}
	uq := upstream.JobQuery{
		Status:      upstreamJobStatus[q.state],
		UserName:    q.submitter,
		MachineName: q.machine,
		Number:      s.queryPageSize,
	}
	// Upstream counts milliseconds: round the bounds outwards, matches
	// applies them exactly.
	if !q.start.IsZero() {
		uq.StartTime = time.UnixMilli(q.start.UnixMilli()) // floor: start is not before 1970
	}
	if !q.end.IsZero() {
		uq.EndTime = time.UnixMilli(q.end.UnixMilli())
		if uq.EndTime.Before(q.end) {
			uq.EndTime = uq.EndTime.Add(time.Millisecond) // ceiling
		}
	}
	if after != "" {
		// One millisecond early, whether upstream's bound is inclusive or not.
		if from := time.UnixMilli(keyMillis(after) - 1); from.After(uq.StartTime) && keyMillis(after) > 0 {
			uq.StartTime = from
		}
	}
	parent := req.GetParent()
	seen := map[string]bool{}
	var all []*adminv1.Job
	start, pages := 1, 0
	for {
		if pages == s.queryMaxPages {
			return nil, failedPrecondition(ReasonJobQueryTooLarge,
				fmt.Sprintf("%s: more jobs match than one call reads from upstream (%d); narrow the filter, for example start_time and end_time", parent, s.queryMaxPages*s.queryPageSize),
				map[string]string{"resource": parent, "limit": itoa(s.queryMaxPages * s.queryPageSize)})
		}
		uq.Start = start
		page, err := s.jobs.Query(ctx, q.ref.upstream(), uq)
		if err != nil {
			return nil, Status(err, parent)
		}
		pages++
		for i := range page.Jobs {
			j := jobFromUpstream(q.ref, page.Jobs[i].ID, &page.Jobs[i])
			// A job listed on two upstream pages (the listing moved between
			// reads) is kept once; an id that is not a job id would make a
			// name this API refuses, so such an entry is left out.
			if checkJobID(j.GetJobId()) != "" || seen[j.GetJobId()] || !q.matches(j) {
				continue
			}
			seen[j.GetJobId()] = true
			all = append(all, j)
		}
		if page.NextStart <= start || len(page.Jobs) == 0 {
			break
		}
		start = page.NextStart
	}
	out, next, err := paginate(all, jobKey, key, req.GetPageToken(), req.GetPageSize())
	if err != nil {
		return nil, err
	}
	return &adminv1.ListJobsResponse{Jobs: out, NextPageToken: next}, nil
}

// GetJob implements adminv1.JobsServiceServer.
func (s *jobsServer) GetJob(ctx context.Context, req *adminv1.GetJobRequest) (*adminv1.Job, error) {
	ref, id, err := parseJobName("name", req.GetName())
	if err != nil {
		return nil, err
	}
	j, err := s.getJob(ctx, ref, id)
	if err != nil {
		return nil, err
	}
	return j, nil
}

// getJob reads one job.
func (s *jobsServer) getJob(ctx context.Context, ref serviceRef, id string) (*adminv1.Job, error) {
	j, err := s.jobs.Get(ctx, ref.upstream(), id)
	if err != nil {
		return nil, Status(err, jobResourceName(ref, id))
	}
	return jobFromUpstream(ref, id, j), nil
}

// cancellable reports whether upstream cancels a job in state st.
func cancellable(st adminv1.JobState) bool {
	return st == adminv1.JobState_JOB_STATE_SUBMITTED || st == adminv1.JobState_JOB_STATE_EXECUTING
}

// CancelJob implements adminv1.JobsServiceServer.
func (s *jobsServer) CancelJob(ctx context.Context, req *adminv1.CancelJobRequest) (*adminv1.CancelJobResponse, error) {
	ref, id, err := parseJobName("name", req.GetName())
	if err != nil {
		return nil, err
	}
	if err := s.jobs.Cancel(ctx, ref.upstream(), id); err != nil {
		if upstream.IsJobRefusal(err) {
			return nil, s.refused(ctx, ref, id, err, ReasonJobNotCancellable)
		}
		return nil, Status(err, jobResourceName(ref, id))
	}
	j, err := s.getJob(ctx, ref, id)
	if err != nil {
		return nil, err
	}
	return &adminv1.CancelJobResponse{Job: j}, nil
}

// DeleteJob implements adminv1.JobsServiceServer.
func (s *jobsServer) DeleteJob(ctx context.Context, req *adminv1.DeleteJobRequest) (*emptypb.Empty, error) {
	ref, id, err := parseJobName("name", req.GetName())
	if err != nil {
		return nil, err
	}
	if err := s.jobs.Delete(ctx, ref.upstream(), id); err != nil {
		if upstream.IsJobRefusal(err) {
			return nil, s.refused(ctx, ref, id, err, ReasonJobNotDeletable)
		}
		return nil, Status(err, jobResourceName(ref, id))
	}
	return &emptypb.Empty{}, nil
}

// refused turns upstream's refusal to cancel or delete a job (which does
// not say why) into FAILED_PRECONDITION carrying the job's state, read
// after the refusal. A job gone meanwhile is NOT_FOUND; a cancel refused
// while the job is in a cancellable state keeps upstream's error.
func (s *jobsServer) refused(ctx context.Context, ref serviceRef, id string, refusal error, reason string) error {
	name := jobResourceName(ref, id)
	j, err := s.jobs.Get(ctx, ref.upstream(), id)
	if err != nil {
		if upstream.IsNotFound(err) {
			return Status(err, name)
		}
		return Status(refusal, name)
	}
	st := jobState(j.Status)
	if reason == ReasonJobNotCancellable && cancellable(st) {
		return Status(refusal, name)
	}
	md := map[string]string{"resource": name, "state": st.String(), "upstreamState": j.Status}
	var ue *upstream.Error
	if errors.As(refusal, &ue) && ue.Code != 0 {
		md["upstreamCode"] = itoa(ue.Code)
	}
	what := "deleted"
	if reason == ReasonJobNotCancellable {
		what = "cancelled: upstream cancels only SUBMITTED and EXECUTING jobs"
	}
	return failedPrecondition(reason, fmt.Sprintf("%s is %s and cannot be %s", name, strings.TrimPrefix(st.String(), "JOB_STATE_"), what), md)
}

// PurgeJobs implements adminv1.JobsServiceServer.
func (s *jobsServer) PurgeJobs(ctx context.Context, req *adminv1.PurgeJobsRequest) (*adminv1.PurgeJobsResponse, error) {
	ref, err := parseServiceName("parent", req.GetParent())
	if err != nil {
		return nil, err
	}
	if err := s.jobs.PurgeQueue(ctx, ref.upstream()); err != nil {
		return nil, Status(err, ref.resourceName())
	}
	return &adminv1.PurgeJobsResponse{}, nil
}

// WatchJob implements adminv1.JobsServiceServer: the stream subscribes to
// the hub's shared poll of the job.
func (s *jobsServer) WatchJob(req *adminv1.WatchJobRequest, stream adminv1.JobsService_WatchJobServer) error {
	ref, id, err := parseJobName("name", req.GetName())
	if err != nil {
		return err
	}
	ctx := stream.Context()
	name := jobResourceName(ref, id)
	poll := func(ctx context.Context) (*adminv1.Job, error) { return s.getJob(ctx, ref, id) }
	return s.hub.watch(ctx, watchKey(ctx, name), poll, func(j *adminv1.Job) error {
		return stream.Send(&adminv1.WatchJobResponse{Job: j})
	})
}
