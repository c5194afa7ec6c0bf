//go:build !linux

package main

import "syscall"

// dieWithParent is Linux's parent-death signal; elsewhere nothing.
func dieWithParent() *syscall.SysProcAttr { return nil }
