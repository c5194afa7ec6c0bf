package simulator

import (
	"net/http"
	"net/url"
	"strings"
)

// maxLoggedRequests bounds the request log so long benchmarks do not grow
// memory without limit; RequestCount stays exact.
const maxLoggedRequests = 100_000

// redacted replaces the values of secret parameters in the request log.
const redacted = "REDACTED"

// Request is one request received by a Server, as kept in its request log.
type Request struct {
	// Method is the HTTP method.
	Method string
	// Path is the URL path (without query string).
	Path string
	// Form holds the query string and body parameters merged (body values
	// first). Values of token and password parameters are replaced by
	// "REDACTED".
	Form url.Values
}

// record appends a request to the log.
func (s *Server) record(r *http.Request, form url.Values) {
	entry := Request{Method: r.Method, Path: r.URL.Path, Form: redactForm(form)}
	s.logMu.Lock()
	defer s.logMu.Unlock()
	s.reqCount++
	if len(s.reqLog) < maxLoggedRequests {
		s.reqLog = append(s.reqLog, entry)
		return
	}
	s.reqLog[s.reqStart] = entry
	s.reqStart = (s.reqStart + 1) % len(s.reqLog)
}

// Requests returns a copy of the request log in arrival order. Only the most
// recent 100,000 requests are kept.
func (s *Server) Requests() []Request {
	s.logMu.Lock()
	defer s.logMu.Unlock()
	out := make([]Request, 0, len(s.reqLog))
	for i := range s.reqLog {
		e := s.reqLog[(s.reqStart+i)%len(s.reqLog)]
		e.Form = cloneValues(e.Form)
		out = append(out, e)
	}
	return out
}

// RequestCount returns the number of requests received since New or the last
// ResetRequests, whatever their path or outcome, except those an injected
// fault answered without serving them (FaultHits counts those).
func (s *Server) RequestCount() int {
	s.logMu.Lock()
	defer s.logMu.Unlock()
	return s.reqCount
}

// ResetRequests empties the request log and resets RequestCount to zero.
func (s *Server) ResetRequests() {
	s.logMu.Lock()
	defer s.logMu.Unlock()
	s.reqLog = nil
	s.reqStart = 0
	s.reqCount = 0
}

// redactForm copies form, replacing the values of secret parameters.
func redactForm(form url.Values) url.Values {
	out := make(url.Values, len(form))
	for k, vs := range form {
		cp := make([]string, len(vs))
		if isSecretParam(k) {
			for i := range cp {
				cp[i] = redacted
			}
		} else {
			copy(cp, vs)
		}
		out[k] = cp
	}
	return out
}

// isSecretParam reports whether a parameter carries a credential.
func isSecretParam(name string) bool {
	return strings.EqualFold(name, "token") || strings.EqualFold(name, "password")
}

// cloneValues deep-copies v.
func cloneValues(v url.Values) url.Values {
	out := make(url.Values, len(v))
	for k, vs := range v {
		out[k] = append([]string(nil), vs...)
	}
	return out
}
