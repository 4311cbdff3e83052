package cli

import "context"

func runStat(ctx context.Context, stdio Stdio, args []string) error {
	return errNotBuilt("stat")
}
