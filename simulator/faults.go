package simulator

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// FaultKind selects what an injected Fault does to the requests it matches.
type FaultKind int

const (
	// FaultLatency delays the request by Fault.Delay, then serves it
	// normally (or drops it if the client gives up first).
	FaultLatency FaultKind = iota + 1
	// FaultRefuse closes the connection without answering and without
	// serving the request, as a server going away would (the client sees a
	// connection error after it sent the request, so it cannot tell this
	// from FaultDropResponse).
	FaultRefuse
	// FaultReset sends the status line, the headers with the full
	// Content-Length and half of the normal body, then closes the
	// connection (a reset mid-body).
	FaultReset
	// FaultStatus answers HTTP Fault.Status (default 503) with a small HTML
	// page, like a proxy in front of a sick server, and a Retry-After header
	// when Fault.RetryAfter is set.
	FaultStatus
	// FaultHTMLPage answers HTTP 200 with an HTML error page instead of
	// JSON, like a web adaptor that cannot reach the server.
	FaultHTMLPage
	// FaultTruncatedJSON serves the normal answer cut in the middle, with a
	// Content-Length matching the cut body (the HTTP exchange is complete,
	// the JSON is not).
	FaultTruncatedJSON
	// FaultContentType serves the normal answer with the Content-Type
	// application/octet-stream (clients must not rely on the content type,
	// docs/upstream.md#quirks).
	FaultContentType
	// FaultTokenInvalid answers every request with the recorded code 498
	// envelope "Could not decrypt token. Token may not be valid." (a 498
	// storm: fresh tokens do not help).
	FaultTokenInvalid
	// FaultTokenRequired answers with the recorded code 499 envelope
	// "Unauthorized access. Token not found. ...".
	FaultTokenRequired
	// FaultWrongCredentials answers with the generateToken refusal of a
	// wrong username or password (code 400; INVENTED text, see
	// msgAdminBadCredentials). Aim it at "generateToken".
	FaultWrongCredentials
	// FaultSiteNotCreated answers as a server whose site does not exist yet
	// (docs/upstream.md#site-not-created): generateToken gets the recorded
	// code 500 "Local machine ... is not participating in any Site"
	// envelope, every other path the recorded code 404 "Server machine ...
	// does not participate in any Site" envelope.
	FaultSiteNotCreated
	// FaultFlapping alternates per path: the 1st, 3rd, 5th ... matching
	// request to a path gets HTTP Fault.Status (default 503) as with
	// FaultStatus, the others are served normally.
	FaultFlapping
	// FaultDropResponse serves the request normally (a write takes
	// effect), then, after Fault.Delay if set (sooner if the client goes
	// away), closes the connection without sending the answer: the answer
	// is lost after the upstream processed the request.
	FaultDropResponse
)

// String names the kind, e.g. "refuse".
func (k FaultKind) String() string {
	switch k {
	case FaultLatency:
		return "latency"
	case FaultRefuse:
		return "refuse"
	case FaultReset:
		return "reset"
	case FaultStatus:
		return "status"
	case FaultHTMLPage:
		return "html-page"
	case FaultTruncatedJSON:
		return "truncated-json"
	case FaultContentType:
		return "content-type"
	case FaultTokenInvalid:
		return "token-invalid"
	case FaultTokenRequired:
		return "token-required"
	case FaultWrongCredentials:
		return "wrong-credentials"
	case FaultSiteNotCreated:
		return "site-not-created"
	case FaultFlapping:
		return "flapping"
	case FaultDropResponse:
		return "drop-response"
	default:
		return "FaultKind(" + strconv.Itoa(int(k)) + ")"
	}
}

// Fault is a misbehaviour injected with InjectFault.
type Fault struct {
	// Kind is what happens.
	Kind FaultKind
	// Path restricts the fault to requests whose path below the admin root
	// starts with it, e.g. "generateToken" or
	// "services/SampleWorldCities.MapServer/status". Empty: every request,
	// including /tokens/generateToken and /rest/info.
	Path string
	// Delay is the latency added by FaultLatency, and the time
	// FaultDropResponse holds the connection before dropping it.
	Delay time.Duration
	// Status is the HTTP status of FaultStatus and FaultFlapping (default
	// 503).
	Status int
	// RetryAfter, when positive, is sent as a Retry-After header (whole
	// seconds, rounded up) with FaultStatus and FaultFlapping answers.
	RetryAfter time.Duration
}

// Texts recorded from a server without a site
// (docs/upstream.md#site-not-created, docs/upstream.md#recorded-payloads).
const (
	msgSiteNotCreatedToken = "Local machine 'ARCGIS.INTERNAL.LOCAL' is not participating in any Site. Please create a new Site or join an existing Site."
	msgSiteNotCreatedAdmin = "Server machine 'ARCGIS.INTERNAL.LOCAL' does not participate in any Site. Create a new Site or join an existing Site."
)

// htmlErrorPage is INVENTED: no web adaptor error page is recorded
// (docs/upstream.md#open-questions); this is the shape of one (HTML, HTTP
// 200).
const htmlErrorPage = `<!DOCTYPE html>
<html><head><title>ArcGIS Web Adaptor</title></head>
<body><h1>Error</h1><p>Could not access any server machines. Please contact your system administrator.</p></body></html>
`

// faultState is the simulator's fault injection state.
type faultState struct {
	mu     sync.Mutex
	faults []Fault
	hits   map[string]int // requests that matched a fault, by relative path
}

// faultBypass marks a request context whose request is served without
// faults (the normal answer a fault then mangles).
type faultBypass struct{}

// InjectFault adds f; from now on requests it matches misbehave as it
// says. When several faults match a request, the one injected first
// applies. Safe for concurrent use.
func (s *Server) InjectFault(f Fault) {
	s.faults.mu.Lock()
	s.faults.faults = append(s.faults.faults, f)
	s.faults.mu.Unlock()
	s.logEvent("simulator: fault %s injected on %q", f.Kind, f.Path)
}

// ClearFaults removes every fault and resets the counts of FaultHits.
func (s *Server) ClearFaults() {
	s.faults.mu.Lock()
	defer s.faults.mu.Unlock()
	s.faults.faults = nil
	s.faults.hits = nil
}

// FaultHits returns the number of requests to path (below the admin root,
// e.g. "services/SampleWorldCities.MapServer/status"; the full URL path
// outside it) that a fault matched, served or not, since the last
// ClearFaults. It counts every attempt a client made.
func (s *Server) FaultHits(path string) int {
	s.faults.mu.Lock()
	defer s.faults.mu.Unlock()
	return s.faults.hits[path]
}

// relativePath returns the path of r below the admin root, or the full path
// outside it.
func (s *Server) relativePath(r *http.Request) string {
	if rel, ok := strings.CutPrefix(r.URL.Path, s.adminPrefix); ok {
		return rel
	}
	return r.URL.Path
}

// matchFault returns the fault for r, counting the hit, and the number of
// hits of r's path so far (this one included).
func (s *Server) matchFault(r *http.Request) (Fault, int, bool) {
	s.faults.mu.Lock()
	defer s.faults.mu.Unlock()
	if len(s.faults.faults) == 0 || r.Context().Value(faultBypass{}) != nil {
		return Fault{}, 0, false
	}
	rel := s.relativePath(r)
	for _, f := range s.faults.faults {
		if f.Path == "" || strings.HasPrefix(rel, f.Path) {
			if s.faults.hits == nil {
				s.faults.hits = make(map[string]int)
			}
			s.faults.hits[rel]++
			return f, s.faults.hits[rel], true
		}
	}
	return Fault{}, 0, false
}

// serveFault applies the fault matching r, if any. It reports whether it
// answered the request; when it did not, ServeHTTP serves it normally.
func (s *Server) serveFault(w http.ResponseWriter, r *http.Request) bool {
	f, n, ok := s.matchFault(r)
	if !ok {
		return false
	}
	s.logEvent("simulator: fault %s on %s %s", f.Kind, r.Method, r.URL.Path)
	switch f.Kind {
	case FaultLatency:
		// Read the body first: only then does net/http watch the connection
		// and cancel r.Context() when the client goes away.
		if r.Body != nil {
			body, err := io.ReadAll(io.LimitReader(r.Body, MaxBodyBytes+1))
			if err != nil {
				return true
			}
			r.Body = io.NopCloser(bytes.NewReader(body))
		}
		t := time.NewTimer(f.Delay)
		defer t.Stop()
		select {
		case <-t.C:
			return false
		case <-r.Context().Done():
			return true
		}
	case FaultRefuse:
		hijackClose(w, nil)
	case FaultReset:
		rec := s.normalAnswer(r)
		var buf bytes.Buffer
		fmt.Fprintf(&buf, "HTTP/1.1 %d %s\r\n", rec.status, http.StatusText(rec.status))
		rec.header.Set("Content-Length", strconv.Itoa(rec.body.Len()))
		rec.header.Set("Connection", "close")
		_ = rec.header.Write(&buf)
		buf.WriteString("\r\n")
		buf.Write(rec.body.Bytes()[:rec.body.Len()/2])
		hijackClose(w, buf.Bytes())
	case FaultDropResponse:
		s.normalAnswer(r)
		if f.Delay > 0 {
			t := time.NewTimer(f.Delay)
			select {
			case <-t.C:
			case <-r.Context().Done():
			}
			t.Stop()
		}
		hijackClose(w, nil)
	case FaultStatus:
		writeStatusPage(w, f)
	case FaultFlapping:
		if n%2 == 0 {
			return false
		}
		writeStatusPage(w, f)
	case FaultHTMLPage:
		writeRaw(w, http.StatusOK, contentTypeHTML, []byte(htmlErrorPage))
	case FaultTruncatedJSON:
		rec := s.normalAnswer(r)
		body := rec.body.Bytes()
		rec.send(w, body[:len(body)/2])
	case FaultContentType:
		rec := s.normalAnswer(r)
		rec.header.Set("Content-Type", "application/octet-stream")
		rec.send(w, rec.body.Bytes())
	case FaultTokenInvalid:
		writeEnvelope(w, adminError{Status: "error", Messages: []string{msgTokenInvalid}, Code: 498})
	case FaultTokenRequired:
		writeEnvelope(w, adminError{Status: "error", Messages: []string{msgTokenNotFound}, Code: 499})
	case FaultWrongCredentials:
		writeEnvelope(w, adminError{Status: "error", Messages: []string{msgAdminBadCredentials}, Code: 400})
	case FaultSiteNotCreated:
		rel := s.relativePath(r)
		if rel == "generateToken" || r.URL.Path == s.tokensPath {
			writeEnvelope(w, adminError{Status: "error", Messages: []string{msgSiteNotCreatedToken}, Code: 500})
		} else {
			// The recorded admin answer carries "acceptLanguage": null.
			writeEnvelope(w, struct {
				adminError
				AcceptLanguage *string `json:"acceptLanguage"`
			}{adminError: adminError{Status: "error", Messages: []string{msgSiteNotCreatedAdmin}, Code: 404}})
		}
	default:
		return false
	}
	return true
}

// writeEnvelope writes v as JSON with HTTP 200 and text/plain, as a 10.5.1
// server does.
func writeEnvelope(w http.ResponseWriter, v any) {
	writeRaw(w, http.StatusOK, contentTypeJSON, mustJSON(v))
}

// writeStatusPage writes the HTML page of a proxy answering f.Status.
func writeStatusPage(w http.ResponseWriter, f Fault) {
	code := f.Status
	if code == 0 {
		code = http.StatusServiceUnavailable
	}
	if f.RetryAfter > 0 {
		secs := (f.RetryAfter + time.Second - 1) / time.Second
		w.Header().Set("Retry-After", strconv.FormatInt(int64(secs), 10))
	}
	text := http.StatusText(code)
	page := "<html><head><title>" + strconv.Itoa(code) + " " + text + "</title></head><body><h1>" +
		strconv.Itoa(code) + " " + text + "</h1></body></html>\n"
	writeRaw(w, code, contentTypeHTML, []byte(page))
}

// hijackClose takes over the connection, writes raw (if any) and closes it.
func hijackClose(w http.ResponseWriter, raw []byte) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		// HTTP/2 cannot be hijacked: abort the stream instead.
		panic(http.ErrAbortHandler)
	}
	conn, rw, err := hj.Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	if len(raw) > 0 {
		_, _ = rw.Write(raw)
		_ = rw.Flush()
	}
	_ = conn.Close()
}

// recordedAnswer is a normal answer captured for a fault to mangle.
type recordedAnswer struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (a *recordedAnswer) Header() http.Header { return a.header }
func (a *recordedAnswer) Write(p []byte) (int, error) {
	if a.status == 0 {
		a.status = http.StatusOK
	}
	return a.body.Write(p)
}
func (a *recordedAnswer) WriteHeader(code int) {
	if a.status == 0 {
		a.status = code
	}
}

// normalAnswer serves r without faults into a recording.
func (s *Server) normalAnswer(r *http.Request) *recordedAnswer {
	rec := &recordedAnswer{header: http.Header{}}
	s.ServeHTTP(rec, r.WithContext(context.WithValue(r.Context(), faultBypass{}, true)))
	if rec.status == 0 {
		rec.status = http.StatusOK
	}
	return rec
}

// send writes the recorded status and headers with body (and its length).
func (a *recordedAnswer) send(w http.ResponseWriter, body []byte) {
	for k, vs := range a.header {
		w.Header()[k] = vs
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(a.status)
	_, _ = w.Write(body)
}
