package cli

import "context"

func runDial(ctx context.Context, stdio Stdio, args []string) error {
	return errNotBuilt("dial")
}
