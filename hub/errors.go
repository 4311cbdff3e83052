package hub

import (
	"errors"
	"fmt"
	"net"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Errors of the Hub's calls. Every error a call returns matches one of
// them with errors.Is; Code maps them to the short codes the doors send.
var (
	// ErrInvalid reports a malformed name, room or text.
	ErrInvalid = errors.New("hub: invalid input")
	// ErrNoName reports a request that needs a user name first.
	ErrNoName = errors.New("hub: no name set")
	// ErrInRoom reports a name change while the connection is in a room.
	ErrInRoom = errors.New("hub: leave every room before changing name")
	// ErrNotInRoom reports a Leave or Say for a room the connection is not in.
	ErrNotInRoom = errors.New("hub: not in that room")
	// ErrNoUser reports a Tell to a user who is not online.
	ErrNoUser = errors.New("hub: no such user online")
	// ErrLimit reports a configured bound reached.
	ErrLimit = errors.New("hub: limit reached")
	// ErrRate reports requests made faster than the configured rate.
	ErrRate = errors.New("hub: too many requests, slow down")
	// ErrClosed reports a call on a closed Hub or detached Conn. It wraps
	// net.ErrClosed.
	ErrClosed = fmt.Errorf("hub: closed: %w", net.ErrClosed)
)

// Code returns the short, stable code of a Hub error: "invalid",
// "no_name", "in_room", "not_in_room", "no_user", "limit", "rate", "closed", or
// "internal" for anything else.
func Code(err error) string {
	for _, c := range []struct {
		err  error
		code string
	}{
		{ErrInvalid, "invalid"},
		{ErrNoName, "no_name"},
		{ErrInRoom, "in_room"},
		{ErrNotInRoom, "not_in_room"},
		{ErrNoUser, "no_user"},
		{ErrLimit, "limit"},
		{ErrRate, "rate"},
		{ErrClosed, "closed"},
	} {
		if errors.Is(err, c.err) {
			return c.code
		}
	}
	return "internal"
}

// checkName accepts 1..max bytes of ASCII letters, digits and "-_.",
// starting with a letter or digit. Names are case-sensitive.
func checkName(s string, limit int) error {
	return checkIdent("name", s, limit)
}

// checkRoom accepts the same syntax as names, up to max bytes.
func checkRoom(s string, limit int) error {
	return checkIdent("room", s, limit)
}

func checkIdent(what, s string, limit int) error {
	if s == "" {
		return fmt.Errorf("%w: empty %s", ErrInvalid, what)
	}
	if len(s) > limit {
		return fmt.Errorf("%w: %s longer than %d bytes", ErrInvalid, what, limit)
	}
	for i := 0; i < len(s); i++ {
		b := s[i]
		switch {
		case b >= 'a' && b <= 'z', b >= 'A' && b <= 'Z', b >= '0' && b <= '9':
		case (b == '-' || b == '_' || b == '.') && i > 0:
		default:
			return fmt.Errorf("%w: %s may hold only letters, digits and - _ . (not first)", ErrInvalid, what)
		}
	}
	return nil
}

// checkText accepts 1..max bytes of valid UTF-8 without control
// characters other than tab and newline, and not only white space.
func checkText(s string, limit int) error {
	if len(s) > limit {
		return fmt.Errorf("%w: text longer than %d bytes", ErrInvalid, limit)
	}
	if !utf8.ValidString(s) {
		return fmt.Errorf("%w: text is not valid UTF-8", ErrInvalid)
	}
	blank := true
	for _, r := range s {
		switch {
		case r == '\t' || r == '\n':
		case r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0):
			return fmt.Errorf("%w: text holds control character %U", ErrInvalid, r)
		case unicode.IsSpace(r): // " ", and Unicode's spaces (U+2000...)
		default:
			blank = false
		}
	}
	if blank {
		return fmt.Errorf("%w: empty text", ErrInvalid)
	}
	return nil
}

// checkTopic accepts what checkText accepts, on one line, or "" (no topic).
func checkTopic(s string, limit int) error {
	if s == "" {
		return nil
	}
	if strings.ContainsAny(s, "\n") {
		return fmt.Errorf("%w: topic holds a newline", ErrInvalid)
	}
	return checkText(s, limit)
}
