package upstream_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/arcgate/arcgate/upstream"
)

func TestNew_AdminURL(t *testing.T) {
	t.Parallel()
	tests := []struct {
		base, want string
	}{
		{"https://host/arcgis", "https://host/arcgis/admin/"},
		{"https://host/arcgis/", "https://host/arcgis/admin/"},
		{"http://host:6080/arcgis", "http://host:6080/arcgis/admin/"},
		{"https://host", "https://host/admin/"},
		{"HTTPS://host/server", "https://host/server/admin/"},
		{"https://host/my%20site", "https://host/my%20site/admin/"},
	}
	for _, tt := range tests {
		c, err := upstream.New(tt.base)
		if err != nil {
			t.Errorf("New(%q): %v", tt.base, err)
			continue
		}
		if got := c.AdminURL(); got != tt.want {
			t.Errorf("New(%q).AdminURL() = %q, want %q", tt.base, got, tt.want)
		}
	}
}

func TestNew_RejectsBadURLs(t *testing.T) {
	t.Parallel()
	for _, base := range []string{
		"",
		"/arcgis",
		"host/arcgis",
		"ftp://host/arcgis",
		"file:///etc/passwd",
		"mailto:admin@host",
		"http:opaque",
		"https://",
		"https://admin:hunter2-secret@host/arcgis",
		"https://host/arcgis?token=abc",
		"https://host/arcgis?",
		"https://host/arcgis#frag",
		"https://host/arcgis#",
		"https://ho st/arcgis",
	} {
		c, err := upstream.New(base)
		if err == nil {
			t.Errorf("New(%q) = %v, want error", base, c.AdminURL())
			continue
		}
		if strings.Contains(err.Error(), "hunter2") {
			t.Errorf("New(%q) error leaks the password: %v", base, err)
		}
	}
}

func TestNew_OptionErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		opts []upstream.Option
	}{
		{"nil http client", []upstream.Option{upstream.WithHTTPClient(nil)}},
		{"nil token source", []upstream.Option{upstream.WithTokenSource(nil)}},
		{"empty username", []upstream.Option{upstream.WithCredentials("", "pw")}},
		{"empty password", []upstream.Option{upstream.WithCredentials("admin", "")}},
		{"zero max bytes", []upstream.Option{upstream.WithMaxResponseBytes(0)}},
		{"negative max bytes", []upstream.Option{upstream.WithMaxResponseBytes(-1)}},
		{"empty user agent", []upstream.Option{upstream.WithUserAgent("")}},
		{"multi-line user agent", []upstream.Option{upstream.WithUserAgent("a\r\nX-Evil: 1")}},
		{"nil clock", []upstream.Option{upstream.WithClock(nil)}},
		{"credentials and source", []upstream.Option{
			upstream.WithCredentials("admin", "pw-secret-value"),
			upstream.WithTokenSource(upstream.StaticToken("x")),
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := upstream.New("https://host/arcgis", tt.opts...)
			if err == nil {
				t.Fatal("New succeeded, want error")
			}
			if strings.Contains(err.Error(), "pw-secret-value") {
				t.Errorf("error leaks the password: %v", err)
			}
		})
	}
}

// Recorded on a 10.5.1 server (docs/upstream.md#recorded-payloads).
const siteRootJSON = `{
  "resources": ["machines","clusters","system","services","security","data","uploads","logs","mode","usagereports"],
  "currentVersion": 10.51,
  "fullVersion": "10.5.1",
  "acceptLanguage": null
}`

func TestClient_SiteInfo(t *testing.T) {
	t.Parallel()
	c, mux := setupStatic(t)
	mux.HandleFunc("/{$}", func(w http.ResponseWriter, r *http.Request) {
		testGET(t, r, authed(testToken, nil))
		if ua := r.Header.Get("User-Agent"); ua != "arcgate" {
			t.Errorf("User-Agent = %q, want arcgate", ua)
		}
		writeBody(w, siteRootJSON)
	})
	info, err := c.SiteInfo(context.Background())
	if err != nil {
		t.Fatalf("SiteInfo: %v", err)
	}
	if info.CurrentVersion != 10.51 || info.FullVersion != "10.5.1" || len(info.Resources) != 10 || info.Resources[3] != "services" {
		t.Errorf("SiteInfo = %+v", info)
	}
}

func TestClient_SiteInfo_VersionAsString(t *testing.T) {
	t.Parallel()
	c, mux := setupStatic(t, upstream.WithUserAgent("arcgate-test/1.0"))
	mux.HandleFunc("/{$}", func(w http.ResponseWriter, r *http.Request) {
		if ua := r.Header.Get("User-Agent"); ua != "arcgate-test/1.0" {
			t.Errorf("User-Agent = %q", ua)
		}
		writeBody(w, `{"currentVersion":"11.3","fullVersion":"11.3.0","resources":null}`)
	})
	info, err := c.SiteInfo(context.Background())
	if err != nil {
		t.Fatalf("SiteInfo: %v", err)
	}
	if info.CurrentVersion != 11.3 || info.FullVersion != "11.3.0" || info.Resources != nil {
		t.Errorf("SiteInfo = %+v", info)
	}
}

func TestClient_Anonymous_SendsNoToken(t *testing.T) {
	t.Parallel()
	c, mux, _ := setup(t)
	mux.HandleFunc("/{$}", func(w http.ResponseWriter, r *http.Request) {
		testGET(t, r, url.Values{"f": {"json"}})
		// Site exists, no token (docs/upstream.md#recorded-payloads).
		writeBody(w, `{
  "status": "error",
  "messages": [
    "Unauthorized access. Token not found. You can generate a token using the 'generateToken' operation."
  ],
  "code": 499
}`)
	})
	_, err := c.SiteInfo(context.Background())
	e := asError(t, err)
	if e.Kind != upstream.KindAPI || e.Code != 499 || !upstream.IsAuth(err) {
		t.Errorf("err = %#v, want KindAPI 499 auth error", e)
	}
	if e.Op != "site.info" || e.Method != "GET" || e.Path != "" {
		t.Errorf("Op/Method/Path = %q %q %q", e.Op, e.Method, e.Path)
	}
}

// envelopeCase is one upstream answer to GET services/A.MapServer/status.
type envelopeCase struct {
	name        string
	status      int
	contentType string
	body        string
	wantKind    upstream.Kind // 0: no error
	wantCode    int
	wantMsgs    []string
}

var envelopeCases = []envelopeCase{
	{
		name: "admin 404 at 200", status: 200,
		body:     `{"status": "error", "messages": ["Could not find resource or operation 'BZK1.MapServer' on the system."], "code": 404}`,
		wantKind: upstream.KindAPI, wantCode: 404,
		wantMsgs: []string{"Could not find resource or operation 'BZK1.MapServer' on the system."},
	},
	{
		name: "admin 500 at HTTP 500", status: 500,
		body:     `{"status":"error","messages":["java.lang.NullPointerException"],"code":500}`,
		wantKind: upstream.KindAPI, wantCode: 500, wantMsgs: []string{"java.lang.NullPointerException"},
	},
	{
		name: "admin with acceptLanguage null", status: 200,
		body:     `{"status":"error","messages":["Server machine 'ARCGIS.INTERNAL.LOCAL' does not participate in any Site. Create a new Site or join an existing Site."],"code":404,"acceptLanguage":null}`,
		wantKind: upstream.KindAPI, wantCode: 404,
		wantMsgs: []string{"Server machine 'ARCGIS.INTERNAL.LOCAL' does not participate in any Site. Create a new Site or join an existing Site."},
	},
	{
		name: "admin without code at 200", status: 200,
		body:     `{"status":"error","messages":["Something failed."]}`,
		wantKind: upstream.KindAPI, wantCode: 500, wantMsgs: []string{"Something failed."},
	},
	{
		name: "admin without code at 403", status: 403,
		body:     `{"status":"error","messages":["User does not have permissions to access this resource."]}`,
		wantKind: upstream.KindAPI, wantCode: 403, wantMsgs: []string{"User does not have permissions to access this resource."},
	},
	{
		name: "admin code as string", status: 200,
		body:     `{"status":"error","messages":["Unable to delete job :[j1]"],"code":"400"}`,
		wantKind: upstream.KindAPI, wantCode: 400, wantMsgs: []string{"Unable to delete job :[j1]"},
	},
	{
		name: "admin messages as a single string", status: 200,
		body:     `{"status":"error","messages":"one message","code":500}`,
		wantKind: upstream.KindAPI, wantCode: 500, wantMsgs: []string{"one message"},
	},
	{
		name: "admin messages empty", status: 200,
		body:     `{"status":"error","messages":[],"code":500}`,
		wantKind: upstream.KindAPI, wantCode: 500,
	},
	{
		name: "rest details string at 200", status: 200,
		body:     `{"error":{"code":405,"message":"Method not supported","details":"Generate Token request should not contain username and password in the query string."}}`,
		wantKind: upstream.KindAPI, wantCode: 405,
		wantMsgs: []string{"Method not supported", "Generate Token request should not contain username and password in the query string."},
	},
	{
		name: "rest details empty array at HTTP 499", status: 499,
		body:     `{"error":{"code":499,"message":"Token Required","details":[]}}`,
		wantKind: upstream.KindAPI, wantCode: 499, wantMsgs: []string{"Token Required"},
	},
	{
		name: "rest details null", status: 200,
		body:     `{"error":{"code":500,"message":"Error performing query operation","details":null}}`,
		wantKind: upstream.KindAPI, wantCode: 500, wantMsgs: []string{"Error performing query operation"},
	},
	{
		name: "rest details array of strings", status: 400,
		body:     `{"error":{"code":400,"message":"Unable to complete operation.","details":["Invalid service name.","Check the folder."]}}`,
		wantKind: upstream.KindAPI, wantCode: 400,
		wantMsgs: []string{"Unable to complete operation.", "Invalid service name.", "Check the folder."},
	},
	{
		name: "rest 201 used as an error", status: 200,
		body:     `{"error":{"code":201,"message":"Exception in generating token","details":"Client id cannot be determined"}}`,
		wantKind: upstream.KindAPI, wantCode: 201,
		wantMsgs: []string{"Exception in generating token", "Client id cannot be determined"},
	},
	{
		name: "rest without code at 502", status: 502,
		body:     `{"error":{"message":"Bad gateway"}}`,
		wantKind: upstream.KindAPI, wantCode: 502, wantMsgs: []string{"Bad gateway"},
	},
	{
		name: "html page with 200", status: 200, contentType: "text/html",
		body:     `<html><body><h1>ArcGIS Server Administrator Directory</h1></body></html>`,
		wantKind: upstream.KindDecode,
	},
	{
		name: "html page with 502", status: 502, contentType: "text/html",
		body:     `<html><body>Bad Gateway</body></html>`,
		wantKind: upstream.KindHTTP,
	},
	{
		name: "json without envelope at 500", status: 500,
		body:     `{"configuredState":"STARTED"}`,
		wantKind: upstream.KindHTTP,
	},
	{
		name: "truncated json", status: 200,
		body:     `{"configuredState":"STARTED","realTimeSt`,
		wantKind: upstream.KindDecode,
	},
	{
		name: "empty body", status: 200, body: ``,
		wantKind: upstream.KindDecode,
	},
	{
		name: "empty body at 204", status: 204, body: ``,
		wantKind: upstream.KindDecode,
	},
	{
		name: "wrong shape", status: 200, body: `{"configuredState":{"a":1}}`,
		wantKind: upstream.KindDecode,
	},
	{
		name: "text/plain success", status: 200, contentType: "text/plain;charset=UTF-8",
		body: `{"configuredState":"STARTED","realTimeState":"STARTED"}`,
	},
	{
		name: "application/json success", status: 200, contentType: "application/json",
		body: `{"configuredState":"STARTED","realTimeState":"STARTED"}`,
	},
	{
		name: "status success with unknown keys", status: 200,
		body: `{"configuredState":"STARTED","realTimeState":"STARTED","status":"success","extra":[1,2]}`,
	},
	{
		name: "error key that is not an envelope", status: 200,
		body: `{"configuredState":"STARTED","realTimeState":"STARTED","error":null}`,
	},
}

func TestClient_ErrorEnvelopes(t *testing.T) {
	t.Parallel()
	for _, tt := range envelopeCases {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, mux, _ := setup(t)
			mux.HandleFunc("/services/A.MapServer/status", func(w http.ResponseWriter, r *http.Request) {
				testGET(t, r, url.Values{"f": {"json"}})
				ct := tt.contentType
				if ct == "" {
					ct = "text/plain;charset=UTF-8"
				}
				w.Header().Set("Content-Type", ct)
				w.WriteHeader(tt.status)
				_, _ = w.Write([]byte(tt.body))
			})
			st, err := c.Services.Status(context.Background(), upstream.ServiceRef{Name: "A", Type: "MapServer"})
			if tt.wantKind == 0 {
				if err != nil {
					t.Fatalf("Status: %v", err)
				}
				if st.ConfiguredState != "STARTED" || st.RealTimeState != "STARTED" {
					t.Errorf("Status = %+v", st)
				}
				return
			}
			e := asError(t, err)
			if e.Kind != tt.wantKind {
				t.Errorf("Kind = %v, want %v (err %v)", e.Kind, tt.wantKind, err)
			}
			if e.Code != tt.wantCode {
				t.Errorf("Code = %d, want %d", e.Code, tt.wantCode)
			}
			if e.HTTPStatus != tt.status {
				t.Errorf("HTTPStatus = %d, want %d", e.HTTPStatus, tt.status)
			}
			if tt.wantKind == upstream.KindAPI && !slices.Equal(e.Messages, tt.wantMsgs) {
				t.Errorf("Messages = %q, want %q", e.Messages, tt.wantMsgs)
			}
			if e.Op != "services.status" || e.Method != "GET" || e.Path != "services/A.MapServer/status" {
				t.Errorf("Op/Method/Path = %q %q %q", e.Op, e.Method, e.Path)
			}
			if st != nil {
				t.Errorf("result = %+v, want nil with an error", st)
			}
			if got, want := upstream.IsNotFound(err), tt.wantCode == 404; got != want {
				t.Errorf("IsNotFound = %v, want %v", got, want)
			}
		})
	}
}

func TestClient_POSTEnvelopes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		body     string
		wantKind upstream.Kind
	}{
		{"success", `{"status": "success"}`, 0},
		{"success with jobid", `{"status":"success","jobid":"j1"}`, 0},
		{"empty object", `{}`, 0},
		{"admin error", `{"status":"error","messages":["Folder 'x' already exists."],"code":500}`, upstream.KindAPI},
		{"html", `<html>ArcGIS</html>`, upstream.KindDecode},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, mux := setupStatic(t)
			mux.HandleFunc("/services/x/deleteFolder", func(w http.ResponseWriter, r *http.Request) {
				testPOST(t, r, authed(testToken, nil))
				writeBody(w, tt.body)
			})
			err := c.Services.DeleteFolder(context.Background(), "x")
			if tt.wantKind == 0 {
				if err != nil {
					t.Fatalf("DeleteFolder: %v", err)
				}
				return
			}
			if e := asError(t, err); e.Kind != tt.wantKind {
				t.Errorf("Kind = %v, want %v", e.Kind, tt.wantKind)
			}
		})
	}
}

func TestClient_MaxResponseBytes(t *testing.T) {
	t.Parallel()
	const limit = 100
	body := `{"configuredState":"STARTED","realTimeState":"STARTED"}`
	tests := []struct {
		name   string
		status int
		body   string
		ok     bool
	}{
		{"under the limit", 200, body, true},
		{"exactly the limit", 200, body + strings.Repeat(" ", limit-len(body)), true},
		{"one byte over", 200, body + strings.Repeat(" ", limit-len(body)+1), false},
		{"far over", 200, `{"x":"` + strings.Repeat("a", 10*limit) + `"}`, false},
		{"over with an error status", 500, strings.Repeat("<p>", limit), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, mux := setupStatic(t, upstream.WithMaxResponseBytes(limit))
			mux.HandleFunc("/services/A.MapServer/status", func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(tt.status)
				_, _ = w.Write([]byte(tt.body))
			})
			_, err := c.Services.Status(context.Background(), upstream.ServiceRef{Name: "A", Type: "MapServer"})
			if tt.ok {
				if err != nil {
					t.Fatalf("Status: %v", err)
				}
				return
			}
			e := asError(t, err)
			if e.Kind != upstream.KindTooLarge || e.HTTPStatus != tt.status {
				t.Errorf("err = %v (Kind %v, HTTP %d), want KindTooLarge", err, e.Kind, e.HTTPStatus)
			}
		})
	}
}

func TestClient_FollowsRedirects(t *testing.T) {
	t.Parallel()
	c, mux := setupStatic(t)
	// GET: 302 as the server does for /admin without a slash.
	mux.HandleFunc("/services/Old.MapServer/status", func(w http.ResponseWriter, r *http.Request) {
		testGET(t, r, authed(testToken, nil))
		http.Redirect(w, r, basePath+"/admin/services/New.MapServer/status?"+r.URL.RawQuery, http.StatusFound)
	})
	mux.HandleFunc("/services/New.MapServer/status", func(w http.ResponseWriter, r *http.Request) {
		testGET(t, r, authed(testToken, nil))
		writeBody(w, `{"configuredState":"STOPPED","realTimeState":"STOPPED"}`)
	})
	st, err := c.Services.Status(context.Background(), upstream.ServiceRef{Name: "Old", Type: "MapServer"})
	if err != nil || st.ConfiguredState != "STOPPED" {
		t.Fatalf("Status = %+v, %v", st, err)
	}
	// POST: 307 keeps the method and body.
	mux.HandleFunc("/services/Old.MapServer/start", func(w http.ResponseWriter, r *http.Request) {
		testPOST(t, r, authed(testToken, nil))
		http.Redirect(w, r, basePath+"/admin/services/New.MapServer/start", http.StatusTemporaryRedirect)
	})
	mux.HandleFunc("/services/New.MapServer/start", func(w http.ResponseWriter, r *http.Request) {
		testPOST(t, r, authed(testToken, nil))
		writeBody(w, `{"status":"success"}`)
	})
	if err := c.Services.Start(context.Background(), upstream.ServiceRef{Name: "Old", Type: "MapServer"}); err != nil {
		t.Fatalf("Start: %v", err)
	}
}

func TestClient_ContextCancellation(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		ctx  func() (context.Context, context.CancelFunc)
		want error
	}{
		{"canceled", func() (context.Context, context.CancelFunc) { return context.WithCancel(context.Background()) }, context.Canceled},
		{"deadline", func() (context.Context, context.CancelFunc) {
			return context.WithTimeout(context.Background(), 50*time.Millisecond)
		}, context.DeadlineExceeded},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, mux := setupStatic(t)
			entered := make(chan struct{})
			mux.HandleFunc("/services/Slow.MapServer/status", func(w http.ResponseWriter, r *http.Request) {
				close(entered)
				waitForHangUp(t, r)
			})
			ctx, cancel := tt.ctx()
			defer cancel()
			go func() {
				select {
				case <-entered:
					if tt.want == context.Canceled {
						cancel()
					}
				case <-ctx.Done():
				}
			}()
			_, err := c.Services.Status(ctx, upstream.ServiceRef{Name: "Slow", Type: "MapServer"})
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want errors.Is %v", err, tt.want)
			}
			e := asError(t, err)
			if e.Kind != upstream.KindTransport {
				t.Errorf("Kind = %v, want transport", e.Kind)
			}
			if strings.Contains(err.Error(), testToken) {
				t.Errorf("error leaks the token: %v", err)
			}
		})
	}
}

func TestClient_AlreadyCanceledContext(t *testing.T) {
	t.Parallel()
	c, _ := setupStatic(t) // no handler: nothing may be sent
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := c.Services.Start(ctx, upstream.ServiceRef{Name: "A", Type: "MapServer"})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
}

func TestClient_TransportErrorHasNoToken(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.NotFoundHandler())
	base := srv.URL + basePath
	srv.Close() // connection refused from now on
	c, err := upstream.New(base, upstream.WithTokenSource(upstream.StaticToken(testToken)))
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Services.Status(context.Background(), upstream.ServiceRef{Name: "A", Type: "MapServer"})
	e := asError(t, err)
	if e.Kind != upstream.KindTransport || e.Err == nil {
		t.Errorf("err = %#v, want KindTransport with a cause", e)
	}
	if strings.Contains(err.Error(), testToken) {
		t.Errorf("GET transport error leaks the token: %v", err)
	}
	if e.Path != "services/A.MapServer/status" {
		t.Errorf("Path = %q", e.Path)
	}
}

func TestClient_ScrubsSecretsFromMessages(t *testing.T) {
	t.Parallel()
	c, mux := setupStatic(t)
	mux.HandleFunc("/services/A.MapServer/status", func(w http.ResponseWriter, r *http.Request) {
		writeBody(w, `{"status":"error","messages":["Token '`+testToken+`' is not valid for this operation; url=/admin?token=`+testToken+`"],"code":403}`)
	})
	_, err := c.Services.Status(context.Background(), upstream.ServiceRef{Name: "A", Type: "MapServer"})
	e := asError(t, err)
	if strings.Contains(err.Error(), testToken) || strings.Contains(strings.Join(e.Messages, " "), testToken) {
		t.Errorf("token not scrubbed: %v / %q", err, e.Messages)
	}
	if e.Code != 403 {
		t.Errorf("Code = %d", e.Code)
	}
}

// rejection is an upstream token rejection.
type rejection struct {
	name   string
	status int
	body   string
	code   int
}

var rejections = []rejection{
	{"admin 498 expired", 200, `{"status":"error","messages":["Token Expired."],"code":498}`, 498},
	{"admin 498 decrypt", 200, `{"status":"error","messages":["Could not decrypt token. Token may not be valid."],"code":498}`, 498},
	{"admin 499", 200, `{"status":"error","messages":["Unauthorized access. Token not found. You can generate a token using the 'generateToken' operation."],"code":499}`, 499},
	{"rest 498", 200, `{"error":{"code":498,"message":"Invalid token.","details":[]}}`, 498},
	{"rest 499 at HTTP 499", 499, `{"error":{"code":499,"message":"Token Required","details":[]}}`, 499},
	{"bare HTTP 498", 498, `<html>Invalid token</html>`, 0},
}

func TestClient_TokenRejected_RetriesOnceWithNewToken(t *testing.T) {
	t.Parallel()
	for _, rj := range rejections {
		t.Run(rj.name, func(t *testing.T) {
			t.Parallel()
			src := &fakeSource{}
			c, mux, _ := setup(t, upstream.WithTokenSource(src))
			var calls counter
			mux.HandleFunc("/services/A.MapServer/start", func(w http.ResponseWriter, r *http.Request) {
				n := calls.inc()
				testPOST(t, r, authed("tok-"+string(rune('0'+n)), nil))
				if n == 1 {
					w.WriteHeader(rj.status)
					_, _ = w.Write([]byte(rj.body))
					return
				}
				writeBody(w, `{"status": "success"}`)
			})
			if err := c.Services.Start(context.Background(), upstream.ServiceRef{Name: "A", Type: "MapServer"}); err != nil {
				t.Fatalf("Start: %v", err)
			}
			if calls.get() != 2 {
				t.Errorf("calls = %d, want 2", calls.get())
			}
			if !slices.Equal(src.invalidated, []string{"tok-1"}) {
				t.Errorf("invalidated = %v, want [tok-1]", src.invalidated)
			}
		})
	}
}

func TestClient_TokenRejectedTwice_IsAuth(t *testing.T) {
	t.Parallel()
	for _, rj := range rejections {
		t.Run(rj.name, func(t *testing.T) {
			t.Parallel()
			src := &fakeSource{}
			c, mux, _ := setup(t, upstream.WithTokenSource(src))
			var (
				mu   sync.Mutex
				seen []string // token and where it was: "tok-1 header", "tok-1 query"
			)
			mux.HandleFunc("/services/A.MapServer/status", func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				if h := r.Header.Get("X-Esri-Authorization"); h != "" {
					seen = append(seen, strings.TrimPrefix(h, "Bearer ")+" header")
				} else {
					seen = append(seen, r.URL.Query().Get("token")+" query")
				}
				mu.Unlock()
				w.WriteHeader(rj.status)
				_, _ = w.Write([]byte(rj.body))
			})
			_, err := c.Services.Status(context.Background(), upstream.ServiceRef{Name: "A", Type: "MapServer"})
			if !upstream.IsAuth(err) {
				t.Fatalf("IsAuth(%v) = false", err)
			}
			e := asError(t, err)
			if e.Code != rj.code {
				t.Errorf("Code = %d, want %d", e.Code, rj.code)
			}
			// One refresh and one retry. A 499 (no token seen) to a token
			// in the X-Esri-Authorization header first moves the same
			// token to the query string, for good: that is no retry.
			want := []string{"tok-1 header", "tok-2 header"}
			if rj.code == 499 {
				want = []string{"tok-1 header", "tok-1 query", "tok-2 query"}
			}
			if !slices.Equal(seen, want) {
				t.Errorf("requests carried %v, want %v", seen, want)
			}
			if !slices.Equal(src.invalidated, []string{"tok-1", "tok-2"}) {
				t.Errorf("invalidated = %v, want [tok-1 tok-2]", src.invalidated)
			}
		})
	}
}

func TestClient_StaticTokenRejected_NoPointlessRetry(t *testing.T) {
	t.Parallel()
	c, mux := setupStatic(t)
	var calls counter
	mux.HandleFunc("/services/A.MapServer/status", func(w http.ResponseWriter, r *http.Request) {
		calls.inc()
		writeBody(w, `{"status":"error","messages":["Token Expired."],"code":498}`)
	})
	_, err := c.Services.Status(context.Background(), upstream.ServiceRef{Name: "A", Type: "MapServer"})
	if !upstream.IsAuth(err) || asError(t, err).Code != 498 {
		t.Fatalf("err = %v, want 498 auth error", err)
	}
	if calls.get() != 1 {
		t.Errorf("calls = %d, want 1 (the static token cannot change)", calls.get())
	}
}

func TestClient_OtherErrorsAreNotRetried(t *testing.T) {
	t.Parallel()
	src := &fakeSource{}
	c, mux, _ := setup(t, upstream.WithTokenSource(src))
	var calls counter
	mux.HandleFunc("/services/A.MapServer/delete", func(w http.ResponseWriter, r *http.Request) {
		calls.inc()
		writeBody(w, `{"status":"error","messages":["java.lang.NullPointerException"],"code":500}`)
	})
	err := c.Services.Delete(context.Background(), upstream.ServiceRef{Name: "A", Type: "MapServer"})
	if upstream.IsAuth(err) || calls.get() != 1 || len(src.invalidated) != 0 {
		t.Errorf("err = %v, calls = %d, invalidated = %v", err, calls.get(), src.invalidated)
	}
}

// errSource is a TokenSource that always fails with a plain error.
type errSource struct{ err error }

func (s errSource) Token(context.Context) (*upstream.Token, error) { return nil, s.err }
func (errSource) Invalidate(*upstream.Token)                       {}

func TestClient_TokenSourceFailure(t *testing.T) {
	t.Parallel()
	c, _, _ := setup(t, upstream.WithTokenSource(errSource{errors.New("vault unavailable")}))
	_, err := c.SiteInfo(context.Background())
	e := asError(t, err)
	if e.Kind != upstream.KindToken || !upstream.IsAuth(err) || !strings.Contains(err.Error(), "vault unavailable") {
		t.Errorf("err = %v (Kind %v)", err, e.Kind)
	}
}

func TestClient_EmptyStaticToken(t *testing.T) {
	t.Parallel()
	c, _, _ := setup(t, upstream.WithTokenSource(upstream.StaticToken("")))
	_, err := c.SiteInfo(context.Background())
	if e := asError(t, err); e.Kind != upstream.KindToken {
		t.Errorf("err = %v, want KindToken", err)
	}
}
