package simulator_test

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/arcgate/arcgate/simulator"
)

func TestRequestLogRedaction(t *testing.T) {
	e := newEnv(t, simulator.Config{Password: "Sup3r-Secret-PW"})
	tok, _ := e.generate(t, credentials("password", "Sup3r-Secret-PW", "client", "requestip"))
	e.get("services", url.Values{"f": {"json"}, "token": {tok}})
	e.post("services/createFolder?token="+url.QueryEscape(tok), url.Values{"f": {"json"}, "folderName": {"Logged"}, "token": {tok}})
	e.postMultipart("services/Maps/Roads.MapServer/start", url.Values{"f": {"json"}, "Token": {tok}})
	e.get("services", url.Values{"f": {"json"}}, "Authorization", "Bearer "+tok)

	reqs := e.sim.Requests()
	if len(reqs) != 5 || e.sim.RequestCount() != 5 {
		t.Fatalf("logged %d requests, count %d, want 5", len(reqs), e.sim.RequestCount())
	}
	dump := fmt.Sprintf("%+v", reqs)
	for _, secret := range []string{tok, "Sup3r-Secret-PW"} {
		if strings.Contains(dump, secret) {
			t.Fatalf("request log leaks a secret: %s", dump)
		}
	}
	for i, want := range []struct{ method, path, key string }{
		{http.MethodPost, "/arcgis/admin/generateToken", "password"},
		{http.MethodGet, "/arcgis/admin/services", "token"},
		{http.MethodPost, "/arcgis/admin/services/createFolder", "token"},
		{http.MethodPost, "/arcgis/admin/services/Maps/Roads.MapServer/start", "Token"},
	} {
		r := reqs[i]
		if r.Method != want.method || r.Path != want.path {
			t.Fatalf("request %d = %s %s", i, r.Method, r.Path)
		}
		for _, v := range r.Form[want.key] {
			if v != "REDACTED" {
				t.Fatalf("request %d %s = %q", i, want.key, v)
			}
		}
		if len(r.Form[want.key]) == 0 {
			t.Fatalf("request %d lacks %s: %v", i, want.key, r.Form)
		}
	}
	if got := reqs[0].Form.Get("username"); got != "admin" {
		t.Fatalf("username = %q", got)
	}
	if got := reqs[2].Form["token"]; len(got) != 2 {
		t.Fatalf("query and body token both logged: %v", got)
	}
	if got := reqs[2].Form.Get("folderName"); got != "Logged" {
		t.Fatalf("folderName = %q", got)
	}

	// Requests returns a copy.
	reqs[1].Form.Set("f", "mutated")
	if e.sim.Requests()[1].Form.Get("f") != "json" {
		t.Fatal("Requests shares its maps with the log")
	}

	e.sim.ResetRequests()
	if e.sim.RequestCount() != 0 || len(e.sim.Requests()) != 0 {
		t.Fatal("ResetRequests did not clear the log")
	}
	e.get("nowhere", nil)
	if e.sim.RequestCount() != 1 {
		t.Fatalf("count after reset = %d", e.sim.RequestCount())
	}
}

func TestLogfNeverSeesSecrets(t *testing.T) {
	var (
		mu    sync.Mutex
		lines []string
	)
	e := newEnv(t, simulator.Config{Logf: func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		lines = append(lines, fmt.Sprintf(format, args...))
	}})
	tok, _ := e.generate(t, credentials())
	e.get("services", url.Values{"f": {"json"}, "token": {tok}})
	e.post("services/createFolder", url.Values{"f": {"json"}, "token": {tok}, "folderName": {"L"}})
	e.sim.RevokeAllTokens()
	mu.Lock()
	defer mu.Unlock()
	all := strings.Join(lines, "\n")
	if len(lines) < 4 || strings.Contains(all, tok) || strings.Contains(all, "admin-password") {
		t.Fatalf("log lines:\n%s", all)
	}
}
