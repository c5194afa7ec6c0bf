package server

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"google.golang.org/grpc/codes"

	"github.com/arcgate/arcgate/upstream"
)

// fakeSystemJobs answers Get with its answers in turn (the last one again
// once they run out).
type fakeSystemJobs struct {
	answers []fakeJobAnswer
	gets    int
}

type fakeJobAnswer struct {
	job *upstream.SystemJob
	err error
}

func (f *fakeSystemJobs) Get(_ context.Context, id string) (*upstream.SystemJob, error) {
	a := f.answers[min(f.gets, len(f.answers)-1)]
	f.gets++
	return a.job, a.err
}

// recordedProgress records what followJob reports.
type recordedProgress struct {
	mu     sync.Mutex
	job    string
	states []string
}

func (p *recordedProgress) Name() string { return "operations/test" }
func (p *recordedProgress) SetUpstreamState(s string) {
	p.mu.Lock()
	p.states = append(p.states, s)
	p.mu.Unlock()
}
func (p *recordedProgress) SetUpstreamJob(id string) { p.job = id }
func (p *recordedProgress) SetCancel(func())         {}
func (p *recordedProgress) EndCancel(context.Context, string) (bool, error) {
	return false, nil
}

func TestFollowJob(t *testing.T) {
	first, max := jobPollFirst, jobPollMax
	jobPollFirst, jobPollMax = time.Millisecond, time.Millisecond
	t.Cleanup(func() { jobPollFirst, jobPollMax = first, max })
	running := func(step int, info ...string) fakeJobAnswer {
		return fakeJobAnswer{job: &upstream.SystemJob{ID: "j1", Status: "EXECUTING", TotalSteps: 3, CurrentStep: step, StepInfo: info}}
	}
	completed := fakeJobAnswer{job: &upstream.SystemJob{ID: "j1", Status: "COMPLETED", TotalSteps: 3, CurrentStep: 3,
		StepInfo: []string{"a", "b", "c"}}}
	failed := fakeJobAnswer{job: &upstream.SystemJob{ID: "j1", Status: "COMPLETED", TotalSteps: 3, CurrentStep: 3,
		Err: &upstream.Error{Kind: upstream.KindAPI, Code: 500, Messages: []string{"service failed to start"}}}}
	transient := fakeJobAnswer{err: &upstream.Error{Kind: upstream.KindHTTP, HTTPStatus: 503}}
	for _, tc := range []struct {
		name       string
		answers    []fakeJobAnswer
		code       codes.Code
		reason     string
		lastState  string
		wantPolled int
	}{
		{name: "steps then success", answers: []fakeJobAnswer{running(1, "a"), running(2), {job: &upstream.SystemJob{Status: "NEW_STATUS"}}, completed},
			code: codes.OK, lastState: "c", wantPolled: 4},
		{name: "operationResponse error", answers: []fakeJobAnswer{running(1, "a"), failed},
			code: codes.Internal, reason: ReasonUpstreamError, lastState: "step 3 of 3", wantPolled: 2},
		{name: "transient read failures are tolerated", answers: []fakeJobAnswer{transient, transient, completed},
			code: codes.OK, lastState: "c", wantPolled: 3},
		{name: "job gone: outcome unknown", answers: []fakeJobAnswer{running(1, "a"), {err: errUpNotFound}},
			code: codes.Unavailable, reason: ReasonUpstreamOutcomeUnknown, lastState: "a", wantPolled: 2},
		{name: "reads keep failing: outcome unknown", answers: []fakeJobAnswer{transient},
			code: codes.Unavailable, reason: ReasonUpstreamOutcomeUnknown, wantPolled: jobPollFailures},
		{name: "a job id no request can carry: outcome unknown at once", answers: []fakeJobAnswer{{err: &upstream.Error{Kind: upstream.KindInvalid}}},
			code: codes.Unavailable, reason: ReasonUpstreamOutcomeUnknown, wantPolled: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeSystemJobs{answers: tc.answers}
			p := &recordedProgress{}
			s := &servicesServer{upstreamJobs: systemJobReader{f}}
			err := s.followJob(context.Background(), p, "services/A.MapServer", "j1")
			if tc.code == codes.OK {
				if err != nil {
					t.Fatalf("followJob: %v", err)
				}
			} else {
				wantStatus(t, err, tc.code, tc.reason)
			}
			if f.gets != tc.wantPolled || p.job != "j1" {
				t.Errorf("polled %d times (want %d), job %q", f.gets, tc.wantPolled, p.job)
			}
			if len(p.states) > 0 {
				if last := p.states[len(p.states)-1]; last != tc.lastState {
					t.Errorf("upstream states %q, want the last %q", p.states, tc.lastState)
				}
			} else if tc.lastState != "" {
				t.Errorf("no upstream state, want %q", tc.lastState)
			}
		})
	}
}

func TestFollowJobContextEnds(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	s := &servicesServer{upstreamJobs: systemJobReader{&fakeSystemJobs{answers: []fakeJobAnswer{{err: context.Canceled}}}}}
	wantStatus(t, s.followJob(ctx, &recordedProgress{}, "services/A.MapServer", "j1"), codes.Canceled, ReasonUpstreamOutcomeUnknown)
}

// fakeKubernetesJobs answers Get with its answers in turn (the last one
// again once they run out).
type fakeKubernetesJobs struct {
	answers []fakeKubernetesJobAnswer
	gets    int
}

type fakeKubernetesJobAnswer struct {
	job *upstream.KubernetesJob
	err error
}

func (f *fakeKubernetesJobs) Get(_ context.Context, id string) (*upstream.KubernetesJob, error) {
	a := f.answers[min(f.gets, len(f.answers)-1)]
	f.gets++
	return a.job, a.err
}

// TestFollowKubernetesJob: the same follow loop reads the Enterprise on
// Kubernetes shape: its status (and operation) is the step, UNAVAILABLE
// and CANCELLING are not ends, FAILED ends with the job's error mapped.
func TestFollowKubernetesJob(t *testing.T) {
	first, max := jobPollFirst, jobPollMax
	jobPollFirst, jobPollMax = time.Millisecond, time.Millisecond
	t.Cleanup(func() { jobPollFirst, jobPollMax = first, max })
	job := func(status string, err *upstream.Error) fakeKubernetesJobAnswer {
		return fakeKubernetesJobAnswer{job: &upstream.KubernetesJob{ID: "j1", Status: status, OperationURI: "services/A.MapServer/start", Err: err}}
	}
	notFound := &upstream.Error{Kind: upstream.KindAPI, Code: 404, Messages: []string{"Service 'A.MapServer' not found"}}
	for _, tc := range []struct {
		name       string
		answers    []fakeKubernetesJobAnswer
		code       codes.Code
		reason     string
		lastState  string
		wantPolled int
	}{
		{name: "submitted, unavailable, executing, completed",
			answers: []fakeKubernetesJobAnswer{job("SUBMITTED", nil), job("UNAVAILABLE", nil), job("EXECUTING", nil), job("COMPLETED", nil)},
			code:    codes.OK, lastState: "COMPLETED (services/A.MapServer/start)", wantPolled: 4},
		{name: "cancelling is not an end; cancelled is",
			answers: []fakeKubernetesJobAnswer{job("CANCELLING", nil), job("CANCELLED", &upstream.Error{Kind: upstream.KindAPI, Code: 500, Messages: []string{"job j1 ended CANCELLED"}})},
			code:    codes.Internal, reason: ReasonUpstreamError, lastState: "CANCELLED (services/A.MapServer/start)", wantPolled: 2},
		{name: "failed with the result's error, mapped", answers: []fakeKubernetesJobAnswer{job("EXECUTING", nil), job("FAILED", notFound)},
			code: codes.NotFound, reason: ReasonNotFound, lastState: "FAILED (services/A.MapServer/start)", wantPolled: 2},
		{name: "job gone: outcome unknown", answers: []fakeKubernetesJobAnswer{job("EXECUTING", nil), {err: errUpNotFound}},
			code: codes.Unavailable, reason: ReasonUpstreamOutcomeUnknown, lastState: "EXECUTING (services/A.MapServer/start)", wantPolled: 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeKubernetesJobs{answers: tc.answers}
			p := &recordedProgress{}
			s := &servicesServer{upstreamJobs: kubernetesJobReader{f}}
			err := s.followJob(context.Background(), p, "services/A.MapServer", "j1")
			if tc.code == codes.OK {
				if err != nil {
					t.Fatalf("followJob: %v", err)
				}
			} else {
				wantStatus(t, err, tc.code, tc.reason)
			}
			if f.gets != tc.wantPolled || p.job != "j1" {
				t.Errorf("polled %d times (want %d), job %q", f.gets, tc.wantPolled, p.job)
			}
			if len(p.states) == 0 || p.states[len(p.states)-1] != tc.lastState {
				t.Errorf("upstream states %q, want the last %q", p.states, tc.lastState)
			}
		})
	}
}

// TestJobOutcomeUnknownNamesTheJob: the error names the job, even one
// whose id no request can carry, as bounded valid text.
func TestJobOutcomeUnknownNamesTheJob(t *testing.T) {
	for _, id := range []string{"j1", "../x?y", strings.Repeat("a", 300), "j\xff"} {
		err := jobOutcomeUnknown(errUpNotFound, "services/A.MapServer", id)
		wantStatus(t, err, codes.Unavailable, ReasonUpstreamOutcomeUnknown)
		shown := jobIDText(id)
		if len(shown) > maxJobIDText+3 || !utf8.ValidString(shown) || !strings.Contains(err.Error(), strconv.Quote(shown)) {
			t.Errorf("id %q: error %v does not name the job as %q", id, err, shown)
		}
	}
}
