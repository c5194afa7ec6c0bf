//go:build unix

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/longrunning/autogen/longrunningpb"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	adminv1 "github.com/arcgate/arcgate/gen/go/arcgate/admin/v1"
	"github.com/arcgate/arcgate/internal/testredis"
)

// This file proves the safe-write guarantees with real OS
// processes: the arcgate and arcgate-sim binaries, built once, and a
// redis-server, each a process of its own on loopback, as replicas are
// deployed. replicas_test.go and the operations package prove the same
// with arcgates (or Managers) inside the test binary.

// processes is what TestProcesses starts its processes with.
type processes struct {
	dir      string // binaries, password and callers files, logs
	password string // the upstream password file
	callers  string // the callers file
	key      string // an admin API key in callers
}

// buildProcesses builds arcgate and arcgate-sim into a temporary
// directory and makes the password file and, with arcgate keygen, an
// admin API key and the callers file holding its hash.
func buildProcesses(t *testing.T) *processes {
	t.Helper()
	p := &processes{dir: t.TempDir()}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	build := exec.CommandContext(ctx, "go", "build", "-o", p.dir+"/", "./cmd/arcgate", "./cmd/arcgate-sim")
	build.Dir = "../.." // the repository root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	p.password = filepath.Join(p.dir, "password")
	if err := os.WriteFile(p.password, []byte("admin-password\n"), 0o600); err != nil { // the simulator's default
		t.Fatal(err)
	}
	p.callers = filepath.Join(p.dir, "callers")
	keygen := exec.CommandContext(ctx, filepath.Join(p.dir, "arcgate"), "keygen", "--identity", "e2e", "--scope", "admin", "--callers-file", p.callers)
	out, err := keygen.Output()
	if err != nil {
		t.Fatalf("arcgate keygen: %v", err)
	}
	p.key = strings.TrimSpace(string(out))
	return p
}

// proc is a running process; its stdout and stderr go to log.
type proc struct {
	name   string
	cmd    *exec.Cmd
	log    string
	exited chan struct{} // closed once it has exited
}

// start starts the binary bin of p with args; it is killed at t's
// cleanup.
func (p *processes) start(t *testing.T, name, bin string, args ...string) *proc {
	t.Helper()
	pr := &proc{name: name, log: filepath.Join(p.dir, name+".log"), exited: make(chan struct{})}
	f, err := os.Create(pr.log)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close() // the process has its own copy
	pr.cmd = exec.Command(filepath.Join(p.dir, bin), args...)
	pr.cmd.Stdout, pr.cmd.Stderr = f, f
	if err := pr.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		_ = pr.cmd.Wait()
		close(pr.exited)
	}()
	t.Cleanup(pr.kill)
	return pr
}

// kill kills pr with SIGKILL and waits for it to exit.
func (pr *proc) kill() {
	_ = pr.cmd.Process.Kill()
	<-pr.exited
}

// logged waits for pr's log to match re and returns the submatches.
func (pr *proc) logged(t *testing.T, re *regexp.Regexp) []string {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		b, err := os.ReadFile(pr.log)
		if err != nil {
			t.Fatal(err)
		}
		if m := re.FindStringSubmatch(string(b)); m != nil {
			return m
		}
		select {
		case <-pr.exited:
			t.Fatalf("%s exited:\n%s", pr.name, b)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not log %q in time:\n%s", pr.name, re, b)
		}
	}
}

// startSim starts arcgate-sim on a free loopback port and returns the
// site's URL.
func (p *processes) startSim(t *testing.T, name string, args ...string) string {
	t.Helper()
	sim := p.start(t, name, "arcgate-sim", append([]string{"--addr", "127.0.0.1:0"}, args...)...)
	m := sim.logged(t, regexp.MustCompile(`msg="arcgate-sim listening" addr=(\S+)`))
	return "http://" + m[1] + "/arcgis"
}

// arcgateProc is an arcgate process and its clients.
type arcgateProc struct {
	*proc
	conn     *grpc.ClientConn
	services adminv1.ServicesServiceClient
	ops      longrunningpb.OperationsClient
	rest     string // base URL of the REST API
	hc       *http.Client
	key      string
}

// apiKey sends an API key as x-api-key metadata on every gRPC call.
type apiKey string

func (k apiKey) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{"x-api-key": string(k)}, nil
}

func (apiKey) RequireTransportSecurity() bool { return false }

// startArcgate starts an arcgate in front of site with the state store
// store, on free loopback ports (port 0: it logs the ports it bound).
func (p *processes) startArcgate(t *testing.T, name, site, store string) *arcgateProc {
	t.Helper()
	pr := p.start(t, name, "arcgate", "--upstream-url", site, "--username", "admin", "--password-file", p.password,
		"--callers-file", p.callers, "--state-store", store, "--grpc-addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0")
	m := pr.logged(t, regexp.MustCompile(`msg="arcgate serving" grpc=(\S+) http=(\S+)`))
	conn, err := grpc.NewClient(m[1], grpc.WithTransportCredentials(insecure.NewCredentials()), grpc.WithPerRPCCredentials(apiKey(p.key)))
	if err != nil {
		t.Fatal(err)
	}
	tr := &http.Transport{}
	t.Cleanup(func() {
		_ = conn.Close()
		tr.CloseIdleConnections()
	})
	return &arcgateProc{proc: pr, conn: conn, services: adminv1.NewServicesServiceClient(conn), ops: longrunningpb.NewOperationsClient(conn),
		rest: "http://" + m[2], hc: &http.Client{Transport: tr, Timeout: 30 * time.Second}, key: p.key}
}

// patchService updates the properties of service name over REST (PATCH
// with updateMask) and returns the operation's name.
func (a *arcgateProc) patchService(ctx context.Context, name, key, val string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPatch, a.rest+"/v1/"+name+"?updateMask=properties."+key,
		strings.NewReader(`{"properties":{"`+key+`":"`+val+`"}}`))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("x-api-key", a.key)
	resp, err := a.hc.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var op struct{ Name string }
	if err := json.NewDecoder(resp.Body).Decode(&op); err != nil || resp.StatusCode != http.StatusOK || !strings.HasPrefix(op.Name, "operations/") {
		return "", fmt.Errorf("PATCH /v1/%s: HTTP %d, operation %q (%v)", name, resp.StatusCode, op.Name, err)
	}
	return op.Name, nil
}

// TestProcesses runs arcgate replicas as OS processes sharing a
// redis-server, in front of arcgate-sim processes:
//
//   - 100 concurrent updates of different properties of one service,
//     spread over 3 arcgate processes, half over gRPC and half over REST:
//     none is lost (TestConcurrentUpdatesThroughReplicasSharingRedis,
//     with processes);
//   - an arcgate process killed (SIGKILL) while its UpdateService follows
//     the upstream job: another process reports the operation done with
//     UNAVAILABLE and the reason UPSTREAM_OUTCOME_UNKNOWN once the lease
//     lapsed, and a new update of the service runs there (the service's
//     lock, held by the killed process, is free after its lease).
//
// The kill comes first, so that its lease (15 s) lapses while the
// concurrent updates run; the test then marks itself parallel and reads
// the killed operation once the package's sequential tests have run. It
// skips without redis-server, except under CI=true.
func TestProcesses(t *testing.T) {
	began := time.Now()
	srv := testredis.Start(t)
	p := buildProcesses(t)
	const svc = "services/SampleWorldCities.MapServer"

	// The killed process. The site runs an edit as a job lasting
	// jobDuration: long enough for the kill to come while the job runs,
	// short enough for the update after it.
	const jobDuration = 10 * time.Second
	site := p.startSim(t, "sim-jobs", "--async-execution", "--job-duration", jobDuration.String())
	killed := p.startArcgate(t, "arcgate-killed", site, srv.URL(1))
	survivor := p.startArcgate(t, "arcgate-survivor", site, srv.URL(1))
	c, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	op, err := killed.services.UpdateService(c, &adminv1.UpdateServiceRequest{
		Service:    &adminv1.Service{Name: svc, Description: "by the killed process"},
		UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"description"}},
	})
	if err != nil {
		t.Fatalf("UpdateService: %v", err)
	}
	updated := time.Now()
	md := &adminv1.OperationMetadata{}
	for md.GetUpstreamJobId() == "" {
		if op.GetDone() {
			t.Fatalf("operation done before its metadata named the upstream job: %v", op)
		}
		time.Sleep(50 * time.Millisecond)
		if op, err = killed.ops.GetOperation(c, &longrunningpb.GetOperationRequest{Name: op.GetName()}); err != nil {
			t.Fatal(err)
		}
		if err := op.GetMetadata().UnmarshalTo(md); err != nil {
			t.Fatal(err)
		}
	}
	killed.kill()
	killedAt := time.Now()
	t.Logf("arcgate-killed killed %v after its UpdateService returned, its operation following upstream job %s (%v long)",
		killedAt.Sub(updated).Round(10*time.Millisecond), md.GetUpstreamJobId(), jobDuration)
	// Its lease is still live: the survivor sees the operation running
	// (had the job ended before the kill, it would be done: the test
	// fails rather than pass without a killed runner).
	if got, err := survivor.ops.GetOperation(c, &longrunningpb.GetOperationRequest{Name: op.GetName()}); err != nil || got.GetDone() {
		t.Fatalf("GetOperation through the survivor right after the kill = %v, %v; want it running", got, err)
	}

	// Lost updates: 100 concurrent updates through 3 processes.
	site = p.startSim(t, "sim")
	var replicas []*arcgateProc
	for i := range 3 {
		replicas = append(replicas, p.startArcgate(t, fmt.Sprintf("arcgate-%d", i), site, srv.URL(0)))
	}
	const n = 100
	calls := make([]func() error, n)
	for i := range n {
		a := replicas[i%len(replicas)]     // with i%2 below: each process over both APIs
		w := replicas[(i+1)%len(replicas)] // waited for through another process
		key, val := fmt.Sprintf("k%d", i), fmt.Sprintf("v%d", i)
		calls[i] = func() error {
			var name string
			if i%2 == 0 {
				op, err := a.services.UpdateService(c, &adminv1.UpdateServiceRequest{
					Service:    &adminv1.Service{Name: svc, Properties: map[string]string{key: val}},
					UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"properties." + key}},
				})
				if err != nil {
					return err
				}
				name = op.GetName()
			} else {
				var err error
				if name, err = a.patchService(c, svc, key, val); err != nil {
					return err
				}
			}
			op, err := waitDone(c, w.conn, &longrunningpb.Operation{Name: name})
			if err != nil {
				return err
			}
			if op.GetError() != nil {
				return fmt.Errorf("operation %s: %v", name, op.GetError())
			}
			return nil
		}
	}
	runAll(t, calls)
	for _, a := range replicas { // every process reads them all
		got, err := a.services.GetService(c, &adminv1.GetServiceRequest{Name: svc})
		if err != nil {
			t.Fatal(err)
		}
		lost := 0
		for i := range n {
			if v := got.GetProperties()[fmt.Sprintf("k%d", i)]; v != fmt.Sprintf("v%d", i) {
				lost++
			}
		}
		if lost > 0 {
			t.Fatalf("%d of %d concurrent property updates through %d arcgate processes were lost", lost, n, len(replicas))
		}
	}
	t.Logf("%d concurrent updates through %d processes kept, %v after the start", n, len(replicas), time.Since(began).Round(time.Second))

	t.Parallel() // resumes after the package's sequential tests
	// The killed process's operation: done through the survivor once the
	// lease lapsed (15 s), as outcome unknown.
	c, cancel = context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	waitUntil := time.Now().Add(time.Minute)
	for !op.GetDone() {
		if time.Now().After(waitUntil) {
			t.Fatalf("operation %s of the killed process not done through the survivor %v after the kill: %v", op.GetName(), time.Since(killedAt), op)
		}
		time.Sleep(250 * time.Millisecond)
		if op, err = survivor.ops.GetOperation(c, &longrunningpb.GetOperationRequest{Name: op.GetName()}); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("operation of the killed process done through the survivor %v after the kill", time.Since(killedAt).Round(time.Second))
	st := status.FromProto(op.GetError())
	var reason string
	for _, d := range st.Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok {
			reason = info.GetReason()
		}
	}
	if op.GetError() == nil || st.Code() != codes.Unavailable || reason != "UPSTREAM_OUTCOME_UNKNOWN" {
		t.Fatalf("operation of the killed process: %v; want error UNAVAILABLE with reason UPSTREAM_OUTCOME_UNKNOWN", op)
	}

	// A new update of the service runs through the survivor: the lock the
	// killed process held lapses with its lease (15 s), the new upstream
	// job takes jobDuration.
	c, cancel = context.WithTimeout(context.Background(), jobDuration+time.Minute)
	defer cancel()
	const desc = "by the survivor"
	got, err := done[adminv1.Service](c, survivor.conn)(survivor.services.UpdateService(c, &adminv1.UpdateServiceRequest{
		Service:    &adminv1.Service{Name: svc, Description: desc},
		UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"description"}},
	}))
	if err != nil {
		t.Fatalf("UpdateService through the survivor after the kill: %v", err)
	}
	if got.GetDescription() != desc {
		t.Fatalf("UpdateService through the survivor after the kill: %v; want description %q", got, desc)
	}
	t.Logf("test took %v", time.Since(began).Round(time.Second))
}
