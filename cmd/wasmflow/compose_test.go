package main

import (
	"os"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"
)

// TestComposeFileMatchesBinary: Docker does not run on the build machines, so
// this is what keeps docker-compose.yml and the Dockerfile honest: the compose
// file parses, and every flag and WASMFLOW_* variable they pass exists.
func TestComposeFileMatchesBinary(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile("../../docker-compose.yml")
	require.NoError(t, err)
	var compose struct {
		Services map[string]struct {
			Image       string            `yaml:"image"`
			Build       any               `yaml:"build"`
			Command     []string          `yaml:"command"`
			Environment map[string]string `yaml:"environment"`
		} `yaml:"services"`
	}
	require.NoError(t, yaml.Unmarshal(data, &compose))
	require.Contains(t, compose.Services, "postgres")
	require.Contains(t, compose.Services, "redis")

	wasmflowServices := 0
	for name, svc := range compose.Services {
		if svc.Build == nil {
			require.NotEmpty(t, svc.Image, "service %s has neither build nor image", name)
			continue
		}
		wasmflowServices++
		require.NotEmpty(t, svc.Command, "service %s", name)
		checkArgs(t, name, svc.Command)
		for env := range svc.Environment {
			flag, ok := strings.CutPrefix(env, envPrefix)
			require.True(t, ok, "service %s: %s is not a %s variable", name, env, envPrefix)
			requireFlag(t, svc.Command[0], strings.ToLower(strings.ReplaceAll(flag, "_", "-")), name+" env "+env)
		}
	}
	require.Positive(t, wasmflowServices)

	dockerfile, err := os.ReadFile("../../Dockerfile")
	require.NoError(t, err)
	for _, line := range strings.Split(string(dockerfile), "\n") {
		if rest, ok := strings.CutPrefix(line, "CMD "); ok {
			var args []string
			require.NoError(t, yaml.Unmarshal([]byte(rest), &args))
			checkArgs(t, "Dockerfile CMD", args)
		}
	}
}

func checkArgs(t *testing.T, where string, args []string) {
	t.Helper()
	for _, arg := range args[1:] {
		if name, ok := strings.CutPrefix(arg, "--"); ok {
			name, _, _ = strings.Cut(name, "=")
			requireFlag(t, args[0], name, where)
		}
	}
}

// requireFlag fails unless the subcommand has the flag (its own or inherited).
func requireFlag(t *testing.T, subcommand, flag, where string) {
	t.Helper()
	cmd, _, err := newRootCmd().Find([]string{subcommand})
	require.NoError(t, err, "%s: no subcommand %q", where, subcommand)
	require.True(t, hasFlag(cmd, flag), "%s: %s has no flag --%s", where, subcommand, flag)
}

func hasFlag(cmd *cobra.Command, name string) bool {
	return cmd.Flags().Lookup(name) != nil || cmd.InheritedFlags().Lookup(name) != nil ||
		cmd.Root().PersistentFlags().Lookup(name) != nil
}
