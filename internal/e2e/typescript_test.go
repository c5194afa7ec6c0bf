package e2e

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/arcgate/arcgate/internal/app"
	"github.com/arcgate/arcgate/rpc"
	"github.com/arcgate/arcgate/simulator"
)

// tsClientDir is the TypeScript REST client, relative to this package.
const tsClientDir = "../../clients/typescript"

// TestTypeScriptClient generates the TypeScript client's types from the
// OpenAPI document a live arcgate serves, compiles the client with tsc and
// runs it with node: it lists services, gets one, patches it with an
// update mask and reads an error's ErrorInfo. It skips without node or
// clients/typescript/node_modules, except under CI=true.
func TestTypeScriptClient(t *testing.T) {
	missing := ""
	if _, err := exec.LookPath("node"); err != nil {
		missing = "node is not on PATH"
	} else if _, err := os.Stat(filepath.Join(tsClientDir, "node_modules", "typescript")); err != nil {
		missing = "clients/typescript/node_modules is missing (run npm ci --prefix clients/typescript)"
	}
	if missing != "" {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI=true but the TypeScript client cannot run: %s", missing)
		}
		t.Skip(missing)
	}
	const key = "arcgate_typescript-client-key"
	creds, err := rpc.ParseCredentials(strings.NewReader("ts-client write " + rpc.HashAPIKey(key) + "\n"))
	if err != nil {
		t.Fatal(err)
	}
	a, err := app.Start(app.Config{GRPCAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0", Simulator: simulator.Config{}, Credentials: creds})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := a.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
	base := "http://" + a.HTTPAddr
	run := func(args ...string) string {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, "node", args...)
		cmd.Dir = tsClientDir
		cmd.Env = append(os.Environ(), "ARCGATE_URL="+base, "ARCGATE_API_KEY="+key)
		var out, errOut bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errOut
		if err := cmd.Run(); err != nil {
			t.Fatalf("node %s: %v\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), err, out.String(), errOut.String())
		}
		return out.String()
	}
	run("generate.mjs")
	run("node_modules/typescript/bin/tsc", "-p", ".")
	out := run("dist/client.js", "set by the TypeScript client")
	for _, want := range []string{
		"service services/SampleWorldCities.MapServer MapServer\n",
		"service folders/System/services/PublishingTools.GPServer GPServer\n",
		"got services/SampleWorldCities.MapServer description=",
		`patched services/SampleWorldCities.MapServer description="set by the TypeScript client"` + "\n",
		"error 404 code=5 NOT_FOUND arcgate.admin.v1\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	// The mask kept the other fields: the service still runs as before.
	req, _ := http.NewRequest(http.MethodGet, base+"/v1/services/SampleWorldCities.MapServer", nil)
	req.Header.Set("X-Api-Key", key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	_, _ = buf.ReadFrom(resp.Body)
	if resp.StatusCode != 200 || !strings.Contains(buf.String(), `"description":"set by the TypeScript client"`) || !strings.Contains(buf.String(), `"capabilities"`) {
		t.Errorf("after the patch: %d %s", resp.StatusCode, buf.String())
	}
	http.DefaultClient.CloseIdleConnections()
}
