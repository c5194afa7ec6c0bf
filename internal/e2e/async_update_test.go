package e2e

import (
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/longrunning/autogen/longrunningpb"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	adminv1 "github.com/arcgate/arcgate/gen/go/arcgate/admin/v1"
	"github.com/arcgate/arcgate/simulator"
)

// UpdateService on a site that runs the edit asynchronously (runAsync=true,
// admin/system/jobs/<id>): the running Operation's metadata names the
// upstream job and its current step, and WaitOperation returns the updated
// service. On a site that answers the edit synchronously (no job id) the
// update works as well, without following anything.
func TestUpdateServiceFollowsUpstreamJob(t *testing.T) {
	for _, async := range []bool{true, false} {
		name := "synchronous site"
		if async {
			name = "asynchronous site"
		}
		t.Run(name, func(t *testing.T) {
			e := start(t, simulator.Config{AsyncExecution: async, SystemJobDuration: 2 * time.Second})
			c := ctx(t)
			const svcName = "services/SampleWorldCities.MapServer"
			desc := "edited on the " + name
			op, err := e.services.UpdateService(c, &adminv1.UpdateServiceRequest{
				Service:    &adminv1.Service{Name: svcName, Description: desc},
				UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"description"}},
			})
			if err != nil {
				t.Fatalf("UpdateService: %v", err)
			}
			ops := longrunningpb.NewOperationsClient(e.conn)
			md := &adminv1.OperationMetadata{}
			var jobID, step string
			for !op.GetDone() && async && step == "" {
				if err := op.GetMetadata().UnmarshalTo(md); err != nil {
					t.Fatal(err)
				}
				if md.GetUpstreamJobId() != "" && strings.Contains(md.GetUpstreamState(), "the service 'SampleWorldCities'") {
					jobID, step = md.GetUpstreamJobId(), md.GetUpstreamState()
					break
				}
				time.Sleep(50 * time.Millisecond)
				if op, err = ops.GetOperation(c, &longrunningpb.GetOperationRequest{Name: op.GetName()}); err != nil {
					t.Fatal(err)
				}
			}
			if async && step == "" {
				t.Fatalf("operation %v ended before its metadata showed the upstream job and a step", op)
			}
			svc, err := done[adminv1.Service](c, e.conn)(op, nil)
			if err != nil {
				t.Fatalf("operation: %v", err)
			}
			if svc.GetName() != svcName || svc.GetDescription() != desc {
				t.Fatalf("response %v, want %s with description %q", svc, svcName, desc)
			}
			edits, polls := 0, 0
			for _, r := range e.sim.Requests() {
				switch {
				case strings.HasSuffix(r.Path, "/SampleWorldCities.MapServer/edit"):
					edits++
				case async && strings.HasSuffix(r.Path, "/system/jobs/"+jobID):
					polls++
				}
			}
			if edits != 1 || async && polls < 2 {
				t.Fatalf("%d edits and %d reads of job %q reached the upstream, want 1 edit (and reads of the job)", edits, polls, jobID)
			}
			t.Logf("job %s, step seen: %q", jobID, step)
		})
	}
}
