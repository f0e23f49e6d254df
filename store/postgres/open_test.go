package postgres_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wasmflow/wasmflow/internal/testdb"
	"github.com/wasmflow/wasmflow/store/postgres"
)

func TestOpenRefusesBadConfig(t *testing.T) {
	t.Parallel()
	for name, cfg := range map[string]postgres.Config{
		"no url":         {},
		"negative conns": {URL: "postgres://x@127.0.0.1/x", MaxConns: -1},
		"bad url":        {URL: "postgres://x@127.0.0.1:notaport/x"},
		"bad param":      {URL: "postgres://x@127.0.0.1/x?pool_max_conns=many"},
		"unreachable":    {URL: "postgres://nobody@127.0.0.1:1/x?connect_timeout=1"},
	} {
		_, err := postgres.Open(t.Context(), cfg)
		require.Error(t, err, name)
	}
	_, err := postgres.OpenAndMigrate(t.Context(), postgres.Config{URL: "postgres://nobody@127.0.0.1:1/x?connect_timeout=1"})
	require.Error(t, err)
}

func TestOpenHonoursContext(t *testing.T) {
	t.Parallel()
	url := testdb.Postgres(t)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := postgres.Open(ctx, postgres.Config{URL: url})
	require.ErrorIs(t, err, context.Canceled)
}

func TestCloseTwice(t *testing.T) {
	t.Parallel()
	s := openTemp(t)
	require.NoError(t, s.Close())
	require.NoError(t, s.Close())
	require.Error(t, s.Ping(t.Context()))
}
