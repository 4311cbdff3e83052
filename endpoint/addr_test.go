package endpoint

import (
	"errors"
	"reflect"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestParse(t *testing.T) {
	tests := []struct {
		in        string
		transport string
		wrap      string
		address   string
		path      string
		out       string // printed form; "" = same as in
	}{
		{"tcp://127.0.0.1:7000", TCP, "", "127.0.0.1:7000", "", ""},
		{"tcp://[::1]:7000", TCP, "", "[::1]:7000", "", ""},
		{"tcp://Example.COM:80", TCP, "", "example.com:80", "", "tcp://example.com:80"},
		{"tcp://:7000", TCP, "", ":7000", "", ""},
		{"tcp://[FE80::1%Eth0]:80", TCP, "", "[fe80::1%Eth0]:80", "", "tcp://[fe80::1%Eth0]:80"},
		{"unix:///run/sb.sock", Unix, "", "/run/sb.sock", "", ""},
		{"unix://@name", Unix, "", "@name", "", ""},
		{"ipc:///tmp/z.ipc", Unix, "", "/tmp/z.ipc", "", "unix:///tmp/z.ipc"},
		{"inproc://workers", Inproc, "", "workers", "", ""},
		{"unixgram:///tmp/d.sock", Unixgram, "", "/tmp/d.sock", "", ""},
		{"udp://127.0.0.1:7000", UDP, "", "127.0.0.1:7000", "", ""},
		{"udp://239.1.2.3:7000?iface=eth0", UDP, "", "239.1.2.3:7000", "", ""},
		{"vsock://3:5000", Vsock, "", "3:5000", "", ""},
		{"vsock://:5000", Vsock, "", ":5000", "", ""},
		{"vsock:2:1024", Vsock, "", "2:1024", "", "vsock://2:1024"},
		{"netlink://kobject-uevent", Netlink, "", "kobject-uevent", "", ""},
		{"netlink://audit?group=1", Netlink, "", "audit", "", ""},
		{"fd://3", FD, "", "3", "", ""},
		{"fd://web", FD, "", "web", "", ""},
		{"tls://localhost:443", TCP, WrapTLS, "localhost:443", "", ""},
		{"tls+unix:///run/s.sock?selfsigned=1", Unix, WrapTLS, "/run/s.sock", "", ""},
		{"ws://127.0.0.1:8080/chat", TCP, WrapWS, "127.0.0.1:8080", "/chat", ""},
		{"wss://h:1/", TCP, WrapWSS, "h:1", "", "wss://h:1"},
		{"ws+unix:///s.sock?path=/x", Unix, WrapWS, "/s.sock", "/x", ""},
		{"tcp://127.0.0.1:1?nodelay=1&keepalive=30s&keepintvl=5s&keepcnt=3", TCP, "", "127.0.0.1:1", "", ""},
		{"tcp://127.0.0.1:1?bindtodevice=", TCP, "", "127.0.0.1:1", "", ""},
		{"udp://127.0.0.1:1?mcastloop=0&timestamp=1&tos=0x10", UDP, "", "127.0.0.1:1", "", "udp://127.0.0.1:1?tos=16&timestamp=1&mcastloop=0"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			e, err := Parse(tt.in)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if e.Transport != tt.transport || e.Wrap != tt.wrap || e.Address != tt.address || e.Path != tt.path {
				t.Errorf("got %+v", e)
			}
			want := tt.out
			if want == "" {
				want = tt.in
			}
			if got := e.String(); got != want {
				t.Errorf("String() = %q, want %q", got, want)
			}
			e2, err := Parse(e.String())
			if err != nil || e2.String() != e.String() {
				t.Errorf("round trip: %v %q", err, e2.String())
			}
		})
	}
}

func TestParseOptions(t *testing.T) {
	e := MustParse("tcp://127.0.0.1:1?nodelay=1&keepalive=30&keepintvl=5s&keepcnt=3&bindtodevice=&mark=7&backlog=16")
	o := e.Options
	if !o.NoDelay || o.KeepAlive != 30*time.Second || o.KeepAliveInterval != 5*time.Second || o.KeepAliveCount != 3 ||
		o.BindToDevice == nil || *o.BindToDevice != "" || o.Mark != 7 || o.Backlog != 16 {
		t.Fatalf("options: %+v", o)
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		in     string
		option string // "" = an *AddrError
		want   error
	}{
		{"tcp://127.0.0.1", "", nil},
		{"tcp://127.0.0.1:99999", "", nil},
		{"nope://x", "", nil},
		{"127.0.0.1:80", "", nil},
		{"unix://", "", nil},
		{"vsock://x:1", "", nil},
		{"vsock://5000", "", nil},
		{"netlink://nosuch", "", nil},
		{"fd://3x", "", nil},
		{"tls+udp://127.0.0.1:1", "", nil},
		{"tcp://127.0.0.1:1?bogus=1", "bogus", ErrUnknownOption},
		{"udp://127.0.0.1:1?nodelay=1", "nodelay", ErrNotApplicable},
		{"unix:///x?tos=4", "tos", ErrNotApplicable},
		{"tcp://127.0.0.1:1?timestamp=1", "timestamp", ErrNotApplicable},
		{"tcp://127.0.0.1:1?cert=/x", "cert", ErrNotApplicable},
		{"tcp://127.0.0.1:1?tos=300", "tos", nil},
		{"tcp://127.0.0.1:1?keepalive=1ms", "keepalive", nil},
		{"tcp://127.0.0.1:1?nodelay=maybe", "nodelay", nil},
		{"netlink://audit?sndbuf=4096", "sndbuf", ErrNotApplicable},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			_, err := Parse(tt.in)
			if err == nil {
				t.Fatal("no error")
			}
			if tt.option == "" {
				var ae *AddrError
				if !errors.As(err, &ae) {
					t.Fatalf("want *AddrError, got %T %v", err, err)
				}
				return
			}
			var oe *OptionError
			if !errors.As(err, &oe) || oe.Option != tt.option {
				t.Fatalf("want *OptionError for %s, got %v", tt.option, err)
			}
			if tt.want != nil && !errors.Is(err, tt.want) {
				t.Fatalf("want %v, got %v", tt.want, err)
			}
		})
	}
}

func TestActivationFD(t *testing.T) {
	env := map[string]string{"LISTEN_PID": "42", "LISTEN_FDS": "2", "LISTEN_FDNAMES": "web:admin"}
	getenv := func(k string) string { return env[k] }
	for name, want := range map[string]int{"web": 3, "admin": 4, "7": 7} {
		got, err := activationFD(name, getenv, 42)
		if err != nil || got != want {
			t.Errorf("%s: got %d, %v; want %d", name, got, err, want)
		}
	}
	if _, err := activationFD("nope", getenv, 42); err == nil {
		t.Error("unknown name: no error")
	}
	if _, err := activationFD("web", getenv, 43); !errors.Is(err, ErrNotActivated) {
		t.Errorf("other pid: %v", err)
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"tcp://127.0.0.1:7000", "tcp://[::1]:7000?nodelay=1", "unix://@name", "unix:///run/x.sock",
		"udp://239.1.2.3:7000?iface=eth0&mcastloop=0", "vsock://:5000", "vsock:2:5000",
		"netlink://kobject-uevent?group=1", "fd://web", "tls://h:1?ca=/x", "ws://h:1/p?nodelay=1",
		"ws+unix:///s?path=/p", "inproc://x", "ipc:///x", "tcp://h:1?bindtodevice=",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		e, err := Parse(s)
		if err != nil {
			return
		}
		p := e.String()
		e2, err := Parse(p)
		if err != nil {
			t.Fatalf("reparse of %q (from %q): %v", p, s, err)
		}
		if p2 := e2.String(); p2 != p {
			t.Fatalf("print not stable: %q -> %q", p, p2)
		}
		if e2.Transport != e.Transport || e2.Wrap != e.Wrap || e2.Address != e.Address || e2.Path != e.Path {
			t.Fatalf("round trip changed %+v to %+v", e, e2)
		}
	})
}

// TestOptionsTableCoversEveryField makes sure a new Options field cannot be
// forgotten by the query syntax (and so by validation).
func TestOptionsTableCoversEveryField(t *testing.T) {
	typ := reflect.TypeOf(Options{})
	for i := range typ.NumField() {
		f := typ.Field(i)
		if !f.IsExported() {
			continue
		}
		var o Options
		v := reflect.ValueOf(&o).Elem().Field(i)
		switch v.Kind() {
		case reflect.Bool:
			v.SetBool(true)
		case reflect.Int, reflect.Int64:
			v.SetInt(int64(time.Second))
			if f.Type == reflect.TypeOf(0) {
				v.SetInt(3)
			}
		case reflect.Uint32:
			v.SetUint(3)
		case reflect.String:
			v.SetString("x")
		case reflect.Pointer:
			v.Set(reflect.New(f.Type.Elem()))
		default:
			t.Fatalf("field %s: kind %s not handled by this test", f.Name, v.Kind())
		}
		if len(o.query()) != 1 {
			t.Errorf("field %s has no entry in optTable", f.Name)
		}
	}
}
