package api

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wasmflow/wasmflow/auth/vault"
	"github.com/wasmflow/wasmflow/engine"
)

// A tenant over its requests a minute gets 429 with Retry-After, while
// another tenant, and the public routes, are not affected.
func TestRequestRateLimit(t *testing.T) {
	t.Parallel()
	e := newEnvWith(t, envOpts{cfg: Config{Limits: TenantLimits{RequestsPerMinute: 3}}})
	_, otherKey := e.newTenant("other")
	for range 3 {
		r := e.do(req{method: http.MethodGet, path: "/api/v1/workflows", key: e.key})
		require.Equal(t, http.StatusOK, r.status, "body: %s", r.body)
	}
	r := e.do(req{method: http.MethodGet, path: "/api/v1/workflows", key: e.key})
	p := r.problem(t, http.StatusTooManyRequests, CodeRateLimited)
	require.Contains(t, p.Detail, "3 API requests a minute")
	secs, err := strconv.Atoi(r.header.Get("Retry-After"))
	require.NoError(t, err, "Retry-After %q", r.header.Get("Retry-After"))
	require.True(t, secs >= 1 && secs <= 20, "Retry-After %d", secs)

	r = e.do(req{method: http.MethodGet, path: "/api/v1/workflows", key: otherKey})
	require.Equal(t, http.StatusOK, r.status, "another tenant has its own budget")
	r = e.do(req{method: http.MethodGet, path: "/healthz"})
	require.Equal(t, http.StatusOK, r.status)
	// Without credentials it is a 401, not a 429: the limit counts tenants.
	e.do(req{method: http.MethodGet, path: "/api/v1/workflows"}).problem(t, http.StatusUnauthorized, CodeUnauthenticated)
}

func TestTenantRatesRefill(t *testing.T) {
	t.Parallel()
	r := newRateBuckets(60, "test") // one a second, bursts of 60
	now := time.Now()
	for range 60 {
		ok, _ := r.take("t", now)
		require.True(t, ok)
	}
	ok, wait := r.take("t", now)
	require.False(t, ok)
	require.InDelta(t, time.Second, wait, float64(10*time.Millisecond))
	ok, _ = r.take("t", now.Add(time.Second))
	require.True(t, ok, "a second later one more")
	// Idle buckets are forgotten; a forgotten one starts full again.
	later := now.Add(10 * time.Minute)
	ok, _ = r.take("u", later)
	require.True(t, ok)
	require.NotContains(t, r.buckets, "t")
	require.Nil(t, newRateBuckets(0, "test"), "no limit")
}

// A tenant at its secrets limit is refused a new one with 429 naming the
// field; replacing a value still works, and deleting one makes room.
func TestSecretQuota(t *testing.T) {
	t.Parallel()
	kr, err := vault.NewKeyring(vault.GenerateKey())
	require.NoError(t, err)
	e := newEnvWith(t, envOpts{cfg: Config{Vault: kr, Limits: TenantLimits{MaxSecrets: 2}}})
	create := func(name string) *response {
		return e.do(req{method: http.MethodPost, path: "/api/v1/secrets", key: e.key, body: map[string]any{"name": name, "value": "v"}})
	}
	for _, name := range []string{"a", "b"} {
		require.Equal(t, http.StatusCreated, create(name).status)
	}
	p := create("c").problem(t, http.StatusTooManyRequests, CodeQuotaExceeded)
	require.Equal(t, []string{"body.name"}, p.locations())
	r := e.do(req{method: http.MethodPut, path: "/api/v1/secrets/a", key: e.key, body: map[string]any{"value": "new"}})
	require.Equal(t, http.StatusOK, r.status, "body: %s", r.body)
	r = e.do(req{method: http.MethodDelete, path: "/api/v1/secrets/b", key: e.key})
	require.Equal(t, http.StatusNoContent, r.status)
	require.Equal(t, http.StatusCreated, create("c").status)
}

// With the tenant's one execution slot taken, a start waits (202, status
// queued, admitted_at null); past the waiting cap it is 429 quota_exceeded
// with Retry-After, and the execution is not stored. No worker runs here,
// so nothing finishes and frees the slot.
func TestExecutionSlots(t *testing.T) {
	t.Parallel()
	e := newEnvWith(t, envOpts{engine: true, idle: true,
		slots: engine.Config{MaxActiveExecutions: 1, MaxWaitingExecutions: 1}})
	wf := e.saveWorkflow(e.key, chain("slots"))
	start := func() *response {
		return e.do(req{method: http.MethodPost, path: "/api/v1/workflows/" + wf + "/executions", key: e.key, body: map[string]any{}})
	}
	var first, second executionResponse
	r := start()
	require.Equal(t, http.StatusAccepted, r.status, "body: %s", r.body)
	r.decode(t, &first)
	require.NotNil(t, first.AdmittedAt, "the first execution takes the slot")
	r = start()
	require.Equal(t, http.StatusAccepted, r.status, "body: %s", r.body)
	r.decode(t, &second)
	require.Equal(t, "queued", second.Status)
	require.Nil(t, second.AdmittedAt, "the second waits for it")
	require.Contains(t, string(r.body), `"admitted_at":null`)

	r = start()
	p := r.problem(t, http.StatusTooManyRequests, CodeQuotaExceeded)
	require.Contains(t, p.Detail, "1 execution slots are taken and 1 executions wait")
	require.Equal(t, "10", r.header.Get("Retry-After"))
	list := e.do(req{method: http.MethodGet, path: "/api/v1/executions", key: e.key})
	require.Equal(t, http.StatusOK, list.status)
	require.Equal(t, 2, strings.Count(string(list.body), `"id":"ex_`), "the refused start stored nothing")

	// Cancelling the first admits the second at once.
	r = e.do(req{method: http.MethodPost, path: "/api/v1/executions/" + first.ID + "/cancel", key: e.key})
	require.Equal(t, http.StatusOK, r.status, "body: %s", r.body)
	r = e.do(req{method: http.MethodGet, path: "/api/v1/executions/" + second.ID, key: e.key})
	r.decode(t, &second)
	require.NotNil(t, second.AdmittedAt)
}
