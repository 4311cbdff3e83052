package cli

import "context"

func runServe(ctx context.Context, stdio Stdio, args []string) error {
	return errNotBuilt("serve")
}
