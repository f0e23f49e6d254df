package main

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

// envPrefix prefixes the environment variable of every flag: --data-dir is
// also WASMFLOW_DATA_DIR.
const envPrefix = "WASMFLOW_"

func newRootCmd() *cobra.Command {
	var logs logConfig
	root := &cobra.Command{
		Use:           "wasmflow",
		Short:         "Workflow automation where every node is a sandboxed WebAssembly module",
		Version:       version,
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			return applyEnv(cmd.Flags())
		},
	}
	root.PersistentFlags().StringVar(&logs.level, "log-level", "info", "log level: debug, info, warn or error")
	root.PersistentFlags().StringVar(&logs.format, "log-format", "auto", "log format: text, json, or auto (text on a terminal, JSON otherwise)")
	root.AddCommand(newServeCmd(&logs), newMigrateCmd(&logs), newSecretsCmd(&logs),
		newTenantCmd(&logs), newUserCmd(&logs), newAPIKeyCmd(&logs))
	root.AddCommand(newKeysCmd(), newNodeCmd(), newMarketplaceCmd())
	return root
}

// envName is the environment variable that sets a flag.
func envName(flag string) string {
	return envPrefix + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
}

// applyEnv sets every flag not given on the command line from its
// environment variable, so flags win over the environment.
func applyEnv(flags *pflag.FlagSet) error {
	var err error
	flags.VisitAll(func(f *pflag.Flag) {
		if err != nil || f.Changed {
			return
		}
		if v, ok := os.LookupEnv(envName(f.Name)); ok {
			if setErr := f.Value.Set(v); setErr != nil {
				err = fmt.Errorf("%s=%q: %w", envName(f.Name), v, setErr)
			}
		}
	})
	return err
}

type logConfig struct {
	level, format string
}

// newLogger builds the process logger: text on a terminal, JSON otherwise
// (or as --log-format says).
func (c logConfig) newLogger(w io.Writer) (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(c.level)); err != nil {
		return nil, fmt.Errorf("--log-level: %w", err)
	}
	opts := &slog.HandlerOptions{Level: level}
	format := c.format
	if format == "auto" {
		format = "json"
		if f, ok := w.(*os.File); ok && isTerminal(f) {
			format = "text"
		}
	}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("--log-format: %q is not text, json or auto", c.format)
}

func isTerminal(f *os.File) bool {
	info, err := f.Stat()
	return err == nil && info.Mode()&os.ModeCharDevice != 0
}
