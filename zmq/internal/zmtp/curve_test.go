package zmtp

import (
	"bytes"
	"errors"
	"testing"

	"golang.org/x/crypto/nacl/box"
)

func curveKeys(t testing.TB) (sp, ss, cp, cs [32]byte) {
	t.Helper()
	a, b, err := box.GenerateKey(bytes.NewReader(bytes.Repeat([]byte{1}, 32)))
	if err != nil {
		t.Fatal(err)
	}
	c, d, err := box.GenerateKey(bytes.NewReader(bytes.Repeat([]byte{2}, 32)))
	if err != nil {
		t.Fatal(err)
	}
	return *a, *b, *c, *d
}

func newCurvePair(t testing.TB) (srv, cli *Curve) {
	sp, ss, cp, cs := curveKeys(t)
	srv = &Curve{Server: true, PublicKey: sp, SecretKey: ss, Metadata: Metadata{{Name: "Socket-Type", Value: []byte("PULL")}}}
	cli = &Curve{PublicKey: cp, SecretKey: cs, ServerKey: sp, Metadata: Metadata{{Name: "Socket-Type", Value: []byte("PUSH")}}}
	return srv, cli
}

// cmdOf decodes one whole command frame produced by a mechanism.
func cmdOf(t testing.TB, frame []byte) Command {
	t.Helper()
	_, body, err := ReadFrame(bytes.NewReader(frame), nil, -1)
	if err != nil {
		t.Fatal(err)
	}
	c, err := ParseCommand(body)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// curveHandshake runs a whole handshake and returns every command sent.
func curveHandshake(t testing.TB, srv, cli *Curve) []Command {
	t.Helper()
	hello := cmdOf(t, cli.Start())
	out, _, _, err := srv.Next(hello)
	if err != nil {
		t.Fatalf("HELLO: %v", err)
	}
	welcome := cmdOf(t, out)
	out, _, _, err = cli.Next(welcome)
	if err != nil {
		t.Fatalf("WELCOME: %v", err)
	}
	initiate := cmdOf(t, out)
	out, md, done, err := srv.Next(initiate)
	if err != nil || !done {
		t.Fatalf("INITIATE: %v", err)
	}
	if v, _ := md.Get("socket-type"); string(v) != "PUSH" {
		t.Fatalf("client metadata %v", md)
	}
	ready := cmdOf(t, out)
	_, md, done, err = cli.Next(ready)
	if err != nil || !done {
		t.Fatalf("READY: %v", err)
	}
	if v, _ := md.Get("Socket-Type"); string(v) != "PULL" {
		t.Fatalf("server metadata %v", md)
	}
	return []Command{hello, welcome, initiate, ready}
}

func TestCurveHandshake(t *testing.T) {
	srv, cli := newCurvePair(t)
	cmds := curveHandshake(t, srv, cli)
	sizes := []int{curveHelloSize, curveWelcomeSize, -1, -1}
	for i, c := range cmds {
		if sizes[i] >= 0 && len(c.Data) != sizes[i] {
			t.Errorf("%s: %d bytes, want %d", c.Name, len(c.Data), sizes[i])
		}
	}
	if srv.PeerKey() != cli.PublicKey {
		t.Fatal("server did not learn the client's key")
	}
	// Messages both ways, with flags, and a replay refused.
	sc, cc := srv.Codec(), cli.Codec()
	for _, tc := range []struct {
		from, to *CurveCodec
		flags    byte
		body     []byte
	}{
		{cc, sc, FlagMore, []byte("first")},
		{cc, sc, 0, nil},
		{sc, cc, FlagCommand, AppendPing(nil, 1, nil)[2:]},
		{sc, cc, 0, bytes.Repeat([]byte{9}, 70000)},
	} {
		frame := tc.from.Seal(nil, tc.flags, tc.body)
		fl, body, err := ReadFrame(bytes.NewReader(frame), nil, -1)
		if err != nil || fl != 0 && fl != FlagLong {
			t.Fatalf("sealed frame: %v flags %#x", err, fl)
		}
		cmd, err := ParseCommand(body)
		if err != nil || cmd.Name != CmdMessage || len(cmd.Data) != len(tc.body)+curveMessageMin {
			t.Fatalf("MESSAGE: %v %q %d", err, cmd.Name, len(cmd.Data))
		}
		f, got, err := tc.to.Open(nil, cmd.Data)
		if err != nil || f != tc.flags || !bytes.Equal(got, tc.body) {
			t.Fatalf("open: %v flags %#x", err, f)
		}
		if _, _, err := tc.to.Open(nil, cmd.Data); !errors.Is(err, ErrCurve) {
			t.Fatalf("replay: %v", err)
		}
		bad := append([]byte(nil), cmd.Data...)
		bad[len(bad)-1] ^= 1
		bad[7]++
		if _, _, err := tc.to.Open(nil, bad); !errors.Is(err, ErrCurve) {
			t.Fatalf("tampered: %v", err)
		}
	}
	if _, _, err := cc.Open(nil, nil); !errors.Is(err, ErrCommand) {
		t.Fatalf("empty MESSAGE: %v", err)
	}
}

// TestCurveTruncated feeds every truncation of every handshake command
// to a fresh peer in the right state: each is an error, never a panic.
func TestCurveTruncated(t *testing.T) {
	srv, cli := newCurvePair(t)
	cmds := curveHandshake(t, srv, cli)
	for i, c := range cmds {
		for n := 0; n < len(c.Data); n++ {
			s2, c2 := newCurvePair(t)
			var target *Curve
			hello := cmdOf(t, c2.Start())
			switch i {
			case 0:
				target = s2
			case 1:
				target = c2
			case 2:
				// a server that answered another HELLO: its cookie key
				// differs, so even the whole INITIATE fails.
				s2.Next(hello)
				target = s2
			case 3:
				out, _, _, _ := s2.Next(hello)
				c2.Next(cmdOf(t, out))
				target = c2
			}
			_, _, done, err := target.Next(Command{Name: c.Name, Data: c.Data[:n]})
			if err == nil || done {
				t.Fatalf("%s cut to %d accepted", c.Name, n)
			}
		}
	}
}

func TestCurveWrongKeys(t *testing.T) {
	srv, cli := newCurvePair(t)
	cli.ServerKey[0] ^= 1
	out, _, _, err := srv.Next(cmdOf(t, cli.Start()))
	if !errors.Is(err, ErrCurve) || cmdOf(t, out).Name != CmdError {
		t.Fatalf("wrong server key: %v", err)
	}
	if !cli.AwaitingWelcome() {
		t.Fatal("client should be awaiting WELCOME")
	}

	srv, cli = newCurvePair(t)
	refused := errors.New("no")
	srv.Authorize = func([32]byte) error { return refused }
	out, _, _, _ = srv.Next(cmdOf(t, cli.Start()))
	out, _, _, _ = cli.Next(cmdOf(t, out))
	out, _, _, err = srv.Next(cmdOf(t, out))
	if !errors.Is(err, ErrAuth) || !errors.Is(err, refused) {
		t.Fatalf("authorize: %v", err)
	}
	_, _, _, err = cli.Next(cmdOf(t, out))
	var pe *PeerError
	if !errors.As(err, &pe) {
		t.Fatalf("client: %v", err)
	}

	// Out-of-order commands.
	srv, cli = newCurvePair(t)
	if _, _, _, err := srv.Next(Command{Name: CmdReady}); !errors.Is(err, ErrHandshake) {
		t.Fatalf("READY first: %v", err)
	}
	if _, _, _, err := cli.Next(Command{Name: CmdHello}); !errors.Is(err, ErrHandshake) {
		t.Fatalf("HELLO to client: %v", err)
	}
}

// FuzzCurve feeds arbitrary commands to CURVE servers and clients in each
// handshake state and arbitrary MESSAGE data to a codec.
func FuzzCurve(f *testing.F) {
	srv, cli := newCurvePair(f)
	for _, c := range curveHandshake(f, srv, cli) {
		f.Add(c.Name, c.Data, uint8(0))
	}
	m := cmdOf(f, cli.Codec().Seal(nil, FlagMore, []byte("x")))
	f.Add(m.Name, m.Data, uint8(4))
	f.Fuzz(func(t *testing.T, name string, data []byte, state uint8) {
		s2, c2 := newCurvePair(t)
		hello := cmdOf(t, c2.Start())
		var target *Curve
		switch state % 5 {
		case 0:
			target = s2
		case 1:
			target = c2
		case 2:
			s2.Next(hello)
			target = s2
		case 3:
			out, _, _, _ := s2.Next(hello)
			c2.Next(cmdOf(t, out))
			target = c2
		case 4:
			var key [32]byte
			k := NewCurveCodec(key, true)
			f, body, err := k.Open(nil, data)
			if err == nil && f&^(FlagMore|FlagCommand) != 0 {
				t.Fatalf("flags %#x", f)
			}
			if err == nil && len(body) != len(data)-curveMessageMin {
				t.Fatalf("body %d of %d", len(body), len(data))
			}
			return
		}
		_, md, done, err := target.Next(Command{Name: name, Data: data})
		if done && err != nil || !done && md != nil {
			t.Fatalf("done %v md %v err %v", done, md, err)
		}
	})
}
