package e2e

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
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

// openapiToolsDir holds the pinned OpenAPI tools (npm ci --prefix tools/openapi).
const openapiToolsDir = "../../tools/openapi"

// contractKey is the API key of the contract test's only caller.
const contractKey = "arcgate_contract-test-key"

// needPrism returns the path of the pinned prism binary, skipping the
// test without it, except under CI=true, where it must run.
func needPrism(t *testing.T) string {
	t.Helper()
	bin, err := filepath.Abs(filepath.Join(openapiToolsDir, "node_modules", ".bin", "prism"))
	if err != nil {
		t.Fatal(err)
	}
	missing := ""
	if _, err := exec.LookPath("node"); err != nil {
		missing = "node is not on PATH"
	} else if _, err := os.Stat(bin); err != nil {
		missing = "tools/openapi/node_modules is missing (run npm ci --prefix tools/openapi)"
	}
	if missing == "" {
		return bin
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("CI=true but the contract test cannot run: %s", missing)
	}
	t.Skip(missing)
	return ""
}

// startPrism starts Prism in proxy mode with --errors on loopback, in
// front of target, checking traffic against the document doc, and returns
// its base URL.
func startPrism(t *testing.T, bin, doc, target string) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	_ = l.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin, "proxy", "--errors", "--host", "127.0.0.1", "--port", fmt.Sprint(port), doc, target)
	var log bytes.Buffer
	cmd.Stdout, cmd.Stderr = &log, &log
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		cancel()
		<-done
		if t.Failed() {
			t.Logf("prism output:\n%s", log.String())
		}
	})
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	for range 600 { // up to 60 s: Prism parses the document first
		select {
		case <-done:
			t.Fatalf("prism exited:\n%s", log.String())
		default:
		}
		if c, err := net.DialTimeout("tcp", l.Addr().String(), time.Second); err == nil {
			_ = c.Close()
			return base
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("prism is not listening after 60 s:\n%s", log.String())
	return ""
}

// exampleRequest is one curl command of README.md or docs/api.md.
type exampleRequest struct {
	line    int
	method  string
	url     string
	body    []byte
	headers http.Header
}

// exampleDocs are the documents whose curl examples the contract test
// sends, in order: the README's quick start, then the API guide's.
var exampleDocs = []string{"../../README.md", "../../docs/api.md"}

// readmeRequests returns the curl commands of the sh blocks of
// exampleDocs that call arcgate's REST API, with shell variables set
// earlier in the block expanded and the address replaced by base.
func readmeRequests(t *testing.T, base string) []exampleRequest {
	t.Helper()
	var reqs []exampleRequest
	for _, doc := range exampleDocs {
		reqs = append(reqs, docRequests(t, doc, base)...)
	}
	return reqs
}

// docRequests is readmeRequests for one document.
func docRequests(t *testing.T, doc, base string) []exampleRequest {
	t.Helper()
	name := strings.TrimPrefix(doc, "../../")
	f, err := os.Open(doc)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var reqs []exampleRequest
	vars := map[string]string{}
	inSh := false
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		switch {
		case strings.HasPrefix(line, "```"):
			inSh = line == "```sh"
			vars = map[string]string{"http": strings.TrimPrefix(base, "http://"), "KEY": contractKey}
			continue
		case !inSh:
			continue
		}
		words, err := shellWords(line)
		if err != nil {
			t.Fatalf("%s:%d: %v", name, n, err)
		}
		if len(words) == 1 && strings.Contains(words[0], "=") && !strings.HasPrefix(words[0], "curl") {
			k, v, _ := strings.Cut(words[0], "=")
			vars[k] = v
			continue
		}
		if len(words) == 0 || words[0] != "curl" {
			continue
		}
		r := exampleRequest{line: n, method: http.MethodGet, headers: http.Header{}}
		for i := 1; i < len(words); i++ {
			w := os.Expand(words[i], func(k string) string { return vars[k] })
			arg := func() string {
				i++
				if i >= len(words) {
					t.Fatalf("%s:%d: %s needs an argument", name, n, w)
				}
				return os.Expand(words[i], func(k string) string { return vars[k] })
			}
			switch {
			case w == "-X":
				r.method = arg()
			case w == "-d" || w == "--data-binary":
				r.body = []byte(arg())
				if r.method == http.MethodGet {
					r.method = http.MethodPost
				}
			case w == "-H":
				k, v, _ := strings.Cut(arg(), ":")
				r.headers.Add(strings.TrimSpace(k), strings.TrimSpace(v))
			case w == "-o" || w == "-w":
				arg()
			case strings.HasPrefix(w, "-") && strings.Trim(w[1:], "sSNfi") == "":
			case strings.HasPrefix(w, "-"):
				t.Fatalf("%s:%d: curl option %s is not known to this test", name, n, w)
			default:
				r.url = w
			}
		}
		if r.url == "" {
			t.Fatalf("%s:%d: no URL", name, n)
		}
		u := strings.TrimPrefix(r.url, "http://")
		if !strings.HasPrefix(u, "localhost:8080/") && !strings.HasPrefix(u, strings.TrimPrefix(base, "http://")+"/") {
			t.Fatalf("%s:%d: URL %s is not arcgate's", name, n, r.url)
		}
		_, path, _ := strings.Cut(u, "/")
		r.url = base + "/" + path
		reqs = append(reqs, r)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return reqs
}

// shellWords splits a line of sh into words: blanks separate words,
// single and double quotes group, `#` starts a comment and `|` ends the
// command.
func shellWords(line string) ([]string, error) {
	var words []string
	var cur strings.Builder
	inWord := false
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case c == '\'' || c == '"':
			j := strings.IndexByte(line[i+1:], c)
			if j < 0 {
				return nil, fmt.Errorf("unterminated %c", c)
			}
			cur.WriteString(line[i+1 : i+1+j])
			i += j + 1
			inWord = true
		case c == ' ' || c == '\t':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		case (c == '#' && !inWord) || c == '|' || c == ';':
			i = len(line)
		default:
			cur.WriteByte(c)
			inWord = true
		}
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words, nil
}

// TestContractThroughPrism sends every REST request of README.md, and
// error cases, through Prism in proxy mode with --errors in front of a
// live arcgate: Prism checks each request and response against the
// OpenAPI document arcgate serves and fails the test on any violation.
func TestContractThroughPrism(t *testing.T) {
	bin := needPrism(t)
	creds, err := rpc.ParseCredentials(strings.NewReader("contract admin " + rpc.HashAPIKey(contractKey) + "\n"))
	if err != nil {
		t.Fatal(err)
	}
	a, err := app.Start(app.Config{GRPCAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0", Simulator: simulator.Config{}, Credentials: creds})
	if err != nil {
		t.Fatal(err)
	}
	tr := &http.Transport{}
	t.Cleanup(func() {
		tr.CloseIdleConnections()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := a.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
	hc := &http.Client{Transport: tr, Timeout: 30 * time.Second}

	// The document under test is the one arcgate serves.
	resp, err := hc.Get("http://" + a.HTTPAddr + "/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	doc, err := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET /openapi.json: %d %v", resp.StatusCode, err)
	}
	docFile := filepath.Join(t.TempDir(), "openapi.json")
	if err := os.WriteFile(docFile, doc, 0o644); err != nil {
		t.Fatal(err)
	}
	prism := startPrism(t, bin, docFile, "http://"+a.HTTPAddr)

	send := func(t *testing.T, r exampleRequest) int {
		t.Helper()
		req, err := http.NewRequest(r.method, r.url, bytes.NewReader(r.body))
		if err != nil {
			t.Fatal(err)
		}
		if r.headers != nil {
			req.Header = r.headers.Clone()
		}
		// The README's calls are for demo mode, which needs no key; the
		// document requires one (callers must send one elsewhere).
		if req.Header.Get("Authorization") == "" && req.Header.Get("X-Api-Key") == "" {
			req.Header.Set("X-Api-Key", contractKey)
		}
		// curl labels a -d body form-encoded; the gateway reads every body
		// as JSON, and the document, which knows JSON only, says so.
		if r.body != nil && req.Header.Get("Content-Type") == "" {
			req.Header.Set("Content-Type", "application/json")
		}
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatalf("README.md:%d %s %s: %v", r.line, r.method, r.url, err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if v := resp.Header.Get("sl-violations"); v != "" {
			t.Errorf("README.md:%d %s %s: Prism reports violations: %s", r.line, r.method, r.url, v)
		}
		if ct := resp.Header.Get("Content-Type"); strings.HasPrefix(ct, "application/problem+json") {
			t.Errorf("README.md:%d %s %s: Prism refused it (%d): %s", r.line, r.method, r.url, resp.StatusCode, body)
		}
		return resp.StatusCode
	}

	reqs := readmeRequests(t, prism)
	if len(reqs) < 25 {
		t.Fatalf("only %d curl requests found in README.md", len(reqs))
	}
	t.Run("readme", func(t *testing.T) {
		for _, r := range reqs {
			if strings.HasSuffix(strings.SplitN(r.url, "?", 2)[0], ":watch") {
				// A watch answers newline-delimited JSON; Prism parses an
				// application/json body as one JSON value and cannot check
				// a stream of several.
				continue
			}
			send(t, r)
		}
	})

	// tinyGIF is a 1×1 GIF whose bytes are all ASCII: Prism reads a body
	// that is not JSON as UTF-8 text, which would mangle most images.
	tinyGIF := []byte("GIF89a\x01\x00\x01\x00\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;")
	svc := prism + "/v1/services/SampleWorldCities.MapServer"
	jsonBody := http.Header{"Content-Type": {"application/json"}}
	for _, c := range []struct {
		name   string
		req    exampleRequest
		status int
	}{
		{"raw thumbnail upload", exampleRequest{method: "PUT", url: svc + "/itemInfo/thumbnail", body: tinyGIF, headers: http.Header{"Content-Type": {"image/gif"}}}, 200},
		{"raw thumbnail download", exampleRequest{method: "GET", url: svc + "/itemInfo/thumbnail"}, 200},
		{"JSON thumbnail upload", exampleRequest{method: "PUT", url: svc + "/itemInfo/thumbnail", body: []byte(`{"contentType":"image/gif","data":"R0lGODlhAQABAAAAACwAAAAAAQABAAACAkQBADs="}`), headers: jsonBody}, 200},
		{"patch with a mask", exampleRequest{method: "PATCH", url: svc + "?updateMask=description", body: []byte(`{"description":"cities"}`), headers: jsonBody}, 200},
		{"bodiless stop", exampleRequest{method: "POST", url: svc + ":stop"}, 200},
		{"bearer key", exampleRequest{method: "GET", url: prism + "/v1/folders", headers: http.Header{"Authorization": {"Bearer " + contractKey}}}, 200},
		{"not found", exampleRequest{method: "GET", url: prism + "/v1/services/Nope.MapServer"}, 404},
		{"invalid name", exampleRequest{method: "GET", url: prism + "/v1/services/No-Type"}, 400},
		{"unknown body field", exampleRequest{method: "PATCH", url: prism + "/v1/folders/System", body: []byte(`{"descripton":"x"}`), headers: jsonBody}, 400},
		{"empty mask", exampleRequest{method: "PATCH", url: svc, body: []byte(`{}`), headers: jsonBody}, 400},
		{"already exists", exampleRequest{method: "POST", url: prism + "/v1/folders?folderId=System", body: []byte(`{}`), headers: jsonBody}, 409},
		{"unknown key", exampleRequest{method: "GET", url: prism + "/v1/folders", headers: http.Header{"X-Api-Key": {"arcgate_not-a-key"}}}, 401},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := send(t, c.req); got != c.status {
				t.Errorf("HTTP %d, want %d", got, c.status)
			}
		})
	}
}
