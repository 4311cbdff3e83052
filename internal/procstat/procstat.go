// Package procstat reads a process's resource use from Linux's /proc, for
// the benchmark programs that measure a server from outside its process.
package procstat

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// CPU returns the process's user+system CPU time (/proc/PID/stat).
func CPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	i := bytes.LastIndexByte(b, ')')
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0, errors.New("procstat: short /proc/PID/stat")
	}
	// After the command: state(0) ... utime(11) stime(12), in clock ticks
	// (USER_HZ, 100 on Linux).
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, err
	}
	return time.Duration(ut+st) * 10 * time.Millisecond, nil
}

// RSS returns the process's resident set size in bytes (/proc/PID/status
// VmRSS).
func RSS(pid int) (int64, error) {
	v, err := field(fmt.Sprintf("/proc/%d/status", pid), "VmRSS:")
	if err != nil {
		return 0, err
	}
	kb, err := strconv.ParseInt(strings.TrimSuffix(v, " kB"), 10, 64)
	return kb * 1024, err
}

// Writes returns the number of write system calls the process made
// (/proc/PID/io syscw): how well it batches frames into writes.
func Writes(pid int) (int64, error) {
	v, err := field(fmt.Sprintf("/proc/%d/io", pid), "syscw:")
	if err != nil {
		return 0, err
	}
	return strconv.ParseInt(v, 10, 64)
}

// field returns the trimmed value of the line of file that starts with key.
func field(file, key string) (string, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return "", err
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, key); ok {
			return strings.TrimSpace(v), nil
		}
	}
	return "", fmt.Errorf("procstat: no %s in %s", key, file)
}
