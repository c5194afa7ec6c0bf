package version

import (
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestString(t *testing.T) {
	info := func(mainVersion string, settings ...string) func() (*debug.BuildInfo, bool) {
		return func() (*debug.BuildInfo, bool) {
			bi := &debug.BuildInfo{GoVersion: "go1.26.0", Main: debug.Module{Path: "github.com/arcgate/arcgate", Version: mainVersion}}
			for i := 0; i+1 < len(settings); i += 2 {
				bi.Settings = append(bi.Settings, debug.BuildSetting{Key: settings[i], Value: settings[i+1]})
			}
			return bi, true
		}
	}
	noInfo := func() (*debug.BuildInfo, bool) { return nil, false }
	tests := []struct {
		name    string
		ldflags string
		read    func() (*debug.BuildInfo, bool)
		want    string
	}{
		{"ldflags win", "v1.2.3", info("v0.9.0"), "v1.2.3"},
		{"ldflags trimmed", " v1.2.3\n", noInfo, "v1.2.3"},
		{"go install module@version", "", info("v0.4.1"), "v0.4.1"},
		{"vcs revision", "", info("(devel)", "vcs.revision", "0123456789abcdef0123", "vcs.modified", "false"), "(devel) 0123456789ab"},
		{"dirty tree", "", info("(devel)", "vcs.revision", "0123456789abcdef0123", "vcs.modified", "true"), "(devel) 0123456789ab+dirty"},
		{"short revision", "", info("", "vcs.revision", "abc"), "(devel) abc"},
		{"nothing recorded", "", info("(devel)"), "(devel)"},
		{"no build info", "", noInfo, "(devel)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			oldV, oldR := Version, readBuildInfo
			t.Cleanup(func() { Version, readBuildInfo = oldV, oldR })
			Version, readBuildInfo = tt.ldflags, tt.read
			if got := String(); got != tt.want {
				t.Errorf("String() = %q, want %q", got, tt.want)
			}
		})
	}
}

// TestLinkerFlag builds a program with the -ldflags -X flag that the
// Dockerfile passes, and checks that it prints that version: a renamed
// variable or package would otherwise be ignored by the linker silently.
func TestLinkerFlag(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a binary")
	}
	bin := filepath.Join(t.TempDir(), "printversion")
	build := exec.Command("go", "build", "-o", bin,
		"-ldflags", "-X github.com/arcgate/arcgate/internal/version.Version=v9.8.7-test",
		"./testdata/printversion")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	out, err := exec.Command(bin).Output()
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimSpace(string(out)); got != "v9.8.7-test" {
		t.Errorf("printed %q, want v9.8.7-test", got)
	}
}
