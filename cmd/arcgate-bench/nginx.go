package main

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// nginxBinary is where Debian's nginx packages (nginx-light among them)
// install nginx.
var nginxBinary = "/usr/sbin/nginx"

// nginxSkipped is the note printed in place of the nginx row when nginx is
// not installed.
const nginxSkipped = "skipped (not installed: apt-get install nginx-light)"

// nginxProc is an nginx started by the benchmark as one process (no master,
// no daemon), so that its pid is the process that serves.
type nginxProc struct {
	cmd  *exec.Cmd
	dir  string
	addr string
}

// nginxConfig is a configuration that serves on listen and proxies every
// request to upstream (host:port) over kept-alive HTTP/1.1 connections,
// as a Go ReverseProxy does, with everything it writes under dir.
func nginxConfig(dir, listen, upstream string) string {
	return strings.NewReplacer("DIR", dir, "LISTEN", listen, "UPSTREAM", upstream).Replace(`daemon off;
master_process off;
worker_processes 1;
pid DIR/nginx.pid;
error_log DIR/error.log warn;
events { worker_connections 4096; }
http {
	access_log off;
	client_body_temp_path DIR/client_body;
	proxy_temp_path DIR/proxy;
	fastcgi_temp_path DIR/fastcgi;
	uwsgi_temp_path DIR/uwsgi;
	scgi_temp_path DIR/scgi;
	upstream sim {
		server UPSTREAM;
		keepalive 256;
	}
	server {
		listen LISTEN;
		location / {
			proxy_pass http://sim;
			proxy_http_version 1.1;
			proxy_set_header Connection "";
		}
	}
}
`)
}

// startNginx starts nginx in front of upstream (host:port) on a free
// loopback port. It returns nil, nil when nginx is not installed.
func startNginx(upstream string) (*nginxProc, error) {
	if _, err := os.Stat(nginxBinary); err != nil {
		return nil, nil
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	addr := lis.Addr().String()
	_ = lis.Close()
	dir, err := os.MkdirTemp("", "arcgate-bench-nginx-")
	if err != nil {
		return nil, err
	}
	conf := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(conf, []byte(nginxConfig(dir, addr, upstream)), 0o600); err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	cmd := exec.Command(nginxBinary, "-p", dir, "-c", conf, "-e", filepath.Join(dir, "error.log"))
	cmd.Stderr = os.Stderr
	// nginx does not watch its stdin as the Go children do: should the
	// benchmark die without stopping it, the kernel ends it.
	cmd.SysProcAttr = dieWithParent()
	if err := cmd.Start(); err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	n := &nginxProc{cmd: cmd, dir: dir, addr: addr}
	for deadline := time.Now().Add(5 * time.Second); ; {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			_ = c.Close()
			return n, nil
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(filepath.Join(dir, "error.log"))
			n.stop()
			return nil, fmt.Errorf("nginx does not serve on %s: %v\n%s", addr, err, log)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (n *nginxProc) pid() int { return n.cmd.Process.Pid }

// stop ends nginx (SIGTERM, a fast shutdown; SIGKILL after 5 s) and
// removes its directory.
func (n *nginxProc) stop() {
	_ = n.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = n.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		_ = n.cmd.Process.Kill()
		<-done
	}
	_ = os.RemoveAll(n.dir)
}
