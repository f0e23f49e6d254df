// Package registrytest builds a registry on a real runtime for the tests of
// packages that must not import the runtime themselves (the API's).
package registrytest

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wasmflow/wasmflow/registry"
	"github.com/wasmflow/wasmflow/runtime"
)

// New returns a registry on st and a fresh runtime with the runtime's
// defaults; cfg's Store and Runtime are set here. The runtime is closed when
// the test ends.
func New(tb testing.TB, st registry.Store, cfg registry.Config) *registry.Registry {
	tb.Helper()
	rt, err := runtime.New(context.Background(), runtime.Config{})
	require.NoError(tb, err)
	tb.Cleanup(func() { require.NoError(tb, rt.Close(context.Background())) })
	cfg.Store, cfg.Runtime = st, rt
	reg, err := registry.New(cfg)
	require.NoError(tb, err)
	return reg
}
