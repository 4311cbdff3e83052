package procstat

import (
	"os"
	"testing"
)

func TestReaders(t *testing.T) {
	pid := os.Getpid()
	if _, err := CPU(pid); err != nil {
		t.Fatalf("CPU: %v", err)
	}
	if r, err := RSS(pid); err != nil || r <= 0 {
		t.Fatalf("RSS = %d, %v", r, err)
	}
	if w, err := Writes(pid); err != nil || w < 0 {
		t.Fatalf("Writes = %d, %v", w, err)
	}
	if _, err := CPU(1 << 30); err == nil {
		t.Fatal("CPU of a missing process: no error")
	}
}
