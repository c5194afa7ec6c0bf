package e2e

import (
	"encoding/json"
	"net/url"
	"testing"
	"time"
)

// httpGetJSON reads a simulator resource with a fresh token, bypassing
// arcgate, to check what really is upstream.
func httpGetJSON(t *testing.T, e *env, rawURL string) map[string]any {
	t.Helper()
	tok := e.sim.IssueToken(time.Hour)
	u, err := url.Parse(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("f", "json")
	q.Set("token", tok)
	u.RawQuery = q.Encode()
	resp, err := e.hc.Get(u.String())
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatal(err)
	}
	return out
}
