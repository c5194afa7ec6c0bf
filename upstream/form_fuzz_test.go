package upstream

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
)

// captureTransport answers every request with {"status":"success"} and
// keeps the last request with its body.
type captureTransport struct {
	mu   sync.Mutex
	req  *http.Request
	body string
}

func (c *captureTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	var b []byte
	if r.Body != nil {
		var err error
		if b, err = io.ReadAll(r.Body); err != nil {
			return nil, err
		}
		_ = r.Body.Close()
	}
	c.mu.Lock()
	c.req, c.body = r, string(b)
	c.mu.Unlock()
	return &http.Response{StatusCode: http.StatusOK, Header: http.Header{"Content-Type": {"text/plain;charset=UTF-8"}},
		Body: io.NopCloser(strings.NewReader(`{"status":"success"}`)), Request: r}, nil
}

// FuzzRequestFormEncoding checks the form encoding of upstream requests:
// whatever the field names, values and token, a POST carries exactly the
// fields plus f=json and the token in its form-encoded body and nothing in
// its URL, and a GET carries them in its query string. Seeds come from the
// payloads documented in docs/upstream.md (service JSON, usage report JSON,
// folder fields).
func FuzzRequestFormEncoding(f *testing.F) {
	for _, s := range []struct {
		post       bool
		key, value string
		token      string
	}{
		{true, "folderName", "Planning", "sakjfh97325437hskfsdfd_sdkjfsjf1283763339564921734sdfbdsj"},
		{true, "description", "plans & maps; 100% \"done\"", "tok+with/slash=="},
		{true, "webEncrypted", "true", "t"},
		{true, "service", `{"serviceName":"Seattle","type":"MapServer","maxWaitTime":"60","properties":{"maxRecordCount":"1000"}}`, "x"},
		{true, "usagereport", `{"reportname":"r1","since":"CUSTOM","queries":[{"resourceURIs":["services/Address_Points"],"metrics":["RequestCount"]}],"from":1,"to":2}`, "y"},
		{true, "users", "alice,bob", "z"},
		{false, "filter", `{"services":"*","machines":"*"}`, "q"},
		{false, "detail", "true", ""},
		{true, "f", "html", "override"},
		{true, "token", "from-the-form", "from-the-source"},
		{false, "token", "smuggled", ""},
		{true, "a;b", "c&d=e", "tok;en"},
		{false, "", "", "\u00e9\xff"},
	} {
		f.Add(s.post, s.key, s.value, s.token)
	}
	f.Fuzz(func(t *testing.T, post bool, key, value, token string) {
		ct := &captureTransport{}
		opts := []Option{WithHTTPClient(&http.Client{Transport: ct})}
		if token != "" {
			opts = append(opts, WithTokenSource(StaticToken(token)))
		}
		c, err := New("http://arcgis.example/arcgis", opts...)
		if err != nil {
			t.Fatal(err)
		}
		vals := url.Values{key: {value}}
		if post {
			err = c.post(context.Background(), "fuzz.post", "services/createFolder", vals, nil)
		} else {
			err = c.get(context.Background(), "fuzz.get", "services", vals, nil)
		}
		if err != nil {
			t.Fatalf("request failed: %v", err)
		}
		want := url.Values{key: {value}}
		want.Set("f", "json")
		if token != "" {
			want.Set("token", token)
		} else {
			want.Del("token")
		}
		req := ct.req
		var got url.Values
		if post {
			if req.Method != http.MethodPost || req.URL.RawQuery != "" || req.URL.ForceQuery {
				t.Fatalf("POST %s: the URL must carry no parameters", req.URL.Redacted())
			}
			if h := req.Header.Get("Content-Type"); h != "application/x-www-form-urlencoded" {
				t.Fatalf("Content-Type %q", h)
			}
			got, err = url.ParseQuery(ct.body)
		} else {
			if req.Method != http.MethodGet || ct.body != "" {
				t.Fatalf("GET with a body")
			}
			got, err = url.ParseQuery(req.URL.RawQuery)
			if h := req.Header.Get("X-Esri-Authorization"); err == nil && h != "" {
				if got.Has("token") {
					t.Fatalf("GET carries the token in the URL and the header")
				}
				got.Set("token", strings.TrimPrefix(h, "Bearer "))
			}
		}
		if err != nil {
			t.Fatalf("encoded parameters do not parse: %v", err)
		}
		if len(got) != len(want) {
			t.Fatalf("parameters %d, want %d", len(got), len(want))
		}
		for k, v := range want {
			if !slices.Equal(got[k], v) {
				t.Fatalf("parameter %q = %q, want %q", k, got[k], v)
			}
		}
		if req.URL.Path != "/arcgis/admin/services/createFolder" && req.URL.Path != "/arcgis/admin/services" {
			t.Fatalf("path %q", req.URL.Path)
		}
	})
}
