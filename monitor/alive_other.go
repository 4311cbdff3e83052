//go:build !unix

package monitor

func alive(pid int) bool { return pid > 0 }
