package app

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"
)

// The start-up log line names the API reference's URL, and it answers.
func TestStartupLogNamesDocs(t *testing.T) {
	var logs syncBuffer
	a, err := Start(Config{GRPCAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0", Logger: slog.New(slog.NewJSONHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = a.Shutdown(ctx)
	})
	var docs string
	for _, line := range strings.Split(logs.String(), "\n") {
		var rec map[string]any
		if json.Unmarshal([]byte(line), &rec) == nil && rec["msg"] == "arcgate serving" {
			docs, _ = rec["docs"].(string)
		}
	}
	if want := "http://" + a.HTTPAddr + "/docs"; docs != want {
		t.Fatalf("start-up line docs=%q, want %q:\n%s", docs, want, logs.String())
	}
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr, Timeout: 10 * time.Second}).Get(docs)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Errorf("GET %s: HTTP %d, %s", docs, resp.StatusCode, resp.Header.Get("Content-Type"))
	}
}
