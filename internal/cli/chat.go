package cli

import "context"

func runChat(ctx context.Context, stdio Stdio, args []string) error {
	return errNotBuilt("chat")
}
