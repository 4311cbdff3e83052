package cli

import "context"

func runRelay(ctx context.Context, stdio Stdio, args []string) error {
	return errNotBuilt("relay")
}
