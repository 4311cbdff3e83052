package irc

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Message
		err  error
	}{
		{"NICK ann\r\n", Message{Command: "NICK", Params: []string{"ann"}}, nil},
		{"nick ann\n", Message{Command: "NICK", Params: []string{"ann"}}, nil},
		{":srv 001 ann :Welcome here", Message{Prefix: "srv", Command: "001", Params: []string{"ann", "Welcome here"}}, nil},
		{"PRIVMSG  #a   :x  y ", Message{Command: "PRIVMSG", Params: []string{"#a", "x  y "}}, nil},
		{"PRIVMSG #a :", Message{Command: "PRIVMSG", Params: []string{"#a", ""}}, nil},
		{"USER a 0 * :Real Name", Message{Command: "USER", Params: []string{"a", "0", "*", "Real Name"}}, nil},
		{"PING", Message{Command: "PING"}, nil},
		{"A 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16", Message{Command: "A", Params: []string{"1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11", "12", "13", "14", "15 16"}}, nil},
		{"   \r\n", Message{}, ErrEmpty},
		{"", Message{}, ErrEmpty},
		{": NICK a", Message{}, ErrMalformed},
		{":pfx", Message{}, ErrMalformed},
		{"NI-CK a", Message{}, ErrMalformed},
		{"12 a", Message{}, ErrMalformed},
		{"NICK a\x00b", Message{}, ErrMalformed},
		{"NICK a\rb", Message{}, ErrMalformed},
	} {
		got, err := Parse([]byte(tc.in))
		if !errors.Is(err, tc.err) {
			t.Errorf("Parse(%q): err %v, want %v", tc.in, err, tc.err)
			continue
		}
		if err == nil && !reflect.DeepEqual(got, tc.want) {
			t.Errorf("Parse(%q) = %#v, want %#v", tc.in, got, tc.want)
		}
	}
}

func TestAppend(t *testing.T) {
	for _, tc := range []struct {
		m    Message
		want string
	}{
		{Message{Command: "JOIN", Params: []string{"#a"}}, "JOIN #a\r\n"},
		{Message{Prefix: "s", Command: "PONG", Params: []string{"s", "x"}}, ":s PONG s :x\r\n"},
		{Message{Command: "ERROR", Params: []string{"Closing Link: x"}}, "ERROR :Closing Link: x\r\n"},
		{Message{Command: "PING", Params: []string{""}}, "PING :\r\n"},
		{Message{Command: "PING", Params: []string{":x"}}, "PING ::x\r\n"},
	} {
		if got := string(tc.m.Append(nil)); got != tc.want {
			t.Errorf("Append(%+v) = %q, want %q", tc.m, got, tc.want)
		}
	}
}

// FuzzParse checks that Parse never panics, that what it accepts
// survives Append and Parse again, and that a line split across reads
// (as the door's bufio reader may see it) parses the same once joined.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"NICK ann\r\n", ":srv 001 ann :Welcome", "PRIVMSG #a :hi there\n", "USER a 0 * :R N",
		"JOIN #a,#b key", "PING :x", "A 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16", ": x", "\x01ACTION x\x01",
		"PRIVMSG #a :\x01ACTION waves\x01", "TOPIC #a :", strings.Repeat("x ", 300),
	} {
		f.Add([]byte(s), uint(3))
	}
	f.Fuzz(func(t *testing.T, line []byte, cut uint) {
		if len(line) > maxLineLimit {
			return
		}
		m, err := Parse(line)
		if err != nil {
			if !errors.Is(err, ErrEmpty) && !errors.Is(err, ErrMalformed) {
				t.Fatalf("unexpected error %v", err)
			}
			return
		}
		if len(m.Params) > MaxParams {
			t.Fatalf("%d params", len(m.Params))
		}
		out := m.Append(nil)
		if !bytes.HasSuffix(out, []byte("\r\n")) || bytes.ContainsAny(out[:len(out)-2], "\r\n\x00") {
			t.Fatalf("Append produced %q", out)
		}
		// Middle parameters that are empty cannot be written; only
		// compare when the round trip is meaningful.
		m2, err := Parse(out)
		if err != nil {
			t.Fatalf("re-parse of %q: %v", out, err)
		}
		if !reflect.DeepEqual(m, m2) {
			t.Fatalf("round trip %q: %#v != %#v", out, m, m2)
		}
		// inText never lets a control character through but tab.
		if len(m.Params) > 0 {
			if s, ok := inText(m.Params[len(m.Params)-1]); ok && strings.ContainsFunc(s, isFormat) {
				t.Fatalf("inText kept a control character: %q", s)
			}
		}
		// The door reads with bufio; a line arriving in two pieces
		// reads back whole.
		if len(out) > 1 {
			k := int(cut % uint(len(out)))
			br := bufio.NewReaderSize(io.MultiReader(bytes.NewReader(out[:k]), bytes.NewReader(out[k:])), maxLineLimit+2)
			got, err := br.ReadSlice('\n')
			if err != nil || !bytes.Equal(got, out) {
				t.Fatalf("chunked read at %d: %q %v", k, got, err)
			}
		}
	})
}
