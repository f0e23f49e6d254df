package main

import (
	"github.com/spf13/cobra"
)

func newMigrateCmd(logs *logConfig) *cobra.Command {
	cfg := storeConfig{}
	cmd := &cobra.Command{
		Use:   "migrate",
		Short: "Apply pending database migrations and exit (serve applies them at start too)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			logger, err := logs.newLogger(cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			st, err := openStore(cmd.Context(), cfg, logger)
			if err != nil {
				return err
			}
			logger.Info("migrations applied", cfg.describe())
			return st.Close()
		},
	}
	addStoreFlags(cmd, &cfg)
	return cmd
}

func addStoreFlags(cmd *cobra.Command, cfg *storeConfig) {
	cmd.Flags().StringVar(&cfg.DataDir, "data-dir", "./wasmflow-data", "directory for the embedded store, keys and caches")
	cmd.Flags().StringVar(&cfg.DatabaseURL, "database-url", "", "PostgreSQL URL (postgres://…); empty uses SQLite in --data-dir")
}
