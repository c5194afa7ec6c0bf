package gateway

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// noCallConn fails every call: the requests of these tests must be
// answered by the gateway before any RPC.
type noCallConn struct{}

func (noCallConn) Invoke(context.Context, string, any, any, ...grpc.CallOption) error {
	return status.Error(codes.Internal, "unexpected RPC")
}

func (noCallConn) NewStream(context.Context, *grpc.StreamDesc, string, ...grpc.CallOption) (grpc.ClientStream, error) {
	return nil, status.Error(codes.Internal, "unexpected RPC")
}

// restStatus is a google.rpc.Status as REST JSON.
type restStatus struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
	Details []struct {
		Type            string            `json:"@type"`
		Reason          string            `json:"reason"`
		Domain          string            `json:"domain"`
		Metadata        map[string]string `json:"metadata"`
		FieldViolations []struct {
			Field       string `json:"field"`
			Description string `json:"description"`
		} `json:"fieldViolations"`
	} `json:"details"`
}

func (s restStatus) reason() string {
	for _, d := range s.Details {
		if d.Type == "type.googleapis.com/google.rpc.ErrorInfo" && d.Domain == "arcgate.admin.v1" {
			return d.Reason
		}
	}
	return ""
}

// violation returns the first BadRequest field violation.
func (s restStatus) violation() (field, desc string) {
	for _, d := range s.Details {
		if d.Type == "type.googleapis.com/google.rpc.BadRequest" && len(d.FieldViolations) > 0 {
			return d.FieldViolations[0].Field, d.FieldViolations[0].Description
		}
	}
	return "", ""
}

func newTestGateway(t *testing.T) *httptest.Server {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	h, err := New(ctx, noCallConn{})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

// TestFrameworkErrorsAreReadable checks the errors grpc-gateway makes
// itself: they come in arcgate's google.rpc.Status shape with an
// ErrorInfo, a wrong method is 405 with Allow, an unknown path points to
// /docs, and a value that does not decode is named in a BadRequest.
func TestFrameworkErrorsAreReadable(t *testing.T) {
	srv := newTestGateway(t)
	for _, tc := range []struct {
		name, method, path, body string
		httpStatus               int
		code                     codes.Code
		reason                   string
		allow                    string   // want Allow header
		field                    string   // want BadRequest field
		contains                 []string // in the description (or message)
	}{
		{name: "wrong method on a collection", method: http.MethodPatch, path: "/v1/services",
			httpStatus: http.StatusMethodNotAllowed, code: codes.Unimplemented, reason: "METHOD_NOT_ALLOWED", allow: "GET, POST"},
		{name: "wrong method on a job collection", method: http.MethodDelete, path: "/v1/services/A.MapServer/jobs",
			httpStatus: http.StatusMethodNotAllowed, code: codes.Unimplemented, reason: "METHOD_NOT_ALLOWED", allow: "GET"},
		{name: "wrong method on a resource", method: http.MethodPost, path: "/v1/folders/f",
			httpStatus: http.StatusMethodNotAllowed, code: codes.Unimplemented, reason: "METHOD_NOT_ALLOWED", allow: "GET, PATCH, DELETE"},
		{name: "wrong method on /docs", method: http.MethodPut, path: "/docs",
			httpStatus: http.StatusMethodNotAllowed, code: codes.Unimplemented, reason: "METHOD_NOT_ALLOWED", allow: "GET"},
		{name: "unknown path", method: http.MethodGet, path: "/v1/servics",
			httpStatus: http.StatusNotFound, code: codes.NotFound, reason: "UNKNOWN_PATH", contains: []string{"/docs", "/v1/servics"}},
		{name: "unknown docs file", method: http.MethodGet, path: "/docs/nothing.js",
			httpStatus: http.StatusNotFound, code: codes.NotFound, reason: "UNKNOWN_PATH", contains: []string{"/docs"}},
		{name: "enum in query", method: http.MethodGet, path: "/v1/services/A.MapServer/jobs?state=EXECUTING",
			httpStatus: http.StatusBadRequest, code: codes.InvalidArgument, reason: "INVALID_ARGUMENT", field: "state",
			contains: []string{`"EXECUTING"`, "JOB_STATE_SUBMITTED", "JOB_STATE_SUCCEEDED", "did you mean JOB_STATE_EXECUTING"}},
		{name: "enum in body", method: http.MethodPost, path: "/v1/usageReports", body: `{"since":"DAY"}`,
			httpStatus: http.StatusBadRequest, code: codes.InvalidArgument, reason: "INVALID_ARGUMENT", field: "usage_report.since",
			contains: []string{"USAGE_REPORT_PERIOD_LAST_DAY", "USAGE_REPORT_PERIOD_CUSTOM"}},
		{name: "unknown body field", method: http.MethodPatch, path: "/v1/services/A.MapServer", body: `{"descripton":"x"}`,
			httpStatus: http.StatusBadRequest, code: codes.InvalidArgument, reason: "INVALID_ARGUMENT", field: "service.descripton",
			contains: []string{"unknown field", `did you mean "description"?`}},
		{name: "unknown field of a whole-body request", method: http.MethodPost, path: "/v1/services/A.MapServer:stop", body: `{"force":true}`,
			httpStatus: http.StatusBadRequest, code: codes.InvalidArgument, reason: "INVALID_ARGUMENT", field: "force",
			contains: []string{"unknown field"}},
		{name: "string for a bool in the body", method: http.MethodPatch, path: "/v1/folders/f", body: `{"webEncrypted":"yes"}`,
			httpStatus: http.StatusBadRequest, code: codes.InvalidArgument, reason: "INVALID_ARGUMENT", field: "folder.web_encrypted",
			contains: []string{"true or false", `"yes"`}},
		{name: "string for a bool in the query", method: http.MethodDelete, path: "/v1/folders/f?force=yes",
			httpStatus: http.StatusBadRequest, code: codes.InvalidArgument, reason: "INVALID_ARGUMENT", field: "force",
			contains: []string{"true or false", `"yes"`}},
		{name: "word for an integer in the query", method: http.MethodGet, path: "/v1/services?pageSize=ten",
			httpStatus: http.StatusBadRequest, code: codes.InvalidArgument, reason: "INVALID_ARGUMENT", field: "page_size",
			contains: []string{"integer", `"ten"`}},
		{name: "not JSON", method: http.MethodPost, path: "/v1/folders", body: `{bad`,
			httpStatus: http.StatusBadRequest, code: codes.InvalidArgument, reason: "INVALID_ARGUMENT",
			contains: []string{"not valid JSON"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var body io.Reader
			if tc.body != "" {
				body = strings.NewReader(tc.body)
			}
			req, err := http.NewRequest(tc.method, srv.URL+tc.path, body)
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Content-Type", "application/json")
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			raw, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tc.httpStatus {
				t.Fatalf("HTTP %d, want %d: %s", resp.StatusCode, tc.httpStatus, raw)
			}
			if got := resp.Header.Get("Allow"); got != tc.allow {
				t.Errorf("Allow %q, want %q", got, tc.allow)
			}
			var st restStatus
			if err := json.Unmarshal(raw, &st); err != nil {
				t.Fatalf("not a JSON status: %s", raw)
			}
			if codes.Code(st.Code) != tc.code || st.reason() != tc.reason {
				t.Errorf("code %v reason %q, want %v %q: %s", codes.Code(st.Code), st.reason(), tc.code, tc.reason, raw)
			}
			text := st.Message
			if tc.field != "" {
				field, desc := st.violation()
				if field != tc.field {
					t.Errorf("BadRequest field %q, want %q: %s", field, tc.field, raw)
				}
				if !strings.HasPrefix(st.Message, tc.field+": ") {
					t.Errorf("message %q does not start with the field", st.Message)
				}
				text = desc
			}
			for _, want := range tc.contains {
				if !strings.Contains(text, want) {
					t.Errorf("%q does not contain %q", text, want)
				}
			}
		})
	}
}
