package e2e

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	adminv1 "github.com/arcgate/arcgate/gen/go/arcgate/admin/v1"
	"github.com/arcgate/arcgate/simulator"
)

// The Python client runs on Debian's packages: protoc and its gRPC plugin
// (protobuf-compiler, protobuf-compiler-grpc, with the well-known types
// from libprotobuf-dev) make the stubs, and Debian's python3 imports them
// with python3-grpcio and python3-protobuf (whose 3.21 runtime loads what
// Debian's protoc 3.21 generates). Fixed paths: another python3 on PATH
// (pyenv, a venv) does not see Debian's packages.
const (
	pyPython          = "/usr/bin/python3"
	pyProtoc          = "/usr/bin/protoc"
	pyGRPCPlugin      = "/usr/bin/grpc_python_plugin"
	pyProtobufInclude = "/usr/include" // google/protobuf/*.proto
	pyRepoRoot        = "../.."
	pyClient          = "clients/python/client.py" // relative to pyRepoRoot
	pyGoogleapis      = "third_party/googleapis"   // relative to pyRepoRoot
)

// needPython skips the test when the Debian packages or the staged
// googleapis protos (scripts/googleapis.sh) are missing; under CI=true it
// fails instead, so that CI cannot pass without running the client.
func needPython(t *testing.T) {
	t.Helper()
	missing := ""
	for _, f := range []struct{ path, why string }{
		{pyProtoc, "protoc is missing (apt-get install protobuf-compiler)"},
		{pyGRPCPlugin, "grpc_python_plugin is missing (apt-get install protobuf-compiler-grpc)"},
		{filepath.Join(pyProtobufInclude, "google/protobuf/empty.proto"), "the well-known .proto files are missing (apt-get install libprotobuf-dev)"},
		{filepath.Join(pyRepoRoot, pyGoogleapis, "google/rpc/error_details.proto"), "third_party/googleapis is missing (run scripts/googleapis.sh)"},
		{pyPython, pyPython + " is missing"},
	} {
		if _, err := os.Stat(f.path); err != nil {
			missing = f.why
			break
		}
	}
	if missing == "" {
		if out, err := exec.Command(pyPython, "-c", "import grpc, google.protobuf").CombinedOutput(); err != nil {
			missing = "python3-grpcio or python3-protobuf is missing (apt-get install python3-grpcio python3-protobuf): " + strings.TrimSpace(string(out))
		}
	}
	if missing == "" {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("CI=true but the Python client cannot run: %s", missing)
	}
	t.Skip(missing)
}

// genPythonStubs generates the Python modules of arcgate.admin.v1 and of
// every staged googleapis proto (google.api, google.rpc, ...; the
// well-known types come with python3-protobuf) into a new directory, and
// returns it.
func genPythonStubs(t *testing.T) string {
	t.Helper()
	out := t.TempDir()
	args := []string{
		"-I", "proto", "-I", pyGoogleapis, "-I", pyProtobufInclude,
		"--python_out=" + out, "--grpc_python_out=" + out,
		"--plugin=protoc-gen-grpc_python=" + pyGRPCPlugin,
	}
	// Each file by its name under its -I root.
	for _, src := range []struct{ root, dir string }{{"proto", "arcgate/admin/v1"}, {pyGoogleapis, "."}} {
		root := filepath.Join(pyRepoRoot, src.root)
		err := filepath.WalkDir(filepath.Join(root, src.dir), func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || filepath.Ext(path) != ".proto" {
				return err
			}
			rel, err := filepath.Rel(root, path)
			args = append(args, filepath.ToSlash(rel))
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command(pyProtoc, args...)
	cmd.Dir = pyRepoRoot
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("protoc %s: %v\n%s", strings.Join(args, " "), err, b)
	}
	return out
}

// runPython runs the Python client with args, the generated modules in
// stubs on its path, and returns its stdout, stderr and exit code.
func runPython(t *testing.T, stubs string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, pyPython, append([]string{pyClient}, args...)...)
	cmd.Dir = pyRepoRoot
	cmd.Env = append(os.Environ(), "PYTHONPATH="+stubs, "PYTHONDONTWRITEBYTECODE=1", "PYTHONNOUSERSITE=1",
		"ARCGATE_ADDR=", "ARCGATE_API_KEY=")
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exit):
		code = exit.ExitCode()
	default:
		t.Fatalf("python3 %v: %v", args, err)
	}
	return out.String(), errOut.String(), code
}

// pyLinesWith returns the lines of out that start with prefix.
func pyLinesWith(out, prefix string) []string {
	var ls []string
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, prefix) {
			ls = append(ls, l)
		}
	}
	return ls
}

func TestPythonClient(t *testing.T) {
	needPython(t)
	stubs := genPythonStubs(t)
	e := start(t, simulator.Config{JobStepDuration: 200 * time.Millisecond})

	// checkSteps checks the list, get, update and error steps of a run.
	checkSteps := func(t *testing.T, stdout string) {
		t.Helper()
		services := pyLinesWith(stdout, "service ")
		for _, want := range []string{
			"service services/SampleWorldCities.MapServer MapServer",
			"service " + publishing + " GPServer",
		} {
			if !strings.Contains(stdout, want+"\n") {
				t.Errorf("list: stdout lacks %q:\n%s", want, stdout)
			}
		}
		// Every page was read: the count is every service's, and the
		// client's page size (4) made several pages.
		all, err := e.services.ListServices(ctx(t), &adminv1.ListServicesRequest{Parent: "folders/-", PageSize: 1000})
		if err != nil {
			t.Fatal(err)
		}
		n := len(all.GetServices())
		pages := (n + 3) / 4
		if want := "listed " + strconv.Itoa(n) + " services in " + strconv.Itoa(pages) + " pages"; len(services) != n || pages < 2 ||
			!strings.Contains(stdout, "\n"+want+"\n") {
			t.Errorf("list: %d service lines, want %d and %q:\n%s", len(services), n, want, stdout)
		}
		if len(services) == 0 {
			return
		}
		first := strings.Fields(services[0])[1]
		svc, err := e.services.GetService(ctx(t), &adminv1.GetServiceRequest{Name: first})
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{
			"got " + first + " " + svc.GetTypeName() + " " + svc.GetRealTimeState().String(),
			"updated " + first + " description 'Set by the Python client.'",
			// The description is put back: the update with its field mask
			// changed nothing else, and the restore went through.
			"restored " + first + " description '" + svc.GetDescription() + "'",
		} {
			if !strings.Contains(stdout, "\n"+want+"\n") {
				t.Errorf("get/update: stdout lacks %q:\n%s", want, stdout)
			}
		}
		// The error step decodes the google.rpc.ErrorInfo in the
		// NOT_FOUND's grpc-status-details-bin trailer with the stubs of the
		// staged google/rpc/error_details.proto (old copies have no
		// ErrorInfo).
		if !strings.Contains(stdout, "\nerror NOT_FOUND services/NoSuchService.MapServer: ") {
			t.Errorf("error: stdout lacks the NOT_FOUND:\n%s", stdout)
		}
		infos := pyLinesWith(stdout, "error_info ")
		if len(infos) != 1 || !strings.HasPrefix(infos[0], "error_info NOT_FOUND arcgate.admin.v1 ") ||
			!strings.Contains(infos[0]+" ", " resource=services/NoSuchService.MapServer ") {
			t.Errorf("error: ErrorInfo lines %q, want one with reason NOT_FOUND, domain arcgate.admin.v1 and the resource:\n%s", infos, stdout)
		}
	}

	t.Run("every module loads", func(t *testing.T) {
		// Every family's stubs, not only the two the client uses, load in
		// Debian's python3-protobuf runtime.
		var mods []string
		err := filepath.WalkDir(stubs, func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.HasSuffix(path, ".py") {
				return err
			}
			rel, err := filepath.Rel(stubs, strings.TrimSuffix(path, ".py"))
			mods = append(mods, strings.ReplaceAll(filepath.ToSlash(rel), "/", "."))
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(strings.Join(mods, " "), "arcgate.admin.v1.roles_pb2_grpc") {
			t.Fatalf("no roles stubs among %q", mods)
		}
		cmd := exec.Command(pyPython, "-c", "import "+strings.Join(mods, ", "))
		cmd.Env = append(os.Environ(), "PYTHONPATH="+stubs, "PYTHONDONTWRITEBYTECODE=1", "PYTHONNOUSERSITE=1")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("import of %d modules: %v\n%s", len(mods), err, out)
		}
	})

	t.Run("submitted job", func(t *testing.T) {
		id, err := e.sim.SubmitJob(publishingPath, "")
		if err != nil {
			t.Fatal(err)
		}
		name := publishing + "/jobs/" + id
		stdout, stderr, code := runPython(t, stubs, e.app.GRPCAddr, name)
		if code != 0 {
			t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
		}
		checkSteps(t, stdout)
		// The job moves NEW, SUBMITTED, EXECUTING, SUCCEEDED; the watch
		// prints the states it sees in that order, then done.
		order := map[string]int{"JOB_STATE_NEW": 1, "JOB_STATE_SUBMITTED": 2, "JOB_STATE_EXECUTING": 3, "JOB_STATE_SUCCEEDED": 4}
		prev := 0
		for _, l := range pyLinesWith(stdout, "job ") {
			f := strings.Fields(l)
			if len(f) != 3 || f[1] != name || order[f[2]] <= prev {
				t.Fatalf("watch: line %q out of place:\n%s", l, stdout)
			}
			prev = order[f[2]]
		}
		if prev != order["JOB_STATE_SUCCEEDED"] || !strings.Contains(stdout, "\ndone JOB_STATE_SUCCEEDED\n") {
			t.Errorf("watch: the job did not end SUCCEEDED:\n%s", stdout)
		}
	})

	t.Run("seeded job", func(t *testing.T) {
		// Without a job the client watches a finished job it finds with
		// ListJobs: one state, then the stream ends.
		stdout, stderr, code := runPython(t, stubs, e.app.GRPCAddr)
		if code != 0 {
			t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
		}
		checkSteps(t, stdout)
		jobs := pyLinesWith(stdout, "job ")
		if len(jobs) != 1 || !strings.HasPrefix(jobs[0], "job folders/") || !strings.HasSuffix(jobs[0], " JOB_STATE_SUCCEEDED") ||
			!strings.Contains(stdout, "\ndone JOB_STATE_SUCCEEDED\n") {
			t.Errorf("watch: want one SUCCEEDED job line, then done:\n%s", stdout)
		}
	})

	t.Run("errors", func(t *testing.T) {
		stdout, stderr, code := runPython(t, stubs, e.app.GRPCAddr, "not a job name")
		if code != 1 || !strings.Contains(stderr, "INVALID_ARGUMENT: ") ||
			!strings.Contains(stderr, "\nerror_info INVALID_ARGUMENT arcgate.admin.v1 field=name\n") {
			t.Errorf("watch of a malformed name: exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
		}
		if _, _, code = runPython(t, stubs, "--help"); code != 2 {
			t.Errorf("bad usage: exit %d, want 2", code)
		}
	})
}
