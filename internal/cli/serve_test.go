package cli

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// lineWriter collects writes and signals each completed line.
type lineWriter struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	lines chan string
}

func (w *lineWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	for {
		i := bytes.IndexByte(w.buf.Bytes(), '\n')
		if i < 0 {
			return len(p), nil
		}
		line := string(w.buf.Next(i + 1))
		select {
		case w.lines <- strings.TrimSpace(line):
		default:
		}
	}
}

func TestServe(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	out := &lineWriter{lines: make(chan string, 8)}
	var stderr bytes.Buffer
	var errMu sync.Mutex
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, []string{"serve", "--http", "127.0.0.1:0", "--zmq-pub", "off", "--zmq-in", "off", "--zmq-rpc", "off", "--udp", "off"}, Stdio{Out: out, Err: writerFunc(func(p []byte) (int, error) {
			errMu.Lock()
			defer errMu.Unlock()
			return stderr.Write(p)
		})})
	}()
	var url string
	select {
	case line := <-out.lines:
		m := regexp.MustCompile(`^switchboard: chat on (http://127\.0\.0\.1:\d+/)$`).FindStringSubmatch(line)
		if m == nil {
			t.Fatalf("first line: %q", line)
		}
		url = m[1]
	case err := <-done:
		t.Fatalf("serve returned early: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("no URL printed")
	}
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || !bytes.Contains(body, []byte("switchboard")) {
		t.Fatalf("GET /: %d %.80s", res.StatusCode, body)
	}
	res, err = http.Get(url + "socket.io/?EIO=4&transport=polling")
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || !bytes.HasPrefix(body, []byte(`0{"sid":`)) {
		t.Fatalf("Engine.IO handshake: %d %.80s", res.StatusCode, body)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("serve after cancel: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("serve did not stop on cancel")
	}
	errMu.Lock()
	defer errMu.Unlock()
	for _, want := range []string{"msg=\"serving chat\"", "msg=stopped"} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("log lacks %s:\n%s", want, stderr.String())
		}
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

func TestServeUsage(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want error
	}{
		{"unknown flag", []string{"serve", "--nope"}, ErrUsage},
		{"argument", []string{"serve", "extra"}, ErrUsage},
		{"help", []string{"serve", "-h"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stderr bytes.Buffer
			err := Run(context.Background(), tt.args, Stdio{Err: &stderr})
			if !errors.Is(err, tt.want) && !(tt.want == nil && err == nil) {
				t.Fatalf("want %v, got %v", tt.want, err)
			}
			if !strings.Contains(stderr.String(), "usage: switchboard serve") {
				t.Errorf("no usage printed: %q", stderr.String())
			}
		})
	}
	var stderr bytes.Buffer
	err := Run(context.Background(), []string{"serve", "--http", "127.0.0.1:bad", "--zmq-pub", "off", "--zmq-in", "off", "--zmq-rpc", "off", "--udp", "off"}, Stdio{Err: &stderr})
	if err == nil || ExitCode(err) != 1 {
		t.Errorf("bad address: want a failure with status 1, got %v", err)
	}
	err = Run(context.Background(), []string{"serve", "--http", "127.0.0.1:0", "--zmq-pub", "off", "--zmq-in", "off", "--zmq-rpc", "off", "--udp", "off", "--allow-origin", "nohost"}, Stdio{Err: &stderr})
	if err == nil {
		t.Error("bad origin accepted")
	}
}
