package app_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"time"

	"cloud.google.com/go/longrunning/autogen/longrunningpb"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

	adminv1 "github.com/arcgate/arcgate/gen/go/arcgate/admin/v1"
	"github.com/arcgate/arcgate/internal/app"
	"github.com/arcgate/arcgate/simulator"
)

// demo starts arcgate in demo mode (embedded simulator) on free loopback
// ports; the caller shuts it down.
func demo() (*app.App, func()) {
	a, err := app.Start(app.Config{GRPCAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0",
		// Simulated GP jobs move on every 30 ms; watches poll 10 to 50 ms apart.
		Simulator: simulator.Config{JobStepDuration: 30 * time.Millisecond}, JobPollMin: 10 * time.Millisecond, JobPollMax: 50 * time.Millisecond})
	if err != nil {
		panic(err)
	}
	return a, func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = a.Shutdown(ctx)
	}
}

// A Go service calls arcgate with the generated client: list a folder's
// services, read one, and handle an error by its code.
func Example_grpcClient() {
	a, stop := demo()
	defer stop()

	conn, err := grpc.NewClient(a.GRPCAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		panic(err)
	}
	defer conn.Close()
	services := adminv1.NewServicesServiceClient(conn)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	list, err := services.ListServices(ctx, &adminv1.ListServicesRequest{Parent: "folders/Maps"})
	if err != nil {
		panic(err)
	}
	for _, s := range list.GetServices() {
		fmt.Println(s.GetName(), s.GetType())
	}

	got, err := services.GetService(ctx, &adminv1.GetServiceRequest{Name: "folders/Maps/services/Roads.MapServer"})
	if err != nil {
		panic(err)
	}
	fmt.Println(got.GetServiceName(), got.GetRealTimeState())

	_, err = services.GetService(ctx, &adminv1.GetServiceRequest{Name: "services/Nope.MapServer"})
	fmt.Println(status.Code(err) == codes.NotFound)

	_, err = services.GetService(ctx, &adminv1.GetServiceRequest{Name: "services/../security"})
	fmt.Println(status.Code(err))
	// Output:
	// folders/Maps/services/Addresses.GeocodeServer SERVICE_TYPE_GEOCODE_SERVER
	// folders/Maps/services/Parcels.MapServer SERVICE_TYPE_MAP_SERVER
	// folders/Maps/services/Roads.MapServer SERVICE_TYPE_MAP_SERVER
	// Roads SERVICE_STATE_STOPPED
	// true
	// InvalidArgument
}

// Starting a service returns a long-running operation at once; the
// caller waits for it with WaitOperation (which answers when the operation
// is done or its timeout passes) and reads the started service from the
// operation's response.
func Example_longRunningOperation() {
	a, stop := demo()
	defer stop()

	conn, err := grpc.NewClient(a.GRPCAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		panic(err)
	}
	defer conn.Close()
	services := adminv1.NewServicesServiceClient(conn)
	ops := longrunningpb.NewOperationsClient(conn)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	op, err := services.StartService(ctx, &adminv1.StartServiceRequest{Name: "folders/Maps/services/Roads.MapServer"})
	if err != nil {
		panic(err)
	}
	md := &adminv1.OperationMetadata{}
	if err := op.GetMetadata().UnmarshalTo(md); err != nil {
		panic(err)
	}
	fmt.Println(md.GetVerb(), md.GetTarget())
	for !op.GetDone() {
		op, err = ops.WaitOperation(ctx, &longrunningpb.WaitOperationRequest{Name: op.GetName(), Timeout: durationpb.New(5 * time.Second)})
		if err != nil {
			panic(err)
		}
	}
	if op.GetError() != nil {
		panic(status.ErrorProto(op.GetError()))
	}
	svc := &adminv1.Service{}
	if err := op.GetResponse().UnmarshalTo(svc); err != nil {
		panic(err)
	}
	fmt.Println(svc.GetServiceName(), svc.GetRealTimeState())
	// Output:
	// start folders/Maps/services/Roads.MapServer
	// Roads SERVICE_STATE_STARTED
}

// A GP job is watched as a server stream: one message per state change,
// the stream ending after a terminal state.
func Example_watchJob() {
	a, stop := demo()
	defer stop()
	id, err := a.Simulator.SubmitJob("System/PublishingTools.GPServer", "esriJobSucceeded")
	if err != nil {
		panic(err)
	}
	conn, err := grpc.NewClient(a.GRPCAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		panic(err)
	}
	defer conn.Close()
	jobs := adminv1.NewJobsServiceClient(conn)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	stream, err := jobs.WatchJob(ctx, &adminv1.WatchJobRequest{Name: "folders/System/services/PublishingTools.GPServer/jobs/" + id})
	if err != nil {
		panic(err)
	}
	var last *adminv1.Job
	for {
		msg, err := stream.Recv()
		if err == io.EOF { // the job reached a terminal state
			break
		}
		if err != nil {
			panic(err)
		}
		last = msg.GetJob()
	}
	fmt.Println(last.GetJobId() == id, last.GetState())
	// Output:
	// true JOB_STATE_SUCCEEDED
}

// REST callers get the same API as JSON; errors are google.rpc.Status.
func Example_rest() {
	a, stop := demo()
	defer stop()
	for _, path := range []string{"/v1/services/SampleWorldCities.MapServer", "/v1/services/Nope.MapServer"} {
		resp, err := http.Get("http://" + a.HTTPAddr + path)
		if err != nil {
			panic(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		fmt.Println(resp.StatusCode, len(body) > 0)
	}
	// Output:
	// 200 true
	// 404 true
}
