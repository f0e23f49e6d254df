package engine_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wasmflow/wasmflow/registry"
	"github.com/wasmflow/wasmflow/store"
	"github.com/wasmflow/wasmflow/workflow"
)

// staticResolver resolves the names it knows, and no other.
type staticResolver map[string]string

func (r staticResolver) LookupIPAddr(_ context.Context, host string) ([]net.IPAddr, error) {
	ip, ok := r[host]
	if !ok {
		return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
	return []net.IPAddr{{IP: net.ParseIP(ip)}}, nil
}

// countingServer is a local HTTP server that counts the requests it gets.
type countingServer struct {
	*httptest.Server
	hits atomic.Int64
	port string
}

func newCountingServer(t *testing.T, h http.HandlerFunc) *countingServer {
	t.Helper()
	s := &countingServer{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.hits.Add(1)
		h(w, r)
	}))
	t.Cleanup(s.Close)
	_, s.port, _ = net.SplitHostPort(s.Listener.Addr().String())
	return s
}

func (s *countingServer) addrPort() netip.AddrPort {
	return netip.MustParseAddrPort(s.Listener.Addr().String())
}

// requestWorkflow is a manual trigger into an http-request node (module
// ref) with params and secret bindings.
func requestWorkflow(module, params, secrets string) string {
	return fmt.Sprintf(`{"name": "http", "nodes": [
		{"name": "start", "type": "trigger.manual"},
		{"name": "get", "module": %q, "params": %s, "secrets": %s}],
		"connections": [{"from": "start", "to": "get"}]}`, module, params, secrets)
}

// requestFails runs a request of params and checks that it failed with code.
func (h *harness) requestFails(t *testing.T, module, params, code string) *result {
	t.Helper()
	r := h.run(h.save(requestWorkflow(module, params, `{}`)))
	require.Equal(t, store.ExecutionFailed, r.ex.Status, "%s", r.ex.Error)
	e := runError(t, r.node(t, "get"))
	require.Equal(t, "guest_error", e.Kind, e.Message)
	require.True(t, strings.HasPrefix(e.Message, code+": "), "want %s, got %q", code, e.Message)
	calls := hostCalls(t, r.node(t, "get"))
	require.NotEmpty(t, calls)
	require.Equal(t, code, calls[len(calls)-1].Error)
	return r
}

// installNarrow installs the http-request example again as test/http-narrow,
// its manifest granting only hosts.
func (h *harness) installNarrow(t *testing.T, hosts ...string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "http-narrow")
	copyDir(t, filepath.Join("..", "plugins-examples", "http-request"), dir)
	raw, err := os.ReadFile(filepath.Join(dir, "wasmflow.json"))
	require.NoError(t, err)
	var m map[string]any
	require.NoError(t, json.Unmarshal(raw, &m))
	m["name"] = "test/http-narrow"
	m["capabilities"] = map[string]any{"http": map[string]any{"hosts": hosts}, "secrets": []string{"token"}}
	raw, err = json.Marshal(m)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "wasmflow.json"), raw, 0o600))
	_, err = h.reg.InstallDir(context.Background(), h.tenant, filepath.Dir(dir))
	require.NoError(t, err)
}

// TestHTTPRequestSSRF: every way of naming an internal address is refused
// on the node run with ssrf_blocked, and nothing reaches the target server:
// loopback in its many spellings, private, link-local metadata, CGNAT, the
// unspecified address, a name that resolves to loopback, and a redirect
// from an allowed public server to an internal one. A host outside the
// grant is host_not_allowed. With --http-allow-private the loopback target
// answers.
func TestHTTPRequestSSRF(t *testing.T) {
	t.Parallel()
	target := newCountingServer(t, func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"internal": true}`))
	})
	// public stands for a server on the internet: the one address the
	// operator opened (--http-allow-addr); it redirects into the network.
	public := newCountingServer(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/to-loopback":
			http.Redirect(w, r, "http://127.0.0.1:"+strings.TrimPrefix(r.URL.RawQuery, "port=")+"/", http.StatusFound)
		case "/to-metadata":
			http.Redirect(w, r, "http://169.254.169.254/latest/meta-data/", http.StatusFound)
		default:
			_, _ = w.Write([]byte("public"))
		}
	})
	h := newHarness(t, modes[0], harnessOpts{httpNode: true, http: registry.HTTPOptions{
		Resolver:   staticResolver{"rebind.test": "127.0.0.1", "public.test": "127.0.0.1", "other.test": "127.0.0.1"},
		AllowAddrs: []netip.AddrPort{public.addrPort()},
	}})
	const module = "wasmflow/http-request@1.0.0"

	p := target.port
	for _, url := range []string{
		"http://127.0.0.1:" + p + "/",
		"http://127.1:" + p + "/",
		"http://2130706433:" + p + "/",
		"http://0x7f000001:" + p + "/",
		"http://[::1]:" + p + "/",
		"http://[::ffff:127.0.0.1]:" + p + "/",
		"http://10.0.0.1:" + p + "/",
		"http://169.254.169.254/latest/meta-data/",
		"http://100.64.0.1/",
		"http://0.0.0.0:" + p + "/",
		"http://rebind.test:" + p + "/",
		"http://public.test:" + public.port + "/to-loopback?port=" + p,
		"http://public.test:" + public.port + "/to-metadata",
	} {
		t.Run(url, func(t *testing.T) {
			h.requestFails(t, module, fmt.Sprintf(`{"url": %q}`, url), "ssrf_blocked")
		})
	}
	require.Zero(t, target.hits.Load(), "a refused request reached the target")
	require.EqualValues(t, 2, public.hits.Load(), "the redirecting hops were sent")

	// The allowed public server answers; a host outside a narrow grant is refused.
	r := h.run(h.save(requestWorkflow(module, `{"url": "http://public.test:`+public.port+`/"}`, `{}`)))
	require.Equal(t, store.ExecutionSucceeded, r.ex.Status, "%s", r.ex.Error)
	require.Equal(t, "public", r.items(t, "get")[0]["body"])
	h.installNarrow(t, "public.test")
	h.requestFails(t, "test/http-narrow@1.0.0", `{"url": "http://other.test:`+public.port+`/"}`, "host_not_allowed")
	r = h.run(h.save(requestWorkflow("test/http-narrow@1.0.0", `{"url": "http://public.test:`+public.port+`/"}`, `{}`)))
	require.Equal(t, store.ExecutionSucceeded, r.ex.Status, "%s", r.ex.Error)

	// Every request is in the audit log, with the run that made it.
	requests := h.audit(h.tenant, "http.request")
	require.Len(t, requests, 16) // 13 refused, 3 sent (a redirect is one call)
	require.Equal(t, "127.0.0.1", requests[0].Resource)
	require.True(t, strings.HasPrefix(requests[0].Actor, "node_run:"), requests[0].Actor)
	require.Contains(t, string(requests[0].Detail), `"error":"ssrf_blocked"`)

	// --http-allow-private opens the loopback target.
	open := newHarness(t, modes[0], harnessOpts{httpNode: true, http: registry.HTTPOptions{AllowPrivate: true}})
	r = open.run(open.save(requestWorkflow(module, `{"url": "http://127.0.0.1:`+p+`/"}`, `{}`)))
	require.Equal(t, store.ExecutionSucceeded, r.ex.Status, "%s", r.ex.Error)
	require.Equal(t, map[string]any{"internal": true}, r.items(t, "get")[0]["body"])
	require.EqualValues(t, 1, target.hits.Load())
}

// TestHTTPRequestCaps: a response over the byte cap, a server slower than
// the time cap and more requests than a run may send each fail the run
// with their code.
func TestHTTPRequestCaps(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	srv := newCountingServer(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/big":
			_, _ = w.Write([]byte(strings.Repeat("x", 64<<10)))
		case "/slow":
			select {
			case <-release:
			case <-time.After(10 * time.Second):
			}
		default:
			_, _ = w.Write([]byte("ok"))
		}
	})
	t.Cleanup(func() { close(release) }) // before the server's Close, which waits for /slow
	h := newHarness(t, modes[0], harnessOpts{httpNode: true, http: registry.HTTPOptions{
		Resolver: staticResolver{"api.test": "127.0.0.1"}, AllowAddrs: []netip.AddrPort{srv.addrPort()},
		MaxResponseBytes: 32 << 10, Timeout: 500 * time.Millisecond, MaxRequests: 3,
	}})
	base := "http://api.test:" + srv.port
	const module = "wasmflow/http-request@1.0.0"
	h.requestFails(t, module, `{"url": "`+base+`/big"}`, "response_too_large")
	h.requestFails(t, module, `{"url": "`+base+`/slow"}`, "timeout")

	// One request per item: three pass, the fourth is over the cap.
	wf := h.save(requestWorkflow(module, `{"url": "`+base+`/"}`, `{}`))
	r := h.run(wf, workflow.Item{"n": 1}, workflow.Item{"n": 2}, workflow.Item{"n": 3})
	require.Equal(t, store.ExecutionSucceeded, r.ex.Status, "%s", r.ex.Error)
	require.Len(t, r.items(t, "get"), 3)
	hits := srv.hits.Load()
	r = h.run(wf, workflow.Item{"n": 1}, workflow.Item{"n": 2}, workflow.Item{"n": 3}, workflow.Item{"n": 4})
	require.Equal(t, store.ExecutionFailed, r.ex.Status)
	e := runError(t, r.node(t, "get"))
	require.True(t, strings.HasPrefix(e.Message, "too_many_requests: "), e.Message)
	require.EqualValues(t, 3, srv.hits.Load()-hits, "the fourth request was never sent")
}

// TestHTTPRequestSecretHeader: {{secret:token}} in a header reaches the
// server as the value, while the node, its stored output and its record
// see only the name; the read is audited as a header read.
func TestHTTPRequestSecretHeader(t *testing.T) {
	t.Parallel()
	srv := newCountingServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]string{"auth": r.Header.Get("Authorization")})
	})
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, m, harnessOpts{httpNode: true, http: registry.HTTPOptions{AllowPrivate: true}})
			const plaintext = "ghp_HEADER-PLAINTEXT-99"
			h.putSecret(h.tenant, "gh-token", plaintext)
			params := `{"url": "http://127.0.0.1:` + srv.port + `/", "headers": {"Authorization": "Bearer {{secret:token}}"}}`
			r := h.run(h.save(requestWorkflow("wasmflow/http-request@1.0.0", params, `{"token": "gh-token"}`)))
			require.Equal(t, store.ExecutionSucceeded, r.ex.Status, "%s", r.ex.Error)
			require.Equal(t, map[string]any{"auth": "Bearer [redacted:gh-token]"}, r.items(t, "get")[0]["body"])
			calls := hostCalls(t, r.node(t, "get"))
			require.Len(t, calls, 2)
			require.Equal(t, registry.HostCall{Kind: "secret_read", At: calls[0].At, Name: "token", Secret: "gh-token", Via: "http_header"}, calls[0])
			require.Equal(t, "http_request", calls[1].Kind)
			require.Equal(t, http.StatusOK, calls[1].Status)
			// One read per time the run ran: once, unless a loaded machine
			// let a lease expire and another worker ran it again.
			reads := h.audit(h.tenant, "secret.read")
			require.NotEmpty(t, reads)
			for _, e := range reads {
				require.Equal(t, "node_run:"+r.node(t, "get").ID, e.Actor)
				require.Contains(t, string(e.Detail), `"via":"http_header"`)
			}
			require.Empty(t, h.stored(plaintext))

			// Unbound, the header is refused before anything is sent.
			hits := srv.hits.Load()
			r = h.run(h.save(requestWorkflow("wasmflow/http-request@1.0.0", params, `{}`)))
			require.Equal(t, store.ExecutionFailed, r.ex.Status)
			e := runError(t, r.node(t, "get"))
			require.True(t, strings.HasPrefix(e.Message, "secret_not_granted: "), e.Message)
			require.Equal(t, hits, srv.hits.Load())
		})
	}
}
