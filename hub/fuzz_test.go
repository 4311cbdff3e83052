package hub

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzInput feeds arbitrary names, rooms and texts through a connection's
// requests: nothing panics, every error is a Hub error, and what is
// accepted meets the documented syntax.
func FuzzInput(f *testing.F) {
	for _, s := range []string{"ann", "lobby", "a-b_c.d", "", " ", ".x", "é", "a\x00", "hello\tworld\n", "\xff",
		strings.Repeat("x", 33), strings.Repeat("y", 65), "\u0085", "\u200b", "🙂"} {
		f.Add(s, s, s)
	}
	f.Fuzz(func(t *testing.T, name, room, text string) {
		h, err := New(&Config{Rate: 1e9, Burst: 1 << 30})
		if err != nil {
			t.Fatal(err)
		}
		defer h.Close()
		c, err := h.Attach(nopPeer{})
		if err != nil {
			t.Fatal(err)
		}
		check := func(what string, err error) {
			if err != nil && Code(err) == "internal" {
				t.Fatalf("%s: not a hub error: %v", what, err)
			}
		}
		_, err = c.SetName(name)
		check("SetName", err)
		if err == nil && !ident(name, 32) {
			t.Fatalf("bad name accepted: %q", name)
		}
		_, err = c.Join(room)
		check("Join", err)
		if err == nil && !ident(room, 64) {
			t.Fatalf("bad room accepted: %q", room)
		}
		m, err := c.Say(room, text)
		check("Say", err)
		if err == nil {
			if !utf8.ValidString(text) || len(text) > 2000 || strings.TrimSpace(text) == "" || m.Text != text {
				t.Fatalf("bad text accepted: %q", text)
			}
			for _, r := range text {
				if r != '\t' && r != '\n' && (r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0)) {
					t.Fatalf("control character accepted: %q", text)
				}
			}
		}
		err = c.SetTopic(room, text)
		check("SetTopic", err)
		if err == nil && (strings.Contains(text, "\n") || h.Topic(room) != text) {
			t.Fatalf("topic %q accepted as %q", text, h.Topic(room))
		}
		_, err = c.Tell(name, text)
		check("Tell", err)
		_, err = c.Tell(room, text)
		check("Tell", err)
		err = c.Leave(room)
		check("Leave", err)
		if err := c.Close(); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Say(room, text); !errors.Is(err, ErrClosed) && Code(err) != "invalid" {
			t.Fatalf("Say after Close: %v", err)
		}
	})
}

// ident is the documented syntax of names and rooms, written differently
// from checkIdent.
func ident(s string, limit int) bool {
	if s == "" || len(s) > limit || strings.ContainsAny(s[:1], "-_.") {
		return false
	}
	return strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.") == ""
}

type nopPeer struct{}

func (nopPeer) Deliver(*Event) error { return nil }
func (nopPeer) Close()               {}
