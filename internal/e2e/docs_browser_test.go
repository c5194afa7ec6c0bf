package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/arcgate/arcgate"
	"github.com/arcgate/arcgate/simulator"
)

// chromium runs headless Chromium on url with extra flags and returns
// its standard output. Without chromium the test is skipped, except in CI
// (CI=true), which must have it (.ci/run installs it).
func chromium(t *testing.T, url string, extra ...string) []byte {
	t.Helper()
	bin, err := exec.LookPath("chromium")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("chromium is not installed (CI must run the /docs browser test): apt-get install chromium")
		}
		t.Skip("chromium is not installed")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	args := append([]string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run",
		"--disable-component-update", "--disable-sync", "--disable-dev-shm-usage", "--user-data-dir=" + t.TempDir(),
		"--virtual-time-budget=10000"}, extra...)
	cmd := exec.CommandContext(ctx, bin, append(args, url)...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	cmd.WaitDelay = 10 * time.Second
	if err := cmd.Run(); err != nil {
		t.Fatalf("chromium %s: %v\n%s", strings.Join(extra, " "), err, errOut.String())
	}
	return out.Bytes()
}

// artifactDir is where a test leaves files for people to look at:
// $ARCGATE_TEST_ARTIFACTS (CI sets it), else a temporary directory.
func artifactDir(t *testing.T) string {
	dir := os.Getenv("ARCGATE_TEST_ARTIFACTS")
	if dir == "" {
		return t.TempDir()
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestDocsPageInBrowser opens /docs in headless Chromium and checks that
// Swagger UI, served by arcgate itself, rendered every operation of the
// OpenAPI document (the DOM after scripts ran, not the static page), then
// saves a screenshot (docs.png in the artifact directory).
func TestDocsPageInBrowser(t *testing.T) {
	e := start(t, simulator.Config{})
	var doc struct {
		Paths map[string]map[string]struct {
			OperationID string   `json:"operationId"`
			Tags        []string `json:"tags"`
		} `json:"paths"`
	}
	if err := json.Unmarshal(arcgate.OpenAPI, &doc); err != nil {
		t.Fatal(err)
	}
	dom := string(chromium(t, e.rest+"/docs", "--dump-dom"))
	var ops, missing []string
	for path, methods := range doc.Paths {
		for method, op := range methods {
			if len(op.Tags) == 0 {
				continue
			}
			ops = append(ops, op.OperationID)
			// Swagger UI gives each operation block the id operations-<tag>-<operationId>.
			if id := `id="operations-` + op.Tags[0] + "-" + op.OperationID + `"`; !strings.Contains(dom, id) {
				missing = append(missing, strings.ToUpper(method)+" "+path+" ("+op.OperationID+")")
			}
		}
	}
	if len(ops) == 0 {
		t.Fatal("the OpenAPI document has no operations")
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		t.Errorf("/docs lists %d of the document's %d operations; missing: %s", len(ops)-len(missing), len(ops), strings.Join(missing[:min(len(missing), 5)], ", "))
	}
	if !strings.Contains(dom, `data-path="/v1/services"`) {
		t.Error(`/docs does not show the path /v1/services`)
	}
	if t.Failed() {
		if len(dom) > 2000 {
			dom = dom[:2000]
		}
		t.Logf("DOM starts: %s", dom)
	}

	shot := filepath.Join(artifactDir(t), "docs.png")
	_ = os.Remove(shot)
	chromium(t, e.rest+"/docs", "--window-size=1280,2000", "--hide-scrollbars", "--screenshot="+shot)
	png, err := os.ReadFile(shot)
	if err != nil {
		t.Fatalf("no screenshot: %v", err)
	}
	if !bytes.HasPrefix(png, []byte("\x89PNG\r\n\x1a\n")) {
		t.Fatalf("%s is not a PNG", shot)
	}
	t.Logf("screenshot of /docs: %s", shot)
}
