package server

import (
	"sync"
	"time"

	"google.golang.org/grpc"

	adminv1 "github.com/arcgate/arcgate/gen/go/arcgate/admin/v1"
	"github.com/arcgate/arcgate/operations"
	"github.com/arcgate/arcgate/statestore"
	"github.com/arcgate/arcgate/upstream"
)

// DefaultTimeout is the deadline of each upstream poll of a WatchJob
// stream (the deadline of unary calls that arrive without one is the
// rpc package's, rpc.DefaultTimeout).
const DefaultTimeout = 15 * time.Second

// Server holds arcgate's gRPC services.
type Server struct {
	up      *upstream.Client
	timeout time.Duration
	locks   statestore.Locker   // serialises the writes to one resource (locks.go)
	ops     *operations.Manager // runs the long-running operations (services.go)

	jobPollMin, jobPollMax time.Duration // WatchJob poll intervals (watch.go)

	watchStop     chan struct{} // closed by StopWatches
	watchStopOnce sync.Once
}

// Option configures a Server.
type Option func(*Server)

// WithDefaultTimeout sets the deadline of each upstream poll of a WatchJob
// stream (default DefaultTimeout; 0 or less disables it).
func WithDefaultTimeout(d time.Duration) Option { return func(s *Server) { s.timeout = d } }

// WithLocker sets the locks that serialise the read-modify-writes of one
// upstream resource (default: statestore.NewMemory, which serialises the
// writes made through this Server only).
func WithLocker(l statestore.Locker) Option { return func(s *Server) { s.locks = l } }

// WithOperations sets the Manager that runs the long-running operations
// (AIP-151) of the methods that return a google.longrunning.Operation
// (default: one keeping its operations in memory).
func WithOperations(m *operations.Manager) Option { return func(s *Server) { s.ops = m } }

// New returns a Server whose services call up.
func New(up *upstream.Client, opts ...Option) *Server {
	s := &Server{up: up, timeout: DefaultTimeout, watchStop: make(chan struct{})}
	for _, o := range opts {
		o(s)
	}
	if s.ops == nil {
		s.ops = operations.New(statestore.NewMemory(), operations.Options{})
	}
	if s.locks == nil {
		s.locks = statestore.NewMemory()
	}
	return s
}

// Register registers every arcgate service on r.
func (s *Server) Register(r grpc.ServiceRegistrar) {
	adminv1.RegisterServicesServiceServer(r, &servicesServer{services: s.up.Services, upstreamJobs: upstreamJobsOf(s.up), locks: s.locks, ops: s.ops})
	adminv1.RegisterItemInfoServiceServer(r, &itemInfoServer{itemInfo: s.up.ItemInfo, locks: s.locks})
	roles := newRolesServer(s.up)
	roles.locks = s.locks
	adminv1.RegisterRolesServiceServer(r, roles)
	reports := newUsageReportsServer(s.up)
	reports.locks = s.locks
	adminv1.RegisterUsageReportsServiceServer(r, reports)
	adminv1.RegisterJobsServiceServer(r, newJobsServer(s))
}

// StopWatches ends every WatchJob call in progress, and refuses every
// later one, with UNAVAILABLE (reason SHUTTING_DOWN) and a
// google.rpc.RetryInfo saying when to watch again. A watch never ends on
// its own before its job does, so a server shutting down calls this first:
// its drain then waits for the unary calls only. Safe to call more than
// once.
func (s *Server) StopWatches() {
	if s.watchStop != nil {
		s.watchStopOnce.Do(func() { close(s.watchStop) })
	}
}
