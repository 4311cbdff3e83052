package zmq

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"testing"

	"github.com/switchboard/switchboard/zmq/internal/zmtp"
)

// Keys of libzmq's zmq_curve(7) man page, as Z85.
const (
	testServerPublic = "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7"
	testServerSecret = "JTKVSB%%)wK0E.X)V>+}o?pNmC{O&4W4b!Ni{Lh6"
	testClientPublic = "Yne@$w-vo<fVvi]a<NY6T1ed:M$fCG*[IaLV{hID"
	testClientSecret = "D:)Q[IlAW!ahhC2ac:9*A}h:p?([4%wOTJ%JR%cs"
)

func mustKey(t testing.TB, s string) [32]byte {
	t.Helper()
	k, err := CurveKey(s)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestZ85(t *testing.T) {
	// RFC 32's test vector.
	raw := []byte{0x86, 0x4F, 0xD2, 0x6F, 0xB5, 0x59, 0xF7, 0x5B}
	s, err := Z85Encode(raw)
	if err != nil || s != "HelloWorld" {
		t.Fatalf("encode: %q %v", s, err)
	}
	b, err := Z85Decode("HelloWorld")
	if err != nil || !bytes.Equal(b, raw) {
		t.Fatalf("decode: % x %v", b, err)
	}
	for _, tc := range []struct{ secret, public string }{
		{testServerSecret, testServerPublic},
		{testClientSecret, testClientPublic},
	} {
		pub, err := CurvePublicKey(mustKey(t, tc.secret))
		if err != nil {
			t.Fatal(err)
		}
		if got, _ := Z85Encode(pub[:]); got != tc.public {
			t.Fatalf("public of %s:\n- want: %s\n-  got: %s", tc.secret, tc.public, got)
		}
	}
	bad := []struct {
		name string
		f    func() error
	}{
		{"encode 3 bytes", func() error { _, err := Z85Encode([]byte{1, 2, 3}); return err }},
		{"decode 4 chars", func() error { _, err := Z85Decode("Hell"); return err }},
		{"decode bad char", func() error { _, err := Z85Decode("Hell~"); return err }},
		{"decode overflow", func() error { _, err := Z85Decode("#####"); return err }},
		{"key length", func() error { _, err := CurveKey("HelloWorld"); return err }},
	}
	for _, tc := range bad {
		if err := tc.f(); !errors.Is(err, ErrZ85) {
			t.Errorf("%s: %v", tc.name, err)
		}
	}
	pub, sec, err := NewCurveKeypair()
	if err != nil {
		t.Fatal(err)
	}
	if p, _ := CurvePublicKey(sec); p != pub {
		t.Fatal("keypair halves do not match")
	}
	z, _ := Z85Encode(pub[:])
	if k := mustKey(t, z); k != pub {
		t.Fatal("Z85 round trip")
	}
}

func TestCurveConfig(t *testing.T) {
	sp, ss, _ := NewCurveKeypair()
	_, cs, _ := NewCurveKeypair()
	tests := []struct {
		name string
		cfg  Config
		ok   bool
	}{
		{"server", Config{Curve: &CurveConfig{Server: true, SecretKey: ss}}, true},
		{"client", Config{Curve: &CurveConfig{SecretKey: cs, ServerKey: sp}}, true},
		{"no secret", Config{Curve: &CurveConfig{Server: true}}, false},
		{"client without server key", Config{Curve: &CurveConfig{SecretKey: cs}}, false},
		{"public not the secret's", Config{Curve: &CurveConfig{Server: true, SecretKey: ss, PublicKey: sp, ServerKey: sp}}, true},
		{"mismatched public", Config{Curve: &CurveConfig{Server: true, SecretKey: cs, PublicKey: sp}}, false},
		{"with plain", Config{Curve: &CurveConfig{Server: true, SecretKey: ss}, Plain: &PlainConfig{}}, false},
	}
	for _, tc := range tests {
		n, err := tc.cfg.withDefaults()
		if err == nil {
			err = n.checkSecurity()
		}
		if (err == nil) != tc.ok || err != nil && !errors.Is(err, ErrConfig) {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if err == nil {
			if n.Curve == tc.cfg.Curve {
				t.Errorf("%s: CurveConfig not cloned", tc.name)
			}
			if pub, _ := CurvePublicKey(n.Curve.SecretKey); n.Curve.PublicKey != pub {
				t.Errorf("%s: public key not derived", tc.name)
			}
		}
	}
}

func curvePair(t testing.TB) (server, client *CurveConfig) {
	server = &CurveConfig{Server: true, SecretKey: mustKey(t, testServerSecret)}
	client = &CurveConfig{SecretKey: mustKey(t, testClientSecret), ServerKey: mustKey(t, testServerPublic)}
	return server, client
}

func TestCurveSecurity(t *testing.T) {
	t.Run("push pull", func(t *testing.T) {
		ctx := testCtx(t)
		sc, cc := curvePair(t)
		pull, push := pairUp(t, Pull, Push, "tcp://127.0.0.1:*", &Config{Curve: sc}, &Config{Curve: cc})
		mustSend(t, ctx, push, "a", "", "multi part")
		mustRecv(t, ctx, pull, "a", "", "multi part")
		big := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB
		for i := 0; i < 3; i++ {
			if err := push.Send(ctx, Msg{[]byte("big"), big}); err != nil {
				t.Fatal(err)
			}
		}
		for i := 0; i < 3; i++ {
			m, err := pull.Recv(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if len(m) != 2 || !bytes.Equal(m[1], big) {
				t.Fatalf("big message %d garbled: %d frames", i, len(m))
			}
		}
		for i := 0; i < 1000; i++ {
			mustSend(t, ctx, push, "small")
		}
		for i := 0; i < 1000; i++ {
			mustRecv(t, ctx, pull, "small")
		}
	})
	t.Run("ipc and a message over MaxMsgSize", func(t *testing.T) {
		ctx := testCtx(t)
		sc, cc := curvePair(t)
		ev := newEvents()
		pull, push := pairUp(t, Pull, Push, "ipc://"+t.TempDir()+"/c.sock",
			&Config{Curve: sc, MaxMsgSize: 1000, Monitor: ev.add}, &Config{Curve: cc})
		mustSend(t, ctx, push, "over", "ipc")
		mustRecv(t, ctx, pull, "over", "ipc")
		if err := push.Send(ctx, Msg{make([]byte, 2000)}); err != nil {
			t.Fatal(err)
		}
		ev.wait(t, ctx, func(e Event) bool { return e.Type == EventDisconnected && errors.Is(e.Err, ErrMsgTooLarge) })
	})
	t.Run("req rep with heartbeats and metadata", func(t *testing.T) {
		ctx := testCtx(t)
		sc, cc := curvePair(t)
		var seen [32]byte
		sc.Authorize = func(k [32]byte) error { seen = k; return nil }
		rep, req := pairUp(t, Rep, Req, "tcp://127.0.0.1:*",
			&Config{Curve: sc, HeartbeatIvl: 20e6},
			&Config{Curve: cc, HeartbeatIvl: 20e6, RoutingID: []byte("me")})
		for i := 0; i < 20; i++ {
			mustSend(t, ctx, req, "q")
			mustRecv(t, ctx, rep, "q")
			mustSend(t, ctx, rep, "a")
			mustRecv(t, ctx, req, "a")
		}
		if seen != mustKey(t, testClientPublic) {
			t.Fatal("Authorize did not see the client's public key")
		}
	})
	t.Run("pub sub", func(t *testing.T) {
		ctx := testCtx(t)
		sc, cc := curvePair(t)
		ev := newEvents()
		pub, sub := pairUp(t, Pub, Sub, "tcp://127.0.0.1:*", &Config{Curve: sc, Monitor: ev.add}, &Config{Curve: cc})
		ev.wait(t, ctx, func(e Event) bool { return e.Type == EventHandshakeSucceeded })
		if err := sub.Subscribe([]byte("t")); err != nil {
			t.Fatal(err)
		}
		for {
			mustSend(t, ctx, pub, "t", "x")
			m, err := sub.Recv(ctxShort(t, ctx))
			if err == nil {
				if string(m[1]) != "x" {
					t.Fatalf("got %q", m)
				}
				break
			}
			if ctx.Err() != nil {
				t.Fatal(err)
			}
		}
	})
	t.Run("wrong server key", func(t *testing.T) {
		ctx := testCtx(t)
		sc, cc := curvePair(t)
		cc.ServerKey = mustKey(t, testClientPublic)
		sev, cev := newEvents(), newEvents()
		pairUp(t, Pull, Push, "tcp://127.0.0.1:*", &Config{Curve: sc, Monitor: sev.add}, &Config{Curve: cc, Monitor: cev.add, Linger: -1})
		e := sev.wait(t, ctx, func(e Event) bool { return e.Type == EventHandshakeFailed })
		if !errors.Is(e.Err, ErrCurve) {
			t.Fatalf("server: %v", e.Err)
		}
		e = cev.wait(t, ctx, func(e Event) bool { return e.Type == EventHandshakeFailed })
		var pe *PeerError
		if !errors.As(e.Err, &pe) || !errors.Is(e.Err, ErrCurve) {
			t.Fatalf("client: %v", e.Err)
		}
		t.Logf("client sees: %v", e.Err)
	})
	t.Run("authorize refuses", func(t *testing.T) {
		ctx := testCtx(t)
		sc, cc := curvePair(t)
		errNo := errors.New("not on the list")
		sc.Authorize = func([32]byte) error { return errNo }
		sev, cev := newEvents(), newEvents()
		pairUp(t, Rep, Req, "tcp://127.0.0.1:*", &Config{Curve: sc, Monitor: sev.add}, &Config{Curve: cc, Monitor: cev.add, Linger: -1})
		e := sev.wait(t, ctx, func(e Event) bool { return e.Type == EventHandshakeFailed })
		if !errors.Is(e.Err, ErrAuth) || !errors.Is(e.Err, errNo) {
			t.Fatalf("server: %v", e.Err)
		}
		e = cev.wait(t, ctx, func(e Event) bool { return e.Type == EventHandshakeFailed })
		var pe *PeerError
		if !errors.As(e.Err, &pe) {
			t.Fatalf("client: %v", e.Err)
		}
	})
	t.Run("null client", func(t *testing.T) {
		ctx := testCtx(t)
		sc, _ := curvePair(t)
		sev := newEvents()
		pairUp(t, Pull, Push, "tcp://127.0.0.1:*", &Config{Curve: sc, Monitor: sev.add}, &Config{Linger: -1})
		e := sev.wait(t, ctx, func(e Event) bool { return e.Type == EventHandshakeFailed })
		if !errors.Is(e.Err, ErrMechanism) {
			t.Fatalf("server: %v", e.Err)
		}
	})
}

func ctxShort(t testing.TB, ctx context.Context) context.Context {
	c, cancel := context.WithTimeout(ctx, 50e6)
	t.Cleanup(cancel)
	return c
}

// TestCurveConnStream checks that curveConn seals frames however the
// writer splits them, and reads them back whole.
func TestCurveConnStream(t *testing.T) {
	var key [32]byte
	key[0] = 7
	var stream []byte
	frames := [][]byte{[]byte("a"), bytes.Repeat([]byte{1}, 300), {}, bytes.Repeat([]byte{2}, 70000)}
	for i, f := range frames {
		var fl byte
		if i < len(frames)-1 {
			fl = zmtp.FlagMore
		}
		stream = zmtp.AppendFrame(stream, fl, f)
	}
	stream = zmtp.AppendPing(stream, 10, []byte("ctx"))
	for _, chunk := range []int{1, 2, 7, 300, len(stream)} {
		var wire bytes.Buffer
		w := &curveConn{Conn: &writeConn{w: &wire}, codec: zmtp.NewCurveCodec(key, false)}
		for rest := stream; len(rest) > 0; {
			n := min(chunk, len(rest))
			if m, err := w.Write(rest[:n]); err != nil || m != n {
				t.Fatalf("chunk %d: write %d %v", chunk, m, err)
			}
			rest = rest[n:]
		}
		r := &curveConn{r: newConnReader(&wire, 4096), codec: zmtp.NewCurveCodec(key, true), max: -1}
		var got bytes.Buffer
		buf := make([]byte, 1000)
		for got.Len() < len(stream) {
			n, err := r.Read(buf)
			if err != nil {
				t.Fatalf("chunk %d: read after %d: %v", chunk, got.Len(), err)
			}
			got.Write(buf[:n])
		}
		if !bytes.Equal(got.Bytes(), stream) {
			t.Fatalf("chunk %d: stream differs", chunk)
		}
	}
}

type writeConn struct {
	net.Conn
	w io.Writer
}

func (c *writeConn) Write(p []byte) (int, error) { return c.w.Write(p) }

// BenchmarkCurvePushPull measures one-way PUSH/PULL throughput over
// loopback tcp with CURVE, beside NULL on the same path.
func BenchmarkCurvePushPull(b *testing.B) {
	for _, mech := range []string{"NULL", "CURVE"} {
		for _, size := range []int{16, 4 << 10} {
			b.Run(mech+"/"+sizeName(size), func(b *testing.B) {
				var ca, cb *Config
				if mech == "CURVE" {
					sc, cc := curvePair(b)
					ca, cb = &Config{Curve: sc}, &Config{Curve: cc}
				}
				pull, push := pairUp(b, Pull, Push, "tcp://127.0.0.1:*", ca, cb)
				ctx := context.Background()
				msg := Msg{make([]byte, size)}
				if err := push.Send(ctx, msg); err != nil {
					b.Fatal(err)
				}
				if _, err := pull.Recv(ctx); err != nil {
					b.Fatal(err)
				}
				b.SetBytes(int64(size))
				b.ReportAllocs()
				b.ResetTimer()
				done := make(chan error, 1)
				n := b.N
				go func() {
					for i := 0; i < n; i++ {
						if err := push.Send(ctx, msg); err != nil {
							done <- err
							return
						}
					}
					done <- nil
				}()
				for i := 0; i < n; i++ {
					if _, err := pull.Recv(ctx); err != nil {
						b.Fatal(err)
					}
				}
				if err := <-done; err != nil {
					b.Fatal(err)
				}
				b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "msg/s")
			})
		}
	}
}
