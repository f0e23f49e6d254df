package main

import "github.com/spf13/cobra"

// newNodeCmd is the group of the commands for node modules.
func newNodeCmd(logs *logConfig) *cobra.Command {
	cmd := &cobra.Command{Use: "node", Short: "Write, build, test, inspect and publish node modules"}
	cmd.AddCommand(newNodeKitCmds(logs)...)
	return cmd
}
