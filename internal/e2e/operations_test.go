package e2e

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/longrunning/autogen/longrunningpb"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/durationpb"

	adminv1 "github.com/arcgate/arcgate/gen/go/arcgate/admin/v1"
	"github.com/arcgate/arcgate/simulator"
)

// TestOperationsServed: the standard google.longrunning.Operations service
// is wired into the App over gRPC and REST, behind the Guard (which would
// refuse it, for want of a scope, were its scopes not merged).
func TestOperationsServed(t *testing.T) {
	e := start(t, simulator.Config{})
	ops := longrunningpb.NewOperationsClient(e.conn)
	const unknown = "operations/00000000-0000-4000-8000-000000000000"
	_, err := ops.GetOperation(ctx(t), &longrunningpb.GetOperationRequest{Name: unknown})
	wantCode(t, err, codes.NotFound)
	r := e.do(t, http.MethodGet, "/v1/"+unknown, nil)
	restError(t, r, http.StatusNotFound, codes.NotFound)
	list, err := ops.ListOperations(ctx(t), &longrunningpb.ListOperationsRequest{})
	if err != nil || len(list.GetOperations()) != 0 {
		t.Fatalf("ListOperations: %v %v", list, err)
	}
	if r := e.do(t, http.MethodGet, "/v1/operations", nil); r.Status != http.StatusOK {
		t.Fatalf("GET /v1/operations: %d %s", r.Status, r.Raw)
	}
}

// countRequests counts the simulator's requests whose path ends with suffix.
func countRequests(sim *simulator.Server, suffix string) int {
	n := 0
	for _, r := range sim.Requests() {
		if strings.HasSuffix(r.Path, suffix) {
			n++
		}
	}
	return n
}

// A StartService whose upstream start takes longer than the caller's
// deadline: the Operation comes back at once, within the deadline; a retry
// with the same request_id gets the same operation; WaitOperation returns
// it done with the started service; the upstream was asked to start the
// service once. The figures are the issue's: the upstream takes 30 s, the
// client's deadline is 2 s. The test starts the operation, then marks
// itself parallel: it waits for the operation once the package's other
// (sequential) tests have run, so that the 30 s pass while they run
// instead of adding to the package's time.
func TestStartServiceOutlivesCallerDeadline(t *testing.T) {
	const upstreamTakes, clientDeadline = 30 * time.Second, 2 * time.Second
	e := start(t, simulator.Config{})
	c := ctx(t)
	const name = "services/SampleWorldCities.MapServer"
	const startPath = "services/SampleWorldCities.MapServer/start"
	const requestID = "7d3f0a1e-2b4c-4d5e-8f60-718293a4b5c6"
	if _, err := done[adminv1.Service](c, e.conn)(e.services.StopService(c, &adminv1.StopServiceRequest{Name: name})); err != nil {
		t.Fatal(err)
	}
	e.sim.ResetRequests()
	e.sim.InjectFault(simulator.Fault{Kind: simulator.FaultLatency, Path: startPath, Delay: upstreamTakes})
	defer e.sim.ClearFaults()

	call := func() *longrunningpb.Operation {
		t.Helper()
		cctx, cancel := context.WithTimeout(c, clientDeadline)
		defer cancel()
		op, err := e.services.StartService(cctx, &adminv1.StartServiceRequest{Name: name, RequestId: requestID})
		if err != nil {
			t.Fatalf("StartService with a %v deadline (upstream taking %v): %v", clientDeadline, upstreamTakes, err)
		}
		return op
	}
	op := call()
	if op.GetDone() || !strings.HasPrefix(op.GetName(), "operations/") {
		t.Fatalf("StartService: %v; want a running operation", op)
	}
	md := &adminv1.OperationMetadata{}
	if err := op.GetMetadata().UnmarshalTo(md); err != nil || md.GetTarget() != name || md.GetVerb() != "start" || md.GetCreateTime() == nil {
		t.Fatalf("metadata %v (%v); want target %s, verb start, a create time", md, err, name)
	}
	if again := call(); again.GetName() != op.GetName() {
		t.Fatalf("retry with the same request_id: operation %s, want %s", again.GetName(), op.GetName())
	}

	t.Parallel() // resumes after the package's sequential tests
	c, cancel := context.WithTimeout(context.Background(), upstreamTakes+time.Minute)
	defer cancel()
	ops := longrunningpb.NewOperationsClient(e.conn)
	for !op.GetDone() {
		var err error
		op, err = ops.WaitOperation(c, &longrunningpb.WaitOperationRequest{Name: op.GetName(), Timeout: durationpb.New(10 * time.Second)})
		if err != nil {
			t.Fatal(err)
		}
	}
	if op.GetError() != nil {
		t.Fatalf("operation failed: %v", op.GetError())
	}
	svc := &adminv1.Service{}
	if err := op.GetResponse().UnmarshalTo(svc); err != nil || svc.GetName() != name || svc.GetRealTimeState() != adminv1.ServiceState_SERVICE_STATE_STARTED {
		t.Fatalf("response %v (%v); want %s started", svc, err, name)
	}
	if err := op.GetMetadata().UnmarshalTo(md); err != nil || md.GetEndTime() == nil || md.GetUpstreamState() != "STARTED" {
		t.Fatalf("metadata of the done operation %v (%v); want an end time and upstream state STARTED", md, err)
	}
	if n := countRequests(e.sim, "/"+startPath); n != 1 {
		t.Fatalf("%d start requests reached the upstream, want 1", n)
	}

	// The same over REST: GET /v1/operations/{id}, POST ...:wait, and
	// ListOperations filtered by target and done.
	r := e.do(t, http.MethodGet, "/v1/"+op.GetName(), nil)
	if resp, _ := r.Body["response"].(map[string]any); r.Status != http.StatusOK || r.Body["done"] != true || resp["realTimeState"] != "SERVICE_STATE_STARTED" {
		t.Fatalf("GET /v1/%s: %d %s", op.GetName(), r.Status, r.Raw)
	}
	r = e.do(t, http.MethodPost, "/v1/"+op.GetName()+":wait", map[string]any{"timeout": "5s"})
	if r.Status != http.StatusOK || r.Body["done"] != true {
		t.Fatalf("POST /v1/%s:wait: %d %s", op.GetName(), r.Status, r.Raw)
	}
	list, err := ops.ListOperations(c, &longrunningpb.ListOperationsRequest{Filter: `target="` + name + `" AND done=true`})
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, o := range list.GetOperations() {
		found = found || o.GetName() == op.GetName()
	}
	if !found {
		t.Fatalf("ListOperations by target and done: %v; want %s among them", list.GetOperations(), op.GetName())
	}
}

// REST: POST ...:stop answers the Operation JSON at once; the batch
// methods stop and start several services with one upstream request each.
func TestBatchStartStopServices(t *testing.T) {
	e := start(t, simulator.Config{})
	c := ctx(t)
	names := []string{"services/SampleWorldCities.MapServer", "folders/Maps/services/Roads.MapServer"}

	r := e.do(t, http.MethodPost, "/v1/"+names[0]+":stop", map[string]any{})
	md, _ := r.Body["metadata"].(map[string]any)
	if n, _ := r.Body["name"].(string); r.Status != http.StatusOK || !strings.HasPrefix(n, "operations/") || md["verb"] != "stop" {
		t.Fatalf("POST :stop: %d %s; want an Operation", r.Status, r.Raw)
	}
	waitAllOps(t, c, e.conn)

	e.sim.ResetRequests()
	resp, err := done[adminv1.BatchStopServicesResponse](c, e.conn)(e.services.BatchStopServices(c, &adminv1.BatchStopServicesRequest{Names: names}))
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.GetServices()) != 2 {
		t.Fatalf("BatchStopServices: %v", resp)
	}
	for i, s := range resp.GetServices() {
		if s.GetName() != names[i] || s.GetRealTimeState() != adminv1.ServiceState_SERVICE_STATE_STOPPED {
			t.Errorf("service %d: %s %v; want %s stopped", i, s.GetName(), s.GetRealTimeState(), names[i])
		}
	}
	if n, m := countRequests(e.sim, "/services/stopServices"), countRequests(e.sim, "/stop"); n != 1 || m != 0 {
		t.Fatalf("%d stopServices and %d stop requests upstream; want one stopServices", n, m)
	}

	r = e.doOp(t, http.MethodPost, "/v1/services:batchStart", map[string]any{"names": names})
	if r.Status != http.StatusOK || strings.Count(r.Raw, `"realTimeState":"SERVICE_STATE_STARTED"`) != 2 {
		t.Fatalf("POST /v1/services:batchStart: %d %s", r.Status, r.Raw)
	}

	// Refused at once: no names, a name twice, a bad name.
	for _, bad := range [][]string{nil, {names[0], names[0]}, {"services/nope"}} {
		_, err := e.services.BatchStartServices(c, &adminv1.BatchStartServicesRequest{Names: bad})
		wantCode(t, err, codes.InvalidArgument)
	}
	// An unknown service fails the operation, NOT_FOUND.
	_, err = done[adminv1.BatchStartServicesResponse](c, e.conn)(e.services.BatchStartServices(c, &adminv1.BatchStartServicesRequest{
		Names: []string{names[0], "services/Missing.MapServer"}}))
	wantCode(t, err, codes.NotFound)
}
