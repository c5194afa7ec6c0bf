//go:build unix

package e2e

import (
	"bytes"
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// recipeMarker starts the README's "Fronting a real site" recipe: the
// ```bash block right after it.
const recipeMarker = "<!-- recipe: real-site"

// readmeRecipe returns the body of the bash block after marker in the
// README at path.
func readmeRecipe(t *testing.T, path, marker string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	_, after, ok := strings.Cut(string(b), marker)
	if !ok {
		t.Fatalf("%s has no %q marker before the recipe's code block", path, marker)
	}
	m := regexp.MustCompile("(?s)\\A[^\\n]*\\n```bash\\n(.*?)\\n```\\n").FindStringSubmatch(after)
	if m == nil {
		t.Fatalf("%s: the line after %q is not a ```bash block", path, marker)
	}
	return m[1]
}

// freeLoopbackAddr returns a loopback address whose port was free a moment
// ago.
func freeLoopbackAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return addr
}

// TestREADMERealSiteRecipe runs the README's recipe for fronting a real
// site, the code block as written, against arcgate-sim on free loopback
// ports: it builds the commands, makes an API key with arcgate keygen,
// writes the password file, starts arcgate with --upstream-url and
// --callers-file, and calls it with curl and x-api-key. It skips without
// bash or curl, except under CI=true.
func TestREADMERealSiteRecipe(t *testing.T) {
	for _, tool := range []string{"bash", "curl", "go"} {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("CI=true but %s is not on PATH", tool)
			}
			t.Skipf("%s is not on PATH", tool)
		}
	}
	recipe := readmeRecipe(t, "../../README.md", recipeMarker)
	dir := t.TempDir()

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute) // the build included
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "-euo", "pipefail", "-c", recipe)
	cmd.Dir = "../.." // the repository root, as the README says
	cmd.Env = append(os.Environ(),
		"ARCGATE_DIR="+dir,
		"ARCGATE_SIM_ADDR="+freeLoopbackAddr(t),
		"ARCGATE_GRPC="+freeLoopbackAddr(t),
		"ARCGATE_HTTP="+freeLoopbackAddr(t),
	)
	// Its own process group: the simulator and arcgate, started in the
	// background, are ended with the shell however the run ends.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 10 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if cmd.Process != nil {
		// The recipe's trap has stopped them; make sure of it.
		if kerr := syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL); kerr != nil && !errors.Is(kerr, syscall.ESRCH) {
			t.Errorf("ending the recipe's processes: %v", kerr)
		}
	}
	if err != nil {
		t.Fatalf("the recipe failed: %v\nstdout:\n%s\nstderr:\n%s", err, stdout.String(), stderr.String())
	}

	out := stdout.String()
	for _, want := range []string{
		`"name":"folders/System"`,                       // ListFolders with the key
		`"name":"services/SampleWorldCities.MapServer"`, // GetService with the key
		"\n401 without a key\n",                         // and nothing without it
	} {
		if !strings.Contains(out, want) {
			t.Errorf("the recipe's output lacks %q:\n%s", want, out)
		}
	}
	callers, err := os.ReadFile(filepath.Join(dir, "callers"))
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`(?m)^deployer admin sha256:[0-9a-f]{64}$`).Match(callers) {
		t.Errorf("callers file lacks the deployer's key line:\n%s", callers)
	}
	if fi, err := os.Stat(filepath.Join(dir, "password")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("password file: %v, %v; want mode 0600", fi, err)
	}
	if !strings.Contains(stderr.String(), "caller=deployer") {
		t.Errorf("arcgate's log names no call by deployer:\n%s", stderr.String())
	}
}
