package operations

import (
	"cmp"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"cloud.google.com/go/longrunning/autogen/longrunningpb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"

	adminv1 "github.com/arcgate/arcgate/gen/go/arcgate/admin/v1"
	"github.com/arcgate/arcgate/statestore"
)

// Page sizes of ListOperations.
const (
	defaultPageSize = 50
	maxPageSize     = 500
	maxFilterLen    = 1024
)

// Server serves google.longrunning.Operations over a Manager's operations:
//
//   - GetOperation returns an operation.
//   - ListOperations lists them, newest first, paged (page_size default 50,
//     at most 500); `name` must be empty or "operations". The filter is
//     empty or terms joined by AND: target="RESOURCE", verb="VERB",
//     done=true or done=false (strings in double quotes, Go escapes),
//     e.g. `target="services/Roads.MapServer" AND done=false`.
//   - WaitOperation waits until the operation is done or `timeout` passes
//     (unset: Options.MaxWait), stopping shortly before the call's
//     deadline, and returns the operation as it then is (done or not).
//   - DeleteOperation forgets a done operation; a running one is
//     FAILED_PRECONDITION (the standard method does not cancel).
//   - CancelOperation asks a cancellable operation's work to stop
//     (metadata `cancellable`); it returns at once, and the operation ends
//     CANCELLED if the work could stop. An operation that is not
//     cancellable, or already done, is FAILED_PRECONDITION (reason
//     FAILED_PRECONDITION; the message says why when the work said so,
//     see Progress.EndCancel).
//
// An operation a caller may not see (Options.CallerOf) is NOT_FOUND for
// it. Every operation that is not done and whose runner's lease lapsed is
// first finished as outcome unknown (see the package comment).
type Server struct {
	longrunningpb.UnimplementedOperationsServer
	m *Manager
}

var _ longrunningpb.OperationsServer = (*Server)(nil)

// NewServer returns the Operations service of m's operations.
func NewServer(m *Manager) *Server { return &Server{m: m} }

// idPattern is an operation id: a UUID as newID writes it.
var idPattern = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

// parseName returns the id of an operation name, or INVALID_ARGUMENT
// naming field.
func parseName(field, name string) (string, error) {
	id, ok := strings.CutPrefix(name, namePrefix)
	if !ok || !idPattern.MatchString(id) {
		shown := name
		if len(shown) > 80 {
			shown = shown[:80] + "..."
		}
		return "", invalidArgument(field, "must be operations/{id}, got "+strconv.Quote(shown))
	}
	return id, nil
}

// visible reports whether the caller of ctx may see rec.
func (m *Manager) visible(ctx context.Context, rec *record) bool {
	if m.opts.CallerOf == nil {
		return true
	}
	caller, all := m.opts.CallerOf(ctx)
	return all || rec.Caller == caller
}

// lookup reads a visible operation by name (finishing it if its runner is
// gone), with the errors the methods return.
func (m *Manager) lookup(ctx context.Context, name string) (string, *record, error) {
	id, err := parseName("name", name)
	if err != nil {
		return "", nil, err
	}
	rec, err := m.get(ctx, id)
	switch {
	case errors.Is(err, statestore.ErrNotFound):
		return "", nil, notFound(name)
	case err != nil:
		return "", nil, storeError(ctx, err, "read the operation")
	case !m.visible(ctx, rec):
		return "", nil, notFound(name)
	}
	return id, rec, nil
}

// storeError is the error of a call whose store access failed: the call's
// own end, or UNAVAILABLE.
func storeError(ctx context.Context, err error, what string) error {
	if ctx.Err() != nil {
		return status.FromContextError(ctx.Err()).Err()
	}
	if _, ok := status.FromError(err); ok && status.Code(err) != codes.Unknown {
		return err
	}
	return storeUnavailable(what)
}

// GetOperation implements longrunningpb.OperationsServer.
func (s *Server) GetOperation(ctx context.Context, req *longrunningpb.GetOperationRequest) (*longrunningpb.Operation, error) {
	_, rec, err := s.m.lookup(ctx, req.GetName())
	if err != nil {
		return nil, err
	}
	return packed(rec)
}

func packed(rec *record) (*longrunningpb.Operation, error) {
	op, err := rec.operation()
	if err != nil {
		return nil, status.Error(codes.Internal, "the operation could not be read")
	}
	return op, nil
}

// filter is a parsed ListOperations filter; nil fields match anything.
type filter struct {
	target, verb *string
	done         *bool
}

var (
	andSplit   = regexp.MustCompile(`\s+AND\s+`)
	filterTerm = regexp.MustCompile(`^\s*([a-z]+)\s*=\s*(.*?)\s*$`)
)

// parseFilter parses ListOperations' filter (see Server).
func parseFilter(s string) (filter, error) {
	var f filter
	if strings.TrimSpace(s) == "" {
		return f, nil
	}
	if len(s) > maxFilterLen {
		return f, invalidArgument("filter", "is longer than "+strconv.Itoa(maxFilterLen)+" bytes")
	}
	const want = `want terms target="...", verb="..." or done=true|false joined by AND`
	for _, term := range andSplit.Split(strings.TrimSpace(s), -1) {
		m := filterTerm.FindStringSubmatch(term)
		if m == nil {
			return f, invalidArgument("filter", "cannot parse "+strconv.Quote(term)+": "+want)
		}
		key, val := m[1], m[2]
		dup := invalidArgument("filter", key+" appears twice")
		switch key {
		case "target", "verb":
			v, err := strconv.Unquote(val)
			if err != nil || !strings.HasPrefix(val, `"`) {
				return f, invalidArgument("filter", key+" must be a string in double quotes, got "+val)
			}
			p := &f.target
			if key == "verb" {
				p = &f.verb
			}
			if *p != nil {
				return f, dup
			}
			*p = &v
		case "done":
			if f.done != nil {
				return f, dup
			}
			b, err := strconv.ParseBool(val)
			if err != nil || (val != "true" && val != "false") {
				return f, invalidArgument("filter", "done must be true or false, got "+val)
			}
			f.done = &b
		default:
			return f, invalidArgument("filter", "unknown field "+strconv.Quote(key)+": "+want)
		}
	}
	return f, nil
}

func (f filter) match(rec *record) bool {
	return (f.target == nil || *f.target == rec.md.GetTarget()) &&
		(f.verb == nil || *f.verb == rec.md.GetVerb()) &&
		(f.done == nil || *f.done == rec.op.GetDone())
}

// pageToken is where the next page starts: after the operation created at
// T named N, in the listing's order, for the same filter.
type pageToken struct {
	Filter string `json:"f"`
	T      int64  `json:"t"`
	N      string `json:"n"`
}

func (p pageToken) encode() string {
	b, _ := json.Marshal(p)
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodePageToken(s, filter string) (pageToken, error) {
	var p pageToken
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err == nil {
		err = json.Unmarshal(b, &p)
	}
	if err != nil || p.N == "" {
		return p, invalidArgument("page_token", "is not a page token of ListOperations")
	}
	if p.Filter != filter {
		return p, invalidArgument("page_token", "was issued for another filter")
	}
	return p, nil
}

// ListOperations implements longrunningpb.OperationsServer.
func (s *Server) ListOperations(ctx context.Context, req *longrunningpb.ListOperationsRequest) (*longrunningpb.ListOperationsResponse, error) {
	if n := req.GetName(); n != "" && n != "operations" {
		return nil, invalidArgument("name", `must be empty or "operations"`)
	}
	f, err := parseFilter(req.GetFilter())
	if err != nil {
		return nil, err
	}
	size := int(req.GetPageSize())
	switch {
	case size < 0:
		return nil, invalidArgument("page_size", "must not be negative")
	case size == 0:
		size = defaultPageSize
	case size > maxPageSize:
		size = maxPageSize
	}
	var after *pageToken
	if t := req.GetPageToken(); t != "" {
		p, err := decodePageToken(t, req.GetFilter())
		if err != nil {
			return nil, err
		}
		after = &p
	}
	m := s.m
	keys, err := m.store.Keys(ctx, recordPrefix)
	if err != nil {
		return nil, storeError(ctx, err, "list the operations")
	}
	var recs []*record
	for _, k := range keys {
		id := strings.TrimPrefix(k, recordPrefix)
		rec, err := m.get(ctx, id)
		switch {
		case errors.Is(err, statestore.ErrNotFound):
			continue // deleted or expired since Keys
		case err != nil && ctx.Err() != nil:
			return nil, storeError(ctx, err, "list the operations")
		case err != nil:
			m.opts.Logger.WarnContext(ctx, "operation record skipped in a listing", "operation", namePrefix+id, "error", err)
			continue
		}
		if m.visible(ctx, rec) && f.match(rec) {
			recs = append(recs, rec)
		}
	}
	// Newest first, then by name.
	order := func(a, b *record) int {
		if c := cmp.Compare(b.md.GetCreateTime().AsTime().UnixNano(), a.md.GetCreateTime().AsTime().UnixNano()); c != 0 {
			return c
		}
		return cmp.Compare(a.op.GetName(), b.op.GetName())
	}
	slices.SortFunc(recs, order)
	if after != nil {
		i, _ := slices.BinarySearchFunc(recs, after, func(r *record, p *pageToken) int {
			if c := cmp.Compare(p.T, r.md.GetCreateTime().AsTime().UnixNano()); c != 0 {
				return c
			}
			return cmp.Compare(r.op.GetName(), p.N)
		})
		for i < len(recs) && recs[i].md.GetCreateTime().AsTime().UnixNano() == after.T && recs[i].op.GetName() <= after.N {
			i++
		}
		recs = recs[i:]
	}
	resp := &longrunningpb.ListOperationsResponse{}
	if len(recs) > size {
		last := recs[size-1]
		resp.NextPageToken = pageToken{Filter: req.GetFilter(), T: last.md.GetCreateTime().AsTime().UnixNano(), N: last.op.GetName()}.encode()
		recs = recs[:size]
	}
	for _, rec := range recs {
		op, err := packed(rec)
		if err != nil {
			return nil, err
		}
		resp.Operations = append(resp.Operations, op)
	}
	return resp, nil
}

// WaitOperation implements longrunningpb.OperationsServer.
func (s *Server) WaitOperation(ctx context.Context, req *longrunningpb.WaitOperationRequest) (*longrunningpb.Operation, error) {
	m := s.m
	if _, err := parseName("name", req.GetName()); err != nil {
		return nil, err
	}
	wait := m.opts.MaxWait
	if t := req.GetTimeout(); t != nil {
		if err := t.CheckValid(); err != nil || t.AsDuration() < 0 {
			return nil, invalidArgument("timeout", "must be a non-negative duration")
		}
		wait = t.AsDuration()
	}
	end := time.Now().Add(wait)
	if dl, ok := ctx.Deadline(); ok {
		// Answer with the operation as it is shortly before the deadline,
		// rather than with DEADLINE_EXCEEDED.
		margin := min(time.Until(dl)/10, 500*time.Millisecond)
		if d := dl.Add(-margin); d.Before(end) {
			end = d
		}
	}
	pause := 50 * time.Millisecond
	for {
		id, rec, err := m.lookup(ctx, req.GetName())
		if err != nil {
			return nil, err
		}
		left := time.Until(end)
		if rec.op.GetDone() || left <= 0 {
			return packed(rec)
		}
		var done <-chan struct{}
		if r := m.local(id); r != nil {
			done = r.done
		}
		t := time.NewTimer(min(pause, left))
		select {
		case <-done:
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return nil, status.FromContextError(ctx.Err()).Err()
		}
		t.Stop()
		pause = min(2*pause, m.opts.PollInterval)
	}
}

// DeleteOperation implements longrunningpb.OperationsServer.
func (s *Server) DeleteOperation(ctx context.Context, req *longrunningpb.DeleteOperationRequest) (*emptypb.Empty, error) {
	m := s.m
	id, rec, err := m.lookup(ctx, req.GetName())
	if err != nil {
		return nil, err
	}
	if !rec.op.GetDone() {
		return nil, newStatus(codes.FailedPrecondition, reasonFailedPrecondition,
			req.GetName()+" is still running: only a done operation can be deleted", map[string]string{"resource": req.GetName()}).Err()
	}
	if err := m.store.Delete(ctx, recordKey(id)); err != nil {
		return nil, storeError(ctx, err, "delete the operation")
	}
	return &emptypb.Empty{}, nil
}

// CancelOperation implements longrunningpb.OperationsServer.
func (s *Server) CancelOperation(ctx context.Context, req *longrunningpb.CancelOperationRequest) (*emptypb.Empty, error) {
	m := s.m
	id, rec, err := m.lookup(ctx, req.GetName())
	if err != nil {
		return nil, err
	}
	md := map[string]string{"resource": req.GetName()}
	if rec.op.GetDone() {
		return nil, newStatus(codes.FailedPrecondition, reasonFailedPrecondition, req.GetName()+" is already done", md).Err()
	}
	notCancellable := func(why string) error {
		msg := "this operation cannot be cancelled (its work cannot be stopped now, see metadata.cancellable)"
		if why != "" {
			msg = "this operation cannot be cancelled: " + why
		}
		return newStatus(codes.FailedPrecondition, reasonFailedPrecondition, msg, md).Err()
	}
	r := m.local(id)
	if r != nil {
		// Decided by the runner, under its lock (see Progress.EndCancel);
		// the record then shows the request.
		if !r.tryCancel() {
			return nil, notCancellable(r.notCancellableWhy())
		}
		_, err = m.update(ctx, id, func(rec *record) bool {
			rec.md.RequestedCancellation = true
			return true
		})
		if err != nil && !errors.Is(err, errDone) {
			m.opts.Logger.WarnContext(ctx, "cancellation not recorded: the state store did not answer; the runner records it when the operation ends", "operation", req.GetName(), "error", err)
		}
		return &emptypb.Empty{}, nil
	}
	why, refused := "", false
	_, err = m.update(ctx, id, func(rec *record) bool {
		if !rec.md.GetCancellable() {
			why, refused = rec.NotCancellable, true
			return false
		}
		rec.md.RequestedCancellation = true
		return true
	})
	switch {
	case errors.Is(err, errDone):
		return nil, newStatus(codes.FailedPrecondition, reasonFailedPrecondition, req.GetName()+" is already done", md).Err()
	case errors.Is(err, statestore.ErrNotFound):
		return nil, notFound(req.GetName())
	case err != nil:
		return nil, storeError(ctx, err, "cancel the operation")
	case refused:
		return nil, notCancellable(why)
	}
	// Another replica's runner sees the request at its next lease renewal.
	return &emptypb.Empty{}, nil
}

// MethodScopes returns the scope each method of the Operations service
// requires, keyed by full gRPC method name, for the caller guard (the
// standard service declares none): reading and waiting need read,
// cancelling and deleting need write. A caller sees only its own
// operations unless Options.CallerOf says it sees all.
func MethodScopes() map[string]adminv1.Scope {
	const svc = "/google.longrunning.Operations/"
	return map[string]adminv1.Scope{
		svc + "GetOperation":    adminv1.Scope_SCOPE_READ,
		svc + "ListOperations":  adminv1.Scope_SCOPE_READ,
		svc + "WaitOperation":   adminv1.Scope_SCOPE_READ,
		svc + "CancelOperation": adminv1.Scope_SCOPE_WRITE,
		svc + "DeleteOperation": adminv1.Scope_SCOPE_WRITE,
	}
}
