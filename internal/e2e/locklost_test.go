package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/longrunning/autogen/longrunningpb"
	"github.com/redis/go-redis/v9"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	"google.golang.org/genproto/googleapis/rpc/errdetails"

	adminv1 "github.com/arcgate/arcgate/gen/go/arcgate/admin/v1"
	"github.com/arcgate/arcgate/internal/testredis"
	"github.com/arcgate/arcgate/simulator"
	"github.com/arcgate/arcgate/statestore"
)

// A write whose Redis lock is lost while its upstream request is in flight
// (here the lock's key is deleted, as when its lease lapsed and another
// replica took it; Redis unreachable for two thirds of the lease ends the
// same way) is stopped, and says so: ABORTED with the reason LOCK_LOST,
// the resource named, and the upstream request marked as possibly sent,
// for a unary write (UpdateFolder) and an operation (UpdateService).
func TestWriteWhoseLockIsLostSaysSo(t *testing.T) {
	srv := testredis.Start(t)
	store, err := statestore.Open(context.Background(), srv.URL(0), statestore.WithLease(600*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	e := startReplicas(t, []statestore.Store{store})[0]
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr})
	defer rdb.Close()
	c := ctx(t)

	// loseLockDuring waits for the upstream request to path to arrive (it
	// is held there by a latency fault), then deletes the lock's key.
	loseLockDuring := func(path, lockKey string) {
		t.Helper()
		for e.sim.FaultHits(path) == 0 {
			select {
			case <-c.Done():
				t.Fatalf("no request to %s reached the upstream", path)
			case <-time.After(10 * time.Millisecond):
			}
		}
		if n, err := rdb.Del(c, "arcgate:lock:"+lockKey).Result(); err != nil || n != 1 {
			keys, _ := rdb.Keys(c, "arcgate:lock:*").Result()
			t.Fatalf("deleting the lock %q: %d deleted (%v); locks held: %q", lockKey, n, err, keys)
		}
	}
	wantLockLost := func(t *testing.T, st *status.Status, resource string) {
		t.Helper()
		var info *errdetails.ErrorInfo
		for _, d := range st.Details() {
			if i, ok := d.(*errdetails.ErrorInfo); ok {
				info = i
			}
		}
		if st.Code() != codes.Aborted || info.GetReason() != "LOCK_LOST" || info.GetMetadata()["resource"] != resource ||
			info.GetMetadata()["writeSent"] != "maybe" || !strings.Contains(st.Message(), "lock on "+resource+" was lost") ||
			!strings.Contains(st.Message(), "read "+resource+" to check") {
			t.Fatalf("error %v %q (%v); want ABORTED, LOCK_LOST naming %s, the write possibly sent", st.Code(), st.Message(), info, resource)
		}
	}

	t.Run("UpdateFolder", func(t *testing.T) {
		const path = "services/Maps/editFolder"
		e.sim.InjectFault(simulator.Fault{Kind: simulator.FaultLatency, Path: path, Delay: 10 * time.Second})
		defer e.sim.ClearFaults()
		errc := make(chan error, 1)
		go func() {
			_, err := e.services.UpdateFolder(c, &adminv1.UpdateFolderRequest{
				Folder:     &adminv1.Folder{Name: "folders/Maps", Description: "changed while the lock was lost"},
				UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"description"}}})
			errc <- err
		}()
		loseLockDuring(path, "services/maps/")
		wantLockLost(t, status.Convert(<-errc), "folders/Maps")
	})

	t.Run("UpdateService", func(t *testing.T) {
		const name = "services/SampleWorldCities.MapServer"
		const path = "services/SampleWorldCities.MapServer/edit"
		e.sim.InjectFault(simulator.Fault{Kind: simulator.FaultLatency, Path: path, Delay: 10 * time.Second})
		defer e.sim.ClearFaults()
		op, err := e.services.UpdateService(c, &adminv1.UpdateServiceRequest{
			Service:    &adminv1.Service{Name: name, Description: "changed while the lock was lost"},
			UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"description"}}})
		if err != nil {
			t.Fatal(err)
		}
		loseLockDuring(path, "services/sampleworldcities.mapserver")
		ops := longrunningpb.NewOperationsClient(e.conn)
		for !op.GetDone() {
			if op, err = ops.WaitOperation(c, &longrunningpb.WaitOperationRequest{Name: op.GetName(), Timeout: durationpb.New(5 * time.Second)}); err != nil {
				t.Fatal(err)
			}
		}
		if op.GetError() == nil {
			t.Fatalf("operation %v succeeded; want it stopped by the lost lock", op)
		}
		wantLockLost(t, status.FromProto(op.GetError()), name)
	})
}
