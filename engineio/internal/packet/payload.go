package packet

import (
	"bytes"
	"fmt"
	"io"
)

// PayloadLen returns the length of the polling payload AppendPayload would
// write for ps.
func PayloadLen(ps []Packet) int {
	n := 0
	for i, p := range ps {
		if i > 0 {
			n++
		}
		n += p.Len()
	}
	return n
}

// AppendPayload appends the polling payload of ps to dst: the text form of
// each packet, joined by Separator.
func AppendPayload(dst []byte, ps []Packet) []byte {
	for i, p := range ps {
		if i > 0 {
			dst = append(dst, Separator)
		}
		dst = AppendText(dst, p)
	}
	return dst
}

// DecodePayload splits a polling payload on Separator and calls fn with
// each decoded packet, in order. It stops at the first error, from decoding
// or from fn. An empty payload is one empty packet, an error. Packet Data
// aliases b (see Decode).
func DecodePayload(b []byte, fn func(Packet) error) error {
	for {
		rec := b
		i := bytes.IndexByte(b, Separator)
		if i >= 0 {
			rec, b = b[:i], b[i+1:]
		}
		p, err := Decode(rec)
		if err != nil {
			return err
		}
		if err := fn(p); err != nil {
			return err
		}
		if i < 0 {
			return nil
		}
	}
}

// ReadPayload reads a whole polling payload from r, at most max bytes (more
// is ErrTooLarge, found before the excess is stored), then decodes it with
// DecodePayload. size is a hint (an HTTP Content-Length, or -1 when
// unknown): a hint over max fails at once without reading or allocating.
// Packet Data aliases a buffer ReadPayload allocates, never reused.
func ReadPayload(r io.Reader, size, max int64, fn func(Packet) error) error {
	if size > max {
		return fmt.Errorf("%w: %d bytes, max %d", ErrTooLarge, size, max)
	}
	b, err := ReadBody(r, size, max)
	if err != nil {
		return err
	}
	return DecodePayload(b, fn)
}

// ReadBody reads r to EOF into a new buffer of at most max bytes, with
// the same size hint and limits as ReadPayload.
func ReadBody(r io.Reader, size, max int64) ([]byte, error) {
	if size > max {
		return nil, fmt.Errorf("%w: %d bytes, max %d", ErrTooLarge, size, max)
	}
	return readLimited(r, size, max)
}

// readLimited reads r to EOF into a new buffer of at most max bytes.
func readLimited(r io.Reader, size, max int64) ([]byte, error) {
	c := int64(512)
	if size >= 0 {
		c = size + 1 // room to see EOF without growing
	}
	c = min(c, max+1)
	b := make([]byte, 0, c)
	for {
		if len(b) == cap(b) {
			if int64(len(b)) > max {
				return nil, fmt.Errorf("%w: over %d bytes", ErrTooLarge, max)
			}
			nc := min(int64(2*cap(b)), max+1)
			nb := make([]byte, len(b), nc)
			copy(nb, b)
			b = nb
		}
		n, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if int64(len(b)) > max {
			return nil, fmt.Errorf("%w: over %d bytes", ErrTooLarge, max)
		}
		if err == io.EOF {
			return b, nil
		}
		if err != nil {
			return nil, err
		}
	}
}
