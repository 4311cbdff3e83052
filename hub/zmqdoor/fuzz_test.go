package zmqdoor

import (
	"bytes"
	"testing"

	"github.com/switchboard/switchboard/hub"
	"github.com/switchboard/switchboard/zmq"
)

// splitFrames turns fuzz input into a message: frames separated by 0xff.
func splitFrames(b []byte) zmq.Msg { return zmq.Msg(bytes.Split(b, []byte{0xff})) }

// FuzzMessages feeds arbitrary messages to the In door and to the RPC
// door's worker side: they are said, refused or dropped, never a panic,
// and the bounds hold.
func FuzzMessages(f *testing.F) {
	for _, s := range []string{"lobby\xffhi", "lobby\xffhi\xffsvc", "bad room\xffx", "one", "w1\xffREADY\xffsvc", "w1\xff1\xffreply", "w1\xff2\xffno\xffERROR", "\xff\xff\xff"} {
		f.Add([]byte(s), true)
		f.Add([]byte(s), false)
	}
	h, err := hub.New(&hub.Config{Rate: 1e9, Burst: 1 << 30})
	if err != nil {
		f.Fatal(err)
	}
	defer h.Close()
	d, err := Listen(h, &Config{In: "tcp://127.0.0.1:*", RPC: "tcp://127.0.0.1:*", MaxSpeakers: 4, MaxWorkers: 4})
	if err != nil {
		f.Fatal(err)
	}
	defer d.Close()
	f.Fuzz(func(t *testing.T, b []byte, in bool) {
		m := splitFrames(b)
		if in {
			d.take(m)
		} else {
			d.fromWorker(m)
		}
		if st := d.Stats(); st.Speakers > 4 || st.Workers > 4 {
			t.Fatalf("bounds broken: %+v", st)
		}
	})
}
