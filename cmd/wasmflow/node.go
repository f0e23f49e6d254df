package main

import "github.com/spf13/cobra"

// newNodeCmd is the group of the commands for node modules; each
// subcommand lives in its own node_<name>.go file.
func newNodeCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "node", Short: "Write, build, test, inspect, sign, verify and push node modules", Args: cobra.NoArgs}
	cmd.AddCommand(newNodeKitCmds()...)
	cmd.AddCommand(newNodeSignCmd(), newNodeVerifyCmd(), newNodePushCmd())
	return cmd
}
