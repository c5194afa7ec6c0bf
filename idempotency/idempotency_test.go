package idempotency

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/arcgate/arcgate/internal/testredis"
	"github.com/arcgate/arcgate/statestore"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// The test service, built at run time: Write and Rename take a request
// with a request_id, Read one without.
var (
	testFile                         protoreflect.FileDescriptor
	writeReq, writeResp, readReq     protoreflect.MessageDescriptor
	testTypes                        = new(protoregistry.Types)
	idA, idB                         = "123e4567-e89b-12d3-a456-426614174000", "9b2f1c3e-0d4a-4e5f-8a6b-7c8d9e0f1a2b"
	methodWrite, methodRename, mRead = "/idemtest.v1.Writer/Write", "/idemtest.v1.Writer/Rename", "/idemtest.v1.Writer/Read"
)

func init() {
	str := descriptorpb.FieldDescriptorProto_TYPE_STRING.Enum()
	i64 := descriptorpb.FieldDescriptorProto_TYPE_INT64.Enum()
	opt := descriptorpb.FieldDescriptorProto_LABEL_OPTIONAL.Enum()
	field := func(name string, n int32, typ *descriptorpb.FieldDescriptorProto_Type) *descriptorpb.FieldDescriptorProto {
		return &descriptorpb.FieldDescriptorProto{Name: proto.String(name), Number: proto.Int32(n), Type: typ, Label: opt, JsonName: proto.String(name)}
	}
	fdp := &descriptorpb.FileDescriptorProto{
		Name:    proto.String("idemtest/v1/test.proto"),
		Package: proto.String("idemtest.v1"),
		Syntax:  proto.String("proto3"),
		MessageType: []*descriptorpb.DescriptorProto{
			{Name: proto.String("WriteRequest"), Field: []*descriptorpb.FieldDescriptorProto{field("name", 1, str), field("request_id", 2, str)}},
			{Name: proto.String("WriteResponse"), Field: []*descriptorpb.FieldDescriptorProto{field("name", 1, str), field("serial", 2, i64), field("request_id", 3, str)}},
			{Name: proto.String("ReadRequest"), Field: []*descriptorpb.FieldDescriptorProto{field("name", 1, str)}},
		},
	}
	fd, err := protodesc.NewFile(fdp, nil)
	if err != nil {
		panic(err)
	}
	testFile = fd
	writeReq = fd.Messages().ByName("WriteRequest")
	writeResp = fd.Messages().ByName("WriteResponse")
	readReq = fd.Messages().ByName("ReadRequest")
	for i := 0; i < fd.Messages().Len(); i++ {
		if err := testTypes.RegisterMessage(dynamicpb.NewMessageType(fd.Messages().Get(i))); err != nil {
			panic(err)
		}
	}
}

// newWrite returns a WriteRequest.
func newWrite(name, id string) proto.Message {
	m := dynamicpb.NewMessage(writeReq)
	m.Set(writeReq.Fields().ByName("name"), protoreflect.ValueOfString(name))
	if id != "" {
		m.Set(writeReq.Fields().ByName("request_id"), protoreflect.ValueOfString(id))
	}
	return m
}

func newRead(name string) proto.Message {
	m := dynamicpb.NewMessage(readReq)
	m.Set(readReq.Fields().ByName("name"), protoreflect.ValueOfString(name))
	return m
}

func getString(m proto.Message, name string) string {
	r := m.ProtoReflect()
	return r.Get(r.Descriptor().Fields().ByName(protoreflect.Name(name))).String()
}

func getSerial(m proto.Message) int64 {
	r := m.ProtoReflect()
	return r.Get(r.Descriptor().Fields().ByName("serial")).Int()
}

// harness is two gRPC servers (two replicas) in front of one fake write
// handler that counts its calls. With the memory store both share one
// store; with Redis each has its own client of one database.
type harness struct {
	conns [2]*grpc.ClientConn
	now   atomic.Int64 // the fake clock, Unix nanoseconds

	calls   atomic.Int64 // handler runs
	arrived atomic.Int64 // calls that reached the interceptor with a request id
	// behave answers the n-th handler run (1-based); nil: a response
	// with serial n.
	behave func(ctx context.Context, n int64, req proto.Message) (proto.Message, error)
	// cancelled is signalled when a call's own context ends before its
	// interceptor returns (the caller went).
	cancelled chan struct{}
}

const testTTL = time.Hour

type backend struct {
	name   string
	stores func(t *testing.T) [2]statestore.Store
}

var backends = []backend{
	{"memory", func(*testing.T) [2]statestore.Store {
		m := statestore.NewMemory()
		return [2]statestore.Store{m, m}
	}},
	{"redis", func(t *testing.T) [2]statestore.Store {
		srv := testredis.Start(t)
		var s [2]statestore.Store
		for i := range s {
			st, err := statestore.Open(context.Background(), srv.URL(0))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = st.Close() })
			s[i] = st
		}
		return s
	}},
}

func newHarness(t *testing.T, b backend) *harness {
	t.Helper()
	h := &harness{cancelled: make(chan struct{}, 16)}
	h.now.Store(time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC).UnixNano())
	stores := b.stores(t)
	for i := range h.conns {
		h.conns[i] = h.serve(t, stores[i])
	}
	return h
}

func (h *harness) serve(t *testing.T, store statestore.Store) *grpc.ClientConn {
	ic := Interceptor(store, Options{
		TTL: testTTL,
		Caller: func(ctx context.Context) string {
			h.arrived.Add(1)
			md, _ := metadata.FromIncomingContext(ctx)
			if v := md.Get("x-caller"); len(v) > 0 {
				return v[0]
			}
			return ""
		},
		Now:             func() time.Time { return time.Unix(0, h.now.Load()) },
		Types:           testTypes,
		MaxOutcomeBytes: 4 << 10,
		Logger:          slog.New(slog.DiscardHandler),
	})
	// outer notes a caller that went before its call ended.
	outer := func(ctx context.Context, req any, info *grpc.UnaryServerInfo, next grpc.UnaryHandler) (any, error) {
		stop := context.AfterFunc(ctx, func() { h.cancelled <- struct{}{} })
		defer stop()
		return next(ctx, req)
	}
	s := grpc.NewServer(grpc.ChainUnaryInterceptor(outer, ic))
	handler := func(ctx context.Context, req any) (any, error) {
		n := h.calls.Add(1)
		msg := req.(proto.Message)
		if h.behave != nil {
			return h.behave(ctx, n, msg)
		}
		return response(msg, n), nil
	}
	method := func(name string, in protoreflect.MessageDescriptor) grpc.MethodDesc {
		return grpc.MethodDesc{MethodName: name, Handler: func(srv any, ctx context.Context, dec func(any) error, ic grpc.UnaryServerInterceptor) (any, error) {
			req := dynamicpb.NewMessage(in)
			if err := dec(req); err != nil {
				return nil, err
			}
			return ic(ctx, req, &grpc.UnaryServerInfo{Server: srv, FullMethod: "/idemtest.v1.Writer/" + name}, handler)
		}}
	}
	s.RegisterService(&grpc.ServiceDesc{
		ServiceName: "idemtest.v1.Writer",
		HandlerType: (*any)(nil),
		Methods:     []grpc.MethodDesc{method("Write", writeReq), method("Rename", writeReq), method("Read", readReq)},
		Metadata:    testFile.Path(),
	}, struct{}{})
	lis := bufconn.Listen(1 << 20)
	go func() { _ = s.Serve(lis) }()
	t.Cleanup(s.Stop)
	conn, err := grpc.NewClient("passthrough:///bufnet",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return conn
}

// response is the handler's answer to req on its n-th run.
func response(req proto.Message, n int64) proto.Message {
	resp := dynamicpb.NewMessage(writeResp)
	resp.Set(writeResp.Fields().ByName("name"), protoreflect.ValueOfString(getString(req, "name")))
	resp.Set(writeResp.Fields().ByName("serial"), protoreflect.ValueOfInt64(n))
	if req.ProtoReflect().Descriptor() == writeReq {
		resp.Set(writeResp.Fields().ByName("request_id"), protoreflect.ValueOfString(getString(req, "request_id")))
	}
	return resp
}

// result is what a call returned.
type result struct {
	resp   proto.Message
	err    error
	replay bool
}

// call makes a call on replica r (0 or 1) as caller (none if ""), with
// the given extra metadata pairs.
func (h *harness) call(ctx context.Context, r int, method, caller string, req proto.Message, md ...string) result {
	if caller != "" {
		md = append(md, "x-caller", caller)
	}
	ctx = metadata.AppendToOutgoingContext(ctx, md...)
	resp := dynamicpb.NewMessage(writeResp)
	var hdr metadata.MD
	err := h.conns[r].Invoke(ctx, method, req, resp, grpc.Header(&hdr))
	res := result{err: err, replay: len(hdr.Get(ReplayHeader)) > 0 && hdr.Get(ReplayHeader)[0] == "true"}
	if err == nil {
		res.resp = resp
	}
	return res
}

func (h *harness) mustCall(t *testing.T, r int, method, caller string, req proto.Message, md ...string) result {
	t.Helper()
	res := h.call(context.Background(), r, method, caller, req, md...)
	if res.err != nil {
		t.Fatalf("%s: %v", method, res.err)
	}
	return res
}

func (h *harness) wantCalls(t *testing.T, want int64) {
	t.Helper()
	if got := h.calls.Load(); got != want {
		t.Errorf("handler ran %d times, want %d", got, want)
	}
}

// wantInvalidRequestID checks that err is INVALID_ARGUMENT naming
// request_id in a BadRequest and an ErrorInfo.
func wantInvalidRequestID(t *testing.T, err error) {
	t.Helper()
	st := status.Convert(err)
	if st.Code() != codes.InvalidArgument {
		t.Fatalf("got %v, want INVALID_ARGUMENT", err)
	}
	var field, reason string
	for _, d := range st.Details() {
		switch d := d.(type) {
		case *errdetails.BadRequest:
			if len(d.FieldViolations) > 0 {
				field = d.FieldViolations[0].Field
			}
		case *errdetails.ErrorInfo:
			if d.Domain == "arcgate.admin.v1" {
				reason = d.Reason
			}
		}
	}
	if field != "request_id" || reason != "INVALID_ARGUMENT" {
		t.Errorf("details: field %q, reason %q; want request_id, INVALID_ARGUMENT (%v)", field, reason, err)
	}
}

func TestInterceptor(t *testing.T) {
	tests := []struct {
		name string
		run  func(t *testing.T, h *harness)
	}{
		{"same id same request runs once", func(t *testing.T, h *harness) {
			first := h.mustCall(t, 0, methodWrite, "alice", newWrite("a", idA))
			for r := range 2 { // on either replica
				again := h.mustCall(t, r, methodWrite, "alice", newWrite("a", idA))
				if !proto.Equal(again.resp, first.resp) {
					t.Errorf("repeat on replica %d got %v, want %v", r, again.resp, first.resp)
				}
				if !again.replay {
					t.Errorf("repeat on replica %d has no %s header", r, ReplayHeader)
				}
			}
			if first.replay {
				t.Errorf("first call has the %s header", ReplayHeader)
			}
			h.wantCalls(t, 1)
		}},
		{"upper-case id is the same id", func(t *testing.T, h *harness) {
			h.mustCall(t, 0, methodWrite, "alice", newWrite("a", idA))
			if res := h.mustCall(t, 1, methodWrite, "alice", newWrite("a", "123E4567-E89B-12D3-A456-426614174000")); !res.replay {
				t.Error("not a replay")
			}
			h.wantCalls(t, 1)
		}},
		{"same id different request", func(t *testing.T, h *harness) {
			h.mustCall(t, 0, methodWrite, "alice", newWrite("a", idA))
			wantInvalidRequestID(t, h.call(context.Background(), 1, methodWrite, "alice", newWrite("b", idA)).err)
			h.wantCalls(t, 1)
		}},
		{"same id other method", func(t *testing.T, h *harness) {
			h.mustCall(t, 0, methodWrite, "alice", newWrite("a", idA))
			wantInvalidRequestID(t, h.call(context.Background(), 0, methodRename, "alice", newWrite("a", idA)).err)
			h.wantCalls(t, 1)
		}},
		{"different callers same id are independent", func(t *testing.T, h *harness) {
			a := h.mustCall(t, 0, methodWrite, "alice", newWrite("a", idA))
			b := h.mustCall(t, 0, methodWrite, "bob", newWrite("b", idA)) // another request: still fine
			c := h.mustCall(t, 0, methodWrite, "", newWrite("a", idA))    // anonymous
			if getSerial(a.resp) == getSerial(b.resp) || getSerial(b.resp) == getSerial(c.resp) || b.replay || c.replay {
				t.Errorf("callers share outcomes: %v %v %v", a.resp, b.resp, c.resp)
			}
			h.wantCalls(t, 3)
		}},
		{"concurrent repeats wait for the first", func(t *testing.T, h *harness) {
			const n = 8
			gate := make(chan struct{})
			h.behave = func(_ context.Context, k int64, req proto.Message) (proto.Message, error) {
				<-gate
				return response(req, k), nil
			}
			results := make([]result, n)
			var wg sync.WaitGroup
			for i := range n {
				wg.Go(func() { results[i] = h.call(context.Background(), i%2, methodWrite, "alice", newWrite("a", idA)) })
			}
			// Every call has reached the interceptor before the first
			// one's handler may finish.
			for h.arrived.Load() < n {
				time.Sleep(time.Millisecond)
			}
			close(gate)
			wg.Wait()
			replays := 0
			for i, r := range results {
				if r.err != nil {
					t.Fatalf("call %d: %v", i, r.err)
				}
				if getSerial(r.resp) != 1 {
					t.Errorf("call %d got %v, want serial 1", i, r.resp)
				}
				if r.replay {
					replays++
				}
			}
			if replays != n-1 {
				t.Errorf("%d replays, want %d", replays, n-1)
			}
			h.wantCalls(t, 1)
		}},
		{"caller gone mid-call", func(t *testing.T, h *harness) {
			entered, gate := make(chan struct{}), make(chan struct{})
			var handlerErr error
			done := make(chan struct{})
			h.behave = func(ctx context.Context, k int64, req proto.Message) (proto.Message, error) {
				defer close(done)
				close(entered)
				<-gate
				handlerErr = ctx.Err() // the write was not aborted
				return response(req, k), nil
			}
			ctx, cancel := context.WithCancel(context.Background())
			first := make(chan result, 1)
			go func() { first <- h.call(ctx, 0, methodWrite, "alice", newWrite("a", idA)) }()
			<-entered
			cancel()
			if res := <-first; status.Code(res.err) != codes.Canceled {
				t.Fatalf("first call: %v, want CANCELED", res.err)
			}
			<-h.cancelled // the server saw the caller go
			close(gate)
			// The retry waits for the first handler and gets its outcome.
			res := h.mustCall(t, 1, methodWrite, "alice", newWrite("a", idA))
			<-done
			if handlerErr != nil {
				t.Errorf("the handler's context ended with its caller: %v", handlerErr)
			}
			if !res.replay || getSerial(res.resp) != 1 {
				t.Errorf("retry got %v (replay %v), want the first outcome, serial 1", res.resp, res.replay)
			}
			h.wantCalls(t, 1)
		}},
		{"caller gone while waiting runs nothing", func(t *testing.T, h *harness) {
			entered, gate := make(chan struct{}), make(chan struct{})
			h.behave = func(_ context.Context, k int64, req proto.Message) (proto.Message, error) {
				if k == 1 {
					close(entered)
					<-gate
				}
				return response(req, k), nil
			}
			first := make(chan result, 1)
			go func() { first <- h.call(context.Background(), 0, methodWrite, "alice", newWrite("a", idA)) }()
			<-entered
			ctx, cancel := context.WithCancel(context.Background())
			waiter := make(chan result, 1)
			go func() { waiter <- h.call(ctx, 1, methodWrite, "alice", newWrite("a", idA)) }()
			for h.arrived.Load() < 2 {
				time.Sleep(time.Millisecond)
			}
			cancel()
			if res := <-waiter; status.Code(res.err) != codes.Canceled {
				t.Errorf("waiter: %v, want CANCELED", res.err)
			}
			close(gate)
			if res := <-first; res.err != nil {
				t.Fatal(res.err)
			}
			h.wantCalls(t, 1)
		}},
		{"outcome expires after the TTL", func(t *testing.T, h *harness) {
			h.mustCall(t, 0, methodWrite, "alice", newWrite("a", idA))
			h.now.Add(int64(testTTL - time.Second))
			if res := h.mustCall(t, 0, methodWrite, "alice", newWrite("a", idA)); !res.replay {
				t.Error("repeat within the TTL ran again")
			}
			h.now.Add(int64(time.Second))
			res := h.mustCall(t, 1, methodWrite, "alice", newWrite("b", idA)) // expired: even another request
			if res.replay || getSerial(res.resp) != 2 {
				t.Errorf("after the TTL got %v (replay %v), want a new run", res.resp, res.replay)
			}
			h.wantCalls(t, 2)
		}},
		{"invalid request ids", func(t *testing.T, h *harness) {
			for _, id := range []string{"x", "123e4567e89b12d3a456426614174000", "123e4567-e89b-12d3-a456-42661417400g", "{123e4567-e89b-12d3-a456-426614174000}", "123e4567-e89b-12d3-a456_426614174000"} {
				wantInvalidRequestID(t, h.call(context.Background(), 0, methodWrite, "alice", newWrite("a", id)).err)
				wantInvalidRequestID(t, h.call(context.Background(), 0, methodWrite, "alice", newWrite("a", ""), MetadataKey, id).err)
			}
			wantInvalidRequestID(t, h.call(context.Background(), 0, methodWrite, "alice", newWrite("a", idA), MetadataKey, idB).err)
			h.wantCalls(t, 0)
		}},
		{"Idempotency-Key metadata fills request_id", func(t *testing.T, h *harness) {
			first := h.mustCall(t, 0, methodWrite, "alice", newWrite("a", ""), MetadataKey, idA)
			if got := getString(first.resp, "request_id"); got != idA {
				t.Errorf("the handler saw request_id %q, want %q", got, idA)
			}
			// The field and the metadata are one id.
			if res := h.mustCall(t, 1, methodWrite, "alice", newWrite("a", idA)); !res.replay {
				t.Error("the field did not find the metadata's outcome")
			}
			if res := h.mustCall(t, 1, methodWrite, "alice", newWrite("a", idA), MetadataKey, idA); !res.replay {
				t.Error("field and metadata both set did not find the outcome")
			}
			h.wantCalls(t, 1)
		}},
		{"no request id passes through", func(t *testing.T, h *harness) {
			h.mustCall(t, 0, methodWrite, "alice", newWrite("a", ""))
			h.mustCall(t, 0, methodWrite, "alice", newWrite("a", ""))
			// A request without a request_id field is not covered, even
			// with the metadata (Options.IsMutation unset).
			h.mustCall(t, 0, mRead, "alice", newRead("a"), MetadataKey, idA)
			h.mustCall(t, 0, mRead, "alice", newRead("a"), MetadataKey, idA)
			h.wantCalls(t, 4)
		}},
		{"transient errors are not kept", func(t *testing.T, h *harness) {
			errs := []error{
				status.Error(codes.Unavailable, "upstream unavailable"),
				status.Error(codes.ResourceExhausted, "rate limited"),
				status.Error(codes.DeadlineExceeded, "outcome unknown"),
				status.Error(codes.InvalidArgument, "name: bad"),
				errors.New("not a status"), // UNKNOWN: kept
			}
			h.behave = func(_ context.Context, k int64, req proto.Message) (proto.Message, error) {
				if int(k) <= len(errs) {
					return nil, errs[k-1]
				}
				return response(req, k), nil
			}
			for i, want := range errs {
				if res := h.call(context.Background(), i%2, methodWrite, "alice", newWrite("a", idA)); status.Code(res.err) != status.Code(want) || res.replay {
					t.Fatalf("run %d: %v (replay %v), want %v", i+1, res.err, res.replay, want)
				}
			}
			// UNKNOWN was final: kept.
			res := h.call(context.Background(), 0, methodWrite, "alice", newWrite("a", idA))
			if status.Code(res.err) != codes.Unknown || !res.replay {
				t.Errorf("after a final error: %v (replay %v), want the kept UNKNOWN", res.err, res.replay)
			}
			h.wantCalls(t, int64(len(errs)))
		}},
		{"an outcome over the size bound is not kept", func(t *testing.T, h *harness) {
			big := strings.Repeat("x", 8<<10)
			h.mustCall(t, 0, methodWrite, "alice", newWrite(big, idA))
			if res := h.mustCall(t, 1, methodWrite, "alice", newWrite(big, idA)); res.replay {
				t.Error("an outcome over MaxOutcomeBytes was replayed")
			}
			h.wantCalls(t, 2)
		}},
		{"final errors are kept with their details", func(t *testing.T, h *harness) {
			h.behave = func(context.Context, int64, proto.Message) (proto.Message, error) {
				st, _ := status.New(codes.NotFound, "service a not found").WithDetails(&errdetails.ErrorInfo{Domain: "arcgate.admin.v1", Reason: "NOT_FOUND"})
				return nil, st.Err()
			}
			first := h.call(context.Background(), 0, methodWrite, "alice", newWrite("a", idA))
			again := h.call(context.Background(), 1, methodWrite, "alice", newWrite("a", idA))
			if !again.replay || !proto.Equal(status.Convert(again.err).Proto(), status.Convert(first.err).Proto()) {
				t.Errorf("repeat got %v (replay %v), want %v", again.err, again.replay, first.err)
			}
			h.wantCalls(t, 1)
		}},
	}
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			for _, tc := range tests {
				t.Run(tc.name, func(t *testing.T) { tc.run(t, newHarness(t, b)) })
			}
		})
	}
}

func TestIsUUID(t *testing.T) {
	for s, want := range map[string]bool{
		idA:                                     true,
		"00000000-0000-0000-0000-000000000000":  true,
		"ABCDEFAB-CDEF-ABCD-EFAB-CDEFABCDEFAB":  true,
		"":                                      false,
		"123e4567-e89b-12d3-a456-4266141740000": false,
		"123e4567-e89b-12d3-a456+426614174000":  false,
		"123e4567-e89b-12d3-a456-42661417400z":  false,
	} {
		if got := isUUID(s); got != want {
			t.Errorf("isUUID(%q) = %v, want %v", s, got, want)
		}
	}
}
