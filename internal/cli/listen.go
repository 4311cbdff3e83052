package cli

import "context"

func runListen(ctx context.Context, stdio Stdio, args []string) error {
	return errNotBuilt("listen")
}
