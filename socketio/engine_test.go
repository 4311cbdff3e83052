package socketio

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// pollClient speaks Engine.IO long-polling by hand, to test the server over
// the real engine without Node.
type pollClient struct {
	t   *testing.T
	url string
	sid string
}

func (p *pollClient) do(method, body string) string {
	p.t.Helper()
	u := p.url + "/socket.io/?EIO=4&transport=polling"
	if p.sid != "" {
		u += "&sid=" + p.sid
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitTime)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, u, strings.NewReader(body))
	if err != nil {
		p.t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		p.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		p.t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		p.t.Fatalf("%s: %d %s", method, resp.StatusCode, b)
	}
	return string(b)
}

func TestOverEngine(t *testing.T) {
	srv, url := interopServer(t, nil)
	reasons := make(chan string, 1)
	srv.Of("/").OnConnection(func(s *Socket) {
		s.On("hi", func(args []any, ack AckFunc) { ack("hello", args[0]) })
		s.OnDisconnect(func(r string) { reasons <- r })
	})
	p := &pollClient{t: t, url: url}
	open := p.do("GET", "")
	var hs struct{ Sid string }
	if err := json.Unmarshal([]byte(strings.TrimPrefix(open, "0")), &hs); err != nil || hs.Sid == "" {
		t.Fatalf("open %q: %v", open, err)
	}
	p.sid = hs.Sid
	if got := p.do("POST", "40"); got != "ok" {
		t.Fatalf("post: %q", got)
	}
	if got := p.do("GET", ""); !strings.HasPrefix(got, `40{"sid":"`) {
		t.Fatalf("want CONNECT, got %q", got)
	}
	p.do("POST", `421["hi","you"]`)
	if got, want := p.do("GET", ""), `431["hello","you"]`; got != want {
		t.Fatalf("want %s, got %s", want, got)
	}
	if st := srv.Stats(); st.Connections != 1 || st.Sockets != 1 || st.Engine.Handshakes != 1 {
		t.Fatalf("stats %+v", st)
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitTime)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case r := <-reasons:
		if r != "server shutting down" {
			t.Fatalf("reason %q", r)
		}
	case <-time.After(waitTime):
		t.Fatal("no disconnect")
	}
	if st := srv.Stats(); st.Connections != 0 || st.Sockets != 0 {
		t.Fatalf("after shutdown %+v", st)
	}
}
