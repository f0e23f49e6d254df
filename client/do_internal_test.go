package client

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestDoInternals(t *testing.T) {
	t.Parallel()
	requests := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		requests++
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"a":  [1, 2]}`)
	}))
	t.Cleanup(srv.Close)
	c, err := New(Config{Server: srv.URL})
	require.NoError(t, err)

	// A *json.RawMessage receives the answer as it came, in its own copy.
	var raw json.RawMessage
	require.NoError(t, c.do(t.Context(), &request{method: http.MethodGet, path: apiPath("x")}, &raw))
	require.Equal(t, `{"a":  [1, 2]}`, string(raw))
	require.Equal(t, 1, requests)

	for _, tc := range []struct {
		name string
		r    *request
		err  string
	}{
		{"bad escape", &request{method: http.MethodGet, path: "/%zz"}, `client: GET /%zz: invalid URL escape "%zz"`},
		{"unencodable body", &request{method: http.MethodPost, path: apiPath("x"), json: map[string]any{"f": func() {}}},
			"client: encode POST /api/v1/x: json: unsupported type: func()"},
		{"bad method", &request{method: "NOT A METHOD", path: apiPath("x")}, `client: NOT A METHOD /api/v1/x: net/http: invalid method "NOT A METHOD"`},
	} {
		err := c.do(t.Context(), tc.r, nil)
		require.EqualError(t, err, tc.err, tc.name)
	}
	require.Equal(t, 1, requests, "a request that cannot be built is not sent")
}
