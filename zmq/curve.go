package zmq

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net"

	"github.com/switchboard/switchboard/zmq/internal/zmtp"
	"golang.org/x/crypto/nacl/box"
)

// ErrCurve reports a CURVE handshake or message that does not verify
// (wrong keys, bad cookie or vouch, replayed nonce). A server refusing a
// client's key through Authorize is ErrAuth.
var ErrCurve = zmtp.ErrCurve

// ErrZ85 reports text or data that Z85 cannot encode or decode.
var ErrZ85 = errors.New("zmq: invalid Z85")

// CurveConfig configures the CURVE security mechanism (rfc.zeromq.org
// 25/ZMTP-CURVE and 26/CURVEZMQ): every connection is authenticated with
// long-term Curve25519 keys and encrypted with transient ones. Keys given
// as 40-character Z85 text (as pyzmq's zmq.curve_keypair returns them)
// are read with CurveKey.
type CurveConfig struct {
	// Server makes this socket the CURVE server, holding the keypair
	// that clients know by its public half.
	Server bool
	// PublicKey and SecretKey are this socket's long-term keypair. A zero
	// PublicKey is derived from SecretKey.
	PublicKey, SecretKey [32]byte
	// ServerKey is the server's public key, on a client.
	ServerKey [32]byte
	// Authorize checks a client's long-term public key on a server,
	// after the client has proven it holds the secret half. It runs on
	// the connection's goroutine during the handshake; a non-nil error
	// refuses the client. nil accepts any client.
	Authorize func(clientKey [32]byte) error
}

// checkSecurity checks the mechanism's settings of a Config copied by
// withDefaults, deriving a CURVE public key left zero.
func (c *Config) checkSecurity() error {
	if c.Curve == nil {
		return nil
	}
	if c.Plain != nil {
		return fmt.Errorf("%w: Plain and Curve both set", ErrConfig)
	}
	return c.Curve.check()
}

func (cc *CurveConfig) check() error {
	var zero [32]byte
	if cc.SecretKey == zero {
		return fmt.Errorf("%w: CURVE needs a SecretKey", ErrConfig)
	}
	pub, err := zmtp.CurvePublic(cc.SecretKey)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrConfig, err)
	}
	if cc.PublicKey == zero {
		cc.PublicKey = pub
	} else if cc.PublicKey != pub {
		return fmt.Errorf("%w: CURVE PublicKey is not SecretKey's", ErrConfig)
	}
	if !cc.Server && cc.ServerKey == zero {
		return fmt.Errorf("%w: CURVE client needs the ServerKey", ErrConfig)
	}
	return nil
}

// NewCurveKeypair returns a new long-term Curve25519 keypair from
// crypto/rand.
func NewCurveKeypair() (public, secret [32]byte, err error) {
	pub, sec, err := box.GenerateKey(rand.Reader)
	if err != nil {
		return public, secret, err
	}
	return *pub, *sec, nil
}

// CurvePublicKey returns the public key of a secret key.
func CurvePublicKey(secret [32]byte) ([32]byte, error) { return zmtp.CurvePublic(secret) }

// CurveKey decodes a 40-character Z85 key (or takes 32 raw bytes as
// they are).
func CurveKey(s string) ([32]byte, error) {
	var k [32]byte
	if len(s) == 32 {
		copy(k[:], s)
		return k, nil
	}
	if len(s) != 40 {
		return k, fmt.Errorf("%w: a CURVE key is 40 Z85 characters, not %d", ErrZ85, len(s))
	}
	b, err := Z85Decode(s)
	if err != nil {
		return k, err
	}
	copy(k[:], b)
	return k, nil
}

const z85Alphabet = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#"

var z85Values = func() (t [256]byte) {
	for i := range t {
		t[i] = 0xff
	}
	for i := 0; i < len(z85Alphabet); i++ {
		t[z85Alphabet[i]] = byte(i)
	}
	return t
}()

// Z85Encode encodes data (a multiple of 4 bytes long) as ZeroMQ's Z85
// text (rfc.zeromq.org 32/Z85).
func Z85Encode(data []byte) (string, error) {
	if len(data)%4 != 0 {
		return "", fmt.Errorf("%w: %d bytes is not a multiple of 4", ErrZ85, len(data))
	}
	out := make([]byte, 0, len(data)/4*5)
	for i := 0; i < len(data); i += 4 {
		v := uint32(data[i])<<24 | uint32(data[i+1])<<16 | uint32(data[i+2])<<8 | uint32(data[i+3])
		var c [5]byte
		for j := 4; j >= 0; j-- {
			c[j] = z85Alphabet[v%85]
			v /= 85
		}
		out = append(out, c[:]...)
	}
	return string(out), nil
}

// Z85Decode decodes Z85 text (a multiple of 5 characters long).
func Z85Decode(s string) ([]byte, error) {
	if len(s)%5 != 0 {
		return nil, fmt.Errorf("%w: %d characters is not a multiple of 5", ErrZ85, len(s))
	}
	out := make([]byte, 0, len(s)/5*4)
	for i := 0; i < len(s); i += 5 {
		var v uint64
		for j := 0; j < 5; j++ {
			d := z85Values[s[i+j]]
			if d == 0xff {
				return nil, fmt.Errorf("%w: character %q", ErrZ85, s[i+j])
			}
			v = v*85 + uint64(d)
		}
		if v > 0xffffffff {
			return nil, fmt.Errorf("%w: group %q overflows", ErrZ85, s[i:i+5])
		}
		out = append(out, byte(v>>24), byte(v>>16), byte(v>>8), byte(v))
	}
	return out, nil
}

// curveMechanism returns the CURVE mechanism of a connection.
func (s *Socket) curveMechanism(cc *CurveConfig) *zmtp.Curve {
	return &zmtp.Curve{Server: cc.Server, PublicKey: cc.PublicKey, SecretKey: cc.SecretKey,
		ServerKey: cc.ServerKey, Authorize: cc.Authorize, Metadata: s.metadata()}
}

// curveHandshakeErr explains a read failing during a CURVE handshake.
func curveHandshakeErr(mech zmtp.Mechanism, err error) error {
	if cm, ok := mech.(*zmtp.Curve); ok && cm.AwaitingWelcome() {
		return fmt.Errorf("%w: server closed after HELLO, so it could not open it: is ServerKey right? (%w)", ErrCurve, err)
	}
	return err
}

// secureCurve puts the CURVE MESSAGE encryption under the connection once
// the handshake is over: the frame code above reads and writes plain ZMTP
// frames through curveConn.
func (c *zconn) secureCurve(mech zmtp.Mechanism) {
	cm, ok := mech.(*zmtp.Curve)
	if !ok {
		return
	}
	max := int64(-1)
	if m := c.s.cfg.MaxMsgSize; m > 0 {
		max = m + int64(zmtp.CurveMessageOverhead)
	}
	cc := &curveConn{Conn: c.nc, r: c.br, codec: cm.Codec(), max: max}
	c.nc = cc
	c.br = newConnReader(cc, readBufSize)
}

// curveConn carries plain ZMTP frames as CURVE MESSAGE commands. Write
// takes a stream of whole or partial frames from one writer goroutine;
// Read returns decrypted frames to one reader goroutine.
type curveConn struct {
	net.Conn
	r     *connReader
	codec *zmtp.CurveCodec
	max   int64

	// reader-owned
	in    []byte // received MESSAGE body
	plain []byte // decrypted frame: header then body
	off   int
	// writer-owned
	pend []byte // a partial frame not yet sealed
	out  []byte
}

// Read returns the bytes of decrypted frames.
func (cc *curveConn) Read(p []byte) (int, error) {
	for cc.off >= len(cc.plain) {
		if err := cc.next(); err != nil {
			return 0, err
		}
	}
	n := copy(p, cc.plain[cc.off:])
	cc.off += n
	return n, nil
}

func (cc *curveConn) next() error {
	flags, body, err := zmtp.ReadFrame(cc.r, cc.in, cc.max)
	if err != nil {
		if errors.Is(err, zmtp.ErrTooLarge) {
			return fmt.Errorf("%w: %w", ErrMsgTooLarge, err)
		}
		return err
	}
	if cap(body) <= 64<<10 {
		cc.in = body[:0]
	}
	if flags&zmtp.FlagMore != 0 {
		return fmt.Errorf("%w: MESSAGE with the more flag", ErrProtocol)
	}
	if len(body) > 8 && string(body[:8]) == "\x07MESSAGE" {
		return cc.open(body[8:])
	}
	cmd, err := zmtp.ParseCommand(body)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrProtocol, err)
	}
	if cmd.Name == zmtp.CmdError && flags&zmtp.FlagCommand != 0 {
		cc.plain = zmtp.AppendCommand(cc.plain[:0], cmd.Name, cmd.Data)
		cc.off = 0
		return nil
	}
	return fmt.Errorf("%w: %q frame under CURVE", ErrProtocol, cmd.Name)
}

// open decrypts a MESSAGE's data into cc.plain as a ZMTP frame.
func (cc *curveConn) open(data []byte) error {
	// Decrypt after room for the longest header, then put the header
	// right before the body.
	const room = 9
	buf := cc.plain[:0]
	if cap(buf) > 64<<10 {
		buf = nil
	}
	buf = append(buf, make([]byte, room)...)
	f, out, err := cc.codec.Open(buf, data)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrProtocol, err)
	}
	size := len(out) - room
	var hdr [9]byte
	h := zmtp.AppendFrameHeader(hdr[:0], f, size)
	cc.off = room - len(h)
	copy(out[cc.off:], h)
	cc.plain = out
	return nil
}

// Write seals every whole frame in p (after any partial frame left by
// the last Write) and writes the MESSAGE commands.
func (cc *curveConn) Write(p []byte) (int, error) {
	data := p
	if len(cc.pend) > 0 {
		cc.pend = append(cc.pend, p...)
		data = cc.pend
	}
	cc.out = cc.out[:0]
	for len(data) > 0 {
		if len(data) < 2 || data[0]&zmtp.FlagLong != 0 && len(data) < 9 {
			break
		}
		flags, size, hl, err := zmtp.ParseFrameHeader(data, -1)
		if err != nil {
			return 0, fmt.Errorf("%w: %w", ErrProtocol, err)
		}
		if int64(len(data)-hl) < size {
			break
		}
		cc.out = cc.codec.Seal(cc.out, flags, data[hl:hl+int(size)])
		data = data[hl+int(size):]
	}
	cc.pend = append(cc.pend[:0], data...) // memmove when data aliases pend
	if len(cc.pend) == 0 && cap(cc.pend) > 64<<10 {
		cc.pend = nil
	}
	if len(cc.out) > 0 {
		if _, err := cc.Conn.Write(cc.out); err != nil {
			return 0, err
		}
	}
	if cap(cc.out) > 256<<10 {
		cc.out = nil
	}
	return len(p), nil
}

// CloseWrite shuts down the sending side of the connection underneath;
// every MESSAGE is written whole before it (Write seals whole frames).
func (cc *curveConn) CloseWrite() error {
	cw, ok := cc.Conn.(interface{ CloseWrite() error })
	if !ok {
		return ErrNotSupported
	}
	return cw.CloseWrite()
}

var _ io.ReadWriter = (*curveConn)(nil)
