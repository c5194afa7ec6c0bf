package simulator

import (
	"bytes"
	"encoding/json"
	"errors"
	"html"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// Content types of simulator answers. JSON is sent as text/plain, exactly as
// a 10.5.1 server does.
const (
	contentTypeJSON = "text/plain;charset=UTF-8"
	contentTypeHTML = "text/html;charset=UTF-8"
)

// Messages recorded from real servers (docs/upstream.md#token-rejection,
// docs/upstream.md#errors, docs/upstream.md#recorded-payloads).
const (
	msgTokenNotFound = "Unauthorized access. Token not found. You can generate a token using the 'generateToken' operation."
	msgTokenExpired  = "Token Expired."
	msgTokenInvalid  = "Could not decrypt token. Token may not be valid."
	msgNPE           = "java.lang.NullPointerException"
)

// Invented messages (no text is recorded for these cases,
// docs/upstream.md#open-questions).
const (
	// msgMethodNotSupported is INVENTED: answer to a GET (or any other
	// non-POST method) sent to a POST-only operation.
	msgMethodNotSupported = "Method not supported."
	// msgTokenClientMismatch is INVENTED: a referer- or IP-bound token
	// presented from another referer or IP (docs/upstream.md#open-questions
	// lists this as open).
	msgTokenClientMismatch = "Invalid token."
	// msgBodyTooLarge is INVENTED: request body above MaxBodyBytes.
	msgBodyTooLarge = "Request body is too large."
)

// format is the output format selected by the f parameter.
type format int

const (
	formatHTML format = iota
	formatJSON
	formatPJSON
)

// parseFormat maps the f parameter to a format: json and pjson select JSON,
// anything else (including a missing f) selects the HTML default.
func parseFormat(f string) format {
	switch strings.ToLower(f) {
	case "json":
		return formatJSON
	case "pjson":
		return formatPJSON
	default:
		return formatHTML
	}
}

// call is the state of one request being served.
type call struct {
	s      *Server
	w      http.ResponseWriter
	r      *http.Request
	form   url.Values // query and body parameters, merged (body first)
	format format
	segs   []string // path segments below the admin root
	code   int      // envelope code written (200 for success), for Logf
	// async is set when the call is a service operation asked to run
	// asynchronously (systemjobs.go): success then answers a job id.
	async *asyncCall
}

// begin limits and parses the request body, records the request and returns
// the call. It answers the request itself and returns false when the body is
// too large.
func (s *Server) begin(w http.ResponseWriter, r *http.Request) (*call, bool) {
	c := &call{s: s, w: w, r: r, code: http.StatusOK}
	if r.ContentLength > MaxBodyBytes {
		return c, s.refuseBody(c)
	}
	if r.Body != nil {
		r.Body = http.MaxBytesReader(w, r.Body, MaxBodyBytes)
	}
	err := parseParams(r)
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		return c, s.refuseBody(c)
	}
	// Other parse errors (malformed encoding) are ignored: whatever could be
	// parsed is used, like a servlet container does.
	c.form = r.Form
	if c.form == nil {
		c.form = url.Values{}
	}
	c.format = parseFormat(c.form.Get("f"))
	s.record(r, c.form)
	return c, true
}

// refuseBody answers a request whose body exceeds MaxBodyBytes with HTTP 413
// and an admin error envelope. It always returns false.
func (s *Server) refuseBody(c *call) bool {
	q := c.r.URL.Query()
	c.form = q
	c.format = parseFormat(q.Get("f"))
	s.record(c.r, q)
	c.code = http.StatusRequestEntityTooLarge
	c.writeStatus(http.StatusRequestEntityTooLarge, mustJSON(adminError{
		Status: "error", Messages: []string{msgBodyTooLarge}, Code: http.StatusRequestEntityTooLarge,
	}))
	c.finish()
	return false
}

// parseParams fills r.Form from the query string and from an url-encoded or
// multipart body.
func parseParams(r *http.Request) error {
	ct := r.Header.Get("Content-Type")
	if ct != "" && r.Method == http.MethodPost {
		if mt, _, err := mime.ParseMediaType(ct); err == nil && mt == "multipart/form-data" {
			err := r.ParseMultipartForm(MaxBodyBytes)
			if r.Form == nil {
				_ = r.ParseForm()
			}
			return err
		}
	}
	return r.ParseForm()
}

// finish releases request resources and reports the request through Logf.
func (c *call) finish() {
	if c.r.MultipartForm != nil {
		_ = c.r.MultipartForm.RemoveAll()
	}
	c.s.logRequest(c.r, c.code)
}

// logRequest reports one answered request through Config.Logf, if set.
func (s *Server) logRequest(r *http.Request, code int) {
	if s.logf != nil {
		s.logf("simulator: %s %s -> %d", r.Method, r.URL.Path, code)
	}
}

// param returns the first value of the named parameter.
func (c *call) param(name string) string { return c.form.Get(name) }

// hasParam reports whether the named parameter was sent at all.
func (c *call) hasParam(name string) bool {
	_, ok := c.form[name]
	return ok
}

// requirePOST answers 405 and returns false unless the request is a POST.
func (c *call) requirePOST() bool {
	if c.r.Method != http.MethodPost {
		c.fail(405, msgMethodNotSupported)
		return false
	}
	return true
}

// adminError is the admin API error envelope.
type adminError struct {
	Status   string   `json:"status"`
	Messages []string `json:"messages"`
	Code     int      `json:"code"`
}

// restError is the REST (token service / services directory) error envelope.
type restError struct {
	Error restErrorBody `json:"error"`
}

// restErrorBody is the inner object of a restError. Details is a string or an
// array depending on the endpoint.
type restErrorBody struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
	Details any    `json:"details"`
}

// successBody is the admin success envelope.
type successBody struct {
	Status string `json:"status"`
}

// success writes {"status":"success"}, or, for an operation asked to run
// asynchronously, {"status":"success","jobid":"<id>"}.
func (c *call) success() {
	if c.async != nil {
		c.s.succeedAsync(c, nil)
		return
	}
	c.writeJSON(successBody{Status: "success"})
}

// fail writes an admin error envelope with one message.
func (c *call) fail(code int, msg string) {
	c.code = code
	c.writeJSON(adminError{Status: "error", Messages: []string{msg}, Code: code})
}

// restFail writes a REST error envelope.
func (c *call) restFail(code int, message string, details any) {
	c.code = code
	c.writeJSON(restError{Error: restErrorBody{Code: code, Message: message, Details: details}})
}

// notFound writes the unknown resource envelope naming seg.
func (c *call) notFound(seg string) {
	c.fail(404, "Could not find resource or operation '"+seg+"' on the system.")
}

// writeJSON encodes v and writes it in the requested format.
func (c *call) writeJSON(v any) { c.writeBody(mustJSON(v)) }

// writeBody writes a compact JSON document in the requested format with HTTP 200.
func (c *call) writeBody(compact []byte) { c.writeStatus(http.StatusOK, compact) }

// writeStatus writes a compact JSON document in the requested format.
func (c *call) writeStatus(status int, compact []byte) {
	switch c.format {
	case formatJSON:
		writeRaw(c.w, status, contentTypeJSON, compact)
	case formatPJSON:
		writeRaw(c.w, status, contentTypeJSON, indentJSON(compact))
	default:
		writeRaw(c.w, status, contentTypeHTML, htmlPage(c.r.URL.Path, indentJSON(compact)))
	}
}

// writeRaw writes body with the given status and content type.
func writeRaw(w http.ResponseWriter, status int, contentType string, body []byte) {
	h := w.Header()
	h.Set("Content-Type", contentType)
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// mustJSON encodes v compactly without HTML escaping (a Java server does not
// escape <, > and &). v is always one of the simulator's own JSON-safe values.
func mustJSON(v any) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		// Unreachable for the simulator's own values; keep the wire valid.
		return []byte(`{"status":"error","messages":["` + msgNPE + `"],"code":500}`)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
}

// indentJSON pretty-prints a compact JSON document (the pjson format).
func indentJSON(compact []byte) []byte {
	var buf bytes.Buffer
	if err := json.Indent(&buf, compact, "", "  "); err != nil {
		return compact
	}
	return buf.Bytes()
}

// htmlPage renders the HTML answer given when f is missing or html: a small
// page showing the JSON the request would have produced.
func htmlPage(path string, pretty []byte) []byte {
	var b bytes.Buffer
	b.WriteString("<!DOCTYPE html>\n<html><head><title>ArcGIS Server Administrator Directory</title></head>\n<body>\n<h2>")
	b.WriteString(html.EscapeString(path))
	b.WriteString("</h2>\n<pre>")
	b.WriteString(html.EscapeString(string(pretty)))
	b.WriteString("</pre>\n<p>Use f=json or f=pjson for a machine readable answer.</p>\n</body></html>\n")
	return b.Bytes()
}
