package e2e

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/arcgate/arcgate/simulator"
)

// nodeClientDir is the Node.js example client, relative to this package.
const nodeClientDir = "../../clients/node"

// needNode skips the test when node, the client's node_modules (npm ci
// --prefix clients/node) or the staged googleapis protos
// (scripts/googleapis.sh) are missing; under CI=true it fails instead, so
// that CI cannot pass without running the client.
func needNode(t *testing.T) {
	t.Helper()
	missing := ""
	if _, err := exec.LookPath("node"); err != nil {
		missing = "node is not on PATH"
	} else if _, err := os.Stat(filepath.Join(nodeClientDir, "node_modules", "@grpc", "grpc-js")); err != nil {
		missing = "clients/node/node_modules is missing (run npm ci --prefix clients/node)"
	} else if _, err := os.Stat("../../third_party/googleapis/google/api/annotations.proto"); err != nil {
		missing = "third_party/googleapis is missing (run scripts/googleapis.sh)"
	}
	if missing == "" {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("CI=true but the Node.js client cannot run: %s", missing)
	}
	t.Skip(missing)
}

// runNode runs the Node.js client with args against e and returns its
// stdout, stderr and exit code.
func runNode(t *testing.T, e *env, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", append([]string{"client.js", "--addr", e.app.GRPCAddr}, args...)...)
	cmd.Dir = nodeClientDir
	cmd.Env = append(os.Environ(), "ARCGATE_ADDR=", "ARCGATE_PROTO_ROOT=")
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exit):
		code = exit.ExitCode()
	default:
		t.Fatalf("node %v: %v", args, err)
	}
	return out.String(), errOut.String(), code
}

func TestNodeClient(t *testing.T) {
	needNode(t)
	e := start(t, simulator.Config{JobStepDuration: 200 * time.Millisecond})

	t.Run("list", func(t *testing.T) {
		stdout, stderr, code := runNode(t, e, "list")
		if code != 0 {
			t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
		}
		for _, want := range []string{
			"folder folders/System\n",
			"folder folders/Utilities\n",
			"service services/SampleWorldCities.MapServer MapServer\n",
			"service folders/System/services/PublishingTools.GPServer GPServer\n",
		} {
			if !strings.Contains(stdout, want) {
				t.Errorf("stdout lacks %q:\n%s", want, stdout)
			}
		}
		if !strings.Contains(stderr, "ListFolders request_id ") || !strings.Contains(stderr, "ListServices request_id ") {
			t.Errorf("stderr lacks the request ids:\n%s", stderr)
		}
	})

	t.Run("watch", func(t *testing.T) {
		id, err := e.sim.SubmitJob("System/PublishingTools.GPServer", "")
		if err != nil {
			t.Fatal(err)
		}
		name := "folders/System/services/PublishingTools.GPServer/jobs/" + id
		stdout, stderr, code := runNode(t, e, "watch", name)
		if code != 0 {
			t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
		}
		lines := strings.Split(strings.TrimSpace(stdout), "\n")
		if len(lines) < 2 || lines[len(lines)-1] != "done JOB_STATE_SUCCEEDED" {
			t.Fatalf("stdout does not end with done JOB_STATE_SUCCEEDED:\n%s", stdout)
		}
		order := map[string]int{"JOB_STATE_NEW": 1, "JOB_STATE_SUBMITTED": 2, "JOB_STATE_EXECUTING": 3, "JOB_STATE_SUCCEEDED": 4}
		prev := 0
		for _, l := range lines[:len(lines)-1] {
			f := strings.Fields(l)
			if len(f) != 3 || f[0] != "job" || f[1] != name || order[f[2]] <= prev {
				t.Fatalf("line %q out of place:\n%s", l, stdout)
			}
			prev = order[f[2]]
		}
		if prev != order["JOB_STATE_SUCCEEDED"] {
			t.Errorf("last state line is not SUCCEEDED:\n%s", stdout)
		}
		if !strings.Contains(stderr, "WatchJob request_id ") {
			t.Errorf("stderr lacks the request id:\n%s", stderr)
		}
	})

	t.Run("start", func(t *testing.T) {
		const name = "folders/Maps/services/Roads.MapServer"
		stdout, stderr, code := runNode(t, e, "start", name)
		if code != 0 {
			t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
		}
		if !strings.HasPrefix(stdout, "operation operations/") || !strings.Contains(stdout, " start "+name+"\n") ||
			!strings.HasSuffix(stdout, "\nstarted "+name+" SERVICE_STATE_STARTED\n") {
			t.Fatalf("start: want the operation, then the started service:\n%s", stdout)
		}
		// An upstream error is the operation's: NOT_FOUND, exit 1.
		_, stderr, code = runNode(t, e, "start", "services/Missing.MapServer")
		if code != 1 || !strings.Contains(stderr, "NOT_FOUND: ") {
			t.Errorf("start of a missing service: exit %d, stderr %q", code, stderr)
		}
	})

	t.Run("errors", func(t *testing.T) {
		// The client decodes the google.rpc.ErrorInfo in the error's
		// grpc-status-details-bin trailer with the vendored
		// google/rpc/error_details.proto (old copies have no ErrorInfo).
		missing := "folders/System/services/PublishingTools.GPServer/jobs/j00000000000000000000000000000000"
		_, stderr, code := runNode(t, e, "watch", missing)
		if code != 1 || !strings.Contains(stderr, "NOT_FOUND") {
			t.Errorf("watch of a missing job: exit %d, stderr %q", code, stderr)
		}
		if want := "\nerror_info NOT_FOUND arcgate.admin.v1 resource="; !strings.Contains(stderr, want) {
			t.Errorf("watch of a missing job: stderr lacks %q:\n%s", want, stderr)
		}
		_, stderr, code = runNode(t, e, "watch", "not a job name")
		if code != 1 || !strings.Contains(stderr, "INVALID_ARGUMENT") {
			t.Errorf("watch of a malformed name: exit %d, stderr %q", code, stderr)
		}
		if want := "\nerror_info INVALID_ARGUMENT arcgate.admin.v1 field=name\n"; !strings.Contains(stderr, want) {
			t.Errorf("watch of a malformed name: stderr lacks %q:\n%s", want, stderr)
		}
		if _, _, code = runNode(t, e, "frobnicate"); code != 2 {
			t.Errorf("bad usage: exit %d, want 2", code)
		}
	})
}
