package zmtp

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"golang.org/x/crypto/curve25519"
	"golang.org/x/crypto/nacl/box"
	"golang.org/x/crypto/nacl/secretbox"
)

// CURVE command names (rfc.zeromq.org 25/ZMTP-CURVE, 26/CURVEZMQ). HELLO,
// WELCOME and INITIATE are shared with PLAIN.
const (
	CmdMessage = "MESSAGE"
)

// ErrCurve reports a CURVE handshake or MESSAGE that does not verify: a
// box that does not open (wrong keys), a bad cookie or vouch, a replayed
// nonce. It can be tested with errors.Is.
var ErrCurve = errors.New("zmtp: CURVE")

// Sizes of the CURVE commands' bodies after the command name.
const (
	curveHelloSize    = 2 + 72 + 32 + 8 + 80 // version, padding, C', nonce, box
	curveWelcomeSize  = 16 + 144             // nonce, box(S' + cookie)
	curveCookieSize   = 16 + 80              // nonce, secretbox(C' + s')
	curveInitiateMin  = curveCookieSize + 8 + box.Overhead + 32 + 16 + 80
	curveReadyMin     = 8 + box.Overhead
	curveMessageMin   = 8 + box.Overhead + 1
	curveMessageExtra = 1 + len(CmdMessage) + curveMessageMin // body bytes beyond the payload
)

// CurveMessageOverhead is how many bytes a MESSAGE command body adds to
// the frame it carries.
const CurveMessageOverhead = curveMessageExtra

// Nonce prefixes of RFC 26.
const (
	nonceHello    = "CurveZMQHELLO---"
	nonceWelcome  = "WELCOME-"
	nonceInitiate = "CurveZMQINITIATE"
	nonceReady    = "CurveZMQREADY---"
	nonceVouch    = "VOUCH---"
	nonceCookie   = "COOKIE--"
	nonceMsgC     = "CurveZMQMESSAGEC"
	nonceMsgS     = "CurveZMQMESSAGES"
)

// CurvePublic returns the Curve25519 public key of a secret key.
func CurvePublic(secret [32]byte) ([32]byte, error) {
	var pub [32]byte
	p, err := curve25519.X25519(secret[:], curve25519.Basepoint)
	if err != nil {
		return pub, fmt.Errorf("%w: %w", ErrCurve, err)
	}
	copy(pub[:], p)
	return pub, nil
}

// Curve is the CURVE mechanism: the CurveZMQ handshake (HELLO, WELCOME,
// INITIATE, READY) with perfect forward secrecy through transient keys.
// After the handshake, Codec returns the MESSAGE encoder of the
// connection.
type Curve struct {
	// Server selects the role.
	Server bool
	// PublicKey and SecretKey are this peer's long-term keypair.
	PublicKey, SecretKey [32]byte
	// ServerKey is the server's long-term public key (client side).
	ServerKey [32]byte
	// Authorize checks a client's long-term public key (server side);
	// nil accepts any client that proves it holds its key.
	Authorize func(clientKey [32]byte) error
	// Metadata is sent in INITIATE (client) or READY (server).
	Metadata Metadata
	// Rand is the source of keys and nonces; nil is crypto/rand.
	Rand io.Reader

	state     int
	tPub      [32]byte // our transient keypair
	tSec      [32]byte
	peerT     [32]byte // the peer's transient public key
	cookieKey [32]byte
	shared    [32]byte // precomputed box key of the transient keys
	nonce     uint64   // our next short nonce
	peerNonce uint64   // the peer's last short nonce
	peerKey   [32]byte // the client's long-term key, on a server
}

const (
	curveStart = iota
	curveWelcomed
	curveReadySent
	curveDone
	curveFailed
)

// Name returns "CURVE".
func (c *Curve) Name() string { return "CURVE" }

// AsServer reports the role.
func (c *Curve) AsServer() bool { return c.Server }

// AwaitingWelcome reports a client that sent HELLO and has had no answer:
// a server that closes now most likely could not open the HELLO, because
// the client's ServerKey is wrong.
func (c *Curve) AwaitingWelcome() bool { return !c.Server && c.state == curveStart }

// PeerKey returns the client's long-term public key once a server has
// accepted it.
func (c *Curve) PeerKey() [32]byte { return c.peerKey }

func (c *Curve) rand() io.Reader {
	if c.Rand != nil {
		return c.Rand
	}
	return rand.Reader
}

func curveNonce(prefix string, short uint64) *[24]byte {
	var n [24]byte
	copy(n[:], prefix)
	binary.BigEndian.PutUint64(n[16:], short)
	return &n
}

func longNonce(prefix string, tail []byte) *[24]byte {
	var n [24]byte
	copy(n[:], prefix)
	copy(n[8:], tail)
	return &n
}

func curveErr(format string, a ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrCurve}, a...)...)
}

// Start returns HELLO for a client, nothing for a server.
func (c *Curve) Start() []byte {
	if c.Server {
		return nil
	}
	pub, sec, err := box.GenerateKey(c.rand())
	if err != nil {
		c.state = curveFailed
		return nil
	}
	c.tPub, c.tSec = *pub, *sec
	c.nonce = 1
	data := make([]byte, 0, curveHelloSize)
	data = append(data, 1, 0)
	data = append(data, make([]byte, 72)...)
	data = append(data, c.tPub[:]...)
	data = binary.BigEndian.AppendUint64(data, c.nonce)
	var zero [64]byte
	data = box.Seal(data, zero[:], curveNonce(nonceHello, c.nonce), &c.ServerKey, &c.tSec)
	c.nonce++
	return AppendCommand(nil, CmdHello, data)
}

// Next advances the handshake by one received command.
func (c *Curve) Next(cmd Command) (out []byte, md Metadata, done bool, err error) {
	if cmd.Name == CmdError {
		reason, err := ParseError(cmd.Data)
		if err != nil {
			return nil, nil, false, err
		}
		pe := &PeerError{Reason: reason}
		if c.AwaitingWelcome() {
			return nil, nil, false, fmt.Errorf("%w: server refused HELLO (is ServerKey right?): %w", ErrCurve, pe)
		}
		return nil, nil, false, pe
	}
	if c.state == curveFailed {
		return nil, nil, false, curveErr("handshake already failed")
	}
	switch {
	case c.Server && c.state == curveStart && cmd.Name == CmdHello:
		out, err = c.hello(cmd.Data)
	case c.Server && c.state == curveWelcomed && cmd.Name == CmdInitiate:
		out, md, err = c.initiate(cmd.Data)
		done = err == nil
	case !c.Server && c.state == curveStart && cmd.Name == CmdWelcome:
		out, err = c.welcome(cmd.Data)
	case !c.Server && c.state == curveWelcomed && cmd.Name == CmdReady:
		md, err = c.ready(cmd.Data)
		done = err == nil
	default:
		return nil, nil, false, fmt.Errorf("%w: %q in CURVE", ErrHandshake, cmd.Name)
	}
	if err != nil {
		c.state = curveFailed
	}
	return out, md, done, err
}

// hello answers a client's HELLO with WELCOME (server).
func (c *Curve) hello(b []byte) ([]byte, error) {
	if len(b) != curveHelloSize {
		return nil, fmt.Errorf("%w: HELLO of %d bytes", ErrCommand, len(b))
	}
	if b[0] != 1 {
		return nil, curveErr("HELLO version %d.%d", b[0], b[1])
	}
	copy(c.peerT[:], b[74:106])
	short := binary.BigEndian.Uint64(b[106:114])
	plain, ok := box.Open(nil, b[114:], curveNonce(nonceHello, short), &c.peerT, &c.SecretKey)
	if !ok {
		return AppendError(nil, "CURVE: cannot open HELLO (is the client's server key right?)"), curveErr("cannot open the client's HELLO (the client has a wrong server key)")
	}
	if subtle.ConstantTimeCompare(plain, make([]byte, 64)) != 1 {
		return nil, curveErr("HELLO signature is not zero")
	}
	c.peerNonce = short
	pub, sec, err := box.GenerateKey(c.rand())
	if err != nil {
		return nil, err
	}
	c.tPub, c.tSec = *pub, *sec
	if _, err := io.ReadFull(c.rand(), c.cookieKey[:]); err != nil {
		return nil, err
	}
	// The cookie carries C' and s' under a key only this server knows.
	var cn [16]byte
	if _, err := io.ReadFull(c.rand(), cn[:]); err != nil {
		return nil, err
	}
	cookie := make([]byte, 0, curveCookieSize)
	cookie = append(cookie, cn[:]...)
	cookie = secretbox.Seal(cookie, append(c.peerT[:32:32], c.tSec[:]...), longNonce(nonceCookie, cn[:]), &c.cookieKey)
	var wn [16]byte
	if _, err := io.ReadFull(c.rand(), wn[:]); err != nil {
		return nil, err
	}
	data := make([]byte, 0, curveWelcomeSize)
	data = append(data, wn[:]...)
	data = box.Seal(data, append(c.tPub[:32:32], cookie...), longNonce(nonceWelcome, wn[:]), &c.peerT, &c.SecretKey)
	c.state = curveWelcomed
	c.nonce = 1
	return AppendCommand(nil, CmdWelcome, data), nil
}

// welcome answers the server's WELCOME with INITIATE (client).
func (c *Curve) welcome(b []byte) ([]byte, error) {
	if len(b) != curveWelcomeSize {
		return nil, fmt.Errorf("%w: WELCOME of %d bytes", ErrCommand, len(b))
	}
	plain, ok := box.Open(nil, b[16:], longNonce(nonceWelcome, b[:16]), &c.ServerKey, &c.tSec)
	if !ok {
		return nil, curveErr("cannot open the server's WELCOME (wrong server key)")
	}
	var sT [32]byte
	copy(sT[:], plain[:32])
	cookie := plain[32:]
	box.Precompute(&c.shared, &sT, &c.tSec)
	var vn [16]byte
	if _, err := io.ReadFull(c.rand(), vn[:]); err != nil {
		return nil, err
	}
	vouch := box.Seal(nil, append(c.tPub[:32:32], c.ServerKey[:]...), longNonce(nonceVouch, vn[:]), &sT, &c.SecretKey)
	inner := make([]byte, 0, 32+16+len(vouch)+64)
	inner = append(inner, c.PublicKey[:]...)
	inner = append(inner, vn[:]...)
	inner = append(inner, vouch...)
	inner = AppendMetadata(inner, c.Metadata)
	data := make([]byte, 0, curveCookieSize+8+box.Overhead+len(inner))
	data = append(data, cookie...)
	data = binary.BigEndian.AppendUint64(data, c.nonce)
	data = box.SealAfterPrecomputation(data, inner, curveNonce(nonceInitiate, c.nonce), &c.shared)
	c.nonce++
	c.state = curveWelcomed
	return AppendCommand(nil, CmdInitiate, data), nil
}

// initiate checks the client's INITIATE and answers READY (server).
func (c *Curve) initiate(b []byte) ([]byte, Metadata, error) {
	if len(b) < curveInitiateMin {
		return nil, nil, fmt.Errorf("%w: INITIATE of %d bytes", ErrCommand, len(b))
	}
	cookie, ok := secretbox.Open(nil, b[16:curveCookieSize], longNonce(nonceCookie, b[:16]), &c.cookieKey)
	if !ok || subtle.ConstantTimeCompare(cookie[:32], c.peerT[:]) != 1 || subtle.ConstantTimeCompare(cookie[32:], c.tSec[:]) != 1 {
		return nil, nil, curveErr("INITIATE cookie does not verify")
	}
	short := binary.BigEndian.Uint64(b[curveCookieSize:])
	if short <= c.peerNonce {
		return nil, nil, curveErr("INITIATE nonce replayed")
	}
	box.Precompute(&c.shared, &c.peerT, &c.tSec)
	inner, ok := box.OpenAfterPrecomputation(nil, b[curveCookieSize+8:], curveNonce(nonceInitiate, short), &c.shared)
	if !ok {
		return nil, nil, curveErr("cannot open INITIATE")
	}
	c.peerNonce = short
	var client [32]byte
	copy(client[:], inner[:32])
	v, ok := box.Open(nil, inner[48:128], longNonce(nonceVouch, inner[32:48]), &client, &c.tSec)
	if !ok || subtle.ConstantTimeCompare(v[:32], c.peerT[:]) != 1 || subtle.ConstantTimeCompare(v[32:], c.PublicKey[:]) != 1 {
		return nil, nil, curveErr("INITIATE vouch does not verify")
	}
	md, err := ParseMetadata(inner[128:])
	if err != nil {
		return nil, nil, err
	}
	if c.Authorize != nil {
		if err := c.Authorize(client); err != nil {
			return AppendError(nil, "400 not authorized"), nil, fmt.Errorf("%w: CURVE client key refused: %w", ErrAuth, err)
		}
	}
	c.peerKey = client
	data := make([]byte, 0, 8+box.Overhead+64)
	data = binary.BigEndian.AppendUint64(data, c.nonce)
	data = box.SealAfterPrecomputation(data, AppendMetadata(nil, c.Metadata), curveNonce(nonceReady, c.nonce), &c.shared)
	c.nonce++
	c.state = curveDone
	return AppendCommand(nil, CmdReady, data), md, nil
}

// ready opens the server's READY (client).
func (c *Curve) ready(b []byte) (Metadata, error) {
	if len(b) < curveReadyMin {
		return nil, fmt.Errorf("%w: READY of %d bytes", ErrCommand, len(b))
	}
	short := binary.BigEndian.Uint64(b)
	plain, ok := box.OpenAfterPrecomputation(nil, b[8:], curveNonce(nonceReady, short), &c.shared)
	if !ok {
		return nil, curveErr("cannot open READY")
	}
	c.peerNonce = short
	md, err := ParseMetadata(plain)
	if err != nil {
		return nil, err
	}
	c.state = curveDone
	return md, nil
}

// Codec returns the MESSAGE encoder and decoder of a finished handshake,
// or nil before.
func (c *Curve) Codec() *CurveCodec {
	if c.state != curveDone {
		return nil
	}
	k := &CurveCodec{key: c.shared, nonce: c.nonce, peerNonce: c.peerNonce, send: nonceMsgC, recv: nonceMsgS}
	if c.Server {
		k.send, k.recv = nonceMsgS, nonceMsgC
	}
	return k
}

// CurveCodec seals frames into MESSAGE commands and opens them, with the
// connection's transient key and strictly increasing nonces. Sealing and
// opening may run on two goroutines; each side is used by one.
type CurveCodec struct {
	key        [32]byte
	send, recv string
	nonce      uint64 // sealing side
	peerNonce  uint64 // opening side
	plain      []byte // sealing scratch
	sn, rn     [24]byte
}

func (k *CurveCodec) setNonce(n *[24]byte, prefix string, short uint64) *[24]byte {
	copy(n[:], prefix)
	binary.BigEndian.PutUint64(n[16:], short)
	return n
}

// NewCurveCodec returns a codec over a precomputed key, for tests and
// benchmarks; server selects the nonce prefixes.
func NewCurveCodec(key [32]byte, server bool) *CurveCodec {
	k := &CurveCodec{key: key, nonce: 1, send: nonceMsgC, recv: nonceMsgS}
	if server {
		k.send, k.recv = nonceMsgS, nonceMsgC
	}
	return k
}

// Seal appends to b a whole MESSAGE frame (a data frame, as libzmq
// sends it) carrying one frame of
// the given ZMTP flags (FlagMore, FlagCommand) and body.
func (k *CurveCodec) Seal(b []byte, flags byte, body []byte) []byte {
	var f byte
	if flags&FlagMore != 0 {
		f |= 1
	}
	if flags&FlagCommand != 0 {
		f |= 2
	}
	k.plain = append(append(k.plain[:0], f), body...)
	size := 1 + len(CmdMessage) + 8 + box.Overhead + len(k.plain)
	// libzmq sends MESSAGE as a data frame, and would take a command
	// flag on the outer frame for one on the inner; so do we.
	b = AppendFrameHeader(b, 0, size)
	b = append(b, byte(len(CmdMessage)))
	b = append(b, CmdMessage...)
	b = binary.BigEndian.AppendUint64(b, k.nonce)
	b = box.SealAfterPrecomputation(b, k.plain, k.setNonce(&k.sn, k.send, k.nonce), &k.key)
	k.nonce++
	if cap(k.plain) > 64<<10 {
		k.plain = nil
	}
	return b
}

// Open decrypts the data of a MESSAGE command, appending the carried
// frame's body to dst, and returns its ZMTP flags (FlagMore,
// FlagCommand).
func (k *CurveCodec) Open(dst, data []byte) (flags byte, body []byte, err error) {
	if len(data) < curveMessageMin {
		return 0, dst, fmt.Errorf("%w: MESSAGE of %d bytes", ErrCommand, len(data))
	}
	short := binary.BigEndian.Uint64(data)
	if short <= k.peerNonce {
		return 0, dst, curveErr("MESSAGE nonce %d not above %d", short, k.peerNonce)
	}
	n := len(dst)
	out, ok := box.OpenAfterPrecomputation(dst, data[8:], k.setNonce(&k.rn, k.recv, short), &k.key)
	if !ok {
		return 0, dst, curveErr("MESSAGE does not open")
	}
	k.peerNonce = short
	f := out[n]
	copy(out[n:], out[n+1:])
	out = out[:len(out)-1]
	if f&1 != 0 {
		flags |= FlagMore
	}
	if f&2 != 0 {
		flags |= FlagCommand
	}
	if flags == FlagMore|FlagCommand {
		return 0, dst, curveErr("MESSAGE flags %#x", f)
	}
	return flags, out, nil
}
