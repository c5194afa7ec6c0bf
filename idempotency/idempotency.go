// Package idempotency makes mutating calls safe to retry (AIP-155): a
// request carries a request id (a UUID, in its request_id field or, for
// REST callers, in the Idempotency-Key header, which the gateway forwards
// as idempotency-key metadata), and the first outcome of a caller's
// request id is kept for a while (default 24 h). A repeat of the same
// request with the same id gets that outcome without the handler, and so
// the upstream, being called again; the same id with a different request
// is INVALID_ARGUMENT; a repeat that arrives while the first call still
// runs waits for it and gets its outcome.
//
// Interceptor is the mechanism, a gRPC unary server interceptor. It keeps
// the outcomes in a statestore.Store (records with a time to live) and
// serialises the calls of one request id with the store's locks, so that
// replicas sharing a Redis store share both. The handler of a call with a
// request id runs detached from the caller's cancellation: a caller that
// disconnects mid-call does not abort the write, whose outcome is still
// kept for the retry.
//
// Layering: idempotency imports statestore, gRPC, protobuf (with the
// google.rpc status and error details) and the generated error reasons
// only; it knows nothing of arcgate's services, callers or upstream
// (Options.Caller says who calls).
package idempotency

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	"github.com/arcgate/arcgate/apierr"
	adminv1 "github.com/arcgate/arcgate/gen/go/arcgate/admin/v1"
	"github.com/arcgate/arcgate/statestore"
)

const (
	// Field is the name of the request field that carries the request id.
	Field = "request_id"
	// MetadataKey is the gRPC metadata key that carries the request id of
	// a request without a request_id field value (REST callers' HTTP
	// header Idempotency-Key, forwarded by the gateway).
	MetadataKey = "idempotency-key"
	// ReplayHeader is the response header metadata key set, to "true", on
	// a call answered with a kept outcome instead of running the handler.
	ReplayHeader = "x-idempotent-replay"
)

// Defaults of Options.
const (
	DefaultTTL     = 24 * time.Hour
	DefaultTimeout = 5 * time.Minute
	// DefaultMaxOutcomeBytes bounds the encoded outcome kept per request id.
	DefaultMaxOutcomeBytes = 1 << 20
	// storeTimeout bounds writing an outcome to the store once the handler
	// has returned (the call's own deadline may have passed by then).
	storeTimeout = 5 * time.Second
)

// Options configures Interceptor. The zero value is ready to use.
type Options struct {
	// TTL is how long an outcome is kept (DefaultTTL if not positive).
	TTL time.Duration
	// Caller returns who is calling; request ids are per caller, so two
	// callers may use the same id independently. nil or "" is
	// "anonymous".
	Caller func(ctx context.Context) string
	// IsMutation reports whether a method is covered. When nil, a method
	// is covered if its request message has a request_id field; when set,
	// the methods it accepts are (and idempotency-key metadata applies to
	// them even if their request has no request_id field).
	IsMutation func(fullMethod string) bool
	// Keep reports whether an error outcome is kept (DefaultKeep if nil).
	// Successes are always kept.
	Keep func(*status.Status) bool
	// Timeout bounds a handler whose call carries no deadline, since the
	// handler no longer ends when its caller goes (DefaultTimeout if not
	// positive). A call's own deadline is kept as is.
	Timeout time.Duration
	// MaxOutcomeBytes bounds an outcome kept in the store
	// (DefaultMaxOutcomeBytes if not positive); a larger one is not kept
	// (it is logged), so that a retry runs again.
	MaxOutcomeBytes int
	// Types resolves the response types of kept outcomes
	// (protoregistry.GlobalTypes if nil).
	Types protoregistry.MessageTypeResolver
	// Now is the clock that expires outcomes (time.Now if nil).
	Now func() time.Time
	// Logger receives the outcomes that could not be kept (slog.Default
	// if nil).
	Logger *slog.Logger
}

// DefaultKeep is the rule for keeping an error outcome: an error is kept
// when it is the final answer to the request, the one a repeat must get
// (NOT_FOUND, ALREADY_EXISTS, FAILED_PRECONDITION, INTERNAL, ...). It is
// not kept when retrying is the point: the write was refused before
// anything was applied and the caller may fix the request, its
// credentials or its grants (INVALID_ARGUMENT, UNAUTHENTICATED,
// PERMISSION_DENIED), or the failure is transient or its outcome unknown
// (UNAVAILABLE, including UPSTREAM_UNAVAILABLE, CIRCUIT_OPEN and
// UPSTREAM_OUTCOME_UNKNOWN; RESOURCE_EXHAUSTED, including RATE_LIMITED;
// DEADLINE_EXCEEDED, ABORTED, CANCELED), so that the retry runs again.
func DefaultKeep(st *status.Status) bool {
	if writeApplied(st) {
		return true // the write was applied: a repeat must not apply it again
	}
	switch st.Code() {
	case codes.InvalidArgument, codes.Unauthenticated, codes.PermissionDenied,
		codes.Unavailable, codes.ResourceExhausted, codes.DeadlineExceeded, codes.Aborted, codes.Canceled:
		return false
	}
	return true
}

// writeApplied reports whether st says that the write was applied although
// the call failed (reason WRITE_APPLIED: reading the result back failed).
func writeApplied(st *status.Status) bool {
	for _, d := range st.Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok && info.GetDomain() == apierr.Domain &&
			info.GetReason() == apierr.Reason(adminv1.ErrorReason_ERROR_REASON_WRITE_APPLIED) {
			return true
		}
	}
	return false
}

// keyPrefix namespaces this package's records and locks in the store.
const keyPrefix = "request-id/"

// record is what the store keeps of a request id: the request's
// fingerprint and its first outcome, a response (type URL and bytes) or a
// google.rpc.Status.
type record struct {
	Fingerprint []byte `json:"fp"`
	Expires     int64  `json:"exp"` // Unix nanoseconds, by Options.Now
	TypeURL     string `json:"type,omitempty"`
	Response    []byte `json:"resp,omitempty"`
	Status      []byte `json:"status,omitempty"`
}

// Interceptor returns the unary server interceptor that keeps the first
// outcome of each caller's request id in store (see the package comment).
// A call without a request id passes through. A request id that is not a
// UUID is INVALID_ARGUMENT naming request_id. When the store does not
// answer, the call fails with UNAVAILABLE before its handler runs: a write
// is not made without the protection its caller asked for.
//
// Chain it after the interceptors that authenticate the caller (Caller
// reads what they set) and apply the default deadline.
func Interceptor(store statestore.Store, opts Options) grpc.UnaryServerInterceptor {
	i := &interceptor{store: store, opts: opts}
	if i.opts.TTL <= 0 {
		i.opts.TTL = DefaultTTL
	}
	if i.opts.Timeout <= 0 {
		i.opts.Timeout = DefaultTimeout
	}
	if i.opts.Keep == nil {
		i.opts.Keep = DefaultKeep
	}
	if i.opts.MaxOutcomeBytes <= 0 {
		i.opts.MaxOutcomeBytes = DefaultMaxOutcomeBytes
	}
	if i.opts.Types == nil {
		i.opts.Types = protoregistry.GlobalTypes
	}
	if i.opts.Now == nil {
		i.opts.Now = time.Now
	}
	if i.opts.Logger == nil {
		i.opts.Logger = slog.Default()
	}
	return i.intercept
}

type interceptor struct {
	store statestore.Store
	opts  Options
}

func (i *interceptor) intercept(ctx context.Context, req any, info *grpc.UnaryServerInfo, next grpc.UnaryHandler) (any, error) {
	msg, ok := req.(proto.Message)
	if !ok {
		return next(ctx, req)
	}
	m := msg.ProtoReflect()
	fd := m.Descriptor().Fields().ByName(Field)
	if fd != nil && (fd.Kind() != protoreflect.StringKind || fd.Cardinality() == protoreflect.Repeated) {
		fd = nil
	}
	if i.opts.IsMutation != nil {
		if !i.opts.IsMutation(info.FullMethod) {
			return next(ctx, req)
		}
	} else if fd == nil {
		return next(ctx, req)
	}
	id, err := requestID(ctx, m, fd)
	if err != nil {
		return nil, err
	}
	if id == "" {
		return next(ctx, req)
	}
	fp, err := fingerprint(info.FullMethod, m, fd)
	if err != nil {
		return nil, status.Error(codes.Internal, "cannot fingerprint the request: "+err.Error())
	}
	return i.once(ctx, req, info.FullMethod, i.key(ctx, id), id, fp, next)
}

// requestID returns the request's id: its request_id field, else its
// idempotency-key metadata, which then fills the field, in lower case.
// It is "" when neither is set, and INVALID_ARGUMENT when the id is not
// a UUID or the two disagree.
func requestID(ctx context.Context, m protoreflect.Message, fd protoreflect.FieldDescriptor) (string, error) {
	var field, header string
	if fd != nil {
		field = m.Get(fd).String()
	}
	if md, ok := metadata.FromIncomingContext(ctx); ok {
		if v := md.Get(MetadataKey); len(v) > 0 {
			header = v[0]
		}
	}
	id := field
	if id == "" {
		id = header
	}
	if id == "" {
		return "", nil
	}
	if !isUUID(id) {
		return "", invalidArgument("must be a UUID such as 123e4567-e89b-12d3-a456-426614174000 (also when sent as the Idempotency-Key header)")
	}
	id = strings.ToLower(id)
	if field != "" && header != "" && !strings.EqualFold(field, header) {
		return "", invalidArgument("differs from the Idempotency-Key header; send one or the other")
	}
	if fd != nil && field == "" {
		m.Set(fd, protoreflect.ValueOfString(id))
	}
	return id, nil
}

// isUUID reports whether s is a UUID in its textual form:
// 8-4-4-4-12 hexadecimal digits, in either case.
func isUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
				return false
			}
		}
	}
	return true
}

// invalidArgument is INVALID_ARGUMENT about request_id, with a BadRequest
// naming the field and an ErrorInfo, as arcgate's validation errors.
func invalidArgument(desc string) error { return apierr.InvalidArgument(Field, desc) }

// fingerprint identifies a request: the method and the request's
// deterministic encoding without its request id.
func fingerprint(method string, m protoreflect.Message, fd protoreflect.FieldDescriptor) ([]byte, error) {
	msg := m.Interface()
	if fd != nil && m.Has(fd) {
		msg = proto.Clone(msg)
		msg.ProtoReflect().Clear(fd)
	}
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(msg)
	if err != nil {
		return nil, err
	}
	h := sha256.New()
	h.Write([]byte(method))
	h.Write([]byte{0})
	h.Write(b)
	return h.Sum(nil), nil
}

// key is the store key of a caller's request id. The method is not part
// of it: the same id sent to another method is a different request.
func (i *interceptor) key(ctx context.Context, id string) string {
	caller := ""
	if i.opts.Caller != nil {
		caller = i.opts.Caller(ctx)
	}
	if caller == "" {
		caller = "anonymous"
	}
	h := sha256.Sum256([]byte(caller + "\x00" + id))
	return keyPrefix + hex.EncodeToString(h[:])
}

// once runs the handler for the first call of key and answers repeats
// with its kept outcome.
func (i *interceptor) once(ctx context.Context, req any, method, key, id string, fp []byte, next grpc.UnaryHandler) (any, error) {
	// The work, waiting for the lock included, runs in a context detached
	// from the caller's cancellation but with its deadline (or Timeout).
	// The caller giving up while waiting abandons the wait; once the lock
	// is held, the handler runs to its end.
	detached, cancel := i.detach(ctx)
	defer cancel()
	waiting, stopWaiting := context.WithCancel(detached)
	defer stopWaiting()
	stop := context.AfterFunc(ctx, stopWaiting)
	held, unlock, err := i.store.Lock(waiting, key)
	if !stop() {
		// The caller went while this call waited (or just as it got the
		// lock): nothing ran.
		if err == nil {
			unlock()
		}
		return nil, status.FromContextError(ctx.Err()).Err()
	}
	if err != nil {
		return nil, lockError(err)
	}
	defer unlock()

	rec, found, err := i.load(held, key)
	if err != nil {
		return nil, status.Error(codes.Unavailable, "cannot read the outcome of request_id "+id+": the state store did not answer")
	}
	if found {
		if string(rec.Fingerprint) != string(fp) {
			return nil, invalidArgument("request_id " + id + " was used for a different request; use a new request_id for a new request")
		}
		_ = grpc.SetHeader(ctx, metadata.Pairs(ReplayHeader, "true"))
		return i.replay(rec)
	}

	resp, herr := next(held, req)
	i.save(held, key, fp, resp, herr)
	return resp, herr
}

// detach returns a context with ctx's values and deadline (or Timeout)
// that the caller's cancellation does not end.
func (i *interceptor) detach(ctx context.Context) (context.Context, context.CancelFunc) {
	d := context.WithoutCancel(ctx)
	if dl, ok := ctx.Deadline(); ok {
		return context.WithDeadline(d, dl)
	}
	return context.WithTimeout(d, i.opts.Timeout)
}

// lockError is the status of a failed wait for a request id's lock.
func lockError(err error) error {
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return status.Error(codes.DeadlineExceeded, "deadline exceeded waiting for the first call with this request_id to finish")
	case errors.Is(err, context.Canceled):
		return status.Error(codes.Canceled, "request canceled")
	}
	// The store's own error is not shown: it could name the store's
	// address or credentials.
	return status.Error(codes.Unavailable, "cannot lock the request_id: the state store did not answer")
}

// load reads key's record; an expired one (by Options.Now) or one that
// does not decode is not found.
func (i *interceptor) load(ctx context.Context, key string) (record, bool, error) {
	b, err := i.store.Get(ctx, key)
	if errors.Is(err, statestore.ErrNotFound) {
		return record{}, false, nil
	}
	if err != nil {
		return record{}, false, err
	}
	var rec record
	if err := json.Unmarshal(b, &rec); err != nil || !i.opts.Now().Before(time.Unix(0, rec.Expires)) {
		return record{}, false, nil
	}
	return rec, true, nil
}

// replay returns a kept outcome.
func (i *interceptor) replay(rec record) (any, error) {
	if rec.Status != nil {
		var sp spb.Status
		if err := proto.Unmarshal(rec.Status, &sp); err != nil {
			return nil, status.Error(codes.Internal, "the kept outcome of this request_id does not decode")
		}
		return nil, status.FromProto(&sp).Err()
	}
	mt, err := i.opts.Types.FindMessageByURL(rec.TypeURL)
	if err != nil {
		return nil, status.Error(codes.Internal, "the kept outcome of this request_id has an unknown type "+rec.TypeURL)
	}
	resp := mt.New().Interface()
	if err := proto.Unmarshal(rec.Response, resp); err != nil {
		return nil, status.Error(codes.Internal, "the kept outcome of this request_id does not decode")
	}
	return resp, nil
}

// save keeps the handler's outcome under key, unless it is an error that
// Options.Keep does not keep. A failure to keep it is logged: the call's
// own outcome stands, and a retry runs the handler again.
func (i *interceptor) save(ctx context.Context, key string, fp []byte, resp any, herr error) {
	rec := record{Fingerprint: fp, Expires: i.opts.Now().Add(i.opts.TTL).UnixNano()}
	var err error
	if herr != nil {
		st := status.Convert(herr)
		if !i.opts.Keep(st) {
			return
		}
		rec.Status, err = proto.Marshal(st.Proto())
	} else if msg, ok := resp.(proto.Message); ok {
		rec.TypeURL = "type.googleapis.com/" + string(msg.ProtoReflect().Descriptor().FullName())
		rec.Response, err = proto.MarshalOptions{Deterministic: true}.Marshal(msg)
	} else {
		err = errors.New("the response is not a protocol buffer message")
	}
	var b []byte
	if err == nil {
		b, err = json.Marshal(rec)
	}
	if err == nil && len(b) > i.opts.MaxOutcomeBytes {
		err = fmt.Errorf("the outcome is %d bytes, more than the %d kept", len(b), i.opts.MaxOutcomeBytes)
	}
	if err == nil {
		// The handler may have used up the call's deadline: the outcome
		// still gets its own short time to be written.
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), storeTimeout)
		err = i.store.Put(sctx, key, b, i.opts.TTL)
		cancel()
	}
	if err != nil {
		i.opts.Logger.WarnContext(ctx, "the outcome of a request_id could not be kept; a retry will run again", "error", err)
	}
}
