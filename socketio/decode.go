package socketio

import (
	"encoding/json"
	"fmt"
)

// Decode stores an event argument (as handlers receive it: decoded JSON,
// with []byte for binary) into v, a pointer, as encoding/json would have
// decoded the original JSON; []byte fields receive binary attachments.
//
//	var msg struct{ Room, Text string }
//	if err := socketio.Decode(args[0], &msg); err != nil { ... }
func Decode(arg any, v any) error {
	b, err := json.Marshal(arg)
	if err != nil {
		return fmt.Errorf("socketio: decode argument: %w", err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("socketio: decode argument: %w", err)
	}
	return nil
}
