package hostfuncs_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wasmflow/wasmflow/hostfuncs"
)

func TestRequiredCapability(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name       string
		capability string
		ok         bool
	}{
		{"wasmflow_http_fetch", "http", true},
		{"wasmflow_secret_get", "secrets", true},
		{"http_request", "", false}, // Extism's own, never provided
		{"wasmflow_HTTP_FETCH", "", false},
		{"", "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			capability, ok := hostfuncs.RequiredCapability(tc.name)
			require.Equal(t, tc.ok, ok)
			require.Equal(t, tc.capability, capability)
		})
	}
}
