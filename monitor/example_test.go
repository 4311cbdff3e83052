package monitor_test

import (
	"fmt"
	"time"

	"github.com/switchboard/switchboard/monitor"
)

func ExampleNewSnapshot() {
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	s := monitor.NewSnapshot(monitor.Process{PID: 42, Command: "listen"}, now, []monitor.Conn{
		{ID: "1", Proto: "tcp", Local: "127.0.0.1:7000", Remote: "127.0.0.1:40000", State: "open",
			Since: now.Add(-3 * time.Second), MsgsIn: 2, BytesIn: 12},
	})
	fmt.Println(s.Totals.Conns, s.Totals.BytesIn, s.Conns[0].Age)
	// Output: 1 12 3
}
