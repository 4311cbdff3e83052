package cli

import "context"

func runSock(ctx context.Context, stdio Stdio, args []string) error {
	return errNotBuilt("sock")
}
