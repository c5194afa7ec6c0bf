package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/arcgate/arcgate/rpc"
)

// runKeygen runs "arcgate keygen args..." through run, as main does, and
// returns its stdout and stderr.
func runKeygen(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	old := stdout
	stdout = &out
	t.Cleanup(func() { stdout = old })
	err := run(context.Background(), append([]string{"keygen"}, args...), env(nil), &errOut, nil)
	return out.String(), errOut.String(), err
}

func TestKeygen(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	other := rpc.HashAPIKey("someone-else")
	for _, tc := range []struct {
		name     string
		args     func() []string // with the callers file made for the case
		before   string          // callers file content before, "-" for none
		wantErr  string
		wantHead string // the file then starts with this
	}{
		{name: "new file", before: "-", args: func() []string { return []string{"--identity", "deployer", "--scope", "admin"} },
			wantHead: "# identity"},
		{name: "appends", before: "ci read " + other + "\n", args: func() []string { return []string{"--identity", "deployer", "--scope", "write"} },
			wantHead: "ci read " + other + "\ndeployer write sha256:"},
		{name: "no final newline", before: "ci read " + other, args: func() []string { return []string{"--identity", "ci"} },
			wantHead: "ci read " + other + "\nci read sha256:"},
		{name: "second key of an identity, other scope", before: "ci read " + other + "\n",
			args: func() []string { return []string{"--identity", "ci", "--scope", "admin"} }, wantErr: "two different scopes"},
		{name: "broken file", before: "ci root " + other + "\n",
			args: func() []string { return []string{"--identity", "x"} }, wantErr: "line 1: scope"},
		{name: "bad scope", before: "-", args: func() []string { return []string{"--identity", "x", "--scope", "root"} }, wantErr: "scope"},
		{name: "bad identity", before: "-", args: func() []string { return []string{"--identity", "a b"} }, wantErr: "identity"},
		{name: "no identity", before: "-", args: func() []string { return nil }, wantErr: "--identity is required"},
		{name: "stray argument", before: "-", args: func() []string { return []string{"--identity", "x", "extra"} }, wantErr: "unexpected"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "_"))
			if tc.before != "-" {
				write(filepath.Base(path), tc.before)
			}
			out, errOut, err := runKeygen(t, append(tc.args(), "--callers-file", path)...)
			got, _ := os.ReadFile(path)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err %v, want one with %q", err, tc.wantErr)
				}
				if out != "" {
					t.Errorf("a key was printed although none was added: %q", out)
				}
				if want := strings.TrimSuffix(tc.before, "-"); string(got) != want {
					t.Errorf("the file changed to %q", got)
				}
				return
			}
			if err != nil {
				t.Fatalf("keygen: %v (stderr %q)", err, errOut)
			}
			key := strings.TrimSuffix(out, "\n")
			if !strings.HasPrefix(key, rpc.APIKeyPrefix) || strings.Contains(key, "\n") {
				t.Fatalf("stdout %q is not one key", out)
			}
			if !strings.HasPrefix(string(got), tc.wantHead) || !strings.HasSuffix(string(got), " "+rpc.HashAPIKey(key)+"\n") {
				t.Errorf("callers file:\n%s\nwant it to start with %q and end with the key's hash", got, tc.wantHead)
			}
			if strings.Contains(string(got), key) || strings.Contains(errOut, key) {
				t.Error("the key itself is in the callers file or on stderr")
			}
			if _, err := rpc.LoadCredentials(path); err != nil {
				t.Errorf("arcgate would not load the callers file: %v", err)
			}
			if tc.before == "-" {
				if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
					t.Errorf("new callers file mode %v, %v; want 0600", fi.Mode(), err)
				}
			}
		})
	}

	t.Run("no callers file: the line on stderr", func(t *testing.T) {
		out, errOut, err := runKeygen(t, "--identity", "ops", "--scope", "read")
		if err != nil {
			t.Fatal(err)
		}
		key := strings.TrimSuffix(out, "\n")
		if want := "ops read " + rpc.HashAPIKey(key) + "\n"; !strings.HasSuffix(errOut, want) {
			t.Errorf("stderr %q lacks the line %q", errOut, want)
		}
	})

	t.Run("two keys differ", func(t *testing.T) {
		a, _, err1 := runKeygen(t, "--identity", "x")
		b, _, err2 := runKeygen(t, "--identity", "x")
		if err1 != nil || err2 != nil || a == b {
			t.Errorf("keys %q and %q (%v, %v)", a, b, err1, err2)
		}
	})

	t.Run("help", func(t *testing.T) {
		_, errOut, err := runKeygen(t, "-h")
		if !errors.Is(err, flag.ErrHelp) || !strings.Contains(errOut, "--identity NAME") {
			t.Errorf("err %v, stderr %q", err, errOut)
		}
	})
}
