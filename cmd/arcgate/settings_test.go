package main

import (
	"bytes"
	"errors"
	"flag"
	"io"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/arcgate/arcgate/upstream"
)

// TestHelpListsEverySetting: --help lists every flag of the table with
// its environment variable, and the variables without a flag.
func TestHelpListsEverySetting(t *testing.T) {
	var out bytes.Buffer
	if _, err := parseConfig([]string{"--help"}, env(nil), &out); !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("err = %v", err)
	}
	help := out.String()
	for _, s := range (&config{}).settings() {
		if !strings.Contains(help, "  -"+s.name+" ") && !strings.Contains(help, "  -"+s.name+"\n") {
			t.Errorf("--help does not list -%s", s.name)
		}
		if !strings.Contains(help, "(env "+envName(s.name)) {
			t.Errorf("--help does not give -%s's environment variable %s", s.name, envName(s.name))
		}
	}
	for _, e := range []string{passwordEnv, tokenEnv} {
		if !regexp.MustCompile(`\b` + e + `\b`).MatchString(help) {
			t.Errorf("--help does not mention %s", e)
		}
	}
}

// TestREADMEListsEverySetting: README's configuration table has a row for
// every flag of the table, with its environment variable and its default,
// and names no flag or ARCGATE_ variable arcgate does not have.
func TestREADMEListsEverySetting(t *testing.T) {
	b, err := os.ReadFile("../../docs/operations.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	start := strings.Index(readme, "\n## Configuration\n")
	if start < 0 {
		t.Fatal("docs/operations.md has no Configuration section")
	}
	section := readme[start+1:]
	if end := strings.Index(section[1:], "\n## "); end >= 0 {
		section = section[:end+1]
	}
	var rows []string
	for _, line := range strings.Split(section, "\n") {
		if strings.HasPrefix(line, "| `--") || strings.HasPrefix(line, "| | `ARCGATE_") {
			rows = append(rows, line)
		}
	}
	if len(rows) == 0 {
		t.Fatal("no rows in README's configuration table")
	}
	known := map[string]bool{passwordEnv: true, tokenEnv: true}
	flags := map[string]bool{"version": true} // --version has no environment variable
	for _, s := range (&config{}).settings() {
		key := envName(s.name)
		known[key], flags[s.name] = true, true
		var row string
		for _, r := range rows {
			if cols := strings.Split(r, "|"); len(cols) > 2 && strings.Contains(cols[1], "`--"+s.name+"`") {
				row = r
			}
		}
		if row == "" {
			t.Errorf("README's configuration table has no row for --%s", s.name)
			continue
		}
		cols := strings.Split(row, "|")
		if !strings.Contains(cols[2], "`"+key+"`") && !strings.Contains(cols[2], "`"+key+"=true`") {
			t.Errorf("README's row of --%s does not give %s: %s", s.name, key, row)
		}
		if def := readmeDefault(s.def); def != "" && !strings.Contains(cols[3], "`"+def+"`") {
			t.Errorf("README's row of --%s does not give its default `%s`: %s", s.name, def, row)
		}
	}
	for _, r := range rows {
		cols := strings.Split(r, "|")
		for _, m := range regexp.MustCompile("`--([a-z0-9-]+)`").FindAllStringSubmatch(cols[1], -1) {
			if !flags[m[1]] {
				t.Errorf("README's configuration table lists --%s, which arcgate does not have", m[1])
			}
		}
		for _, m := range regexp.MustCompile(`ARCGATE_[A-Z0-9_]+`).FindAllString(cols[2], -1) {
			if !known[m] {
				t.Errorf("README's configuration table lists %s, which arcgate does not read", m)
			}
		}
	}
}

// readmeDefault spells a default as README does: durations without
// trailing zero units (30m, not 30m0s).
func readmeDefault(def string) string {
	if _, err := time.ParseDuration(def); err != nil {
		return def
	}
	if strings.HasSuffix(def, "m0s") {
		def = strings.TrimSuffix(def, "0s") // 30m0s: 30m
	}
	if strings.HasSuffix(def, "h0m") {
		def = strings.TrimSuffix(def, "0m") // 24h0m0s: 24h
	}
	return def
}

// TestSettingEnvironmentErrors: an environment variable that is not of its
// setting's kind is an error naming the variable and the kind.
func TestSettingEnvironmentErrors(t *testing.T) {
	for key, want := range map[string]string{
		"ARCGATE_RATE_BURST":              `ARCGATE_RATE_BURST must be an integer, not "x"`,
		"ARCGATE_MAX_BODY_BYTES":          `ARCGATE_MAX_BODY_BYTES must be an integer, not "x"`,
		"ARCGATE_RATE_LIMIT":              `ARCGATE_RATE_LIMIT must be a number, not "x"`,
		"ARCGATE_TRACING":                 `ARCGATE_TRACING must be true or false, not "x"`,
		"ARCGATE_INSECURE_NO_CALLER_AUTH": `ARCGATE_INSECURE_NO_CALLER_AUTH must be true or false, not "x"`,
		"ARCGATE_REQUEST_ID_TTL":          `ARCGATE_REQUEST_ID_TTL must be a duration such as 30m, not "x"`,
	} {
		if _, err := parseConfig(nil, env(map[string]string{key: "x"}), io.Discard); err == nil || err.Error() != want {
			t.Errorf("%s=x: err %v, want %s", key, err, want)
		}
	}
}

// TestUpstreamFlavorSetting: --upstream-flavor (ARCGATE_UPSTREAM_FLAVOR)
// reaches app.Config as server (the default) or kubernetes; other values
// are refused naming the flag.
func TestUpstreamFlavorSetting(t *testing.T) {
	for _, tc := range []struct {
		args []string
		env  map[string]string
		want upstream.Flavor
		err  string
	}{
		{want: upstream.FlavorServer},
		{args: []string{"--upstream-flavor", "kubernetes"}, want: upstream.FlavorKubernetes},
		{env: map[string]string{"ARCGATE_UPSTREAM_FLAVOR": "kubernetes"}, want: upstream.FlavorKubernetes},
		{args: []string{"--upstream-flavor", "server"}, env: map[string]string{"ARCGATE_UPSTREAM_FLAVOR": "kubernetes"}, want: upstream.FlavorServer},
		{args: []string{"--upstream-flavor", "k8s"}, err: "--upstream-flavor: flavor must be server or kubernetes, not \"k8s\""},
		{env: map[string]string{"ARCGATE_UPSTREAM_FLAVOR": "Server"}, err: "--upstream-flavor: flavor must be server or kubernetes, not \"Server\""},
	} {
		c, err := parseConfig(tc.args, env(tc.env), io.Discard)
		if tc.err != "" {
			if err == nil || err.Error() != tc.err {
				t.Errorf("%v %v: err %v, want %s", tc.args, tc.env, err, tc.err)
			}
			continue
		}
		if err != nil || c.App.UpstreamFlavor != tc.want {
			t.Errorf("%v %v: %v, flavor %q, want %q", tc.args, tc.env, err, c.App.UpstreamFlavor, tc.want)
		}
	}
}

// TestMemoryLimitSetting: --memory-limit and ARCGATE_MEMORY_LIMIT take a
// size as GOMEMLIMIT writes it, off or 0 for none; anything else is an
// error naming what it must be.
func TestMemoryLimitSetting(t *testing.T) {
	for _, tc := range []struct {
		args    []string
		env     map[string]string
		want    byteSize
		wantErr string
	}{
		{want: 40 << 20},
		{args: []string{"--memory-limit", "64MiB"}, want: 64 << 20},
		{args: []string{"--memory-limit=1GiB"}, want: 1 << 30},
		{args: []string{"--memory-limit", "512KiB"}, want: 512 << 10},
		{args: []string{"--memory-limit", "1000000"}, want: 1000000},
		{args: []string{"--memory-limit", "100B"}, want: 100},
		{args: []string{"--memory-limit", "off"}, want: 0},
		{args: []string{"--memory-limit", "0"}, want: 0},
		{env: map[string]string{"ARCGATE_MEMORY_LIMIT": "48MiB"}, want: 48 << 20},
		{env: map[string]string{"ARCGATE_MEMORY_LIMIT": "off"}, want: 0},
		{args: []string{"--memory-limit", "32MiB"}, env: map[string]string{"ARCGATE_MEMORY_LIMIT": "48MiB"}, want: 32 << 20},
		{args: []string{"--memory-limit", "40MB"}, wantErr: `invalid value "40MB" for flag -memory-limit: not a size such as 40MiB: "40MB"`},
		{args: []string{"--memory-limit", "-1"}, wantErr: `not a size such as 40MiB: "-1"`},
		{args: []string{"--memory-limit", "99999999TiB"}, wantErr: `not a size such as 40MiB: "99999999TiB"`},
		{env: map[string]string{"ARCGATE_MEMORY_LIMIT": "lots"}, wantErr: `ARCGATE_MEMORY_LIMIT must be a size such as 40MiB, or off, not "lots"`},
	} {
		c, err := parseConfig(tc.args, env(tc.env), io.Discard)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("%q %v: err %v, want %s", tc.args, tc.env, err, tc.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q %v: %v", tc.args, tc.env, err)
			continue
		}
		if c.MemoryLimit != tc.want {
			t.Errorf("%q %v: memory limit %d, want %d", tc.args, tc.env, c.MemoryLimit, tc.want)
		}
	}
}

// TestByteSizeString: a size prints in the largest unit that divides it,
// so that --help's default reads 40MiB, and parses back to itself.
func TestByteSizeString(t *testing.T) {
	for _, tc := range []struct {
		b    byteSize
		want string
	}{{40 << 20, "40MiB"}, {1 << 30, "1GiB"}, {1536 << 10, "1536KiB"}, {1000, "1000B"}, {0, "off"}} {
		if got := tc.b.String(); got != tc.want {
			t.Errorf("%d: %q, want %q", tc.b, got, tc.want)
		}
		if back, err := parseByteSize(tc.b.String()); err != nil || back != tc.b {
			t.Errorf("%q parses to %d, %v", tc.b.String(), back, err)
		}
	}
}

// TestGCPercentSetting: --gc-percent and ARCGATE_GC_PERCENT take a percent
// from 10 to 10000; anything else is an error naming the flag.
func TestGCPercentSetting(t *testing.T) {
	for _, tc := range []struct {
		args    []string
		env     map[string]string
		want    int
		wantErr string
	}{
		{want: 400},
		{args: []string{"--gc-percent", "100"}, want: 100},
		{env: map[string]string{"ARCGATE_GC_PERCENT": "800"}, want: 800},
		{args: []string{"--gc-percent", "200"}, env: map[string]string{"ARCGATE_GC_PERCENT": "800"}, want: 200},
		{args: []string{"--gc-percent", "5"}, wantErr: "--gc-percent must be between 10 and 10000, not 5"},
		{args: []string{"--gc-percent", "-1"}, wantErr: "--gc-percent must be between 10 and 10000, not -1"},
		{args: []string{"--gc-percent", "off"}, wantErr: `invalid value "off" for flag -gc-percent`},
		{env: map[string]string{"ARCGATE_GC_PERCENT": "lots"}, wantErr: "ARCGATE_GC_PERCENT"},
	} {
		c, err := parseConfig(tc.args, env(tc.env), io.Discard)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("%q %v: err %v, want %s", tc.args, tc.env, err, tc.wantErr)
			}
			continue
		}
		if err != nil || c.GCPercent != tc.want {
			t.Errorf("%q %v: %v, gc percent %d, want %d", tc.args, tc.env, err, c.GCPercent, tc.want)
		}
	}
}
