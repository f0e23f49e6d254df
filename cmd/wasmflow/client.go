package main

import (
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/wasmflow/wasmflow/client"
)

// clientFlags configure the commands that talk to a server. Each field is
// a flag, or else its environment variable, or else the config file's.
type clientFlags struct {
	server, apiKey, config string
	// json prints the server's answers as JSON instead of tables.
	json bool
}

// addClientFlags adds --server, --api-key, --config and --json. The flags
// have no default of their own, so that an unset one falls through to the
// environment, then to the config file, then to the built-in default.
func addClientFlags(cmd *cobra.Command, f *clientFlags) {
	cmd.Flags().StringVar(&f.server, "server", "", "server URL (default: the config file's, else "+client.DefaultServer+")")
	addAuthFlags(cmd, f)
}

// addAuthFlags adds the client flags but --server, for a command whose
// --server means something else.
func addAuthFlags(cmd *cobra.Command, f *clientFlags) {
	cmd.Flags().StringVar(&f.apiKey, "api-key", "", "API key (wf_…) or access token (default: the config file's)")
	cmd.Flags().StringVar(&f.config, "config", "", "config file {\"server\", \"api_key\"} (default: "+cmp.Or(client.DefaultConfigPath(), "none")+")")
	cmd.Flags().BoolVar(&f.json, "json", false, "print JSON instead of a table")
}

// clientConfig resolves the server and key: flag (or its environment
// variable, which applyEnv has put there) over the config file over the
// default. The config file is --config, WASMFLOW_CONFIG or the default
// path; only a file the user named must exist.
func (f *clientFlags) clientConfig() (client.Config, error) {
	path, required := f.config, f.config != ""
	if !required {
		path = client.DefaultConfigPath()
	}
	file, err := client.ReadConfigFile(path, required)
	if err != nil {
		return client.Config{}, err
	}
	return client.Config{
		Server:    cmp.Or(f.server, file.Server, client.DefaultServer),
		APIKey:    cmp.Or(f.apiKey, file.APIKey),
		UserAgent: "wasmflow-cli/" + version,
	}, nil
}

func (f *clientFlags) newClient() (*client.Client, error) {
	cfg, err := f.clientConfig()
	if err != nil {
		return nil, err
	}
	return client.New(cfg)
}

// printJSON writes v as indented JSON.
func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// stderrIsTerminal reports whether the command's standard error is a
// terminal, where a progress line may redraw itself.
func stderrIsTerminal(cmd *cobra.Command) bool {
	f, ok := cmd.ErrOrStderr().(*os.File)
	return ok && isTerminal(f)
}

// say writes a line for the user on standard error, keeping standard output
// for results.
func say(cmd *cobra.Command, format string, args ...any) {
	_, _ = fmt.Fprintf(cmd.ErrOrStderr(), format+"\n", args...)
}
