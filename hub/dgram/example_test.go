package dgram_test

import (
	"context"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/switchboard/switchboard/hub"
	"github.com/switchboard/switchboard/hub/dgram"
)

// Two nc-style UDP users chat through the command door.
func Example() {
	h, _ := hub.New(nil)
	defer h.Close()
	d, err := dgram.Listen(context.Background(), h, "udp://127.0.0.1:0", nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Serve(ctx) }()
	defer func() { stop(); <-done }()

	var conns []*net.UDPConn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	user := func() func(cmd, want string) string {
		c, _ := net.DialUDP("udp", nil, d.Addr().(*net.UDPAddr))
		conns = append(conns, c)
		buf := make([]byte, 2048)
		// send cmd (if any), return the first datagram starting with want
		return func(cmd, want string) string {
			if cmd != "" {
				c.Write([]byte(cmd))
			}
			for {
				c.SetReadDeadline(time.Now().Add(5 * time.Second))
				n, err := c.Read(buf)
				if err != nil {
					return err.Error()
				}
				if s := string(buf[:n]); strings.HasPrefix(s, want) {
					return s
				}
			}
		}
	}
	ann, bob := user(), user()
	fmt.Println(ann("NICK ann", "OK"))
	fmt.Println(ann("JOIN lobby", "OK"))
	bob("NICK bob", "OK")
	bob("JOIN lobby", "OK")
	ann("SAY lobby hi bob", "OK SAY")
	said := bob("", "SAID")
	f := strings.Fields(said) // SAID room from id at text...
	fmt.Println(f[0], f[1], f[2], strings.Join(f[5:], " "))
	fmt.Println(bob("QUIT", "OK"))
	fmt.Println(ann("", "LEFT"))
	// Output:
	// OK NICK ann ann
	// OK JOIN lobby ann
	// SAID lobby ann hi bob
	// OK QUIT
	// LEFT lobby bob
}
