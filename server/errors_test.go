package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/arcgate/arcgate/upstream"
)

// TestStatusOutcomeUnknown checks that a write that may have been applied
// upstream is told apart (UPSTREAM_OUTCOME_UNKNOWN, with what to do) from
// one that provably was not sent and from reads, which keep their reasons.
func TestStatusOutcomeUnknown(t *testing.T) {
	const svc = "services/A.MapServer"
	deadline := fmt.Errorf("wrapped: %w", context.DeadlineExceeded)
	transport := func(write, sent bool, cause error) error {
		return &upstream.Error{Kind: upstream.KindTransport, Op: "services.stop", Method: "POST", Path: "services/A.MapServer/stop",
			Err: cause, Write: write, Sent: sent}
	}
	httpErr := func(write bool, st int) error {
		return &upstream.Error{Kind: upstream.KindHTTP, Op: "services.stop", Method: "POST", Path: "services/A.MapServer/stop",
			HTTPStatus: st, Write: write, Sent: write}
	}
	for _, tc := range []struct {
		name   string
		err    error
		code   codes.Code
		reason string
	}{
		{"write: answer lost after sending", transport(true, true, io.ErrUnexpectedEOF), codes.Unavailable, ReasonUpstreamOutcomeUnknown},
		{"write: deadline after sending", transport(true, true, deadline), codes.DeadlineExceeded, ReasonUpstreamOutcomeUnknown},
		{"write: canceled by the caller after sending", transport(true, true, context.Canceled), codes.Canceled, ReasonUpstreamOutcomeUnknown},
		{"write: 504 from a proxy", httpErr(true, 504), codes.DeadlineExceeded, ReasonUpstreamOutcomeUnknown},
		{"write: 502 from a proxy", httpErr(true, 502), codes.Unavailable, ReasonUpstreamOutcomeUnknown},
		{"write wrapped by a handler", fmt.Errorf("stop: %w", transport(true, true, io.EOF)), codes.Unavailable, ReasonUpstreamOutcomeUnknown},
		{"write: connection refused (not sent)", transport(true, false, errors.New("connect: connection refused")), codes.Unavailable, ReasonUpstreamUnavailable},
		{"write: deadline before sending", transport(true, false, deadline), codes.DeadlineExceeded, ReasonUpstreamUnavailable},
		{"write: 503", httpErr(true, 503), codes.Unavailable, ReasonUpstreamUnavailable},
		{"write: circuit open", transport(true, false, &upstream.CircuitOpenError{}), codes.Unavailable, ReasonCircuitOpen},
		{"read: answer lost", transport(false, false, io.ErrUnexpectedEOF), codes.Unavailable, ReasonUpstreamUnavailable},
		{"read: deadline", transport(false, false, deadline), codes.DeadlineExceeded, ReasonUpstreamUnavailable},
		{"read: 504", httpErr(false, 504), codes.DeadlineExceeded, ReasonUpstreamUnavailable},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := status.Convert(Status(tc.err, svc))
			var reason string
			var md map[string]string
			for _, d := range st.Details() {
				if info, ok := d.(*errdetails.ErrorInfo); ok {
					reason, md = info.GetReason(), info.GetMetadata()
				}
			}
			if st.Code() != tc.code || reason != tc.reason {
				t.Fatalf("%v (%s), want %v (%s): %s", st.Code(), reason, tc.code, tc.reason, st.Message())
			}
			if reason != ReasonUpstreamOutcomeUnknown {
				return
			}
			for _, want := range []string{"may have applied", "read " + svc, "same request_id"} {
				if !strings.Contains(st.Message(), want) {
					t.Errorf("message %q does not say %q", st.Message(), want)
				}
			}
			if md["resource"] != svc {
				t.Errorf("metadata %v has no resource %s", md, svc)
			}
		})
	}
}
