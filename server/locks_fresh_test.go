package server

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/longrunning/autogen/longrunningpb"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	adminv1 "github.com/arcgate/arcgate/gen/go/arcgate/admin/v1"
	"github.com/arcgate/arcgate/operations"
	"github.com/arcgate/arcgate/statestore"
	"github.com/arcgate/arcgate/upstream"
)

// gatedService is an httptest upstream holding one service. A read of its
// definition answers what was stored when it arrived; the second such read
// numbered gate (counting from 1) is held until readGate closes, the first
// edit until editGate closes.
type gatedService struct {
	mu       sync.Mutex
	config   string
	reads    int // reads of the definition that arrived
	gate     int // the read held until readGate closes
	edits    int // edits applied
	readGate chan struct{}
	editGate chan struct{}
}

func (u *gatedService) counts() (reads, edits int) {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.reads, u.edits
}

func (u *gatedService) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain;charset=UTF-8")
	const svc = "/arcgis/admin/services/World.MapServer"
	switch r.URL.Path {
	case svc:
		u.mu.Lock()
		u.reads++
		n, body := u.reads, u.config
		u.mu.Unlock()
		if n == u.gate {
			<-u.readGate
		}
		_, _ = io.WriteString(w, body)
	case svc + "/status":
		_, _ = io.WriteString(w, `{"configuredState":"STARTED","realTimeState":"STARTED"}`)
	case svc + "/edit":
		if err := r.ParseForm(); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		u.mu.Lock()
		first := u.edits == 0
		u.mu.Unlock()
		if first {
			<-u.editGate
		}
		u.mu.Lock()
		u.config = r.PostForm.Get("service")
		u.edits++
		u.mu.Unlock()
		_, _ = io.WriteString(w, `{"status":"success"}`)
	default:
		_, _ = io.WriteString(w, `{"status":"error","messages":["not found"],"code":404}`)
	}
}

// An update's read must not join a read in flight that began before the
// previous update's edit: that read answers what the edit replaced, and
// the update built on it would undo the edit. Here a GetService's read of
// the definition arrives before update W's edit is applied and is held;
// W's operation finishes (its reads under the lock are fresh) with the
// held read still in flight; update B's operation then takes the lock and
// must read afresh. (B's check of its request, made at once outside the
// lock, may join the held read: it only validates.)
func TestUpdateServiceReadsAfresh(t *testing.T) {
	u := &gatedService{config: `{"serviceName":"World","type":"MapServer","properties":{}}`,
		readGate: make(chan struct{}), editGate: make(chan struct{}), gate: 3}
	var readOnce, editOnce sync.Once
	openRead := func() { readOnce.Do(func() { close(u.readGate) }) }
	openEdit := func() { editOnce.Do(func() { close(u.editGate) }) }
	ts := httptest.NewServer(u)
	t.Cleanup(ts.Close)
	t.Cleanup(func() { openRead(); openEdit() }) // runs first: no handler is left held
	up, err := upstream.New(ts.URL+"/arcgis", upstream.WithHTTPClient(ts.Client()), upstream.WithTokenSource(upstream.StaticToken("t")))
	if err != nil {
		t.Fatal(err)
	}
	ops := operations.New(statestore.NewMemory(), operations.Options{})
	t.Cleanup(func() { _ = ops.Shutdown(context.Background()) })
	opsSrv := operations.NewServer(ops)
	s := &servicesServer{services: up.Services, locks: statestore.NewMemory(), ops: ops}
	const name = "services/World.MapServer"
	update := func(ctx context.Context, key string) <-chan error {
		done := make(chan error, 1)
		go func() {
			op, err := s.UpdateService(ctx, &adminv1.UpdateServiceRequest{
				Service:    &adminv1.Service{Name: name, Properties: map[string]string{key: "set"}},
				UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"properties." + key}},
			})
			for err == nil && !op.GetDone() {
				op, err = opsSrv.WaitOperation(ctx, &longrunningpb.WaitOperationRequest{Name: op.GetName()})
			}
			if err == nil && op.GetError() != nil {
				err = status.ErrorProto(op.GetError())
			}
			done <- err
		}()
		return done
	}

	wDone := update(context.Background(), "w") // reads (checks, then under the lock), then its edit is held
	waitUntil(t, func() bool { r, _ := u.counts(); return r == 2 })
	rDone := make(chan error, 1)
	go func() {
		_, err := s.GetService(context.Background(), &adminv1.GetServiceRequest{Name: name})
		rDone <- err
	}()
	waitUntil(t, func() bool { r, _ := u.counts(); return r == 3 })
	openEdit()
	if err := <-wDone; err != nil {
		t.Fatalf("update w: %v", err)
	}
	bDone := update(context.Background(), "b")
	select {
	case err := <-bDone: // read afresh: done without the held read
		bDone = nil
		if err != nil {
			t.Fatalf("update b: %v", err)
		}
	case <-time.After(time.Second): // it joined the held read: let it finish
	}
	openRead()
	if bDone != nil {
		if err := <-bDone; err != nil {
			t.Fatalf("update b: %v", err)
		}
	}
	if err := <-rDone; err != nil {
		t.Fatalf("GetService: %v", err)
	}
	u.mu.Lock()
	final := u.config
	u.mu.Unlock()
	var cfg struct{ Properties map[string]string }
	if err := json.Unmarshal([]byte(final), &cfg); err != nil {
		t.Fatal(err)
	}
	if cfg.Properties["w"] != "set" || cfg.Properties["b"] != "set" {
		t.Fatalf("upstream holds properties %v, want both w and b", cfg.Properties)
	}
}

// waitUntil polls cond (a test of concurrency, not of time).
func waitUntil(t *testing.T, cond func() bool) {
	t.Helper()
	for i := 0; i < 2000 && !cond(); i++ {
		time.Sleep(time.Millisecond)
	}
	if !cond() {
		t.Fatal("gave up waiting")
	}
}
