package simulator_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/arcgate/arcgate/simulator"
)

// FuzzServeHTTP sends arbitrary paths, query strings and bodies below the
// admin root: the simulator must never panic, and whenever JSON was asked
// for (f=json and no other f) the answer must be valid JSON.
func FuzzServeHTTP(f *testing.F) {
	for _, seed := range []struct {
		method      byte
		path, query string
		body        string
		multipart   bool
		withToken   bool
	}{
		{0, "", "", "", false, true},
		{0, "services", "detail=true", "", false, true},
		{1, "generateToken", "", "username=admin&password=admin-password&client=requestip", false, false},
		{1, "services/createFolder", "", "folderName=Fz&description=x", false, true},
		{1, "services/Maps/createService", "", `service={"serviceName":"Z","type":"MapServer"}`, false, true},
		{1, "services/Maps/Parcels.MapServer/edit", "", `service={"serviceName":"Parcels","type":"MapServer"`, false, true},
		{1, "services/Fz/deleteFolder", "", "", false, true},
		{1, "services/exists", "", "folderName=Maps&serviceName=Parcels&type=MapServer", false, true},
		{0, "services/types/MapServer", "", "", false, true},
		{0, "services/Maps/Roads.MapServer/status", "token=bad", "", false, false},
		{1, "services/Maps/Roads.MapServer/start", "", "--B\r\nContent-Disposition: form-data; name=\"x\"\r\n\r\ny\r\n--B--\r\n", true, true},
		{2, "services/%zz/../..", "a=%zz;b", "\x00\xff", false, true},
		{1, "services/Maps/editFolder", "", "webEncrypted=maybe", false, true},
	} {
		f.Add(seed.method, seed.path, seed.query, seed.body, seed.multipart, seed.withToken)
	}
	sim := simulator.New(simulator.Config{ExtraServices: 3})
	tok := sim.IssueToken(0)
	methods := []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodHead}
	f.Fuzz(func(t *testing.T, method byte, path, query, body string, multipart, withToken bool) {
		m := methods[int(method)%len(methods)]
		req := &http.Request{
			Method:     m,
			URL:        &url.URL{Path: sim.AdminPath() + path, RawQuery: "f=json&" + query},
			Header:     http.Header{},
			Body:       io.NopCloser(strings.NewReader(body)),
			Host:       "sim.example",
			RemoteAddr: "192.0.2.1:1234",
		}
		req.ContentLength = int64(len(body))
		if multipart {
			req.Header.Set("Content-Type", "multipart/form-data; boundary=B")
		} else {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		if withToken {
			req.Header.Set("X-Esri-Authorization", "Bearer "+tok)
		}
		rec := httptest.NewRecorder()
		sim.ServeHTTP(rec, req) // must not panic

		// Did the request ask for JSON? The query always starts with f=json;
		// a later f in the query or any f in a parsed body overrides it.
		q, _ := url.ParseQuery(query)
		bodyMayHaveF := false
		switch {
		case multipart && m == http.MethodPost:
			bodyMayHaveF = strings.Contains(strings.ToLower(body), "name")
		case !multipart && (m == http.MethodPost || m == http.MethodPut):
			b, _ := url.ParseQuery(body)
			bodyMayHaveF = b.Has("f")
		}
		askedJSON := !q.Has("f") && !bodyMayHaveF
		if !askedJSON || m == http.MethodHead {
			return
		}
		if ct := rec.Header().Get("Content-Type"); ct != "text/plain;charset=UTF-8" {
			t.Fatalf("%s %q ?%q: Content-Type %q, body %q", m, path, query, ct, rec.Body.String())
		}
		if !json.Valid(rec.Body.Bytes()) {
			t.Fatalf("%s %q ?%q: invalid JSON %q", m, path, query, rec.Body.String())
		}
	})
}
