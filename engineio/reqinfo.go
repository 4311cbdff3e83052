package engineio

import (
	"encoding/base64"
	"encoding/binary"
	"net/http"
	"net/url"
)

// A socket keeps what it needs of its handshake request in one string, not
// the request's header map and URL (which cost several hundred bytes per
// connection): the session id, then length-prefixed fields (uvarint
// lengths): local address, remote address, URL, Host, and each header
// value as a key and value pair. Request rebuilds a request from it.
const (
	fieldLocal = iota
	fieldRemote
	fieldURL
	fieldHost
	fieldHeaders // key, value, key, value, ...
)

// sidLen is the length of a session id: base64 of 15 random bytes.
const sidLen = 20

// newReqInfo returns the session id sid (sidLen bytes, base64 of raw)
// followed by r's details, as one string.
func newReqInfo(raw *[15]byte, local string, r *http.Request) string {
	u := r.URL.String()
	n := sidLen + len(local) + len(r.RemoteAddr) + len(u) + len(r.Host) + 4*binary.MaxVarintLen32
	for k, vs := range r.Header {
		for _, v := range vs {
			n += len(k) + len(v) + 2*binary.MaxVarintLen32
		}
	}
	b := make([]byte, 0, n)
	b = base64.URLEncoding.AppendEncode(b, raw[:])
	b = appendField(b, local)
	b = appendField(b, r.RemoteAddr)
	b = appendField(b, u)
	b = appendField(b, r.Host)
	for k, vs := range r.Header {
		for _, v := range vs {
			b = appendField(b, k)
			b = appendField(b, v)
		}
	}
	return string(b)
}

func appendField(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// nextField splits the first field off info.
func nextField(info string) (field, rest string, ok bool) {
	n, k := uvarint(info)
	if k <= 0 || n > uint64(len(info)-k) {
		return "", "", false
	}
	return info[k : k+int(n)], info[k+int(n):], true
}

// uvarint is binary.Uvarint on a string.
func uvarint(s string) (uint64, int) {
	var x uint64
	var shift uint
	for i := 0; i < len(s) && i < binary.MaxVarintLen64; i++ {
		c := s[i]
		if c < 0x80 {
			return x | uint64(c)<<shift, i + 1
		}
		x |= uint64(c&0x7f) << shift
		shift += 7
	}
	return 0, 0
}

// infoField returns field i (fieldLocal ... fieldHost) of the socket's
// request details.
func (s *Socket) infoField(i int) string {
	rest := s.info[sidLen:]
	for {
		f, r, ok := nextField(rest)
		if !ok {
			return ""
		}
		if i == 0 {
			return f
		}
		i--
		rest = r
	}
}

// requestHeader rebuilds the handshake request's header.
func (s *Socket) requestHeader() http.Header {
	rest := s.info[sidLen:]
	for range fieldHeaders {
		_, rest, _ = nextField(rest)
	}
	h := make(http.Header)
	for {
		k, r, ok := nextField(rest)
		if !ok {
			return h
		}
		v, r, ok := nextField(r)
		if !ok {
			return h
		}
		h[k] = append(h[k], v)
		rest = r
	}
}

// requestURL rebuilds the handshake request's URL.
func (s *Socket) requestURL() *url.URL {
	raw := s.infoField(fieldURL)
	u, err := url.Parse(raw)
	if err != nil { // cannot happen: it is a URL's String
		return &url.URL{Path: raw}
	}
	return u
}
