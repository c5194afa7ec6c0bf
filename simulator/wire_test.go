package simulator_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"

	"github.com/arcgate/arcgate/simulator"
)

func TestRedirectWithoutTrailingSlash(t *testing.T) {
	e := newEnv(t, simulator.Config{})
	for _, tc := range []struct {
		name, query, wantSuffix string
	}{
		{"with query", "?f=json", "/arcgis/admin/?f=json"},
		{"without query", "", "/arcgis/admin/"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodGet, e.ts.URL+"/arcgis/admin"+tc.query, nil)
			r := e.do(req)
			if r.status != http.StatusFound {
				t.Fatalf("status = %d, want 302", r.status)
			}
			if loc := r.header.Get("Location"); loc != e.ts.URL+tc.wantSuffix {
				t.Fatalf("Location = %q, want %q", loc, e.ts.URL+tc.wantSuffix)
			}
		})
	}
}

func TestFormatParameter(t *testing.T) {
	e := newEnv(t, simulator.Config{})
	tok := e.sim.IssueToken(0)
	for _, tc := range []struct {
		name     string
		f        string // "-" = absent
		wantType string
		check    func(t *testing.T, body []byte)
	}{
		{"missing f is html", "-", "text/html;charset=UTF-8", func(t *testing.T, b []byte) {
			if !bytes.Contains(b, []byte("<html>")) || !bytes.Contains(b, []byte("usagereports")) {
				t.Fatalf("not the HTML page: %s", b)
			}
		}},
		{"html", "html", "text/html;charset=UTF-8", nil},
		{"json", "json", "text/plain;charset=UTF-8", func(t *testing.T, b []byte) {
			if !json.Valid(b) || bytes.Contains(b, []byte("\n")) {
				t.Fatalf("want compact JSON: %s", b)
			}
		}},
		{"pjson", "pjson", "text/plain;charset=UTF-8", func(t *testing.T, b []byte) {
			if !json.Valid(b) || !bytes.Contains(b, []byte("\n  \"")) {
				t.Fatalf("want indented JSON: %s", b)
			}
		}},
		{"upper case JSON", "JSON", "text/plain;charset=UTF-8", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q := url.Values{"token": {tok}}
			if tc.f != "-" {
				q.Set("f", tc.f)
			}
			r := e.get("", q)
			if r.status != http.StatusOK || r.contentType() != tc.wantType {
				t.Fatalf("status %d type %q, want 200 %q", r.status, r.contentType(), tc.wantType)
			}
			if tc.check != nil {
				tc.check(t, r.body)
			}
		})
	}

	t.Run("errors are html too without f", func(t *testing.T) {
		r := e.get("", nil)
		if r.contentType() != "text/html;charset=UTF-8" || !bytes.Contains(r.body, []byte("499")) {
			t.Fatalf("type %q body %s", r.contentType(), r.body)
		}
	})
}

func TestSiteRoot(t *testing.T) {
	for _, tc := range []struct {
		version  float64
		wantCur  string
		wantFull string
	}{
		{0, "11.3", "11.3"},
		{10.51, "10.51", "10.5.1"},
		{10.91, "10.91", "10.9.1"},
		{11, "11", "11.0"},
	} {
		t.Run(tc.wantFull, func(t *testing.T) {
			e := newEnv(t, simulator.Config{Version: tc.version})
			m := e.getJSON("")
			want := map[string]any{
				"resources": []any{"machines", "clusters", "system", "services", "security",
					"data", "uploads", "logs", "mode", "usagereports"},
				"currentVersion": json.Number(tc.wantCur),
				"fullVersion":    tc.wantFull,
				"acceptLanguage": nil,
			}
			if !reflect.DeepEqual(m, want) {
				t.Fatalf("got %v\nwant %v", m, want)
			}
		})
	}
}

func TestCustomContext(t *testing.T) {
	e := newEnv(t, simulator.Config{Context: "/server/"})
	if got := e.sim.AdminPath(); got != "/server/admin/" {
		t.Fatalf("AdminPath = %q", got)
	}
	if m := e.getJSON(""); m["fullVersion"] != "11.3" {
		t.Fatalf("site root: %v", m)
	}
	req, _ := http.NewRequest(http.MethodGet, e.ts.URL+"/arcgis/admin/?f=json", nil)
	if r := e.do(req); r.status != http.StatusNotFound {
		t.Fatalf("other context: status %d, want 404", r.status)
	}
}

func TestUnknownResource(t *testing.T) {
	e := newEnv(t, simulator.Config{})
	for _, tc := range []struct{ path, seg string }{
		{"nope", "nope"},
		{"machines", "machines"},
		{"services/BZK1.MapServer", "BZK1.MapServer"},
		{"services/NoSuchFolder", "NoSuchFolder"},
		{"services/NoSuchFolder/X.MapServer", "NoSuchFolder"},
		{"services/Maps/Nope.MapServer", "Nope.MapServer"},
		{"services/Maps/Nope.MapServer/status", "Nope.MapServer"},
		{"services/Maps/Parcels.MapServer/addToDefinition", "addToDefinition"},
		{"services/Maps/Parcels.MapServer/status/extra", "extra"},
		{"services/Maps/Parcels.UnknownServer", "Parcels.UnknownServer"},
		{"services/Maps/notAnOperation", "notAnOperation"},
		{"services/Maps/editfolder", "editfolder"},
		{"services/types/NoServer", "NoServer"},
		{"services/createFolder/extra", "extra"},
		{"generateToken/extra", "extra"},
	} {
		t.Run(tc.path, func(t *testing.T) {
			m := e.getJSON(tc.path)
			wantError(t, m, 404, "Could not find resource or operation '"+tc.seg+"' on the system.")
		})
	}
}

func TestOutsideAdminIsPlain404(t *testing.T) {
	e := newEnv(t, simulator.Config{})
	for _, p := range []string{"/", "/arcgis/", "/arcgis/rest/services", "/arcgis/tokens/other"} {
		req, _ := http.NewRequest(http.MethodGet, e.ts.URL+p, nil)
		if r := e.do(req); r.status != http.StatusNotFound {
			t.Errorf("%s: status %d, want 404", p, r.status)
		}
	}
}

func TestOperationsArePostOnly(t *testing.T) {
	e := newEnv(t, simulator.Config{})
	for _, op := range []string{
		"services/createFolder",
		"services/createService",
		"services/Maps/editFolder",
		"services/Maps/deleteFolder",
		"services/Maps/createService",
		"services/Maps/Parcels.MapServer/start",
		"services/Maps/Parcels.MapServer/stop",
		"services/Maps/Parcels.MapServer/delete",
		"services/Maps/Parcels.MapServer/edit",
		"generateToken",
	} {
		t.Run(op, func(t *testing.T) {
			wantError(t, e.getJSON(op), 405, "Method not supported.")
		})
	}
	// Nothing changed.
	if m := e.getJSON("services/Maps/Parcels.MapServer/status"); m["configuredState"] != "STARTED" {
		t.Fatalf("GET stop changed state: %v", m)
	}

	t.Run("resources answer POST", func(t *testing.T) {
		if m := e.postJSON("services/Maps/Parcels.MapServer"); m["serviceName"] != "Parcels" {
			t.Fatalf("POST resource: %v", m)
		}
		if m := e.postJSON(""); m["fullVersion"] == nil {
			t.Fatalf("POST site root: %v", m)
		}
	})

	t.Run("other methods", func(t *testing.T) {
		for _, method := range []string{http.MethodPut, http.MethodDelete, http.MethodPatch} {
			q := e.authed()
			req, _ := http.NewRequest(method, e.adminURL("services?"+q.Encode()), nil)
			r := e.do(req)
			checkJSONWire(t, r)
			wantError(t, r.object(t), 405, "Method not supported.")
		}
	})
}

func TestParametersMerged(t *testing.T) {
	e := newEnv(t, simulator.Config{})
	tok := e.sim.IssueToken(0)

	t.Run("query and url-encoded body", func(t *testing.T) {
		r := e.post("services/createFolder?f=json&token="+url.QueryEscape(tok),
			url.Values{"folderName": {"FromBody"}, "description": {"d"}})
		checkJSONWire(t, r)
		wantSuccess(t, r.object(t))
	})
	t.Run("multipart body", func(t *testing.T) {
		r := e.postMultipart("services/createFolder", url.Values{
			"f": {"json"}, "token": {tok}, "folderName": {"FromMultipart"}, "description": {"multi"},
		})
		checkJSONWire(t, r)
		wantSuccess(t, r.object(t))
	})
	m := e.getJSON("services")
	folders := m["folders"].([]any)
	got := strings.Join(toStrings(folders), ",")
	if !strings.Contains(got, "FromBody") || !strings.Contains(got, "FromMultipart") {
		t.Fatalf("folders = %v", got)
	}
	if d := e.getJSON("services/FromMultipart"); d["description"] != "multi" {
		t.Fatalf("folder: %v", d)
	}
}

func TestBodyTooLarge(t *testing.T) {
	e := newEnv(t, simulator.Config{})
	big := strings.Repeat("a", simulator.MaxBodyBytes+1)
	check := func(t *testing.T, r response) {
		t.Helper()
		if r.status != http.StatusRequestEntityTooLarge {
			t.Fatalf("status %d, want 413", r.status)
		}
		var m map[string]any
		if err := json.Unmarshal(r.body, &m); err != nil || m["code"] != float64(413) {
			t.Fatalf("body %s", r.body)
		}
	}
	t.Run("with content length", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodPost, e.adminURL("services/createFolder?f=json"),
			strings.NewReader("folderName=x&description="+big))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		check(t, e.do(req))
	})
	t.Run("chunked", func(t *testing.T) {
		body := io.MultiReader(strings.NewReader("folderName=x&description="), strings.NewReader(big))
		req, _ := http.NewRequest(http.MethodPost, e.adminURL("services/createFolder?f=json"), io.NopCloser(body))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.ContentLength = -1
		check(t, e.do(req))
	})
	t.Run("multipart chunked", func(t *testing.T) {
		pr, pw := io.Pipe()
		go func() {
			_, _ = io.WriteString(pw, "--B\r\nContent-Disposition: form-data; name=\"description\"\r\n\r\n")
			_, _ = io.WriteString(pw, big)
			_, _ = io.WriteString(pw, "\r\n--B--\r\n")
			_ = pw.Close()
		}()
		req, _ := http.NewRequest(http.MethodPost, e.adminURL("services/createFolder?f=json"), pr)
		req.Header.Set("Content-Type", "multipart/form-data; boundary=B")
		req.ContentLength = -1
		r := e.do(req)
		_ = pr.Close()
		check(t, r)
	})
}

func TestRestInfo(t *testing.T) {
	e := newEnv(t, simulator.Config{})
	req, _ := http.NewRequest(http.MethodGet, e.ts.URL+"/arcgis/rest/info?f=json", nil)
	r := e.do(req)
	checkJSONWire(t, r)
	auth, _ := r.object(t)["authInfo"].(map[string]any)
	if auth["tokenServicesUrl"] != e.ts.URL+"/arcgis/tokens/" || auth["isTokenBasedSecurity"] != true {
		t.Fatalf("authInfo = %v", auth)
	}
}

func toStrings(v []any) []string {
	out := make([]string, len(v))
	for i, x := range v {
		out[i], _ = x.(string)
	}
	return out
}
