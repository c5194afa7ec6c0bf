// Package version reports arcgate's build version.
//
// Release builds set it with the linker:
//
//	go build -ldflags "-X github.com/arcgate/arcgate/internal/version.Version=v1.2.3" ./cmd/arcgate
//
// Without that, String falls back to what the Go toolchain recorded in the
// binary (runtime/debug.ReadBuildInfo): the module version when built with
// `go install module@version`, else the VCS revision when the build recorded
// one, else "(devel)".
package version

import (
	"runtime/debug"
	"strings"
)

// Version is the release version, set at build time with
// -ldflags "-X github.com/arcgate/arcgate/internal/version.Version=...".
// Empty in development builds.
var Version = ""

// readBuildInfo is debug.ReadBuildInfo; tests replace it.
var readBuildInfo = debug.ReadBuildInfo

// String returns the build version: Version when set, else the module
// version recorded in the binary, else "(devel)" followed by the VCS
// revision (shortened to 12 characters, "+dirty" when the tree was
// modified) when one was recorded.
func String() string {
	if v := strings.TrimSpace(Version); v != "" {
		return v
	}
	info, ok := readBuildInfo()
	if !ok {
		return "(devel)"
	}
	if v := info.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	var rev, modified string
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			modified = s.Value
		}
	}
	if rev == "" {
		return "(devel)"
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	if modified == "true" {
		rev += "+dirty"
	}
	return "(devel) " + rev
}
