package main

import "github.com/spf13/cobra"

// newNodeCmd is the group of commands for node authors; each subcommand
// lives in its own node_<name>.go file.
func newNodeCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "node",
		Short: "Work with node modules: sign, verify and push them",
		Args:  cobra.NoArgs,
	}
	cmd.AddCommand(newNodeSignCmd(), newNodeVerifyCmd(), newNodePushCmd())
	return cmd
}
