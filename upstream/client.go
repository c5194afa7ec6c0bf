package upstream

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"time"
)

const (
	defaultUserAgent        = "arcgate"
	defaultMaxResponseBytes = 32 << 20 // 32 MiB
)

// Client talks to the ArcGIS Server Administrator API of one site. It is
// safe for concurrent use. Create it with New.
type Client struct {
	wire     *wire
	adminURL *url.URL // site URL + "/admin/", always with a trailing slash
	adminStr string   // adminURL.String()
	tokens   TokenSource
	creds    *credentials // set by WithCredentials; kept only to scrub the password
	auth     poolSettings // token pool options (pool.go)
	pool     *Pool        // tokens of the service and delegated identities (pool.go)
	hard     hardening    // TLS roots (transport.go) and resilience (retry.go)
	now      func() time.Time
	flavor   Flavor // WithFlavor (flavor.go)

	flights    readFlights // identical reads in flight (coalesce.go)
	noCoalesce bool

	common service // reused by every resource service instead of allocating one each

	// Services manages services and folders (admin/services).
	Services *ServicesService
	// Jobs manages the jobs of GP services (admin/services/.../jobs).
	Jobs *JobsService
	// SystemJobs reads the asynchronous admin jobs (admin/system/jobs).
	SystemJobs *SystemJobsService
	// KubernetesJobs reads the asynchronous jobs of Enterprise on
	// Kubernetes (admin/jobs), for a client WithFlavor(FlavorKubernetes).
	KubernetesJobs *KubernetesJobsService
	// Roles manages security roles, privileges and members (admin/security/roles).
	Roles *RolesService
	// UsageReports manages usage reports (admin/usagereports).
	UsageReports *UsageReportsService
	// ItemInfo manages the item info of services (admin/services/.../iteminfo).
	ItemInfo *ItemInfoService
}

// service is the shared base of the per-resource services.
type service struct {
	client *Client
}

// Option configures a Client in New.
type Option func(*Client) error

// WithHTTPClient sets the HTTP client used for every request, including
// generateToken. The default is a new http.Client without a timeout: use
// context deadlines.
func WithHTTPClient(hc *http.Client) Option {
	return func(c *Client) error {
		if hc == nil {
			return errors.New("upstream: WithHTTPClient: nil client")
		}
		c.wire.hc = hc
		return nil
	}
}

// WithTokenSource sets the source of tokens, e.g. StaticToken or a pool.
// It cannot be combined with WithCredentials. Without either option the
// client sends no token.
func WithTokenSource(ts TokenSource) Option {
	return func(c *Client) error {
		if ts == nil {
			return errors.New("upstream: WithTokenSource: nil source")
		}
		c.tokens = ts
		return nil
	}
}

// WithCredentials makes the client's token pool obtain tokens for the
// given account (the service identity) with the token service set by
// WithTokenConfig (default: admin generateToken). The password is kept
// only for that purpose and to scrub it from upstream messages.
func WithCredentials(username, password string) Option {
	return func(c *Client) error {
		if username == "" || password == "" {
			return errors.New("upstream: WithCredentials: empty username or password")
		}
		c.creds = &credentials{username: username, password: newSecret(password)}
		return nil
	}
}

// WithMaxResponseBytes limits the size of every response body read
// (default 32 MiB). A larger body yields an *Error of Kind KindTooLarge.
func WithMaxResponseBytes(n int64) Option {
	return func(c *Client) error {
		if n <= 0 {
			return fmt.Errorf("upstream: WithMaxResponseBytes: %d is not positive", n)
		}
		c.wire.maxBytes = n
		return nil
	}
}

// WithUserAgent sets the User-Agent header (default "arcgate").
func WithUserAgent(ua string) Option {
	return func(c *Client) error {
		if ua == "" || strings.ContainsAny(ua, "\r\n") {
			return errors.New("upstream: WithUserAgent: empty or multi-line user agent")
		}
		c.wire.userAgent = ua
		return nil
	}
}

// WithClock sets the clock used for token expiry (default time.Now).
func WithClock(now func() time.Time) Option {
	return func(c *Client) error {
		if now == nil {
			return errors.New("upstream: WithClock: nil clock")
		}
		c.now = now
		return nil
	}
}

// New returns a client for the site at baseURL, e.g.
// "https://host/arcgis" or "http://host:6080/arcgis"; the admin API is
// baseURL + "/admin/". baseURL must be an absolute http or https URL
// without user info, query or fragment.
func New(baseURL string, opts ...Option) (*Client, error) {
	u, err := parseBaseURL(baseURL)
	if err != nil {
		return nil, err
	}
	admin := *u
	admin.Path = strings.TrimSuffix(u.Path, "/") + "/admin/"
	if u.RawPath != "" {
		admin.RawPath = strings.TrimSuffix(u.RawPath, "/") + "/admin/"
	}
	c := &Client{
		wire:     &wire{userAgent: defaultUserAgent, maxBytes: defaultMaxResponseBytes},
		adminURL: &admin,
		adminStr: admin.String(),
		now:      time.Now,
		flavor:   FlavorServer,
	}
	for _, o := range opts {
		if err := o(c); err != nil {
			return nil, err
		}
	}
	if err := c.harden(); err != nil {
		return nil, err
	}
	if c.wire.hc == nil {
		c.wire.hc = &http.Client{}
	}
	if err := c.initTokens(u.String()); err != nil {
		return nil, err
	}
	c.common.client = c
	c.Services = (*ServicesService)(&c.common)
	c.Jobs = (*JobsService)(&c.common)
	c.SystemJobs = (*SystemJobsService)(&c.common)
	c.KubernetesJobs = (*KubernetesJobsService)(&c.common)
	c.Roles = (*RolesService)(&c.common)
	c.UsageReports = (*UsageReportsService)(&c.common)
	c.ItemInfo = (*ItemInfoService)(&c.common)
	return c, nil
}

// parseBaseURL checks that raw is an absolute http(s) URL with a host and
// without user info, query or fragment. Its errors never echo raw, which
// could hold a password in its user info.
func parseBaseURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, errors.New("upstream: base URL cannot be parsed")
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return nil, fmt.Errorf("upstream: base URL scheme must be http or https, not %q", truncate(u.Scheme, 16))
	case u.Host == "" || u.Opaque != "":
		return nil, errors.New("upstream: base URL has no host")
	case u.User != nil:
		return nil, errors.New("upstream: base URL must not contain user info")
	case u.RawQuery != "" || u.ForceQuery:
		return nil, errors.New("upstream: base URL must not contain a query")
	case u.Fragment != "" || strings.Contains(raw, "#"):
		return nil, errors.New("upstream: base URL must not contain a fragment")
	}
	return u, nil
}

// withTrailingSlash returns u with its path ending in "/".
func withTrailingSlash(u *url.URL) *url.URL {
	v := *u
	if !strings.HasSuffix(v.Path, "/") {
		v.Path += "/"
		if v.RawPath != "" {
			v.RawPath += "/"
		}
	}
	return &v
}

// String describes the client by its admin URL; it never shows a secret.
func (c *Client) String() string { return "upstream.Client{" + c.AdminURL() + "}" }

// GoString is String, for %#v.
func (c *Client) GoString() string { return c.String() }

// Format implements fmt.Formatter so that no verb prints the client's
// fields (which hold the token source and credentials).
func (c *Client) Format(f fmt.State, verb rune) { formatRedacted(f, verb, c.String(), c.GoString()) }

// AdminURL returns the admin API root, e.g. "https://host/arcgis/admin/".
// It never contains a secret.
func (c *Client) AdminURL() string { return c.adminURL.String() }

// SiteInfo is the admin root resource.
type SiteInfo struct {
	// CurrentVersion is the numeric version, e.g. 10.51 or 11.3.
	CurrentVersion float64
	// FullVersion is the dotted version, e.g. "10.5.1".
	FullVersion string
	// Resources lists the child resources, e.g. "services", "security".
	Resources []string
}

// siteInfoWire is the wire shape of SiteInfo.
type siteInfoWire struct {
	CurrentVersion jsonFloat  `json:"currentVersion"`
	FullVersion    jsonText   `json:"fullVersion"`
	Resources      []jsonText `json:"resources"`
}

// SiteInfo returns the admin root resource: version and child resources.
//
// ArcGIS docs: https://developers.arcgis.com/rest/enterprise-administration/server/site/
//
//upstream:operation GET /
func (c *Client) SiteInfo(ctx context.Context) (*SiteInfo, error) {
	var w siteInfoWire
	if err := c.get(ctx, "site.info", "", nil, &w); err != nil {
		return nil, err
	}
	info := &SiteInfo{CurrentVersion: float64(w.CurrentVersion), FullVersion: string(w.FullVersion)}
	for _, r := range w.Resources {
		info.Resources = append(info.Resources, string(r))
	}
	return info, nil
}

// request is one upstream call. path is admin-relative and already escaped.
type request struct {
	op     string
	method string
	path   string
	query  url.Values // GET parameters
	form   url.Values // POST form fields
	// files are POST file parts: the body is then multipart/form-data.
	files []formFile
	// idempotent marks a POST that only reads (see postRead), so that
	// WithResilience may retry it; every GET is treated as idempotent.
	idempotent bool
	// tokenInHeader sends a GET's token in the X-Esri-Authorization header
	// rather than the query string (set per attempt by doOnce).
	tokenInHeader bool
	// shared lets a coalesced read's decoded value (of a shareable type)
	// be shared with the other callers of its flight: the operation
	// returns it read-only.
	shared bool
}

// get performs a GET of path (admin-relative, escaped) with parameters q
// and decodes the JSON answer into v (which may be nil).
func (c *Client) get(ctx context.Context, op, path string, q url.Values, v any) error {
	return c.do(ctx, &request{op: op, method: http.MethodGet, path: path, query: q}, v)
}

// getShared is get for an operation whose value is read-only for its
// callers, so that the callers of one flight may share it (request.shared).
func (c *Client) getShared(ctx context.Context, op, path string, q url.Values, v any) error {
	return c.do(ctx, &request{op: op, method: http.MethodGet, path: path, query: q, shared: true}, v)
}

// post performs a form-encoded POST of path (admin-relative, escaped) and
// decodes the JSON answer into v (which may be nil; a {"status":"success"}
// body is then enough).
func (c *Client) post(ctx context.Context, op, path string, form url.Values, v any) error {
	return c.do(ctx, &request{op: op, method: http.MethodPost, path: path, form: form}, v)
}

// A request is sent by one of three methods, one per kind of answer:
//
//   - do decodes a JSON answer into a value (a read may be coalesced with
//     identical reads in flight, coalesce.go);
//   - doShared keeps a checked JSON answer undecoded, for a coalesced
//     flight whose callers each decode it;
//   - doFile keeps an answer that is a file rather than JSON (a thumbnail).
//
// Each passes send a decode function that checks the answer and takes from
// it what the method returns.

// decodeFunc checks an answer (status, Content-Type and body) for error
// envelopes and takes from it what its caller returns; it returns nil or
// an *Error with Kind, HTTPStatus, Code, Messages and Err set.
type decodeFunc func(status int, contentType string, body []byte) *Error

// do sends r and decodes its JSON answer into v (which may be nil: a
// {"status":"success"} body is then enough). A read joins an identical
// read in flight (coalesce.go).
func (c *Client) do(ctx context.Context, r *request, v any) error {
	if r.isWrite() {
		// Reads from now on do not join flights sent before (coalesce.go),
		// nor, once the write completes, flights sent while it ran.
		c.flights.wrote()
		defer c.flights.wrote()
	}
	if key := c.coalesceKey(ctx, r); key != "" {
		return c.doCoalesced(ctx, key, r, v)
	}
	return c.doOnce(ctx, r, decodeJSON(v))
}

// decodeJSON is the decodeFunc that decodes a JSON answer into v.
func decodeJSON(v any) decodeFunc {
	return func(status int, contentType string, body []byte) *Error {
		return decodeResponse(status, contentType, body, v)
	}
}

// doShared sends r and returns its answer checked (no error envelope,
// valid JSON) but not decoded: the body of a coalesced flight. When check
// is not nil, the body is checked by decoding it into a new value of its
// type (checkResponse), set in *checked, if that decoder takes it.
func (c *Client) doShared(ctx context.Context, r *request, check checkedDecoder, checked *checkedDecoder) ([]byte, error) {
	var data []byte
	err := c.doOnce(ctx, r, func(status int, contentType string, body []byte) *Error {
		*checked = nil
		d, e := checkResponse(status, contentType, body, check)
		if e != nil {
			return e
		}
		data, *checked = body, d
		return nil
	})
	return data, err
}

// doFile sends r, a read whose answer is a file rather than JSON, and
// returns the file's Content-Type and bytes (see decodeFile). It is never
// coalesced.
func (c *Client) doFile(ctx context.Context, r *request) (contentType string, data []byte, err error) {
	err = c.doOnce(ctx, r, func(status int, ct string, body []byte) *Error {
		if e := decodeFile(status, ct, body); e != nil {
			return e
		}
		contentType, data = ct, body
		return nil
	})
	return contentType, data, err
}

// doOnce sends r with a token, its answer checked by decode, and, when the
// upstream rejects the token (code 498 or 499), invalidates it and retries
// once with a new one. The retry is safe because a rejected token means
// the operation did not run.
func (c *Client) doOnce(ctx context.Context, r *request, decode decodeFunc) error {
	var rejected *Token
	var lastErr error
	for attempt := 0; attempt < 2; attempt++ {
		tok, err := c.token(ctx, r)
		if err != nil {
			return err
		}
		if rejected != nil && tok != nil && tok.Value == rejected.Value {
			return lastErr // the source has nothing better to offer
		}
		value := ""
		if tok != nil {
			value = tok.Value
		}
		// A GET's token goes in the X-Esri-Authorization header, as Esri
		// recommends, so that it is in no URL that a proxy or a log could
		// keep. A site that answers such a request with 499 (no token seen)
		// does not read that header on /admin: the request is sent again
		// with the token in the query string, and so are later GETs.
		rr := *r
		rr.tokenInHeader = value != "" && r.method == http.MethodGet && !c.wire.queryToken.Load()
		var secretsBuf [3]string
		secrets := c.appendSecrets(ctx, secretsBuf[:0], value)
		err = c.wire.send(ctx, c.adminStr, &rr, value, secrets, decode)
		var e *Error
		if rr.tokenInHeader && errors.As(err, &e) && e.Kind == KindAPI && e.Code == 499 {
			c.wire.queryToken.Store(true)
			rr.tokenInHeader = false
			err = c.wire.send(ctx, c.adminStr, &rr, value, secrets, decode)
		}
		if tok != nil && errors.As(err, &e) && isTokenRejection(e) {
			c.invalidate(tok) // on every rejection, so the next call starts fresh
			rejected, lastErr = tok, err
			continue
		}
		return err
	}
	return lastErr
}

// token gets a token for the identity in ctx from the pool (delegated
// mode, see WithIdentity), else from the service token source; it returns
// nil when there is neither.
func (c *Client) token(ctx context.Context, r *request) (*Token, error) {
	var (
		tok *Token
		err error
	)
	switch id := identityFromContext(ctx); {
	case id != nil && c.pool != nil:
		var e *poolEntry
		if e, err = c.pool.lookup(id); err == nil {
			tok, err = c.pool.tokenOf(ctx, e)
		}
	case c.tokens != nil:
		tok, err = c.tokens.Token(ctx)
	default:
		return nil, nil
	}
	if err != nil {
		var e *Error
		if errors.As(err, &e) {
			return nil, err
		}
		kind := KindToken
		if ctx.Err() != nil {
			kind = KindTransport
		}
		return nil, &Error{Kind: kind, Op: r.op, Method: r.method, Path: r.path,
			Err: scrubError(contextError(ctx, err), c.secrets(ctx, ""))}
	}
	if tok == nil || tok.Value == "" {
		return nil, &Error{Kind: KindToken, Op: r.op, Method: r.method, Path: r.path,
			Messages: []string{"token source returned an empty token"}}
	}
	return tok, nil
}

// invalidate reports a rejected token to the pool entry that issued it,
// or else to the service token source.
func (c *Client) invalidate(tok *Token) {
	if tok.entry != nil {
		tok.entry.pool.Invalidate(tok)
	} else if c.tokens != nil {
		c.tokens.Invalidate(tok)
	}
}

// secrets lists the values to scrub from messages of a request sent with
// token: the token, the service password and the secret of a delegated
// identity in ctx.
func (c *Client) secrets(ctx context.Context, token string) []string {
	return c.appendSecrets(ctx, make([]string, 0, 3), token)
}

// appendSecrets is secrets appending to s (which, with room for three,
// the caller may keep on its stack).
func (c *Client) appendSecrets(ctx context.Context, s []string, token string) []string {
	if token != "" {
		s = append(s, token)
	}
	if c.creds != nil {
		s = append(s, c.creds.password())
	}
	if id := identityFromContext(ctx); id != nil {
		s = append(s, id.secret())
	}
	return s
}

// wire sends requests and checks responses; Client and the generateToken
// source share it.
type wire struct {
	hc        *http.Client
	userAgent string
	maxBytes  int64
	referer   string   // sent as the Referer header of every request (token client=referer)
	observe   Observer // set by WithObserver; nil: none
	// queryToken records that the site ignored a token sent in the
	// X-Esri-Authorization header (it answered 499, token not found), so
	// that GETs carry it in the query string from then on.
	queryToken atomic.Bool
	// lastBearer is the X-Esri-Authorization value of the last token sent
	// in it: {token, "Bearer " + token}.
	lastBearer atomic.Pointer[[2]string]
}

// bearer returns the X-Esri-Authorization value of token, the last one
// built when the token is the same.
func (w *wire) bearer(token string) string {
	if b := w.lastBearer.Load(); b != nil && b[0] == token {
		return b[1]
	}
	b := &[2]string{token, "Bearer " + token}
	w.lastBearer.Store(b)
	return b[1]
}

// send performs r against admin (the admin root URL) with token and checks
// the answer with decode. Every request carries f=json; GET puts parameters in
// the query string and the token in the X-Esri-Authorization header (in the
// query string when r.tokenInHeader is false), POST puts both in a
// form-encoded (or multipart) body and never in the URL. Every body is read
// through the size limit and checked for both error envelopes, whatever the
// HTTP status.
func (w *wire) send(ctx context.Context, admin string, r *request, token string, secrets []string, decode decodeFunc) (err error) {
	defer w.observed(r, time.Now(), &err)
	// A write's errors say whether it may have reached the upstream (sent)
	// and whether its answer was cut short, so that a caller can tell
	// "not applied" from "may have been applied" (Error.OutcomeUnknown).
	write := r.isWrite()
	sent := false
	var data []byte
	fail := func(e *Error) *Error {
		e.Op, e.Method, e.Path = r.op, r.method, r.path
		e.Write, e.Sent = write, write && sent
		if write && e.Kind == KindDecode && e.HTTPStatus >= 200 && e.HTTPStatus <= 299 {
			e.cut = truncatedJSON(data)
		}
		for i, m := range e.Messages {
			e.Messages[i] = scrub(m, secrets)
		}
		e.Err = scrubError(e.Err, secrets)
		return e
	}
	// Concatenate rather than resolve: resolving would remove dot segments.
	if strings.HasPrefix(r.path, "/") || strings.ContainsAny(r.path, "?#") {
		return fail(&Error{Kind: KindInvalid, Messages: []string{"invalid request path"}})
	}
	src := r.query
	if r.method != http.MethodGet {
		src = r.form
	}
	queryToken := ""
	if token != "" && !r.tokenInHeader {
		queryToken = token
	}
	var body io.Reader
	contentType := "application/x-www-form-urlencoded"
	var target string // the URL; parsed once, by NewRequestWithContext
	switch {
	case r.method == http.MethodGet:
		var b strings.Builder
		b.Grow(len(admin) + len(r.path) + 64)
		b.WriteString(admin)
		b.WriteString(r.path)
		b.WriteByte('?')
		encodeParams(&b, src, queryToken)
		target = b.String()
	case len(r.files) > 0:
		target = admin + r.path
		if _, err := url.Parse(target); err != nil {
			return fail(&Error{Kind: KindInvalid, Messages: []string{"invalid request path"}})
		}
		mp, ct, err := encodeMultipart(requestParams(src, queryToken), r.files)
		if err != nil {
			return fail(&Error{Kind: KindInvalid, Messages: []string{"cannot build multipart body"}})
		}
		body, contentType = mp, ct
	default:
		target = admin + r.path
		var b strings.Builder
		encodeParams(&b, src, queryToken)
		body = strings.NewReader(b.String())
	}
	reqCtx := markIdempotent(ctx, r)
	var trace *sendTrace
	if write {
		trace = &sendTrace{}
		reqCtx = trace.withTrace(reqCtx)
	}
	req, err := http.NewRequestWithContext(reqCtx, r.method, target, body)
	if err != nil {
		// The method and the context are fine: the URL is not.
		return fail(&Error{Kind: KindInvalid, Messages: []string{"invalid request path"}})
	}
	u := req.URL
	w.setHeaders(ctx, req.Header, body != nil, contentType, token, r.tokenInHeader)

	if write && ctx.Err() != nil { // provably not sent
		return fail(&Error{Kind: KindTransport, Err: contextError(ctx, nil)})
	}
	resp, err := w.hc.Do(req)
	if err != nil {
		sent = write && trace.mayHaveReached(err)
		return fail(&Error{Kind: KindTransport, Err: contextError(ctx, redactURLError(err, u))})
	}
	sent = write
	defer func() { _ = resp.Body.Close() }()

	limit := w.maxBytes
	if limit < math.MaxInt64 {
		limit++
	}
	data, err = readBody(resp, limit)
	if err != nil {
		return fail(&Error{Kind: KindTransport, HTTPStatus: resp.StatusCode,
			Err: contextError(ctx, fmt.Errorf("reading response body: %w", err))})
	}
	if int64(len(data)) > w.maxBytes {
		return fail(&Error{Kind: KindTooLarge, HTTPStatus: resp.StatusCode,
			Err: fmt.Errorf("response body exceeds the %d-byte limit", w.maxBytes)})
	}
	if e := decode(resp.StatusCode, resp.Header.Get("Content-Type"), data); e != nil {
		return fail(e)
	}
	return nil
}

// encodeParams writes to b the parameters of a request, encoded as
// url.Values.Encode does (sorted by key): those of src but f and token,
// f=json and, when token is not "", token. It writes
// requestParams(src, token).Encode() without building the map.
func encodeParams(b *strings.Builder, src url.Values, token string) {
	var keysBuf [8]string
	keys := append(keysBuf[:0], "f")
	if token != "" {
		keys = append(keys, "token")
	}
	for k := range src {
		if k != "f" && k != "token" {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	first := true
	for _, k := range keys {
		vs := src[k]
		switch k {
		case "f":
			vs = []string{"json"}
		case "token":
			vs = []string{token}
		}
		ek := url.QueryEscape(k)
		for _, v := range vs {
			if !first {
				b.WriteByte('&')
			}
			first = false
			b.WriteString(ek)
			b.WriteByte('=')
			b.WriteString(url.QueryEscape(v))
		}
	}
}

// requestParams returns the parameters of a request as url.Values: a copy
// of src with f=json and, when token is not "", token (any f or token of
// src replaced).
func requestParams(src url.Values, token string) url.Values {
	params := url.Values{}
	for k, vs := range src {
		params[k] = append([]string(nil), vs...)
	}
	params.Set("f", "json")
	params.Del("token")
	if token != "" {
		params.Set("token", token)
	}
	return params
}

// acceptHeader is the Accept header of every request.
const acceptHeader = "application/json, text/plain;q=0.9, */*;q=0.1"

// setHeaders sets the headers of a request in h (empty): Content-Type when
// it has a body, Accept, User-Agent, the token when it goes in a header,
// Referer when configured and the request id of ctx. The keys are in
// canonical form, and all values share one slice.
func (w *wire) setHeaders(ctx context.Context, h http.Header, hasBody bool, contentType, token string, tokenInHeader bool) {
	var kv [6][2]string
	n := 0
	if hasBody {
		kv[n] = [2]string{"Content-Type", contentType}
		n++
	}
	kv[n] = [2]string{"Accept", acceptHeader}
	kv[n+1] = [2]string{"User-Agent", w.userAgent}
	n += 2
	if token != "" && tokenInHeader {
		kv[n] = [2]string{"X-Esri-Authorization", w.bearer(token)}
		n++
	}
	if w.referer != "" {
		kv[n] = [2]string{"Referer", w.referer}
		n++
	}
	if id, ok := requestIDOf(ctx); ok {
		kv[n] = [2]string{RequestIDHeader, id}
		n++
	}
	vs := make([]string, n)
	for i := range n {
		vs[i] = kv[i][1]
		h[kv[i][0]] = vs[i : i+1 : i+1]
	}
}

// truncatedJSON reports whether data looks like the start of a JSON
// object or array that ends too early (or is otherwise broken). Bodies that
// are not JSON at all (an HTML page) are not truncated JSON: retrying a
// misconfigured proxy does not help.
func truncatedJSON(data []byte) bool {
	return jsonStart(data) && !json.Valid(data)
}

// jsonStart reports whether data starts (after spaces) like a JSON object
// or array.
func jsonStart(data []byte) bool {
	t := bytes.TrimLeft(data, " \t\r\n")
	return len(t) > 0 && (t[0] == '{' || t[0] == '[')
}

// readBody reads resp's body, at most limit bytes. The resilient
// transport's body (bufferedBody), read already and no longer than limit,
// is taken as it is.
func readBody(resp *http.Response, limit int64) ([]byte, error) {
	if b, ok := resp.Body.(*bufferedBody); ok && int64(len(b.data)) <= limit {
		return b.take()
	}
	return readLimited(resp.Body, resp.ContentLength, limit)
}

// readLimited reads r, a body of n bytes (-1: unknown), up to limit bytes.
// A body of known length is read into a buffer of that size, in one go.
func readLimited(r io.Reader, n, limit int64) ([]byte, error) {
	if n >= 0 && n < limit {
		buf := make([]byte, 0, n+1) // +1: the read that reports the end needs no larger buffer
		for {
			m, err := r.Read(buf[len(buf):cap(buf)])
			buf = buf[:len(buf)+m]
			if err == io.EOF {
				return buf, nil
			}
			if err != nil {
				return buf, err
			}
			if len(buf) == cap(buf) {
				break // longer than announced: read the rest below
			}
		}
		rest, err := io.ReadAll(io.LimitReader(r, limit-int64(len(buf))))
		return append(buf, rest...), err
	}
	return io.ReadAll(io.LimitReader(r, limit))
}
