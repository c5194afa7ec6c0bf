package e2e

import (
	"net/http"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"

	"github.com/arcgate/arcgate/simulator"
)

// TestRESTFrameworkErrors checks, through the whole REST stack, that the
// errors the gateway makes itself have arcgate's shape (the gateway's own
// tests cover the cases in detail).
func TestRESTFrameworkErrors(t *testing.T) {
	e := start(t, simulator.Config{})

	req, _ := http.NewRequest(http.MethodPatch, e.rest+"/v1/services", nil)
	resp, err := e.hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "GET, POST" {
		t.Errorf("PATCH /v1/services: HTTP %d, Allow %q", resp.StatusCode, resp.Header.Get("Allow"))
	}

	r := e.do(t, http.MethodGet, "/v1/servics", nil)
	if reason, _ := restError(t, r, http.StatusNotFound, codes.NotFound); reason != "UNKNOWN_PATH" || !strings.Contains(r.Body["message"].(string), "/docs") {
		t.Errorf("GET /v1/servics: reason %s, %s", reason, r.Raw)
	}

	r = e.do(t, http.MethodPatch, "/v1/services/SampleWorldCities.MapServer", map[string]any{"descripton": "x"})
	if reason, md := restError(t, r, http.StatusBadRequest, codes.InvalidArgument); reason != "INVALID_ARGUMENT" || md["field"] != "service.descripton" ||
		!strings.Contains(r.Raw, `google.rpc.BadRequest`) || !strings.Contains(r.Raw, `did you mean \"description\"?`) {
		t.Errorf("unknown field: reason %s, %s", reason, r.Raw)
	}

	r = e.do(t, http.MethodGet, "/v1/services/SampleWorldCities.MapServer/jobs?state=EXECUTING", nil)
	if reason, md := restError(t, r, http.StatusBadRequest, codes.InvalidArgument); reason != "INVALID_ARGUMENT" || md["field"] != "state" ||
		!strings.Contains(r.Raw, "JOB_STATE_EXECUTING") {
		t.Errorf("bad enum: reason %s, %s", reason, r.Raw)
	}
}
