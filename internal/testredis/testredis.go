// Package testredis starts a throwaway redis-server for a test: on a free
// loopback port, with nothing saved to disk, stopped when the test ends.
// Tests of the Redis state store use it; nothing else does. Without
// redis-server on PATH the test is skipped, except under CI=true, where it
// fails, so that CI cannot pass without running them.
package testredis

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// startTimeout bounds how long a redis-server may take to answer PING.
const startTimeout = 20 * time.Second

// Server is a running redis-server.
type Server struct {
	Addr string // host:port
}

// URL returns the server's URL for database db, as --state-store takes it.
func (s *Server) URL(db int) string { return "redis://" + s.Addr + "/" + strconv.Itoa(db) }

// Start starts a redis-server for t, stopped at t's cleanup. args are
// more configuration, e.g. "--requirepass", "pw".
func Start(t testing.TB, args ...string) *Server {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI=true but redis-server is not on PATH (Debian package redis-server)")
		}
		t.Skip("redis-server is not on PATH (Debian package redis-server); skipping")
	}
	// A free port can be taken by someone else between finding it and
	// redis-server binding it: try a few.
	var last error
	for range 3 {
		s, err := start(t, bin, args)
		if err == nil {
			return s
		}
		last = err
	}
	t.Fatalf("starting redis-server: %v", last)
	return nil
}

func start(t testing.TB, bin string, args []string) (*Server, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	var out bytes.Buffer
	cmd := exec.Command(bin,
		"--port", strconv.Itoa(port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", t.TempDir(),
		"--loglevel", "warning")
	cmd.Args = append(cmd.Args, args...)
	var password string
	for i, a := range args {
		if a == "--requirepass" && i+1 < len(args) {
			password = args[i+1]
		}
	}
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	stop := func() {
		_ = cmd.Process.Kill()
		<-exited
	}
	deadline := time.Now().Add(startTimeout)
	for {
		if ping(addr, cmd.Process.Pid, password) == nil {
			break
		}
		select {
		case err := <-exited:
			exited <- err // for stop
			stop()
			return nil, fmt.Errorf("redis-server exited (%v): %s", err, strings.TrimSpace(out.String()))
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			stop()
			return nil, fmt.Errorf("redis-server at %s did not answer PING within %v: %s", addr, startTimeout, strings.TrimSpace(out.String()))
		}
	}
	t.Cleanup(stop)
	return &Server{Addr: addr}, nil
}

// freePort returns a loopback port that was free a moment ago.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// ping asks the redis-server at addr (with password, if not empty) for its
// process id and wants pid: another server may have taken the port first.
func ping(addr string, pid int, password string) error {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(time.Second))
	r := bufio.NewReader(c)
	if password != "" {
		if _, err := fmt.Fprintf(c, "*2\r\n$4\r\nAUTH\r\n$%d\r\n%s\r\n", len(password), password); err != nil {
			return err
		}
		line, err := r.ReadString('\n')
		if err != nil {
			return err
		}
		if strings.TrimSpace(line) != "+OK" {
			return fmt.Errorf("AUTH answered %q", line)
		}
	}
	if _, err := c.Write([]byte("INFO server\r\n")); err != nil {
		return err
	}
	line, err := r.ReadString('\n')
	if err != nil {
		return err
	}
	n, err := strconv.Atoi(strings.TrimSpace(strings.TrimPrefix(line, "$")))
	if !strings.HasPrefix(line, "$") || err != nil || n < 0 || n > 1<<20 {
		return fmt.Errorf("INFO answered %q", line)
	}
	info := make([]byte, n)
	if _, err := io.ReadFull(r, info); err != nil {
		return err
	}
	if !bytes.Contains(info, []byte("\nprocess_id:"+strconv.Itoa(pid)+"\r")) {
		return fmt.Errorf("another redis-server answers at %s", addr)
	}
	return nil
}
