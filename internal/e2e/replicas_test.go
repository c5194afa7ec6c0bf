package e2e

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	adminv1 "github.com/arcgate/arcgate/gen/go/arcgate/admin/v1"
	"github.com/arcgate/arcgate/internal/app"
	"github.com/arcgate/arcgate/internal/testredis"
	"github.com/arcgate/arcgate/statestore"
)

// startReplicas starts len(stores) arcgates, each with its own state
// store, in front of one upstream: the first one's embedded simulator.
func startReplicas(t *testing.T, stores []statestore.Store) []*env {
	t.Helper()
	var envs []*env
	for i, s := range stores {
		cfg := app.Config{GRPCAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0", Store: s}
		if i > 0 {
			cfg.UpstreamURL = envs[0].app.UpstreamURL
			cfg.Username, cfg.Password = app.DemoUsername, app.DemoPassword
			cfg.InsecureNoCallerAuth = true
		}
		a, err := app.Start(cfg)
		if err != nil {
			t.Fatal(err)
		}
		conn, err := grpc.NewClient(a.GRPCAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			t.Fatal(err)
		}
		sim := a.Simulator
		if i > 0 {
			sim = envs[0].sim
		}
		tr := &http.Transport{}
		envs = append(envs, &env{app: a, sim: sim, conn: conn, services: adminv1.NewServicesServiceClient(conn),
			rest: "http://" + a.HTTPAddr, hc: &http.Client{Transport: tr, Timeout: 30 * time.Second}})
		t.Cleanup(func() {
			_ = conn.Close()
			tr.CloseIdleConnections()
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if err := a.Shutdown(ctx); err != nil {
				t.Errorf("shutdown: %v", err)
			}
			if err := s.Close(); err != nil {
				t.Errorf("closing the state store: %v", err)
			}
		})
	}
	return envs
}

// Concurrent updates of different properties of one service through three
// arcgates sharing a Redis state store, over gRPC and REST: every update
// is kept, as through one arcgate. (With a memory store each, the
// replicas' read-modify-writes interleave and updates are lost.)
func TestConcurrentUpdatesThroughReplicasSharingRedis(t *testing.T) {
	srv := testredis.Start(t)
	stores := make([]statestore.Store, 3)
	for i := range stores {
		s, err := statestore.Open(context.Background(), srv.URL(0))
		if err != nil {
			t.Fatal(err)
		}
		stores[i] = s
	}
	envs := startReplicas(t, stores)
	c := ctx(t)
	const n = 100
	calls := make([]func() error, n)
	for i := range n {
		e := envs[i%len(envs)] // with i%2 below: each replica over both APIs
		key, val := fmt.Sprintf("k%d", i), fmt.Sprintf("v%d", i)
		if i%2 == 0 {
			calls[i] = func() error {
				_, err := done[adminv1.Service](c, e.conn)(e.services.UpdateService(c, &adminv1.UpdateServiceRequest{
					Service:    &adminv1.Service{Name: "services/SampleWorldCities.MapServer", Properties: map[string]string{key: val}},
					UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"properties." + key}},
				}))
				return err
			}
			continue
		}
		calls[i] = func() error {
			return e.restCall(c, http.MethodPatch, "/v1/services/SampleWorldCities.MapServer?updateMask=properties."+key,
				`{"properties":{"`+key+`":"`+val+`"}}`)
		}
	}
	runAll(t, calls)
	// The REST updates returned their operations at once; the replicas
	// share them through the store.
	waitAllOps(t, c, envs[0].conn)
	for _, e := range envs { // every replica reads them all
		got, err := e.services.GetService(c, &adminv1.GetServiceRequest{Name: "services/SampleWorldCities.MapServer"})
		if err != nil {
			t.Fatal(err)
		}
		lost := 0
		for i := range n {
			if v := got.GetProperties()[fmt.Sprintf("k%d", i)]; v != fmt.Sprintf("v%d", i) {
				lost++
			}
		}
		if lost > 0 {
			t.Fatalf("%d of %d concurrent property updates through %d replicas were lost", lost, n, len(envs))
		}
	}
}
