package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/longrunning/autogen/longrunningpb"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	adminv1 "github.com/arcgate/arcgate/gen/go/arcgate/admin/v1"
	"github.com/arcgate/arcgate/server"
	"github.com/arcgate/arcgate/simulator"
)

// asyncJobLen is how long, by the simulator's fake clock, an upstream job
// runs: it ends only when the test advances the clock.
const asyncJobLen = time.Hour

// asyncSite is a simulated site and how its asynchronous jobs look.
type asyncSite struct {
	name string
	cfg  simulator.Config
	// flag is the parameter asking for asynchronous execution, jobs the
	// path of its jobs ("" for a site that answers synchronously), state
	// a text the running job's upstream_state holds.
	flag, jobs, state string
}

var asyncSites = []asyncSite{
	{name: "server async", cfg: simulator.Config{AsyncExecution: true, SystemJobDuration: asyncJobLen},
		flag: "runAsync", jobs: "/arcgis/admin/system/jobs/", state: "machine '"}, // a step
	{name: "kubernetes async", cfg: simulator.Config{Flavor: simulator.FlavorKubernetes, SystemJobDuration: asyncJobLen},
		flag: "async", jobs: "/arcgis/admin/jobs/", state: "SUBMITTED (services/"}, // the status and the operation
	{name: "synchronous site", cfg: simulator.Config{SystemJobDuration: asyncJobLen}, flag: "runAsync"},
}

// followRunning waits until the running operation op's metadata names an
// upstream job and a state holding want, and returns them.
func followRunning(t *testing.T, c context.Context, e *env, op *longrunningpb.Operation, want string) (jobID, state string) {
	t.Helper()
	ops := longrunningpb.NewOperationsClient(e.conn)
	md := &adminv1.OperationMetadata{}
	for i := 0; ; i++ {
		if err := op.GetMetadata().UnmarshalTo(md); err != nil {
			t.Fatal(err)
		}
		if md.GetUpstreamJobId() != "" && strings.Contains(md.GetUpstreamState(), want) {
			return md.GetUpstreamJobId(), md.GetUpstreamState()
		}
		if op.GetDone() || i == 400 {
			t.Fatalf("operation %v: its metadata never showed an upstream job with a state holding %q", op, want)
		}
		time.Sleep(25 * time.Millisecond)
		var err error
		if op, err = ops.GetOperation(c, &longrunningpb.GetOperationRequest{Name: op.GetName()}); err != nil {
			t.Fatal(err)
		}
	}
}

// TestServiceOperationsFollowUpstreamJobs: every long-running service
// operation asks for asynchronous execution in the site's flavor; on a
// site that runs it as a job the operation follows the job (metadata:
// upstream_job_id and the job's step or status) until the job ends, then
// answers as usual; on a site that answers synchronously it needs
// nothing more.
func TestServiceOperationsFollowUpstreamJobs(t *testing.T) {
	for _, site := range asyncSites {
		t.Run(site.name, func(t *testing.T) {
			clock := newJobClock()
			cfg := site.cfg
			cfg.Clock = clock.Now
			e := start(t, cfg)
			c := ctx(t)
			if _, err := e.services.CreateFolder(c, &adminv1.CreateFolderRequest{FolderId: "Async"}); err != nil {
				t.Fatal(err)
			}
			const roads, parcels = "folders/Async/services/Roads.MapServer", "folders/Maps/services/Parcels.MapServer"
			state := func(want adminv1.ServiceState) func(*longrunningpb.Operation) string {
				return func(op *longrunningpb.Operation) string {
					svc := &adminv1.Service{}
					if err := op.GetResponse().UnmarshalTo(svc); err != nil || svc.GetName() != roads || svc.GetConfiguredState() != want {
						return "want " + roads + " " + want.String()
					}
					return ""
				}
			}
			batch := func(want adminv1.ServiceState) func(*longrunningpb.Operation) string {
				return func(op *longrunningpb.Operation) string {
					var svcs []*adminv1.Service
					if want == adminv1.ServiceState_SERVICE_STATE_STARTED {
						r := &adminv1.BatchStartServicesResponse{}
						_ = op.GetResponse().UnmarshalTo(r)
						svcs = r.GetServices()
					} else {
						r := &adminv1.BatchStopServicesResponse{}
						_ = op.GetResponse().UnmarshalTo(r)
						svcs = r.GetServices()
					}
					if len(svcs) != 2 || svcs[0].GetName() != roads || svcs[1].GetName() != parcels ||
						svcs[0].GetConfiguredState() != want || svcs[1].GetConfiguredState() != want {
						return "want both services " + want.String()
					}
					return ""
				}
			}
			empty := func(op *longrunningpb.Operation) string {
				if err := op.GetResponse().UnmarshalTo(&emptypb.Empty{}); err != nil {
					return "want Empty"
				}
				return ""
			}
			for _, tc := range []struct {
				name  string
				run   func() (*longrunningpb.Operation, error)
				path  string // the upstream write
				check func(*longrunningpb.Operation) string
			}{
				{"CreateService", func() (*longrunningpb.Operation, error) {
					return e.services.CreateService(c, &adminv1.CreateServiceRequest{Parent: "folders/Async", ServiceId: "Roads.MapServer", Service: &adminv1.Service{}})
				}, "/Async/createService", state(adminv1.ServiceState_SERVICE_STATE_STARTED)},
				{"UpdateService", func() (*longrunningpb.Operation, error) {
					return e.services.UpdateService(c, &adminv1.UpdateServiceRequest{Service: &adminv1.Service{Name: roads, Description: "async"},
						UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"description"}}})
				}, "/Roads.MapServer/edit", func(op *longrunningpb.Operation) string {
					svc := &adminv1.Service{}
					if err := op.GetResponse().UnmarshalTo(svc); err != nil || svc.GetDescription() != "async" {
						return "want the new description"
					}
					return ""
				}},
				{"StopService", func() (*longrunningpb.Operation, error) {
					return e.services.StopService(c, &adminv1.StopServiceRequest{Name: roads})
				}, "/Roads.MapServer/stop", state(adminv1.ServiceState_SERVICE_STATE_STOPPED)},
				{"StartService", func() (*longrunningpb.Operation, error) {
					return e.services.StartService(c, &adminv1.StartServiceRequest{Name: roads})
				}, "/Roads.MapServer/start", state(adminv1.ServiceState_SERVICE_STATE_STARTED)},
				{"BatchStopServices", func() (*longrunningpb.Operation, error) {
					return e.services.BatchStopServices(c, &adminv1.BatchStopServicesRequest{Names: []string{roads, parcels}})
				}, "/services/stopServices", batch(adminv1.ServiceState_SERVICE_STATE_STOPPED)},
				{"BatchStartServices", func() (*longrunningpb.Operation, error) {
					return e.services.BatchStartServices(c, &adminv1.BatchStartServicesRequest{Names: []string{roads, parcels}})
				}, "/services/startServices", batch(adminv1.ServiceState_SERVICE_STATE_STARTED)},
				{"DeleteService", func() (*longrunningpb.Operation, error) {
					return e.services.DeleteService(c, &adminv1.DeleteServiceRequest{Name: parcels})
				}, "/Parcels.MapServer/delete", empty},
				{"DeleteFolder force", func() (*longrunningpb.Operation, error) {
					return e.services.DeleteFolder(c, &adminv1.DeleteFolderRequest{Name: "folders/Async", Force: true})
				}, "/Async/deleteFolder", empty},
			} {
				before := len(e.sim.Requests())
				op, err := tc.run()
				if err != nil {
					t.Fatalf("%s: %v", tc.name, err)
				}
				var jobID, step string
				if site.jobs != "" {
					jobID, step = followRunning(t, c, e, op, site.state)
					clock.Advance(asyncJobLen)
				}
				if op, err = waitDone(c, e.conn, op); err != nil {
					t.Fatalf("%s: %v", tc.name, err)
				}
				if op.GetError() != nil {
					t.Fatalf("%s ended with %v", tc.name, op.GetError())
				}
				if msg := tc.check(op); msg != "" {
					t.Fatalf("%s: response %v: %s", tc.name, op.GetResponse(), msg)
				}
				writes, polls := 0, 0
				for _, r := range e.sim.Requests()[before:] {
					switch {
					case strings.HasSuffix(r.Path, tc.path):
						writes++
						if r.Form.Get(site.flag) != "true" || r.Form.Has("async") && r.Form.Has("runAsync") {
							t.Errorf("%s: the write carried %v, want %s=true only", tc.name, r.Form, site.flag)
						}
					case strings.Contains(r.Path, "/jobs/"):
						if site.jobs == "" || r.Path != site.jobs+jobID {
							t.Errorf("%s: unexpected job read %s", tc.name, r.Path)
						}
						polls++
					}
				}
				if writes != 1 || site.jobs != "" && polls < 2 {
					t.Errorf("%s: %d writes and %d reads of job %q reached the upstream, want 1 write (and reads of the job)", tc.name, writes, polls, jobID)
				}
				t.Logf("%s: job %q, state seen %q", tc.name, jobID, step)
			}
		})
	}
}

// TestUpstreamJobFailures: a job that fails ends the operation with the
// upstream's error mapped (nothing applied); a job id that cannot be read
// and a job that vanishes end it UNAVAILABLE, UPSTREAM_OUTCOME_UNKNOWN,
// naming the job.
func TestUpstreamJobFailures(t *testing.T) {
	const svc = "folders/Maps/services/Parcels.MapServer"
	for _, site := range asyncSites[:2] {
		t.Run(site.name, func(t *testing.T) {
			clock := newJobClock()
			cfg := site.cfg
			cfg.Clock = clock.Now
			e := start(t, cfg)
			c := ctx(t)
			stop := func() *longrunningpb.Operation {
				op, err := e.services.StopService(c, &adminv1.StopServiceRequest{Name: svc})
				if err != nil {
					t.Fatal(err)
				}
				return op
			}
			ended := func(op *longrunningpb.Operation, code codes.Code, reason string) map[string]string {
				t.Helper()
				op, err := waitDone(c, e.conn, op)
				if err != nil {
					t.Fatal(err)
				}
				_, err = done[adminv1.Service](c, e.conn)(op, nil)
				info := wantCode(t, err, code)
				if info.GetReason() != reason {
					t.Fatalf("error %v: reason %q, want %q", err, info.GetReason(), reason)
				}
				md := &adminv1.OperationMetadata{}
				if err := op.GetMetadata().UnmarshalTo(md); err != nil || md.GetUpstreamJobId() == "" {
					t.Fatalf("metadata %v names no upstream job", md)
				}
				return info.GetMetadata()
			}

			// A job that fails (the recorded shape on ArcGIS Server: COMPLETED
			// with an error operationResponse; FAILED with the error as its
			// result on Kubernetes): the upstream's 404 maps to NOT_FOUND.
			e.sim.FailNextAsyncJob(404, "Service 'Parcels.MapServer' not found.")
			op := stop()
			followRunning(t, c, e, op, "")
			clock.Advance(asyncJobLen)
			ended(op, codes.NotFound, server.ReasonNotFound)
			if st, _ := e.sim.ServiceState("Maps/Parcels.MapServer"); st != "STARTED" {
				t.Fatalf("failed job: the stop was applied (%s)", st)
			}

			// A job id no request can carry: the stop was applied, its end
			// cannot be seen.
			e.sim.NextAsyncJobID("../../x?y")
			md := ended(stop(), codes.Unavailable, server.ReasonUpstreamOutcomeUnknown)
			if md["upstreamJobId"] != "../../x?y" {
				t.Fatalf("error metadata %v does not name the job", md)
			}

			// A job that vanishes while followed.
			op = stop()
			jobID, _ := followRunning(t, c, e, op, "")
			e.sim.ForgetAsyncJobs()
			md = ended(op, codes.Unavailable, server.ReasonUpstreamOutcomeUnknown)
			if md["upstreamJobId"] != jobID {
				t.Fatalf("error metadata %v does not name job %s", md, jobID)
			}
		})
	}
}
