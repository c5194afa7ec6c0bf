package simulator_test

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/arcgate/arcgate/simulator"
)

const (
	faultService = "services/SampleWorldCities.MapServer"
	faultStatus  = faultService + "/status"
)

// rawAnswer is a response, or the error of a request that got none whole.
type rawAnswer struct {
	status  int
	header  http.Header
	body    []byte
	err     error // from Do
	readErr error // from reading the body
}

// rawGet sends GET <admin>/<rel> with a valid token on a fresh connection
// and keeps whatever comes back.
func (e *env) rawGet(rel string) rawAnswer {
	e.t.Helper()
	req, err := http.NewRequest(http.MethodGet, e.adminURL(rel)+"?"+e.authed().Encode(), nil)
	if err != nil {
		e.t.Fatal(err)
	}
	req.Close = true
	resp, err := e.client.Do(req)
	if err != nil {
		return rawAnswer{err: err}
	}
	defer resp.Body.Close()
	body, rerr := io.ReadAll(resp.Body)
	return rawAnswer{status: resp.StatusCode, header: resp.Header, body: body, readErr: rerr}
}

func TestFaults(t *testing.T) {
	for _, tc := range []struct {
		name  string
		fault simulator.Fault
		rel   string
		check func(t *testing.T, a rawAnswer)
	}{
		{"latency", simulator.Fault{Kind: simulator.FaultLatency, Delay: time.Millisecond}, faultStatus, func(t *testing.T, a rawAnswer) {
			wantJSONStatus(t, a, `{"configuredState":"STARTED","realTimeState":"STARTED"}`)
		}},
		{"refuse", simulator.Fault{Kind: simulator.FaultRefuse}, faultStatus, func(t *testing.T, a rawAnswer) {
			if a.err == nil {
				t.Fatalf("got HTTP %d, want a connection error", a.status)
			}
		}},
		{"drop response", simulator.Fault{Kind: simulator.FaultDropResponse}, faultStatus, func(t *testing.T, a rawAnswer) {
			if a.err == nil {
				t.Fatalf("got HTTP %d, want a connection error", a.status)
			}
		}},
		{"reset mid-body", simulator.Fault{Kind: simulator.FaultReset}, faultService, func(t *testing.T, a rawAnswer) {
			if a.err != nil || a.status != http.StatusOK {
				t.Fatalf("got %v / HTTP %d, want headers of a 200", a.err, a.status)
			}
			if !errors.Is(a.readErr, io.ErrUnexpectedEOF) || len(a.body) == 0 {
				t.Fatalf("read %d bytes then %v, want part of the body then an unexpected EOF", len(a.body), a.readErr)
			}
		}},
		{"503 with Retry-After", simulator.Fault{Kind: simulator.FaultStatus, RetryAfter: 1500 * time.Millisecond}, faultStatus, func(t *testing.T, a rawAnswer) {
			if a.status != http.StatusServiceUnavailable || a.header.Get("Retry-After") != "2" || !strings.Contains(string(a.body), "<html>") {
				t.Fatalf("got HTTP %d Retry-After %q %s", a.status, a.header.Get("Retry-After"), a.body)
			}
		}},
		{"502", simulator.Fault{Kind: simulator.FaultStatus, Status: http.StatusBadGateway}, faultStatus, func(t *testing.T, a rawAnswer) {
			if a.status != http.StatusBadGateway || a.header.Get("Retry-After") != "" {
				t.Fatalf("got HTTP %d Retry-After %q", a.status, a.header.Get("Retry-After"))
			}
		}},
		{"HTML page with 200", simulator.Fault{Kind: simulator.FaultHTMLPage}, faultStatus, func(t *testing.T, a rawAnswer) {
			if a.status != http.StatusOK || !strings.HasPrefix(a.header.Get("Content-Type"), "text/html") || json.Valid(a.body) {
				t.Fatalf("got HTTP %d %q %s", a.status, a.header.Get("Content-Type"), a.body)
			}
		}},
		{"truncated JSON", simulator.Fault{Kind: simulator.FaultTruncatedJSON}, faultStatus, func(t *testing.T, a rawAnswer) {
			full := `{"configuredState":"STARTED","realTimeState":"STARTED"}`
			if a.readErr != nil || a.status != http.StatusOK || string(a.body) != full[:len(full)/2] {
				t.Fatalf("got HTTP %d %q (%v), want the first half of %s", a.status, a.body, a.readErr, full)
			}
		}},
		{"wrong content type", simulator.Fault{Kind: simulator.FaultContentType}, faultStatus, func(t *testing.T, a rawAnswer) {
			if a.header.Get("Content-Type") != "application/octet-stream" || !json.Valid(a.body) {
				t.Fatalf("got %q %s", a.header.Get("Content-Type"), a.body)
			}
		}},
		{"498 storm", simulator.Fault{Kind: simulator.FaultTokenInvalid}, faultStatus, func(t *testing.T, a rawAnswer) {
			wantJSONStatus(t, a, `{"status":"error","messages":["Could not decrypt token. Token may not be valid."],"code":498}`)
		}},
		{"499", simulator.Fault{Kind: simulator.FaultTokenRequired}, faultStatus, func(t *testing.T, a rawAnswer) {
			wantJSONStatus(t, a, `{"status":"error","messages":["Unauthorized access. Token not found. You can generate a token using the 'generateToken' operation."],"code":499}`)
		}},
		{"wrong credentials", simulator.Fault{Kind: simulator.FaultWrongCredentials, Path: "generateToken"}, "generateToken", func(t *testing.T, a rawAnswer) {
			wantJSONStatus(t, a, `{"status":"error","messages":["Unable to generate token. Invalid username or password."],"code":400}`)
		}},
		{"site not created (admin)", simulator.Fault{Kind: simulator.FaultSiteNotCreated}, faultStatus, func(t *testing.T, a rawAnswer) {
			wantJSONStatus(t, a, `{"status":"error","messages":["Server machine 'ARCGIS.INTERNAL.LOCAL' does not participate in any Site. Create a new Site or join an existing Site."],"code":404,"acceptLanguage":null}`)
		}},
		{"site not created (generateToken)", simulator.Fault{Kind: simulator.FaultSiteNotCreated}, "generateToken", func(t *testing.T, a rawAnswer) {
			wantJSONStatus(t, a, `{"status":"error","messages":["Local machine 'ARCGIS.INTERNAL.LOCAL' is not participating in any Site. Please create a new Site or join an existing Site."],"code":500}`)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, simulator.Config{})
			e.sim.InjectFault(tc.fault)
			tc.check(t, e.rawGet(tc.rel))
			if got := e.sim.FaultHits(tc.rel); got != 1 {
				t.Errorf("FaultHits(%q) = %d, want 1", tc.rel, got)
			}
			e.sim.ClearFaults()
			if got := e.sim.FaultHits(tc.rel); got != 0 {
				t.Errorf("after ClearFaults, FaultHits = %d", got)
			}
			wantJSONStatus(t, e.rawGet(faultStatus), `{"configuredState":"STARTED","realTimeState":"STARTED"}`)
		})
	}
}

// wantJSONStatus asserts a whole HTTP 200 answer whose JSON equals want.
func wantJSONStatus(t *testing.T, a rawAnswer, want string) {
	t.Helper()
	if a.err != nil || a.readErr != nil || a.status != http.StatusOK {
		t.Fatalf("got %v / %v / HTTP %d, want a whole 200", a.err, a.readErr, a.status)
	}
	var got, exp any
	if err := json.Unmarshal(a.body, &got); err != nil {
		t.Fatalf("body %q: %v", a.body, err)
	}
	if err := json.Unmarshal([]byte(want), &exp); err != nil {
		t.Fatal(err)
	}
	gb, _ := json.Marshal(got)
	eb, _ := json.Marshal(exp)
	if string(gb) != string(eb) {
		t.Fatalf("body %s, want %s", a.body, want)
	}
}

func TestFaultScopeAndFlapping(t *testing.T) {
	e := newEnv(t, simulator.Config{})
	e.sim.InjectFault(simulator.Fault{Kind: simulator.FaultFlapping, Path: faultStatus})
	e.sim.InjectFault(simulator.Fault{Kind: simulator.FaultTokenInvalid}) // global, but injected second

	// The flapping fault applies to its path first: fail, ok, fail, ok.
	for i, want := range []int{503, 200, 503, 200} {
		if a := e.rawGet(faultStatus); a.status != want {
			t.Fatalf("request %d: HTTP %d, want %d", i+1, a.status, want)
		}
	}
	if got := e.sim.FaultHits(faultStatus); got != 4 {
		t.Fatalf("FaultHits = %d, want 4", got)
	}
	// Other paths get the global fault.
	wantJSONStatus(t, e.rawGet(faultService), `{"status":"error","messages":["Could not decrypt token. Token may not be valid."],"code":498}`)
	// Faulted requests are recorded only when they reach the normal
	// handler (the flapping successes), as the request log shows.
	n := 0
	for _, r := range e.sim.Requests() {
		if strings.HasSuffix(r.Path, "/status") {
			n++
		}
	}
	if n != 2 {
		t.Fatalf("request log holds %d status requests, want 2", n)
	}
}

func TestFaultLatencyClientGivesUp(t *testing.T) {
	e := newEnv(t, simulator.Config{})
	e.sim.InjectFault(simulator.Fault{Kind: simulator.FaultLatency, Delay: time.Hour})
	client := *e.client
	client.Timeout = 50 * time.Millisecond
	_, err := client.Get(e.adminURL(faultStatus) + "?" + url.Values{"f": {"json"}}.Encode())
	if err == nil {
		t.Fatal("request through an hour of latency succeeded")
	}
	// The handler returned when the client went away: httptest.Server.Close
	// (in Cleanup) would otherwise block and the leak check would fail.
}

// TestFaultDropResponseAppliesTheWrite checks that a write whose answer is
// dropped took effect, and that FaultRefuse's did not.
func TestFaultDropResponseAppliesTheWrite(t *testing.T) {
	for _, tc := range []struct {
		kind  simulator.FaultKind
		state string
	}{
		{simulator.FaultDropResponse, "STOPPED"},
		{simulator.FaultRefuse, "STARTED"},
	} {
		t.Run(tc.kind.String(), func(t *testing.T) {
			e := newEnv(t, simulator.Config{})
			e.sim.InjectFault(simulator.Fault{Kind: tc.kind, Path: faultService + "/stop"})
			req, err := http.NewRequest(http.MethodPost, e.adminURL(faultService+"/stop"), strings.NewReader(e.authed().Encode()))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Close = true
			if resp, err := e.client.Do(req); err == nil {
				resp.Body.Close()
				t.Fatalf("got HTTP %d, want a connection error", resp.StatusCode)
			}
			if st, err := e.sim.ServiceState("SampleWorldCities.MapServer"); err != nil || st != tc.state {
				t.Fatalf("ServiceState = %q, %v; want %s", st, err, tc.state)
			}
		})
	}
	e := newEnv(t, simulator.Config{})
	if _, err := e.sim.ServiceState("Nope.MapServer"); err == nil {
		t.Fatal("ServiceState of an unknown service succeeded")
	}
}
