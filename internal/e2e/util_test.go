package e2e

import (
	"encoding/json"
	"net/url"
	"sync"
	"testing"
	"time"
)

// fakeClock is a settable clock, shared by the token pool and the
// simulator.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

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
