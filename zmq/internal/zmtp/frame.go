package zmtp

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
)

// Frame flag bits (the first byte of every frame).
const (
	FlagMore    byte = 0x01
	FlagLong    byte = 0x02
	FlagCommand byte = 0x04
)

// MaxShortSize is the largest body a short (1-byte size) frame carries.
const MaxShortSize = 255

// Errors returned by the frame decoders. They can be tested with errors.Is.
var (
	// ErrFrameFlags reports reserved flag bits set, or MORE on a command.
	ErrFrameFlags = errors.New("zmtp: bad frame flags")
	// ErrTooLarge reports a frame or message over the caller's limit. It
	// is returned before anything is allocated.
	ErrTooLarge = errors.New("zmtp: frame too large")
)

// FrameHeaderSize returns the header size for a body of n bytes: 2 for a
// short frame, 9 for a long one.
func FrameHeaderSize(n int) int {
	if n <= MaxShortSize {
		return 2
	}
	return 9
}

// AppendFrameHeader appends the header of a frame with the given flags
// (FlagMore, FlagCommand; FlagLong is set from size) and body size.
func AppendFrameHeader(b []byte, flags byte, size int) []byte {
	flags &^= FlagLong
	if size <= MaxShortSize {
		return append(b, flags, byte(size))
	}
	b = append(b, flags|FlagLong)
	return binary.BigEndian.AppendUint64(b, uint64(size))
}

// AppendFrame appends a whole frame: header then body.
func AppendFrame(b []byte, flags byte, body []byte) []byte {
	return append(AppendFrameHeader(b, flags, len(body)), body...)
}

// ParseFrameHeader decodes the frame header at the start of b. It returns
// the flags, the body size and the header length. A size over max (when
// max >= 0) is ErrTooLarge; short input is io.ErrUnexpectedEOF (io.EOF when
// b is empty). Reserved flag bits and MORE on a command are ErrFrameFlags.
func ParseFrameHeader(b []byte, max int64) (flags byte, size int64, n int, err error) {
	if len(b) == 0 {
		return 0, 0, 0, io.EOF
	}
	flags = b[0]
	if flags&^(FlagMore|FlagLong|FlagCommand) != 0 || flags&(FlagMore|FlagCommand) == FlagMore|FlagCommand {
		return 0, 0, 0, fmt.Errorf("%w: %#02x", ErrFrameFlags, flags)
	}
	if flags&FlagLong == 0 {
		if len(b) < 2 {
			return 0, 0, 0, io.ErrUnexpectedEOF
		}
		size, n = int64(b[1]), 2
	} else {
		if len(b) < 9 {
			return 0, 0, 0, io.ErrUnexpectedEOF
		}
		u := binary.BigEndian.Uint64(b[1:9])
		if u > math.MaxInt64 {
			return 0, 0, 0, fmt.Errorf("%w: %d bytes", ErrTooLarge, u)
		}
		size, n = int64(u), 9
	}
	if max >= 0 && size > max {
		return 0, 0, 0, fmt.Errorf("%w: %d bytes, limit %d", ErrTooLarge, size, max)
	}
	return flags, size, n, nil
}

// ReadFrame reads one whole frame from r into a new body (or into buf when
// it has room). It rejects a size over max before allocating. A clean end
// of input before the first byte is io.EOF; a truncated frame is
// io.ErrUnexpectedEOF.
func ReadFrame(r io.Reader, buf []byte, max int64) (flags byte, body []byte, err error) {
	var hdr [9]byte
	if _, err := io.ReadFull(r, hdr[:2]); err != nil {
		return 0, nil, err
	}
	hl := 2
	if hdr[0]&FlagLong != 0 {
		if _, err := io.ReadFull(r, hdr[2:9]); err != nil {
			return 0, nil, noEOF(err)
		}
		hl = 9
	}
	flags, size, _, err := ParseFrameHeader(hdr[:hl], max)
	if err != nil {
		return 0, nil, err
	}
	switch {
	case int64(cap(buf)) >= size:
		body = buf[:size]
	case size <= trustedSize:
		body = make([]byte, size)
	default:
		// Never trust a large declared size: grow as the bytes arrive.
		var bb bytes.Buffer
		bb.Grow(trustedSize)
		n, err := bb.ReadFrom(io.LimitReader(r, size))
		if err != nil {
			return 0, nil, err
		}
		if n < size {
			return 0, nil, io.ErrUnexpectedEOF
		}
		return flags, bb.Bytes(), nil
	}
	if _, err := io.ReadFull(r, body); err != nil {
		return 0, nil, noEOF(err)
	}
	return flags, body, nil
}

// trustedSize is the largest body ReadFrame allocates before reading it.
const trustedSize = 1 << 20

func noEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}
