package main

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"
)

// The cases of the Socket.IO protocol test suite (socket.io-protocol's
// test-suite/test-suite.js, and the newer copy in the socket.io monorepo,
// docs/socket.io-protocol/v5-test-suite), ported to Go against the README's
// reference server. Its Engine.IO part is the engine suite on /socket.io/.
// socketio/protocol_test.go covers the packet cases against a bare server;
// here they run against the reference handlers ("auth" on connect,
// connectTimeout 1000ms), which the suite's expectations depend on.

func TestSocketIOSuiteEngine(t *testing.T) { runEngineCases(t, "/socket.io/", false) }

// connectSIO opens a WebSocket on /socket.io/ and reads the Engine.IO
// handshake.
func connectSIO(t *testing.T, e *env) *ws {
	t.Helper()
	w := e.dialWS(t, "EIO=4&transport=websocket")
	if m := w.readNonPing(); !strings.HasPrefix(m.data, "0{") {
		t.Fatalf("engine handshake %+v", m)
	}
	return w
}

// initSIO is the suite's initSocketIOConnection: the engine handshake,
// CONNECT to the main namespace, and the "auth" event.
func initSIO(t *testing.T, e *env) *ws {
	t.Helper()
	w := connectSIO(t, e)
	w.send("40")
	checkConnect(t, w.readNonPing().data, "")
	if m := w.readNonPing(); m.data != `42["auth",{}]` {
		t.Fatalf("auth packet %+v", m)
	}
	return w
}

// checkConnect checks a CONNECT reply for namespace prefix nsp ("" or
// "/custom,"): its payload has exactly a string "sid".
func checkConnect(t *testing.T, data, nsp string) {
	t.Helper()
	if !strings.HasPrefix(data, "40"+nsp) {
		t.Fatalf("CONNECT reply %q, want prefix %q", data, "40"+nsp)
	}
	var v map[string]any
	if err := json.Unmarshal([]byte(data[2+len(nsp):]), &v); err != nil {
		t.Fatalf("CONNECT reply %q: %v", data, err)
	}
	if _, ok := v["sid"].(string); !ok || len(v) != 1 {
		t.Fatalf("CONNECT payload %v, want only a string sid", v)
	}
}

func TestSocketIOSuite(t *testing.T) {
	connect := func(send, nsp, auth string) func(t *testing.T, e *env) {
		return func(t *testing.T, e *env) {
			w := connectSIO(t, e)
			w.send(send)
			checkConnect(t, w.readNonPing().data, nsp)
			want := `42` + nsp + `["auth",` + auth + `]`
			if m := w.readNonPing(); m.data != want {
				t.Fatalf("auth packet %q, want %q", m.data, want)
			}
		}
	}
	// exchange sends msgs on a new connection to the main namespace and
	// expects want, ignoring pings (waitForPackets).
	exchange := func(send []msg, want ...msg) func(t *testing.T, e *env) {
		return func(t *testing.T, e *env) {
			w := initSIO(t, e)
			for _, m := range send {
				if m.bin {
					w.sendBinary([]byte(m.data))
				} else {
					w.send(m.data)
				}
			}
			for _, wm := range want {
				if m := w.readNonPing(); m != wm {
					t.Fatalf("got %+v, want %+v", m, wm)
				}
			}
		}
	}
	closes := func(send string) func(t *testing.T, e *env) {
		return func(t *testing.T, e *env) {
			w := initSIO(t, e)
			w.send(send)
			w.waitClosed()
		}
	}
	const (
		twoPlaceholders = `{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}`
	)
	tests := []struct {
		name string
		run  func(t *testing.T, e *env)
	}{
		// connect
		{"connect/should allow connection to the main namespace", connect("40", "", `{}`)},
		{"connect/should allow connection to the main namespace with a payload", connect(`40{"token":"123"}`, "", `{"token":"123"}`)},
		{"connect/should allow connection to a custom namespace", connect("40/custom,", "/custom,", `{}`)},
		{"connect/should allow connection to a custom namespace with a payload", connect(`40/custom,{"token":"abc"}`, "/custom,", `{"token":"abc"}`)},
		{"connect/should disallow connection to an unknown namespace", func(t *testing.T, e *env) {
			w := connectSIO(t, e)
			w.send("40/random")
			if m := w.readNonPing(); m.data != `44/random,{"message":"Invalid namespace"}` {
				t.Fatalf("got %+v", m)
			}
		}},
		{"connect/should disallow connection with an invalid handshake", func(t *testing.T, e *env) {
			w := connectSIO(t, e)
			w.send("4abc")
			w.waitClosed()
		}},
		{"connect/should close the connection if no handshake is received", func(t *testing.T, e *env) {
			w := e.dialWS(t, "EIO=4&transport=websocket")
			start := time.Now()
			for {
				m, err := w.tryRead()
				if err != nil {
					break
				}
				if m.data == "2" {
					w.send("3") // alive, but never joins a namespace
				}
			}
			if w.ctx.Err() != nil {
				t.Fatal("connection not closed")
			}
			if d := time.Since(start); d < e.tm.connectTimeout/2 {
				t.Errorf("closed after %v, before connectTimeout", d)
			}
		}},
		// disconnect
		{"disconnect/should disconnect from the main namespace", func(t *testing.T, e *env) {
			w := initSIO(t, e)
			w.send("41")
			// The Engine.IO session stays: the next packet is a ping.
			if m := w.read(); m.data != "2" {
				t.Fatalf("got %+v, want ping", m)
			}
		}},
		{"disconnect/should connect then disconnect from a custom namespace", func(t *testing.T, e *env) {
			w := initSIO(t, e)
			if m := w.read(); m.data != "2" { // ping
				t.Fatalf("got %+v, want ping", m)
			}
			w.send("40/custom")
			checkConnect(t, w.readNonPing().data, "/custom,")
			if m := w.readNonPing(); m.data != `42/custom,["auth",{}]` {
				t.Fatalf("auth packet %+v", m)
			}
			w.send("41/custom", `42["message","message to main namespace"]`)
			if m := w.readNonPing(); m.data != `42["message-back","message to main namespace"]` {
				t.Fatalf("got %+v", m)
			}
		}},
		// message
		{"message/should send a plain-text packet",
			exchange([]msg{{data: `42["message",1,"2",{"3":[true]}]`}}, msg{data: `42["message-back",1,"2",{"3":[true]}]`})},
		{"message/should send a packet with binary attachments",
			exchange([]msg{{data: `452-["message",` + twoPlaceholders + `]`}, {true, "\x01\x02\x03"}, {true, "\x04\x05\x06"}},
				msg{data: `452-["message-back",` + twoPlaceholders + `]`}, msg{true, "\x01\x02\x03"}, msg{true, "\x04\x05\x06"})},
		{"message/should send a plain-text packet with an ack",
			exchange([]msg{{data: `42456["message-with-ack",1,"2",{"3":[false]}]`}}, msg{data: `43456[1,"2",{"3":[false]}]`})},
		{"message/should send a packet with binary attachments and an ack",
			exchange([]msg{{data: `452-789["message-with-ack",` + twoPlaceholders + `]`}, {true, "\x01\x02\x03"}, {true, "\x04\x05\x06"}},
				msg{data: `462-789[` + twoPlaceholders + `]`}, msg{true, "\x01\x02\x03"}, msg{true, "\x04\x05\x06"})},
		{"message/should close the connection upon invalid format (unknown packet type)", closes("4abc")},
		{"message/should close the connection upon invalid format (invalid payload format)", closes("42{}")},
		{"message/should close the connection upon invalid format (invalid ack id)", closes(`42abc["message-with-ack",1,"2",{"3":[false]}]`)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.run(t, newEnv(t, "/socket.io/", relaxedTimings))
		})
	}
}

// The reference servers allow any origin (cors: {origin: "*"}), which the
// suites need when run in a browser (index.html).
func TestCORS(t *testing.T) {
	for _, path := range []string{"/engine.io/", "/socket.io/"} {
		t.Run(path, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, path, suiteTimings)
			for _, method := range []string{http.MethodGet, http.MethodOptions} {
				req, err := http.NewRequest(method, e.url("EIO=4&transport=polling"), nil)
				if err != nil {
					t.Fatal(err)
				}
				req.Header.Set("Origin", "http://example.com")
				if method == http.MethodOptions {
					req.Header.Set("Access-Control-Request-Method", http.MethodPost)
					req.Header.Set("Access-Control-Request-Headers", "content-type")
				}
				resp, err := e.client.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				if resp.StatusCode >= 300 {
					t.Errorf("%s: status %d", method, resp.StatusCode)
				}
				if got := resp.Header.Get("Access-Control-Allow-Origin"); got != "*" {
					t.Errorf("%s: Access-Control-Allow-Origin %q, want *", method, got)
				}
			}
		})
	}
}
