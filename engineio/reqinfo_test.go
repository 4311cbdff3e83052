package engineio

import (
	"crypto/tls"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
)

// TestReqInfo: what a socket keeps of its handshake request gives back
// the request's URL, headers (every value, in order), Host, addresses and
// TLS state; each Request has maps of its own.
func TestReqInfo(t *testing.T) {
	r := httptest.NewRequest("GET", "/engine.io/?EIO=4&transport=websocket&q=%C3%A9+x", nil)
	r.Host = "example.com:8080"
	r.RemoteAddr = "10.0.0.1:4242"
	r.TLS = &tls.ConnectionState{ServerName: "example.com"}
	r.Header = http.Header{
		"Cookie":    {"a=1", "b=2"},
		"X-Long":    {strings.Repeat("v", 300)},
		"X-Empty":   {""},
		"Sec-Other": {"é"},
	}
	raw := [15]byte{1, 2, 3}
	s := &Socket{info: newReqInfo(&raw, "127.0.0.1:80", r), tls: r.TLS}
	if len(s.ID()) != sidLen || strings.ContainsAny(s.ID(), "+/") {
		t.Errorf("ID %q", s.ID())
	}
	if s.LocalAddr() != "127.0.0.1:80" || s.RemoteAddr() != "10.0.0.1:4242" {
		t.Errorf("addresses %q %q", s.LocalAddr(), s.RemoteAddr())
	}
	got := s.Request()
	if got.URL.String() != r.URL.String() || got.URL.Query().Get("q") != "é x" || got.RequestURI != r.URL.RequestURI() {
		t.Errorf("URL %v, RequestURI %q", got.URL, got.RequestURI)
	}
	if !reflect.DeepEqual(got.Header, r.Header) {
		t.Errorf("Header %v, want %v", got.Header, r.Header)
	}
	if got.Host != r.Host || got.RemoteAddr != r.RemoteAddr || got.TLS != r.TLS || got.Method != "GET" {
		t.Errorf("Request %+v", got)
	}
	got.Header.Set("Cookie", "changed")
	got.URL.RawQuery = ""
	if again := s.Request(); again.Header.Get("Cookie") != "a=1" || again.URL.Query().Get("EIO") != "4" {
		t.Errorf("a Request shares its maps: %v %v", again.Header, again.URL)
	}
}
