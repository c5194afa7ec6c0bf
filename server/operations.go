package server

import (
	"context"
	"errors"
	"sort"
	"strconv"
	"strings"
	"time"

	"cloud.google.com/go/longrunning/autogen/longrunningpb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	adminv1 "github.com/arcgate/arcgate/gen/go/arcgate/admin/v1"
	"github.com/arcgate/arcgate/operations"
	"github.com/arcgate/arcgate/upstream"
)

// Long-running operations (AIP-151): the handlers that return a
// google.longrunning.Operation validate their request synchronously (bad
// names, etag mismatches, refusals that are cheap to see come back at
// once), then start the work with operations.Manager.Start. The work runs
// detached from the call, bounded by the operation's own timeout: it takes
// the resource's lock (with the work's context, not the caller's), makes
// the upstream write and reads the resource back for the response.
//
// An operation is cancellable (CancelOperation) from its start until just
// before its upstream write is sent (writeAsync calls beginWrite): while it
// waits for the lock or reads the resource afresh, cancelling it stops the
// work and releases the lock, and it ends CANCELLED with nothing written.
// Once the write is sent it is not cancellable: ArcGIS Server offers no way
// to stop a service's create, edit, start, stop or delete.

// readBackAttempts and readBackPause bound the reads of a resource after a
// write that succeeded: the read is retried, since the write is done and
// only its report is missing.
var (
	readBackAttempts = 3
	readBackPause    = time.Second
)

// startOp starts the operation verb on target: work runs under the locks
// of keys (taken in order, so that two batches cannot deadlock). The
// operation is cancellable until work's upstream write (writeAsync).
func (s *servicesServer) startOp(ctx context.Context, target, verb string, keys []string, work operations.Work) (*longrunningpb.Operation, error) {
	keys = append([]string(nil), keys...)
	sort.Strings(keys)
	return s.ops.Start(ctx, operations.Spec{Target: target, Verb: verb, Cancellable: true}, func(ctx context.Context, p operations.Progress) (_ proto.Message, err error) {
		opCtx := ctx
		defer func() { // after the unlocks
			if err != nil && errors.Is(context.Cause(opCtx), operations.ErrCancelled) {
				// Cancelled before beginWrite, which would have ended
				// the cancellable phase: nothing was sent.
				err = cancelledBeforeWrite(target)
			}
		}()
		for _, k := range keys {
			var unlock func(*error)
			if ctx, unlock, err = lockResource(ctx, s.locks, k, target); err != nil {
				return nil, err
			}
			defer unlock(&err) // a lost lock ends the operation ABORTED, LOCK_LOST
		}
		return work(ctx, p)
	})
}

// readBack reads the service ref after a write of it that succeeded (what
// says what was written, e.g. "the start"), retrying a failed read a few
// times within the operation's timeout. When every read fails, the error
// says that the change was applied (reason WRITE_APPLIED, with the read's
// code), never as if the write had failed.
func (s *servicesServer) readBack(ctx context.Context, p operations.Progress, ref serviceRef, what string) (*adminv1.Service, error) {
	var err error
	for i := 0; i < readBackAttempts; i++ {
		if i > 0 {
			t := time.NewTimer(readBackPause << (i - 1))
			select {
			case <-ctx.Done():
				t.Stop()
				return nil, appliedNotRead(ref.resourceName(), what, ctx.Err())
			case <-t.C:
			}
		}
		var svc *adminv1.Service
		if svc, err = s.getService(ctx, ref); err == nil {
			if p != nil {
				p.SetUpstreamState(upstreamStateName(svc.GetRealTimeState()))
			}
			return svc, nil
		}
	}
	return nil, appliedNotRead(ref.resourceName(), what, err)
}

// appliedNotRead is the error of an operation whose write was applied but
// whose resource could not be read back (readBackFailed: reason
// WRITE_APPLIED, with the read's code).
func appliedNotRead(resource, _ string, err error) error {
	return readBackFailed(err, resource)
}

// upstreamStateName is the upstream spelling of a service state, for an
// operation's metadata (upstream_state).
func upstreamStateName(st adminv1.ServiceState) string {
	switch st {
	case adminv1.ServiceState_SERVICE_STATE_STARTED:
		return "STARTED"
	case adminv1.ServiceState_SERVICE_STATE_STOPPED:
		return "STOPPED"
	case adminv1.ServiceState_SERVICE_STATE_STARTING:
		return "STARTING"
	case adminv1.ServiceState_SERVICE_STATE_STOPPING:
		return "STOPPING"
	}
	return "UNKNOWN"
}

// maxBatch bounds the services of one batch request.
const maxBatch = 100

// BatchStartServices implements adminv1.ServicesServiceServer.
func (s *servicesServer) BatchStartServices(ctx context.Context, req *adminv1.BatchStartServicesRequest) (*longrunningpb.Operation, error) {
	return s.batchState(ctx, req.GetNames(), "batchStart", s.services.StartManyAsync, func(svcs []*adminv1.Service) proto.Message {
		return &adminv1.BatchStartServicesResponse{Services: svcs}
	})
}

// BatchStopServices implements adminv1.ServicesServiceServer.
func (s *servicesServer) BatchStopServices(ctx context.Context, req *adminv1.BatchStopServicesRequest) (*longrunningpb.Operation, error) {
	return s.batchState(ctx, req.GetNames(), "batchStop", s.services.StopManyAsync, func(svcs []*adminv1.Service) proto.Message {
		return &adminv1.BatchStopServicesResponse{Services: svcs}
	})
}

// batchState starts the operation that starts or stops (change, verb) the
// named services with one upstream request (followed when it runs as an
// upstream job); its response (resp) lists them as read back afterwards,
// in the order of names.
func (s *servicesServer) batchState(ctx context.Context, names []string, verb string, change func(context.Context, []upstream.ServiceRef) (string, error), resp func([]*adminv1.Service) proto.Message) (*longrunningpb.Operation, error) {
	switch {
	case len(names) == 0:
		return nil, invalidArgument("names", "is required")
	case len(names) > maxBatch:
		return nil, invalidArgument("names", "lists "+itoa(len(names))+" services; at most "+itoa(maxBatch)+" are allowed")
	}
	refs := make([]serviceRef, len(names))
	ups := make([]upstream.ServiceRef, len(names))
	keys := make([]string, len(names))
	seen := map[string]bool{}
	for i, n := range names {
		ref, err := parseServiceName("names["+itoa(i)+"]", n)
		if err != nil {
			return nil, err
		}
		k := serviceLockKey(ref)
		if seen[k] {
			return nil, invalidArgument("names["+itoa(i)+"]", "names "+quoteName(n)+" twice")
		}
		seen[k] = true
		refs[i], ups[i], keys[i] = ref, ref.upstream(), k
	}
	return s.startOp(ctx, "services", verb, keys, func(ctx context.Context, p operations.Progress) (proto.Message, error) {
		if err := s.writeAsync(ctx, p, "services", func(ctx context.Context) (string, error) { return change(ctx, ups) }); err != nil {
			return nil, err
		}
		svcs := make([]*adminv1.Service, len(refs))
		err := forEach(ctx, len(refs), func(ctx context.Context, i int) error {
			var err error
			svcs[i], err = s.readBack(ctx, nil, refs[i], "the "+verb)
			return err
		})
		if err != nil {
			return nil, err
		}
		p.SetUpstreamState(upstreamStateName(svcs[len(svcs)-1].GetRealTimeState()))
		return resp(svcs), nil
	})
}

// jobPollFirst and jobPollMax bound the pauses between the reads of an
// upstream asynchronous job (doubling from the first to the max), and
// jobPollFailures the consecutive failed reads tolerated.
var (
	jobPollFirst    = 200 * time.Millisecond
	jobPollMax      = 5 * time.Second
	jobPollFailures = 5
)

// writeAsync makes an upstream write of resource that asks for
// asynchronous execution (write returns the job id the site answered
// with, "" when it answered synchronously) and, when the site answered
// with a job, follows it to its end (followJob). Its error is the write's
// or the job's, mapped for resource.
func (s *servicesServer) writeAsync(ctx context.Context, p operations.Progress, resource string, write func(context.Context) (string, error)) error {
	if err := beginWrite(ctx, p, resource); err != nil {
		return err
	}
	id, err := write(ctx)
	if err != nil {
		return Status(err, resource)
	}
	if id == "" {
		return nil
	}
	return s.followJob(ctx, p, resource, id)
}

// beginWrite ends the operation's cancellable phase just before its
// upstream write of resource is sent (p.EndCancel): it returns the error
// to end the operation with, without sending the write, if the operation
// was cancelled first (CANCELLED) or if that cannot be known (the state
// store did not answer); nil, and later cancellations are refused, saying
// that the write was sent.
func beginWrite(ctx context.Context, p operations.Progress, resource string) error {
	if p == nil {
		return nil
	}
	cancelled, err := p.EndCancel(ctx, "its upstream request to change "+resource+
		" was sent, and ArcGIS Server cannot stop a change once sent; wait for the operation to end")
	switch {
	case cancelled:
		return cancelledBeforeWrite(resource)
	case err != nil:
		st, ok := status.FromError(err)
		if !ok { // the context ended
			return err
		}
		return status.Error(st.Code(), st.Message()+"; nothing was sent to the upstream to change "+resource)
	}
	return nil
}

// cancelledBeforeWrite is the error of an operation on resource cancelled
// before its upstream write was sent.
func cancelledBeforeWrite(resource string) error {
	return status.Error(codes.Canceled, "the operation was cancelled before its upstream request was sent: nothing was written to "+resource)
}

// followJob follows the upstream asynchronous job id that a write of
// resource answered with, until it ends, in the job shape of the site's
// flavor (upstreamJobsAPI): it records the job's id and its progress in
// the operation's metadata, and returns the job's own error, if any,
// mapped like a synchronous answer. When the job cannot be read to its end
// (the operation's context ends, its reads keep failing, it is gone, or
// its id is not one a request can carry), the write's outcome is unknown.
func (s *servicesServer) followJob(ctx context.Context, p operations.Progress, resource, id string) error {
	if s.upstreamJobs == nil {
		return nil
	}
	if p != nil {
		p.SetUpstreamJob(jobIDText(id))
	}
	pause, failures := jobPollFirst, 0
	for {
		j, err := s.upstreamJobs.Get(ctx, id)
		switch {
		case err == nil:
			failures = 0
			if p != nil && j.state != "" {
				p.SetUpstreamState(j.state)
			}
			if j.done {
				if j.err != nil {
					return Status(j.err, resource)
				}
				return nil
			}
		case ctx.Err() != nil:
			return jobOutcomeUnknown(ctx.Err(), resource, id)
		default:
			var ue *upstream.Error
			refused := errors.As(err, &ue) && ue.Kind == upstream.KindInvalid // an id no request can carry
			if failures++; failures >= jobPollFailures || upstream.IsNotFound(err) || refused {
				return jobOutcomeUnknown(err, resource, id)
			}
		}
		t := time.NewTimer(pause)
		select {
		case <-ctx.Done():
			t.Stop()
			return jobOutcomeUnknown(ctx.Err(), resource, id)
		case <-t.C:
		}
		pause = min(2*pause, jobPollMax)
	}
}

// systemJobState is a system job's progress for an operation's metadata
// (upstream_state): its last step, else "step N of M", else its status.
func systemJobState(j *upstream.SystemJob) string {
	switch {
	case len(j.StepInfo) > 0:
		return j.StepInfo[len(j.StepInfo)-1]
	case j.TotalSteps > 0:
		return "step " + itoa(j.CurrentStep) + " of " + itoa(j.TotalSteps)
	}
	return j.Status
}

// kubernetesJobState is an Enterprise-on-Kubernetes job's progress for an
// operation's metadata (upstream_state): such jobs report no steps, so it
// is the job's status and the operation it runs, e.g. "EXECUTING
// (services/Maps/Parcels.MapServer/edit)".
func kubernetesJobState(j *upstream.KubernetesJob) string {
	st := strings.ToValidUTF8(j.Status, "?")
	if j.OperationURI != "" {
		st += " (" + strings.ToValidUTF8(j.OperationURI, "?") + ")"
	}
	return st
}

// jobIDText is an upstream job id as an operation's metadata and messages
// show it: at most maxJobIDText bytes of valid UTF-8. A job id is checked
// before a request carries it, but an id that fails the check is shown
// too, to name the job whose end could not be seen.
func jobIDText(id string) string {
	if len(id) > maxJobIDText {
		id = id[:maxJobIDText] + "..."
	}
	return strings.ToValidUTF8(id, "?")
}

// maxJobIDText bounds the job id shown by jobIDText.
const maxJobIDText = 128

// jobOutcomeUnknown is the error of a write the upstream accepted as the
// job id whose end could not be seen (err says why).
func jobOutcomeUnknown(err error, resource, id string) error {
	code := codes.Unavailable
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		code = codes.DeadlineExceeded
	case errors.Is(err, context.Canceled):
		code = codes.Canceled
	}
	shown := jobIDText(id)
	return newStatus(code, ReasonUpstreamOutcomeUnknown,
		"the upstream ArcGIS Server accepted this change as job "+strconv.Quote(shown)+" but its end could not be seen ("+
			err.Error()+"); read "+resource+" to check", map[string]string{"resource": resource, "upstreamJobId": shown})
}
