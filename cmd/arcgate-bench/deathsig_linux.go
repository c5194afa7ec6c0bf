package main

import "syscall"

// dieWithParent makes a child process end when the benchmark does.
func dieWithParent() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
