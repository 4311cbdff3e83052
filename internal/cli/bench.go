package cli

import "context"

func runBench(ctx context.Context, stdio Stdio, args []string) error {
	return errNotBuilt("bench")
}
