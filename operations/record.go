package operations

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"cloud.google.com/go/longrunning/autogen/longrunningpb"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/timestamppb"

	adminv1 "github.com/arcgate/arcgate/gen/go/arcgate/admin/v1"
	"github.com/arcgate/arcgate/statestore"
)

// namePrefix starts every operation's name.
const namePrefix = "operations/"

// Keys in the state store: an operation's record, its runner's lease, and
// the lock that serialises the record's read-modify-writes.
func recordKey(id string) string { return "op/" + id }
func leaseKey(id string) string  { return "oplease/" + id }
func lockKey(id string) string   { return "operation:" + id }

// recordPrefix is the prefix of every operation's record key.
const recordPrefix = "op/"

// record is an operation as stored: the Operation (its metadata unpacked
// in md), who may see it, and when its work's timeout ends.
type record struct {
	Caller   string
	Deadline time.Time
	// NotCancellable is why the work cannot be cancelled any more
	// (Progress.EndCancel), for CancelOperation's answer.
	NotCancellable string
	op             *longrunningpb.Operation // Metadata is packed from md on encode
	md             *adminv1.OperationMetadata
}

// storedRecord is record's JSON form.
type storedRecord struct {
	V        int       `json:"v"`
	Caller   string    `json:"caller,omitempty"`
	Deadline time.Time `json:"deadline"`
	Op       []byte    `json:"op"` // longrunningpb.Operation, proto wire format
	// NotCancellable: record.NotCancellable.
	NotCancellable string `json:"notCancellable,omitempty"`
}

func (r *record) encode() ([]byte, error) {
	op, err := r.operation()
	if err != nil {
		return nil, err
	}
	b, err := proto.Marshal(op)
	if err != nil {
		return nil, err
	}
	return json.Marshal(storedRecord{V: 1, Caller: r.Caller, Deadline: r.Deadline, Op: b, NotCancellable: r.NotCancellable})
}

func decodeRecord(b []byte) (*record, error) {
	var s storedRecord
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, err
	}
	if s.V != 1 {
		return nil, fmt.Errorf("operation record of unknown version %d", s.V)
	}
	op := &longrunningpb.Operation{}
	if err := proto.Unmarshal(s.Op, op); err != nil {
		return nil, err
	}
	md := &adminv1.OperationMetadata{}
	if op.GetMetadata() != nil {
		if err := op.GetMetadata().UnmarshalTo(md); err != nil {
			return nil, err
		}
	}
	return &record{Caller: s.Caller, Deadline: s.Deadline, NotCancellable: s.NotCancellable, op: op, md: md}, nil
}

// operation returns a copy of the Operation with its metadata packed.
func (r *record) operation() (*longrunningpb.Operation, error) {
	op := proto.Clone(r.op).(*longrunningpb.Operation)
	a, err := anypb.New(r.md)
	if err != nil {
		return nil, err
	}
	op.Metadata = a
	return op, nil
}

// load reads operation id's record.
func (m *Manager) load(ctx context.Context, id string) (*record, error) {
	b, err := m.store.Get(ctx, recordKey(id))
	if err != nil {
		return nil, err
	}
	return decodeRecord(b)
}

// errDone is update's error for an operation that is already done.
var errDone = errors.New("operations: operation already done")

// update changes operation id's record under its lock: fn changes rec and
// reports whether it did (then the record is written, its update_time
// set). A done operation is not changed: update returns it with errDone.
func (m *Manager) update(ctx context.Context, id string, fn func(rec *record) bool) (*record, error) {
	held, unlock, err := m.store.Lock(ctx, lockKey(id))
	if err != nil {
		return nil, err
	}
	defer unlock()
	rec, err := m.load(held, id)
	if err != nil {
		return nil, err
	}
	if rec.op.GetDone() {
		return rec, errDone
	}
	if !fn(rec) {
		return rec, nil
	}
	rec.md.UpdateTime = timestamppb.New(m.opts.Now())
	b, err := rec.encode()
	if err != nil {
		return nil, err
	}
	ttl := m.runningTTL(rec)
	if rec.op.GetDone() {
		ttl = m.opts.Retention
	}
	if err := m.store.Put(held, recordKey(id), b, ttl); err != nil {
		return nil, err
	}
	return rec, nil
}

// get reads operation id, finishing it as outcome unknown if its runner
// is gone (not done, run by no Manager of this process, lease lapsed).
func (m *Manager) get(ctx context.Context, id string) (*record, error) {
	rec, err := m.load(ctx, id)
	if err != nil || rec.op.GetDone() || m.local(id) != nil {
		return rec, err
	}
	alive, err := m.leaseAlive(ctx, id)
	if err != nil || alive {
		return rec, err
	}
	return m.finishDead(ctx, id)
}

func (m *Manager) leaseAlive(ctx context.Context, id string) (bool, error) {
	_, err := m.store.Get(ctx, leaseKey(id))
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, statestore.ErrNotFound):
		return false, nil
	}
	return false, err
}

// finishDead records operation id, whose runner's lease lapsed, as failed
// with the reason UPSTREAM_OUTCOME_UNKNOWN, unless it finished or its
// lease came back meanwhile.
func (m *Manager) finishDead(ctx context.Context, id string) (*record, error) {
	var leaseErr error
	died := false
	rec, err := m.update(ctx, id, func(rec *record) bool {
		alive, err := m.leaseAlive(ctx, id)
		if err != nil || alive {
			leaseErr = err
			return false
		}
		died = true
		target := rec.md.GetTarget()
		st := newStatus(codes.Unavailable, reasonOutcomeUnknown,
			"the arcgate replica running this operation stopped before it finished; it may or may not have taken effect: read "+target+" to check",
			map[string]string{"resource": target})
		rec.md.Cancellable = false
		rec.md.EndTime = timestamppb.New(m.opts.Now())
		rec.op.Done = true
		rec.op.Result = &longrunningpb.Operation_Error{Error: st.Proto()}
		return true
	})
	if errors.Is(err, errDone) {
		return rec, nil
	}
	if err == nil && leaseErr != nil {
		err = leaseErr
	}
	if err == nil && died {
		m.opts.Logger.Warn("operation finished as outcome unknown: its runner's lease lapsed", "operation", namePrefix+id, "target", rec.md.GetTarget())
	}
	return rec, err
}
