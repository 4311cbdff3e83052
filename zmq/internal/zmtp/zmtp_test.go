package zmtp

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
)

func TestGreetingBytes(t *testing.T) {
	// RFC 37: signature (0xFF, 8 padding bytes, 0x7F), version 3.1, the
	// mechanism NUL-padded to 20 bytes, as-server, 31 filler bytes.
	want := append([]byte{0xff, 0, 0, 0, 0, 0, 0, 0, 0, 0x7f, 3, 1}, "NULL"...)
	want = append(want, make([]byte, 16+1+31)...)
	got := AppendGreeting(nil, Greeting{Mechanism: "NULL"})
	if !bytes.Equal(got, want) {
		t.Fatalf("greeting:\n- want: % x\n-  got: % x", want, got)
	}
	if len(got) != GreetingSize {
		t.Fatalf("len %d", len(got))
	}
}

func TestGreetingParse(t *testing.T) {
	base := AppendGreeting(nil, Greeting{Mechanism: "PLAIN", AsServer: true})
	libzmq := append([]byte(nil), base...)
	copy(libzmq[1:9], []byte{0, 0, 0, 0, 0, 0, 0, 1}) // libzmq's padding
	junk := append([]byte(nil), base...)
	copy(junk[1:9], "anything")
	v30 := append([]byte(nil), base...)
	v30[11] = 0
	tests := []struct {
		name    string
		in      []byte
		want    Greeting
		wantErr error
	}{
		{"ours", base, Greeting{3, 1, "PLAIN", true}, nil},
		{"libzmq padding", libzmq, Greeting{3, 1, "PLAIN", true}, nil},
		{"padding never checked", junk, Greeting{3, 1, "PLAIN", true}, nil},
		{"zmtp 3.0", v30, Greeting{3, 0, "PLAIN", true}, nil},
		{"bad first byte", append([]byte{0xfe}, base[1:]...), Greeting{}, ErrSignature},
		{"bad last signature byte", append(append(append([]byte(nil), base[:9]...), 0x7e), base[10:]...), Greeting{}, ErrSignature},
		{"zmtp 2", append(append(append([]byte(nil), base[:10]...), 1), base[11:]...), Greeting{}, ErrVersion},
		{"bad mechanism", append(append(append([]byte(nil), base[:12]...), "N\x00LL"...), base[16:]...), Greeting{}, ErrMechanismName},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseGreeting(tt.in)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err:\n- want: %v\n-  got: %v", tt.wantErr, err)
			}
			if got != tt.want {
				t.Fatalf("greeting:\n- want: %+v\n-  got: %+v", tt.want, got)
			}
		})
	}
}

func TestGreetingTruncated(t *testing.T) {
	g := AppendGreeting(nil, Greeting{Mechanism: "NULL"})
	for i := range g {
		_, err := ParseGreeting(g[:i])
		want := io.ErrUnexpectedEOF
		if i == 0 {
			want = io.EOF
		}
		if !errors.Is(err, want) {
			t.Fatalf("prefix %d: want %v, got %v", i, want, err)
		}
	}
}

func TestFrameHeaderBoundaries(t *testing.T) {
	for _, size := range []int{0, 1, 254, 255, 256, 257, 65535, 65536, 1 << 20} {
		for _, flags := range []byte{0, FlagMore, FlagCommand} {
			hdr := AppendFrameHeader(nil, flags, size)
			if len(hdr) != FrameHeaderSize(size) {
				t.Fatalf("size %d: header %d bytes, FrameHeaderSize %d", size, len(hdr), FrameHeaderSize(size))
			}
			wantLong := size > 255
			if (hdr[0]&FlagLong != 0) != wantLong {
				t.Fatalf("size %d: long flag %v", size, !wantLong)
			}
			f, n, hl, err := ParseFrameHeader(hdr, -1)
			if err != nil || f != flags|map[bool]byte{true: FlagLong}[wantLong] || n != int64(size) || hl != len(hdr) {
				t.Fatalf("size %d flags %#x: got %#x %d %d %v", size, flags, f, n, hl, err)
			}
			for i := range hdr {
				_, _, _, err := ParseFrameHeader(hdr[:i], -1)
				want := io.ErrUnexpectedEOF
				if i == 0 {
					want = io.EOF
				}
				if !errors.Is(err, want) {
					t.Fatalf("size %d prefix %d: want %v got %v", size, i, want, err)
				}
			}
		}
	}
}

func TestFrameHeaderErrors(t *testing.T) {
	tests := []struct {
		name string
		in   []byte
		max  int64
		want error
	}{
		{"reserved bit", []byte{0x08, 0}, -1, ErrFrameFlags},
		{"more on command", []byte{FlagMore | FlagCommand, 0}, -1, ErrFrameFlags},
		{"over max short", []byte{0, 200}, 100, ErrTooLarge},
		{"over max long", AppendFrameHeader(nil, 0, 1<<30), 1 << 20, ErrTooLarge},
		{"over int64", []byte{FlagLong, 0xff, 0, 0, 0, 0, 0, 0, 0}, -1, ErrTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, _, err := ParseFrameHeader(tt.in, tt.max)
			if !errors.Is(err, tt.want) {
				t.Fatalf("want %v got %v", tt.want, err)
			}
		})
	}
}

func TestReadFrame(t *testing.T) {
	for _, size := range []int{0, 255, 256, 70000} {
		body := bytes.Repeat([]byte{'x'}, size)
		wire := AppendFrame(nil, FlagMore, body)
		f, got, err := ReadFrame(bytes.NewReader(wire), nil, -1)
		if err != nil || f&FlagMore == 0 || !bytes.Equal(got, body) {
			t.Fatalf("size %d: %v", size, err)
		}
		for i := 1; i < len(wire); i++ {
			if i > 300 && i < len(wire)-300 {
				i = len(wire) - 300 // the middle of a large body is all alike
			}
			if _, _, err := ReadFrame(bytes.NewReader(wire[:i]), nil, -1); !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Fatalf("size %d prefix %d: %v", size, i, err)
			}
		}
		if _, _, err := ReadFrame(bytes.NewReader(nil), nil, -1); err != io.EOF {
			t.Fatalf("empty: %v", err)
		}
	}
	// The limit is checked before the body is allocated or read.
	huge := AppendFrameHeader(nil, 0, 1<<40)
	if _, _, err := ReadFrame(bytes.NewReader(huge), nil, 1<<20); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("huge: %v", err)
	}
}

func TestCommands(t *testing.T) {
	md := Metadata{{"Socket-Type", []byte("ROUTER")}, {"Identity", []byte("id1")}, {"X-Big", bytes.Repeat([]byte{'v'}, 300)}}
	ready := AppendReady(nil, md)
	f, body, err := ReadFrame(bytes.NewReader(ready), nil, -1)
	if err != nil || f != FlagCommand|FlagLong {
		t.Fatalf("ready frame: %#x %v", f, err)
	}
	cmd, err := ParseCommand(body)
	if err != nil || cmd.Name != CmdReady {
		t.Fatalf("ready: %+v %v", cmd, err)
	}
	got, err := ParseMetadata(cmd.Data)
	if err != nil || len(got) != 3 {
		t.Fatalf("metadata: %v %v", got, err)
	}
	if v, ok := got.Get("socket-type"); !ok || string(v) != "ROUTER" {
		t.Fatalf("Get: %q %v", v, ok)
	}
	one := AppendMetadata(nil, Metadata{{"Identity", []byte("abc")}})
	for i := 1; i < len(one); i++ {
		if _, err := ParseMetadata(one[:i]); !errors.Is(err, ErrMetadata) {
			t.Fatalf("metadata prefix %d: %v", i, err)
		}
	}
	// Exact bytes of a NULL READY for a PUSH socket (RFC 37).
	want := []byte("\x04\x1a\x05READY\x0bSocket-Type\x00\x00\x00\x04PUSH")
	if got := AppendReady(nil, Metadata{{"Socket-Type", []byte("PUSH")}}); !bytes.Equal(got, want) {
		t.Fatalf("READY:\n- want: %q\n-  got: %q", want, got)
	}

	ping := AppendPing(nil, 50, []byte("ctx"))
	_, body, _ = ReadFrame(bytes.NewReader(ping), nil, -1)
	cmd, _ = ParseCommand(body)
	ttl, pctx, err := ParsePing(cmd.Data)
	if cmd.Name != CmdPing || ttl != 50 || string(pctx) != "ctx" || err != nil {
		t.Fatalf("ping: %v %d %q %v", cmd.Name, ttl, pctx, err)
	}
	if _, _, err := ParsePing([]byte{0}); !errors.Is(err, ErrCommand) {
		t.Fatalf("short ping: %v", err)
	}
	e := AppendError(nil, "nope")
	_, body, _ = ReadFrame(bytes.NewReader(e), nil, -1)
	cmd, _ = ParseCommand(body)
	if r, err := ParseError(cmd.Data); r != "nope" || err != nil {
		t.Fatalf("error: %q %v", r, err)
	}
	for _, tt := range []struct {
		minor byte
		on    bool
		want  string
	}{
		{1, true, "\x04\x0c\x09SUBSCRIBEab"},
		{1, false, "\x04\x09\x06CANCELab"},
		{0, true, "\x00\x03\x01ab"},
		{0, false, "\x00\x03\x00ab"},
	} {
		if got := AppendSubscribe(nil, tt.minor, tt.on, []byte("ab")); string(got) != tt.want {
			t.Fatalf("subscribe minor %d on %v: %q want %q", tt.minor, tt.on, got, tt.want)
		}
	}
	for _, bad := range [][]byte{nil, {0}, {5, 'a'}} {
		if _, err := ParseCommand(bad); !errors.Is(err, ErrCommand) {
			t.Fatalf("command %q: %v", bad, err)
		}
	}
}

func TestNullMechanism(t *testing.T) {
	a := NewNull(Metadata{{"Socket-Type", []byte("REQ")}})
	_, body, _ := ReadFrame(bytes.NewReader(a.Start()), nil, -1)
	cmd, _ := ParseCommand(body)
	b := NewNull(nil)
	_, md, done, err := b.Next(cmd)
	if !done || err != nil {
		t.Fatalf("next: %v %v", done, err)
	}
	if v, _ := md.Get("Socket-Type"); string(v) != "REQ" {
		t.Fatalf("md %v", md)
	}
	_, body, _ = ReadFrame(bytes.NewReader(AppendError(nil, "go away")), nil, -1)
	cmd, _ = ParseCommand(body)
	var pe *PeerError
	if _, _, _, err := b.Next(cmd); !errors.As(err, &pe) || pe.Reason != "go away" {
		t.Fatalf("error: %v", err)
	}
	if _, _, _, err := b.Next(Command{Name: "HELLO"}); !errors.Is(err, ErrHandshake) {
		t.Fatalf("hello: %v", err)
	}
}

func TestCompatible(t *testing.T) {
	ok := map[string]string{"PAIR": "PAIR", "PUB": "SUB", "XPUB": "XSUB", "REQ": "ROUTER", "REP": "DEALER", "DEALER": "DEALER", "PUSH": "PULL"}
	for a, b := range ok {
		if !Compatible(a, b) || !Compatible(b, a) {
			t.Fatalf("%s-%s should be compatible", a, b)
		}
	}
	for _, p := range [][2]string{{"PUSH", "PUSH"}, {"REQ", "REQ"}, {"PUB", "PULL"}, {"PAIR", "SUB"}, {"X", "PAIR"}} {
		if Compatible(p[0], p[1]) {
			t.Fatalf("%s-%s should not be compatible", p[0], p[1])
		}
	}
}

func FuzzGreeting(f *testing.F) {
	f.Add(AppendGreeting(nil, Greeting{Mechanism: "NULL"}))
	f.Add(AppendGreeting(nil, Greeting{Major: 3, Minor: 0, Mechanism: "CURVE", AsServer: true}))
	f.Fuzz(func(t *testing.T, b []byte) {
		g, err := ParseGreeting(b)
		if err != nil {
			return
		}
		// Round trip: re-encode and parse again.
		g2, err := ParseGreeting(AppendGreeting(nil, g))
		if err != nil || g2 != g {
			t.Fatalf("round trip: %+v -> %+v %v", g, g2, err)
		}
	})
}

func FuzzFrame(f *testing.F) {
	f.Add(AppendFrame(nil, FlagMore, []byte("hello")), int64(-1), 3)
	f.Add(AppendFrame(nil, 0, bytes.Repeat([]byte{1}, 300)), int64(1000), 5)
	f.Add(AppendCommand(nil, CmdSubscribe, []byte("t")), int64(10), 1)
	f.Add([]byte("\x0300000000"), int64(-84), -102) // a huge long frame, no limit
	f.Fuzz(func(t *testing.T, b []byte, max int64, split int) {
		if max < -1 || max > 1<<20 {
			max = 1 << 20
		}
		flags, size, hl, err := ParseFrameHeader(b, max)
		if err == nil {
			if max >= 0 && size > max {
				t.Fatalf("size %d over max %d accepted", size, max)
			}
			if want := 2 + 7*int(flags&FlagLong>>1); hl != want {
				t.Fatalf("header length %d, want %d", hl, want)
			}
		}
		// Reading in chunks gives the same result as reading at once.
		f1, b1, e1 := ReadFrame(bytes.NewReader(b), nil, max)
		if split < 1 {
			split = 1
		}
		f2, b2, e2 := ReadFrame(&chunkReader{b: b, n: split%16 + 1}, nil, max)
		if (e1 == nil) != (e2 == nil) || f1 != f2 || !bytes.Equal(b1, b2) {
			t.Fatalf("chunked read differs: %v/%v", e1, e2)
		}
		if e1 == nil {
			// Round trip.
			wire := AppendFrame(nil, f1&^FlagLong, b1)
			f3, b3, e3 := ReadFrame(bytes.NewReader(wire), nil, max)
			if e3 != nil || f3&^FlagLong != f1&^FlagLong || !bytes.Equal(b3, b1) {
				t.Fatalf("round trip: %v", e3)
			}
		}
	})
}

func FuzzCommand(f *testing.F) {
	f.Add(AppendReady(nil, Metadata{{"Socket-Type", []byte("PUB")}, {"Identity", nil}})[2:])
	f.Add(AppendPing(nil, 10, []byte("x"))[2:])
	f.Add(AppendError(nil, "bad")[2:])
	f.Add((&Plain{Username: "admin", Password: "secret"}).Start()[2:])
	f.Fuzz(func(t *testing.T, body []byte) {
		cmd, err := ParseCommand(body)
		if err != nil {
			return
		}
		wire := AppendCommand(nil, cmd.Name, cmd.Data)
		_, b2, err := ReadFrame(bytes.NewReader(wire), nil, -1)
		if err != nil || !bytes.Equal(b2, body) {
			t.Fatalf("round trip: %v", err)
		}
		switch cmd.Name {
		case CmdReady:
			md, err := ParseMetadata(cmd.Data)
			if err == nil {
				again := AppendMetadata(nil, md)
				if !bytes.Equal(again, cmd.Data) {
					t.Fatalf("metadata round trip")
				}
			}
		case CmdPing:
			ParsePing(cmd.Data)
		case CmdError:
			ParseError(cmd.Data)
		case CmdHello:
			if u, p, err := parseHello(cmd.Data); err == nil {
				hello := (&Plain{Username: u, Password: p}).Start()
				if !bytes.Equal(hello[len(hello)-len(cmd.Data):], cmd.Data) {
					t.Fatalf("HELLO round trip")
				}
			}
		}
	})
}

type chunkReader struct {
	b []byte
	n int
}

func (r *chunkReader) Read(p []byte) (int, error) {
	if len(r.b) == 0 {
		return 0, io.EOF
	}
	n := min(len(p), r.n, len(r.b))
	copy(p, r.b[:n])
	r.b = r.b[n:]
	return n, nil
}

func BenchmarkFrameEncode(b *testing.B) {
	for _, size := range []int{16, 256, 4096} {
		body := make([]byte, size)
		b.Run(strings.Repeat("x", 0)+map[int]string{16: "16B", 256: "256B", 4096: "4KiB"}[size], func(b *testing.B) {
			buf := make([]byte, 0, 9+size)
			b.SetBytes(int64(size))
			b.ReportAllocs()
			for b.Loop() {
				buf = AppendFrame(buf[:0], FlagMore, body)
			}
		})
	}
}

func BenchmarkFrameDecode(b *testing.B) {
	for _, size := range []int{16, 256, 4096} {
		wire := AppendFrame(nil, 0, make([]byte, size))
		b.Run(map[int]string{16: "16B", 256: "256B", 4096: "4KiB"}[size], func(b *testing.B) {
			b.SetBytes(int64(size))
			b.ReportAllocs()
			for b.Loop() {
				_, n, hl, err := ParseFrameHeader(wire, -1)
				if err != nil || int(n)+hl != len(wire) {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkParseCommand(b *testing.B) {
	body := AppendPing(nil, 10, []byte("ctx"))[2:]
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseCommand(body); err != nil {
			b.Fatal(err)
		}
	}
}

func TestPlain(t *testing.T) {
	run := func(client, server *Plain) (Metadata, Metadata, error, error) {
		var cmd Command
		next := func(b []byte) Command {
			_, body, err := ReadFrame(bytes.NewReader(b), nil, -1)
			if err != nil {
				t.Fatal(err)
			}
			c, err := ParseCommand(body)
			if err != nil {
				t.Fatal(err)
			}
			return c
		}
		hello := client.Start()
		if server.Start() != nil {
			t.Fatal("server speaks first")
		}
		cmd = next(hello)
		out, _, _, serr := server.Next(cmd) // WELCOME or ERROR
		_, _, _, cerr := client.Next(next(out))
		if serr != nil {
			return nil, nil, cerr, serr
		}
		out, _, _, _ = client.Next(next(AppendCommand(nil, CmdWelcome, nil)))
		_ = out
		return nil, nil, cerr, serr
	}
	// Exact HELLO bytes as libzmq sends them (testdata/hello.bin).
	c := &Plain{Username: "admin", Password: "secret"}
	if got, want := c.Start(), []byte("\x04\x13\x05HELLO\x05admin\x06secret"); !bytes.Equal(got, want) {
		t.Fatalf("HELLO:\n- want: %q\n-  got: %q", want, got)
	}
	// Full exchange.
	client := &Plain{Username: "u", Password: "p", Metadata: Metadata{{"Socket-Type", []byte("DEALER")}}}
	server := &Plain{Server: true, Authenticate: func(u, p string) bool { return u == "u" && p == "p" }, Metadata: Metadata{{"Socket-Type", []byte("ROUTER")}}}
	read := func(b []byte) Command {
		_, body, err := ReadFrame(bytes.NewReader(b), nil, -1)
		if err != nil {
			t.Fatal(err)
		}
		cmd, err := ParseCommand(body)
		if err != nil {
			t.Fatal(err)
		}
		return cmd
	}
	welcome, _, done, err := server.Next(read(client.Start()))
	if err != nil || done || read(welcome).Name != CmdWelcome {
		t.Fatalf("welcome: %v", err)
	}
	initiate, _, done, err := client.Next(read(welcome))
	if err != nil || done {
		t.Fatal(err)
	}
	ready, cmd, done, err := server.Next(read(initiate))
	if v, _ := cmd.Get("Socket-Type"); err != nil || !done || string(v) != "DEALER" {
		t.Fatalf("server done: %v %v", done, err)
	}
	_, smd, done, err := client.Next(read(ready))
	if v, _ := smd.Get("Socket-Type"); err != nil || !done || string(v) != "ROUTER" {
		t.Fatalf("client done: %v %v", done, err)
	}
	// Wrong password: ERROR "400" to the client, ErrAuth on the server.
	_, _, cerr, serr := run(&Plain{Username: "u", Password: "bad"}, &Plain{Server: true, Authenticate: server.Authenticate})
	var pe *PeerError
	if !errors.Is(serr, ErrAuth) || !errors.As(cerr, &pe) || pe.Reason != "400" {
		t.Fatalf("denied: %v / %v", serr, cerr)
	}
	// libzmq 4.3.4's malformed denial (testdata/error-plain-denied.bin)
	// is a clean handshake failure.
	_, body, _ := ReadFrame(bytes.NewReader([]byte("\x04\x09^RROR\x03400")), nil, -1)
	if cmd, err := ParseCommand(body); err == nil {
		if _, _, _, err := (&Plain{Username: "u"}).Next(cmd); err == nil {
			t.Fatal("malformed ERROR accepted")
		}
	}
	if _, _, _, err := (&Plain{Server: true}).Next(Command{Name: CmdHello, Data: []byte{5, 'a'}}); !errors.Is(err, ErrCommand) {
		t.Fatalf("bad HELLO: %v", err)
	}
}
