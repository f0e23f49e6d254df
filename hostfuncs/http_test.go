package hostfuncs_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wasmflow/wasmflow/hostfuncs"
	"github.com/wasmflow/wasmflow/workflow"
)

// mapResolver resolves the names it holds and nothing else: no test reaches
// a real DNS server.
type mapResolver map[string][]string

func (m mapResolver) LookupIPAddr(_ context.Context, host string) ([]net.IPAddr, error) {
	ips, ok := m[host]
	if !ok {
		return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
	out := make([]net.IPAddr, 0, len(ips))
	for _, s := range ips {
		out = append(out, net.IPAddr{IP: net.ParseIP(s)})
	}
	return out, nil
}

// failResolver resolves nothing.
type failResolver struct{}

func (failResolver) LookupIPAddr(_ context.Context, host string) ([]net.IPAddr, error) {
	return nil, &net.DNSError{Err: "resolution disabled in tests", Name: host}
}

// countingResolver counts lookups and resolves nothing.
type countingResolver struct{ n atomic.Int64 }

func (c *countingResolver) LookupIPAddr(ctx context.Context, host string) ([]net.IPAddr, error) {
	c.n.Add(1)
	return failResolver{}.LookupIPAddr(ctx, host)
}

// reply is wasmflow_http_fetch's reply, either form.
type reply struct {
	Status  int               `json:"status"`
	Headers map[string]string `json:"headers"`
	Body    string            `json:"body"`
	Error   *struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// fetch calls f with req (marshalled unless it is a string or []byte) and
// decodes the reply; it also returns the raw reply.
func fetch(t *testing.T, f hostfuncs.Func, req any) (reply, []byte) {
	t.Helper()
	var in []byte
	switch v := req.(type) {
	case string:
		in = []byte(v)
	case []byte:
		in = v
	default:
		var err error
		in, err = json.Marshal(v)
		require.NoError(t, err)
	}
	out, err := f.Call(context.Background(), in)
	require.NoError(t, err)
	var rep reply
	require.NoError(t, json.Unmarshal(out, &rep), "reply %s", out)
	return rep, out
}

// requireCode asserts an error reply with code, whose message contains each of contains.
func requireCode(t *testing.T, rep reply, code string, contains ...string) {
	t.Helper()
	require.NotNil(t, rep.Error, "expected error %s, got status %d", code, rep.Status)
	require.Equal(t, code, rep.Error.Code, "message: %s", rep.Error.Message)
	require.NotEmpty(t, rep.Error.Message)
	for _, c := range contains {
		require.Contains(t, rep.Error.Message, c)
	}
}

// requireOK asserts a response reply with status and returns its decoded body.
func requireOK(t *testing.T, rep reply, status int) []byte {
	t.Helper()
	require.Nil(t, rep.Error, "unexpected error reply %+v", rep.Error)
	require.Equal(t, status, rep.Status)
	body, err := base64.StdEncoding.DecodeString(rep.Body)
	require.NoError(t, err)
	return body
}

// server is a local test server that counts the requests it saw.
type server struct {
	*httptest.Server
	hits atomic.Int64
	addr netip.AddrPort
	port string
}

func newServer(t *testing.T, h http.Handler) *server {
	t.Helper()
	s := &server{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.hits.Add(1)
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(s.Close)
	u, err := url.Parse(s.URL)
	require.NoError(t, err)
	s.addr = netip.MustParseAddrPort(u.Host)
	s.port = u.Port()
	return s
}

func get(u string) map[string]any { return map[string]any{"url": u} }

// TestHTTPFetchSSRFMatrix: every way of naming an internal address is refused
// before a byte reaches the (loopback) server, although the grant names each
// host: numeric forms are read as the OS would read them, names are checked
// by the addresses they resolve to at dial time.
func TestHTTPFetchSSRFMatrix(t *testing.T) {
	t.Parallel()
	srv := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "reached") }))
	p := srv.port
	cases := []struct {
		host, url string
		contains  []string
	}{
		{"127.0.0.1", "http://127.0.0.1:" + p + "/", []string{"127.0.0.1", "loopback"}},
		{"127.1", "http://127.1:" + p + "/", []string{"127.0.0.1", "loopback"}},
		{"2130706433", "http://2130706433:" + p + "/", []string{"127.0.0.1", "loopback"}},
		{"0x7f000001", "http://0x7f000001:" + p + "/", []string{"127.0.0.1", "loopback"}},
		{"0177.0.0.1", "http://0177.0.0.1:" + p + "/", []string{"127.0.0.1", "loopback"}},
		{"127.0.0.1.", "http://127.0.0.1.:" + p + "/", []string{"loopback"}},
		{"::1", "http://[::1]:" + p + "/", []string{"loopback"}},
		{"::ffff:127.0.0.1", "http://[::ffff:127.0.0.1]:" + p + "/", []string{"IPv4-mapped", "loopback"}},
		{"::ffff:7f00:1", "http://[::ffff:7f00:1]:" + p + "/", []string{"IPv4-mapped", "loopback"}},
		{"64:ff9b::7f00:1", "http://[64:ff9b::7f00:1]:" + p + "/", []string{"NAT64", "loopback"}},
		{"10.0.0.1", "http://10.0.0.1/", []string{"private"}},
		{"192.168.1.1", "http://192.168.1.1/", []string{"private"}},
		{"172.16.5.4", "http://172.16.5.4/", []string{"private"}},
		{"169.254.169.254", "http://169.254.169.254/latest/meta-data/", []string{"metadata"}},
		{"fd00:ec2::254", "http://[fd00:ec2::254]/", []string{"metadata"}},
		{"100.64.0.1", "http://100.64.0.1/", []string{"CGNAT"}},
		{"0.0.0.0", "http://0.0.0.0:" + p + "/", []string{"unspecified"}},
		{"0", "http://0:" + p + "/", []string{"0.0.0.0", "unspecified"}},
		{"::", "http://[::]:" + p + "/", []string{"unspecified"}},
		{"fe80::1", "http://[fe80::1]/", []string{"link-local"}},
		{"fc00::1", "http://[fc00::1]/", []string{"unique local"}},
		{"224.0.0.1", "http://224.0.0.1/", []string{"multicast"}},
		{"255.255.255.255", "http://255.255.255.255/", []string{"broadcast"}},
		{"192.0.2.1", "http://192.0.2.1/", []string{"documentation"}},
		{"198.18.0.1", "http://198.18.0.1/", []string{"benchmarking"}},
		{"127.0.0.1", "https://127.0.0.1:" + p + "/", []string{"loopback"}},
		// Names: checked at dial time by what the resolver returns.
		{"rebind.test", "http://rebind.test:" + p + "/", []string{"rebind.test", "resolves to 127.0.0.1", "loopback"}},
		{"mapped.test", "http://mapped.test:" + p + "/", []string{"resolves to 127.0.0.1", "loopback"}},
		{"localhost", "http://localhost:" + p + "/", []string{"loopback"}},
		{"meta.test", "http://meta.test/", []string{"metadata"}},
		{"internal.test", "https://internal.test:" + p + "/", []string{"private"}},
	}
	hosts := make([]string, 0, len(cases))
	for _, c := range cases {
		hosts = append(hosts, c.host)
	}
	cfg := hostfuncs.HTTPConfig{
		Grant: workflow.HTTPCapability{Hosts: hosts},
		Resolver: mapResolver{
			"rebind.test":   {"127.0.0.1"},
			"mapped.test":   {"::ffff:127.0.0.1"},
			"localhost":     {"127.0.0.1", "::1"},
			"meta.test":     {"169.254.169.254"},
			"internal.test": {"10.1.2.3", "192.168.0.10"},
		},
		Timeout: 5 * time.Second,
	}
	for _, c := range cases {
		t.Run(c.url, func(t *testing.T) {
			rep, _ := fetch(t, hostfuncs.HTTPFetch(cfg), get(c.url))
			requireCode(t, rep, hostfuncs.HTTPCodeSSRFBlocked, c.contains...)
		})
	}
	t.Run("NotInGrant", func(t *testing.T) {
		rep, _ := fetch(t, hostfuncs.HTTPFetch(cfg), get("http://127.0.0.2:"+p+"/"))
		requireCode(t, rep, hostfuncs.HTTPCodeHostNotAllowed, "127.0.0.2")
		rep, _ = fetch(t, hostfuncs.HTTPFetch(cfg), get("http://example.com/"))
		requireCode(t, rep, hostfuncs.HTTPCodeHostNotAllowed, "example.com")
	})
	require.Zero(t, srv.hits.Load(), "no request may reach the loopback server")
}

// TestHTTPFetchRedirectToInternal: a granted server (reachable through the
// test hook) redirecting to an internal address is refused at the redirect,
// even though the target host is granted too.
func TestHTTPFetchRedirectToInternal(t *testing.T) {
	t.Parallel()
	internal := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "secret internal data") }))
	ip := internal.port
	targets := map[string]string{
		"/to-loopback":  "http://127.0.0.1:" + ip + "/",
		"/to-legacy":    "http://127.1:" + ip + "/",
		"/to-v6":        "http://[::1]:" + ip + "/",
		"/to-mapped":    "http://[::ffff:127.0.0.1]:" + ip + "/",
		"/to-rebind":    "http://rebind.test:" + ip + "/",
		"/to-metadata":  "http://169.254.169.254/latest/meta-data/",
		"/to-private":   "http://10.0.0.1/",
		"/to-elsewhere": "http://not-granted.test/",
		"/to-file":      "file:///etc/passwd",
	}
	public := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if to, ok := targets[r.URL.Path]; ok {
			http.Redirect(w, r, to, http.StatusFound)
			return
		}
		_, _ = io.WriteString(w, "public")
	}))
	cfg := hostfuncs.HTTPConfig{
		Grant: workflow.HTTPCapability{Hosts: []string{
			"public.test", "mixed.test", "127.0.0.1", "127.1", "::1", "::ffff:127.0.0.1", "rebind.test", "169.254.169.254", "10.0.0.1",
		}},
		Resolver: mapResolver{
			"public.test": {"127.0.0.1"}, "rebind.test": {"127.0.0.1"},
			"mixed.test": {"10.0.0.1", "169.254.169.254", "::1", "127.0.0.1"},
		},
	}
	cfg.AllowAddrs = append(cfg.AllowAddrs, public.addr)
	base := "http://public.test:" + public.port

	// The hook opens exactly the public server: it answers.
	rep, _ := fetch(t, hostfuncs.HTTPFetch(cfg), get(base+"/"))
	require.Equal(t, "public", string(requireOK(t, rep, http.StatusOK)))
	// A name with internal and allowed addresses connects to the allowed one only.
	rep, _ = fetch(t, hostfuncs.HTTPFetch(cfg), get("http://mixed.test:"+public.port+"/"))
	require.Equal(t, "public", string(requireOK(t, rep, http.StatusOK)))

	for path, code := range map[string]string{
		"/to-loopback":  hostfuncs.HTTPCodeSSRFBlocked,
		"/to-legacy":    hostfuncs.HTTPCodeSSRFBlocked,
		"/to-v6":        hostfuncs.HTTPCodeSSRFBlocked,
		"/to-mapped":    hostfuncs.HTTPCodeSSRFBlocked,
		"/to-rebind":    hostfuncs.HTTPCodeSSRFBlocked,
		"/to-metadata":  hostfuncs.HTTPCodeSSRFBlocked,
		"/to-private":   hostfuncs.HTTPCodeSSRFBlocked,
		"/to-elsewhere": hostfuncs.HTTPCodeHostNotAllowed,
		"/to-file":      hostfuncs.HTTPCodeInvalidRequest,
	} {
		t.Run(path, func(t *testing.T) {
			rep, _ := fetch(t, hostfuncs.HTTPFetch(cfg), get(base+path))
			requireCode(t, rep, code, "redirect")
		})
	}
	require.Zero(t, internal.hits.Load(), "no redirect may reach the internal server")
}

// TestHTTPFetchAllowPrivate: with the operator's flag a granted loopback
// server answers, with status, headers and body; metadata and unspecified
// addresses stay closed.
func TestHTTPFetchAllowPrivate(t *testing.T) {
	t.Parallel()
	payload := []byte{0, 1, 2, 0xff, 'h', 'i'}
	srv := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		w.Header().Add("X-Multi", "a")
		w.Header().Add("X-Multi", "b")
		w.Header().Add("Set-Cookie", "a=1")
		w.Header().Add("Set-Cookie", "b=2")
		w.Header().Set("X-Echo-Method", r.Method)
		w.Header().Set("X-Echo-Header", r.Header.Get("X-Custom"))
		w.Header().Set("X-Echo-Body", string(body))
		w.Header().Set("X-Echo-UA", r.Header.Get("User-Agent"))
		w.WriteHeader(http.StatusCreated)
		_, _ = w.Write(payload)
	}))
	cfg := hostfuncs.HTTPConfig{
		Grant:        workflow.HTTPCapability{Hosts: []string{"127.0.0.1", "LAB.test", "169.254.169.254", "0.0.0.0"}},
		AllowPrivate: true,
		Resolver:     mapResolver{"lab.test": {"127.0.0.1"}},
	}
	f := hostfuncs.HTTPFetch(cfg)
	rep, _ := fetch(t, f, map[string]any{
		"method":  "post",
		"url":     srv.URL + "/x",
		"headers": map[string]string{"X-Custom": "v1"},
		"body":    base64.StdEncoding.EncodeToString([]byte("hello")),
	})
	require.Equal(t, payload, requireOK(t, rep, http.StatusCreated))
	require.Equal(t, "a, b", rep.Headers["x-multi"])
	require.Equal(t, "a=1\nb=2", rep.Headers["set-cookie"])
	require.Equal(t, "POST", rep.Headers["x-echo-method"])
	require.Equal(t, "v1", rep.Headers["x-echo-header"])
	require.Equal(t, "hello", rep.Headers["x-echo-body"])
	require.Equal(t, "wasmflow", rep.Headers["x-echo-ua"])
	require.Equal(t, "6", rep.Headers["content-length"])

	rep, _ = fetch(t, f, get("http://lab.test:"+srv.port+"/"))
	requireOK(t, rep, http.StatusCreated)

	rep, _ = fetch(t, f, get("http://169.254.169.254/"))
	requireCode(t, rep, hostfuncs.HTTPCodeSSRFBlocked, "metadata")
	rep, _ = fetch(t, f, get("http://0.0.0.0:"+srv.port+"/"))
	requireCode(t, rep, hostfuncs.HTTPCodeSSRFBlocked, "unspecified")
	// Non-canonical literals are refused even where they would be allowed.
	rep, _ = fetch(t, hostfuncs.HTTPFetch(hostfuncs.HTTPConfig{
		Grant: workflow.HTTPCapability{Hosts: []string{"127.1"}}, AllowPrivate: true,
	}), get("http://127.1:"+srv.port+"/"))
	requireCode(t, rep, hostfuncs.HTTPCodeInvalidRequest, "write it as 127.0.0.1")
	require.EqualValues(t, 2, srv.hits.Load())
}

// TestHTTPFetchHostGrant: exact names and IP literals match case-insensitively;
// "*.domain" matches subdomains only. The resolver fails and the granted IP
// literals are documentation addresses, so an allowed host ends in a network
// error or ssrf_blocked (never in host_not_allowed) and nothing leaves the machine.
func TestHTTPFetchHostGrant(t *testing.T) {
	t.Parallel()
	cfg := hostfuncs.HTTPConfig{
		Grant: workflow.HTTPCapability{Hosts: []string{
			"api.example.com", "*.Slack.com", "Exact.Test.", "[2001:DB8::1]", "192.0.2.1",
		}},
		Resolver: failResolver{},
	}
	for host, allowed := range map[string]bool{
		"api.example.com":        true,
		"API.Example.COM":        true,
		"api.example.com.":       true,
		"example.com":            false,
		"www.example.com":        false,
		"hooks.slack.com":        true,
		"a.b.slack.com":          true,
		"slack.com":              false,
		"evilslack.com":          false,
		"slack.com.evil.test":    false,
		"exact.test":             true,
		"sub.exact.test":         false,
		"[2001:db8::1]":          true, // then refused as documentation: no network
		"[2001:db8:0::1]":        true,
		"[2001:db8::2]":          false,
		"192.0.2.1":              true,
		"192.0.2.2":              false,
		"anything.test":          false,
		"xn--bcher-kva.example":  false,
		"api.example.com.evil.x": false,
	} {
		t.Run(host, func(t *testing.T) {
			rep, _ := fetch(t, hostfuncs.HTTPFetch(cfg), get("http://"+host+"/"))
			if allowed {
				require.NotNil(t, rep.Error)
				require.NotEqual(t, hostfuncs.HTTPCodeHostNotAllowed, rep.Error.Code, rep.Error.Message)
				return
			}
			requireCode(t, rep, hostfuncs.HTTPCodeHostNotAllowed, "not in the node's http grant")
		})
	}
	// The grant is checked before any DNS: a refused name is never resolved.
	var lookups countingResolver
	rep, _ := fetch(t, hostfuncs.HTTPFetch(hostfuncs.HTTPConfig{
		Grant: workflow.HTTPCapability{Hosts: []string{"*.example.com"}}, Resolver: &lookups,
	}), get("http://internal.corp/"))
	requireCode(t, rep, hostfuncs.HTTPCodeHostNotAllowed)
	require.Zero(t, lookups.n.Load())

	// "*" allows every host, and the address policy still applies to each.
	anyHost := hostfuncs.HTTPFetch(hostfuncs.HTTPConfig{Grant: workflow.HTTPCapability{Hosts: []string{"*"}}, Resolver: failResolver{}})
	rep, _ = fetch(t, anyHost, get("http://anything.test/"))
	requireCode(t, rep, hostfuncs.HTTPCodeNetwork)
	rep, _ = fetch(t, anyHost, get("http://127.0.0.1/"))
	requireCode(t, rep, hostfuncs.HTTPCodeSSRFBlocked)
	rep, _ = fetch(t, anyHost, get("http://169.254.169.254/latest/meta-data/"))
	requireCode(t, rep, hostfuncs.HTTPCodeSSRFBlocked)

	// An empty grant allows nothing.
	rep, _ = fetch(t, hostfuncs.HTTPFetch(hostfuncs.HTTPConfig{Resolver: failResolver{}}), get("http://api.example.com/"))
	requireCode(t, rep, hostfuncs.HTTPCodeHostNotAllowed)
}

// TestHTTPFetchMethodGrant: methods outside the grant are refused, also when
// a redirect changes the method.
func TestHTTPFetchMethodGrant(t *testing.T) {
	t.Parallel()
	srv := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/see-other" {
			http.Redirect(w, r, "/done", http.StatusSeeOther) // POST becomes GET
			return
		}
		if r.URL.Path == "/temporary" {
			http.Redirect(w, r, "/done", http.StatusTemporaryRedirect) // POST stays POST, with its body
			return
		}
		body, _ := io.ReadAll(r.Body)
		_, _ = fmt.Fprintf(w, "%s %s", r.Method, body)
	}))
	cfg := hostfuncs.HTTPConfig{
		Grant:        workflow.HTTPCapability{Hosts: []string{"127.0.0.1"}, Methods: []string{"post", "PUT"}},
		AllowPrivate: true,
	}
	f := hostfuncs.HTTPFetch(cfg)
	rep, _ := fetch(t, f, map[string]any{"method": "DELETE", "url": srv.URL})
	requireCode(t, rep, hostfuncs.HTTPCodeMethodNotAllowed, "DELETE")
	rep, _ = fetch(t, f, get(srv.URL)) // GET by default
	requireCode(t, rep, hostfuncs.HTTPCodeMethodNotAllowed, "GET")
	require.Zero(t, srv.hits.Load())

	body := base64.StdEncoding.EncodeToString([]byte("data"))
	rep, _ = fetch(t, f, map[string]any{"method": "Post", "url": srv.URL + "/", "body": body})
	require.Equal(t, "POST data", string(requireOK(t, rep, http.StatusOK)))
	rep, _ = fetch(t, f, map[string]any{"method": "POST", "url": srv.URL + "/temporary", "body": body})
	require.Equal(t, "POST data", string(requireOK(t, rep, http.StatusOK)))
	rep, _ = fetch(t, f, map[string]any{"method": "POST", "url": srv.URL + "/see-other", "body": body})
	requireCode(t, rep, hostfuncs.HTTPCodeMethodNotAllowed, "redirect", "GET")
}

// loopbackCfg grants the test server's loopback address, with private
// addresses open.
func loopbackCfg() hostfuncs.HTTPConfig {
	return hostfuncs.HTTPConfig{Grant: workflow.HTTPCapability{Hosts: []string{"127.0.0.1"}}, AllowPrivate: true}
}

func TestHTTPFetchResponseTooLarge(t *testing.T) {
	t.Parallel()
	srv := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := 1000
		if r.URL.Path != "/exact" {
			n = 1001
		}
		if r.URL.Path == "/chunked" { // no Content-Length: the limit reader must catch it
			w.(http.Flusher).Flush()
		} else {
			w.Header().Set("Content-Length", fmt.Sprint(n))
		}
		_, _ = w.Write([]byte(strings.Repeat("x", n)))
	}))
	cfg := loopbackCfg()
	cfg.MaxResponseBytes = 1000
	f := hostfuncs.HTTPFetch(cfg)
	rep, _ := fetch(t, f, get(srv.URL+"/exact"))
	require.Len(t, requireOK(t, rep, http.StatusOK), 1000)
	rep, _ = fetch(t, f, get(srv.URL+"/declared"))
	requireCode(t, rep, hostfuncs.HTTPCodeResponseTooLarge, "1000")
	rep, _ = fetch(t, f, get(srv.URL+"/chunked"))
	requireCode(t, rep, hostfuncs.HTTPCodeResponseTooLarge, "1000")
}

func TestHTTPFetchTimeout(t *testing.T) {
	t.Parallel()
	srv := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow-body" {
			w.Header().Set("Content-Length", "10")
			_, _ = io.WriteString(w, "12345")
			w.(http.Flusher).Flush()
		}
		select {
		case <-r.Context().Done():
		case <-time.After(10 * time.Second):
		}
	}))
	cfg := loopbackCfg()
	cfg.Timeout = 200 * time.Millisecond
	f := hostfuncs.HTTPFetch(cfg)
	for _, path := range []string{"/slow-headers", "/slow-body"} {
		start := time.Now()
		rep, _ := fetch(t, f, get(srv.URL+path))
		requireCode(t, rep, hostfuncs.HTTPCodeTimeout, "200ms")
		require.Less(t, time.Since(start), 5*time.Second)
	}

	// The run's own context ending is a timeout too, and sends nothing.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	out, err := f.Call(ctx, []byte(`{"url": "`+srv.URL+`"}`))
	require.NoError(t, err)
	require.Contains(t, string(out), `"code":"timeout"`)
	require.EqualValues(t, 2, srv.hits.Load())
}

func TestHTTPFetchRequestCap(t *testing.T) {
	t.Parallel()
	srv := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/hop" {
			http.Redirect(w, r, "/", http.StatusFound)
			return
		}
		_, _ = io.WriteString(w, "ok")
	}))
	cfg := loopbackCfg()
	cfg.MaxRequests = 4
	f := hostfuncs.HTTPFetch(cfg)
	for range 2 {
		rep, _ := fetch(t, f, get(srv.URL))
		requireOK(t, rep, http.StatusOK)
	}
	rep, _ := fetch(t, f, get(srv.URL+"/hop")) // two requests: the 3rd and 4th
	requireOK(t, rep, http.StatusOK)
	for range 3 {
		rep, _ := fetch(t, f, get(srv.URL))
		requireCode(t, rep, hostfuncs.HTTPCodeTooManyRequests, "4")
	}
	require.EqualValues(t, 4, srv.hits.Load())

	// A redirect that would go over the cap is refused before it is sent.
	cfg.MaxRequests = 1
	rep, _ = fetch(t, hostfuncs.HTTPFetch(cfg), get(srv.URL+"/hop"))
	requireCode(t, rep, hostfuncs.HTTPCodeTooManyRequests)
	require.EqualValues(t, 5, srv.hits.Load())

	// The state is per run: a new Func starts again.
	rep, _ = fetch(t, hostfuncs.HTTPFetch(cfg), get(srv.URL))
	requireOK(t, rep, http.StatusOK)

	// Concurrent calls share the cap: exactly MaxRequests get through, and a
	// call refused for the count reads no secret.
	cfg.MaxRequests = 5
	var reads atomic.Int64
	cfg.Secrets = func(context.Context, string) (string, error) { reads.Add(1); return "v", nil }
	f = hostfuncs.HTTPFetch(cfg)
	var ok, refused atomic.Int64
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			out, err := f.Call(context.Background(), []byte(`{"url": "`+srv.URL+`", "headers": {"X": "{{secret:s}}"}}`))
			if err == nil && strings.Contains(string(out), `"status":200`) {
				ok.Add(1)
			} else if err == nil && strings.Contains(string(out), `"too_many_requests"`) {
				refused.Add(1)
			}
		})
	}
	wg.Wait()
	require.EqualValues(t, 5, ok.Load())
	require.EqualValues(t, 15, refused.Load())
	require.LessOrEqual(t, reads.Load(), int64(20))
	rep, _ = fetch(t, f, map[string]any{"url": srv.URL, "headers": map[string]string{"X": "{{secret:s}}"}})
	requireCode(t, rep, hostfuncs.HTTPCodeTooManyRequests)
	before := reads.Load()
	fetch(t, f, map[string]any{"url": srv.URL, "headers": map[string]string{"X": "{{secret:s}}"}})
	require.Equal(t, before, reads.Load(), "no secret read once the cap is reached")
}

func TestHTTPFetchTooManyRedirects(t *testing.T) {
	t.Parallel()
	srv := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/loop", http.StatusFound)
	}))
	cfg := loopbackCfg()
	cfg.MaxRedirects = 2
	rep, _ := fetch(t, hostfuncs.HTTPFetch(cfg), get(srv.URL+"/loop"))
	requireCode(t, rep, hostfuncs.HTTPCodeNetwork, "stopped after 2 redirects")
	require.EqualValues(t, 3, srv.hits.Load())

	// Negative: redirects are handed to the guest, not followed.
	cfg.MaxRedirects = -1
	rep, _ = fetch(t, hostfuncs.HTTPFetch(cfg), get(srv.URL+"/loop"))
	requireOK(t, rep, http.StatusFound)
	require.Equal(t, "/loop", rep.Headers["location"])
	require.EqualValues(t, 4, srv.hits.Load())
}

func TestHTTPFetchInvalidRequest(t *testing.T) {
	t.Parallel()
	srv := newServer(t, http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	cfg := loopbackCfg()
	cfg.Grant.Hosts = append(cfg.Grant.Hosts, "foo.123", "exämple.com", "fe80::1", "host")
	cfg.MaxRequestBytes = 10
	u := srv.URL
	for name, in := range map[string]string{
		"NotJSON":        `{"url": `,
		"Empty":          ``,
		"Array":          `[]`,
		"Null":           `null`,
		"URLNotString":   `{"url": 5}`,
		"HeaderList":     `{"url": "` + u + `", "headers": {"a": ["b"]}}`,
		"UnknownField":   `{"url": "` + u + `", "header": {}}`,
		"TrailingData":   `{"url": "` + u + `"} {}`,
		"NoURL":          `{"method": "GET"}`,
		"FTP":            `{"url": "ftp://127.0.0.1/x"}`,
		"File":           `{"url": "file:///etc/passwd"}`,
		"Gopher":         `{"url": "gopher://127.0.0.1:70/_x"}`,
		"JavaScript":     `{"url": "javascript:alert(1)"}`,
		"Relative":       `{"url": "/path"}`,
		"Opaque":         `{"url": "http:127.0.0.1"}`,
		"UserInfo":       `{"url": "http://user:pass@127.0.0.1/"}`,
		"UserOnly":       `{"url": "http://user@127.0.0.1/"}`,
		"BadURL":         `{"url": "http://[::1/"}`,
		"PortZero":       `{"url": "http://127.0.0.1:0/"}`,
		"PortTooBig":     `{"url": "http://127.0.0.1:70000/"}`,
		"EndsInNumber":   `{"url": "http://foo.123/"}`,
		"NonASCIIHost":   `{"url": "http://exämple.com/"}`,
		"ZonedIPv6":      `{"url": "http://[fe80::1%25eth0]/"}`,
		"BadBase64":      `{"url": "` + u + `", "body": "not base64!"}`,
		"BodyTooLarge":   `{"url": "` + u + `", "body": "` + base64.StdEncoding.EncodeToString(make([]byte, 11)) + `"}`,
		"BadMethod":      `{"method": "G ET", "url": "` + u + `"}`,
		"BadHeaderName":  `{"url": "` + u + `", "headers": {"a b": "c"}}`,
		"HeaderCRLF":     `{"url": "` + u + `", "headers": {"a": "b\r\nX-Injected: 1"}}`,
		"HeaderNUL":      `{"url": "` + u + `", "headers": {"a": "b\u0000"}}`,
		"HostHeader":     `{"url": "` + u + `", "headers": {"Host": "internal"}}`,
		"TransferEncode": `{"url": "` + u + `", "headers": {"transfer-encoding": "chunked"}}`,
		"ContentLength":  `{"url": "` + u + `", "headers": {"Content-Length": "5"}}`,
	} {
		t.Run(name, func(t *testing.T) {
			rep, _ := fetch(t, hostfuncs.HTTPFetch(cfg), in)
			requireCode(t, rep, hostfuncs.HTTPCodeInvalidRequest)
		})
	}
	require.Zero(t, srv.hits.Load())
}

// TestHTTPFetchSecrets: {{secret:NAME}} in a header value reaches the server
// with the value; neither replies nor error messages ever hold it.
func TestHTTPFetchSecrets(t *testing.T) {
	t.Parallel()
	const token, other = "s3cr3t-t0ken-value", "0ther-s3cret"
	var mu sync.Mutex
	seen := map[string]http.Header{}
	srv := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen[r.Host+r.URL.Path] = r.Header.Clone()
		mu.Unlock()
		switch r.URL.Path {
		case "/same-host":
			http.Redirect(w, r, "/landed", http.StatusFound)
		case "/other-host":
			http.Redirect(w, r, "http://other.test:"+r.URL.Query().Get("port")+"/landed", http.StatusFound)
		default:
			_, _ = io.WriteString(w, "ok")
		}
	}))
	var lookups atomic.Int64
	cfg := hostfuncs.HTTPConfig{
		Grant:        workflow.HTTPCapability{Hosts: []string{"api.test", "other.test"}},
		AllowPrivate: true,
		Resolver:     mapResolver{"api.test": {"127.0.0.1"}, "other.test": {"127.0.0.1"}},
		Secrets: func(_ context.Context, name string) (string, error) {
			lookups.Add(1)
			switch name {
			case "api_token":
				return token, nil
			case "other":
				return other, nil
			case "multiline":
				return "a\r\nX-Evil: 1", nil
			}
			return "", fmt.Errorf("vault refused %s: the value was %s", name, token)
		},
	}
	base := "http://api.test:" + srv.port
	f := hostfuncs.HTTPFetch(cfg)
	rep, out := fetch(t, f, map[string]any{"url": base + "/direct", "headers": map[string]string{
		"Authorization": "Bearer {{secret:api_token}}",
		"X-Pair":        "{{ secret:api_token }}:{{secret:other}}:{{secret:api_token}}",
		"X-Plain":       "{{not a secret}}",
	}})
	requireOK(t, rep, http.StatusOK)
	require.NotContains(t, string(out), token)
	require.EqualValues(t, 2, lookups.Load(), "each secret is read once per call")
	mu.Lock()
	h := seen["api.test:"+srv.port+"/direct"]
	mu.Unlock()
	require.Equal(t, "Bearer "+token, h.Get("Authorization"))
	require.Equal(t, token+":"+other+":"+token, h.Get("X-Pair"))
	require.Equal(t, "{{not a secret}}", h.Get("X-Plain"))

	// Refusals are replies that name the secret and never hold a value, not
	// even one the hook's error text carried.
	for name, hdr := range map[string]string{"unknown": "{{secret:nope}}", "multiline": "{{secret:multiline}}"} {
		t.Run(name, func(t *testing.T) {
			rep, out := fetch(t, f, map[string]any{"url": base + "/refused", "headers": map[string]string{"X-Key": hdr}})
			require.NotNil(t, rep.Error)
			require.NotContains(t, string(out), token)
			require.NotContains(t, string(out), "X-Evil")
			if name == "unknown" {
				requireCode(t, rep, hostfuncs.HTTPCodeSecretNotGranted, `"nope"`)
			} else {
				requireCode(t, rep, hostfuncs.HTTPCodeInvalidRequest, "X-Key")
			}
		})
	}
	rep, _ = fetch(t, hostfuncs.HTTPFetch(hostfuncs.HTTPConfig{
		Grant: cfg.Grant, AllowPrivate: true, Resolver: cfg.Resolver,
	}), map[string]any{"url": base + "/refused", "headers": map[string]string{"X-Key": "{{secret:api_token}}"}})
	requireCode(t, rep, hostfuncs.HTTPCodeSecretNotGranted, "api_token")

	// A redirect on the same host keeps the secret headers; one to another
	// host drops them.
	headers := map[string]string{"X-Api-Key": "{{secret:api_token}}", "X-Other": "kept"}
	rep, out = fetch(t, f, map[string]any{"url": base + "/same-host", "headers": headers})
	requireOK(t, rep, http.StatusOK)
	require.NotContains(t, string(out), token)
	rep, out = fetch(t, f, map[string]any{"url": base + "/other-host?port=" + srv.port, "headers": headers})
	requireOK(t, rep, http.StatusOK)
	require.NotContains(t, string(out), token)
	mu.Lock()
	defer mu.Unlock()
	require.Equal(t, token, seen["api.test:"+srv.port+"/landed"].Get("X-Api-Key"))
	require.Equal(t, token, seen["api.test:"+srv.port+"/other-host"].Get("X-Api-Key"))
	landed := seen["other.test:"+srv.port+"/landed"]
	require.NotNil(t, landed)
	require.Empty(t, landed.Get("X-Api-Key"))
	require.Equal(t, "kept", landed.Get("X-Other"))
	require.Zero(t, srv.hits.Load()-int64(len(seen)))
}

// TestHTTPFetchObserve: one record per call, with what the call did.
func TestHTTPFetchObserve(t *testing.T) {
	t.Parallel()
	srv := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/hop" {
			http.Redirect(w, r, "http://second.test:"+r.URL.Query().Get("port")+"/", http.StatusFound)
			return
		}
		_, _ = io.ReadAll(r.Body)
		w.WriteHeader(http.StatusAccepted)
		_, _ = io.WriteString(w, "twelve bytes")
	}))
	var mu sync.Mutex
	var recs []hostfuncs.HTTPRequestRecord
	cfg := hostfuncs.HTTPConfig{
		Grant:        workflow.HTTPCapability{Hosts: []string{"first.test", "second.test", "169.254.169.254"}},
		AllowPrivate: true,
		Resolver:     mapResolver{"first.test": {"127.0.0.1"}, "second.test": {"127.0.0.1"}},
		Observe: func(r hostfuncs.HTTPRequestRecord) {
			mu.Lock()
			defer mu.Unlock()
			recs = append(recs, r)
		},
	}
	f := hostfuncs.HTTPFetch(cfg)
	base := "http://First.Test:" + srv.port
	fetch(t, f, map[string]any{"method": "put", "url": base + "/", "body": base64.StdEncoding.EncodeToString([]byte("12345"))})
	fetch(t, f, get(base+"/hop?port="+srv.port))
	fetch(t, f, get("http://nowhere.test/"))
	fetch(t, f, get("http://169.254.169.254/"))
	fetch(t, f, `{"url"`)

	mu.Lock()
	defer mu.Unlock()
	require.Len(t, recs, 5)
	for _, r := range recs {
		require.Positive(t, r.Duration)
	}
	r := recs[0]
	r.Duration = 0
	require.Equal(t, hostfuncs.HTTPRequestRecord{
		Method: "PUT", Host: "first.test", FinalHost: "first.test", Status: http.StatusAccepted, BytesOut: 5, BytesIn: 12,
	}, r)
	r = recs[1]
	r.Duration = 0
	require.Equal(t, hostfuncs.HTTPRequestRecord{
		Method: "GET", Host: "first.test", FinalHost: "second.test", Redirects: 1, Status: http.StatusAccepted, BytesIn: 12,
	}, r)
	require.Equal(t, hostfuncs.HTTPCodeHostNotAllowed, recs[2].Code)
	require.Equal(t, "nowhere.test", recs[2].Host)
	require.Zero(t, recs[2].Status)
	require.Equal(t, hostfuncs.HTTPCodeSSRFBlocked, recs[3].Code)
	require.Equal(t, hostfuncs.HTTPCodeInvalidRequest, recs[4].Code)
	require.Empty(t, recs[4].Method)
}

// TestAddrBlocked: the address policy, address by address.
func TestAddrBlocked(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		addr         string
		blocked      bool
		blockedLab   bool // with AllowPrivate
		reasonSubstr string
	}{
		{"8.8.8.8", false, false, ""},
		{"93.184.216.34", false, false, ""},
		{"2606:4700:4700::1111", false, false, ""},
		{"::ffff:8.8.8.8", false, false, ""},
		{"64:ff9b::808:808", false, false, ""},
		{"2002:808:808::1", false, false, ""},
		{"127.0.0.1", true, false, "loopback"},
		{"127.255.255.254", true, false, "loopback"},
		{"10.255.0.1", true, false, "RFC 1918"},
		{"172.31.255.255", true, false, "RFC 1918"},
		{"192.168.0.1", true, false, "RFC 1918"},
		{"100.64.0.1", true, false, "CGNAT"},
		{"100.127.255.255", true, false, "CGNAT"},
		{"169.254.1.1", true, false, "link-local"},
		{"169.254.169.254", true, true, "metadata"},
		{"100.100.100.200", true, true, "metadata"},
		{"fd00:ec2::254", true, true, "metadata"},
		{"::ffff:169.254.169.254", true, true, "IPv4-mapped IPv6 form of cloud metadata"},
		{"0.0.0.0", true, true, "unspecified"},
		{"0.1.2.3", true, true, "unspecified"},
		{"::", true, true, "unspecified"},
		{"::1", true, false, "loopback"},
		{"::ffff:127.0.0.1", true, false, "IPv4-mapped"},
		{"::ffff:10.0.0.1", true, false, "IPv4-mapped"},
		{"::127.0.0.1", true, true, "IPv4-compatible"},
		{"64:ff9b::a00:1", true, false, "NAT64"},
		{"2002:7f00:1::", true, false, "6to4"},
		{"2001:0:4136:e378::1", true, false, "Teredo"},
		{"fe80::1", true, false, "link-local"},
		{"fec0::1", true, false, "site-local"},
		{"fc00::1", true, false, "unique local"},
		{"fdff::1", true, false, "unique local"},
		{"ff02::1", true, true, "multicast"},
		{"224.0.0.251", true, true, "multicast"},
		{"239.255.255.250", true, true, "multicast"},
		{"255.255.255.255", true, true, "broadcast"},
		{"240.0.0.1", true, true, "reserved"},
		{"192.0.2.10", true, false, "TEST-NET-1"},
		{"198.51.100.10", true, false, "TEST-NET-2"},
		{"203.0.113.10", true, false, "TEST-NET-3"},
		{"198.18.0.1", true, false, "benchmarking"},
		{"198.19.255.255", true, false, "benchmarking"},
		{"2001:db8::1", true, false, "documentation"},
		{"3fff::1", true, false, "documentation"},
		{"100::1", true, false, "discard"},
		{"192.0.0.8", true, false, "IETF"},
		{"fe80::1%eth0", true, true, "scoped"},
	} {
		t.Run(tc.addr, func(t *testing.T) {
			a := netip.MustParseAddr(tc.addr)
			reason := hostfuncs.AddrBlocked(a, false)
			require.Equal(t, tc.blocked, reason != "", "reason %q", reason)
			require.Contains(t, reason, tc.reasonSubstr)
			require.Equal(t, tc.blockedLab, hostfuncs.AddrBlocked(a, true) != "")
		})
	}
}

func TestParseLegacyIPv4(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"127.1":                "127.0.0.1",
		"127.0.1":              "127.0.0.1",
		"2130706433":           "127.0.0.1",
		"0x7f000001":           "127.0.0.1",
		"0X7F.1":               "127.0.0.1",
		"0177.0.0.1":           "127.0.0.1",
		"017700000001":         "127.0.0.1",
		"0":                    "0.0.0.0",
		"0x":                   "0.0.0.0",
		"10.0x10.1":            "10.16.0.1",
		"4294967295":           "255.255.255.255",
		"4294967296":           "",
		"256.0.0.1":            "",
		"1.2.3.4.5":            "",
		"1.2.65536":            "",
		"08":                   "",
		"0x1g":                 "",
		"1..2":                 "",
		"":                     "",
		"+1":                   "",
		"1_000":                "",
		"abc":                  "",
		"99999999999999999999": "",
	} {
		t.Run(in, func(t *testing.T) {
			a, ok := hostfuncs.ParseLegacyIPv4(in)
			if want == "" {
				require.False(t, ok, "got %s", a)
				return
			}
			require.True(t, ok)
			require.Equal(t, want, a.String())
		})
	}
}

// TestDialControl: the socket-level check refuses internal addresses whatever
// the resolver said, and lets the test hook's exact address:port through.
func TestDialControl(t *testing.T) {
	t.Parallel()
	var cfg hostfuncs.HTTPConfig
	cfg.AllowAddrs = append(cfg.AllowAddrs, netip.MustParseAddrPort("127.0.0.1:8080"))
	for addr, ok := range map[string]bool{
		"93.184.216.34:443":       true,
		"[2606:4700::1111]:443":   true,
		"127.0.0.1:8080":          true,
		"127.0.0.1:8081":          false,
		"[::ffff:127.0.0.1]:8081": false,
		"[::1]:8080":              false,
		"169.254.169.254:80":      false,
		"10.0.0.1:80":             false,
		"not-an-address":          false,
		"[fe80::1%eth0]:80":       false,
	} {
		err := hostfuncs.DialControl(cfg, addr)
		if ok {
			require.NoError(t, err, addr)
			continue
		}
		require.Error(t, err, addr)
		require.Contains(t, err.Error(), hostfuncs.HTTPCodeSSRFBlocked)
	}
}

// TestHTTPFetchNoGoError: Call reports every failure in the reply.
func TestHTTPFetchNoGoError(t *testing.T) {
	t.Parallel()
	f := hostfuncs.HTTPFetch(hostfuncs.HTTPConfig{Resolver: failResolver{}, Grant: workflow.HTTPCapability{Hosts: []string{"x.test"}}})
	require.Equal(t, hostfuncs.HTTPFetchName, f.Name)
	for _, in := range [][]byte{nil, []byte("{}"), []byte(`{"url":"http://x.test/"}`)} {
		out, err := f.Call(context.Background(), in)
		require.NoError(t, err)
		require.True(t, json.Valid(out))
	}
	rep, _ := fetch(t, f, get("http://x.test/"))
	requireCode(t, rep, hostfuncs.HTTPCodeNetwork, "x.test")
}

// FuzzHTTPFetchInput throws arbitrary bytes at Call: it never panics and
// always answers valid JSON, without ever reaching the network (the resolver
// fails and the grant holds names only).
func FuzzHTTPFetchInput(f *testing.F) {
	for _, seed := range []string{
		``, `{}`, `null`, `[]`, `"x"`, `{"url": 1}`,
		`{"method": "GET", "url": "http://example.com/", "headers": {"a": "b"}, "body": ""}`,
		`{"method": "POST", "url": "https://api.example.org/x?y=1", "body": "aGVsbG8="}`,
		`{"url": "http://127.1/"}`, `{"url": "http://[::ffff:127.0.0.1]/"}`, `{"url": "http://0x7f000001/"}`,
		`{"url": "http://a.example.org/", "headers": {"Authorization": "{{secret:tok}}"}}`,
		`{"url": "http://a.example.org/", "headers": {"X": "{{secret:}}{{secret:a}}"}}`,
		`{"url": "http://user@example.com/"}`, `{"url": "ftp://example.com/"}`,
		`{"url": "http://example.com:99999/"}`, `{"url": "http://[fe80::1%25x]/"}`,
		`{"url": "http://example.com/", "body": "%%%"}`, `{"url": "http://例え.example.org/"}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		fn := hostfuncs.HTTPFetch(hostfuncs.HTTPConfig{
			Grant:    workflow.HTTPCapability{Hosts: []string{"example.com", "*.example.org"}},
			Resolver: failResolver{},
			Secrets: func(_ context.Context, name string) (string, error) {
				if name == "tok" {
					return "value", nil
				}
				return "", errors.New("no")
			},
			Timeout:     time.Second,
			MaxRequests: 3,
		})
		out, err := fn.Call(context.Background(), in)
		if err != nil {
			t.Fatalf("Call returned an error: %v", err)
		}
		if !json.Valid(out) {
			t.Fatalf("invalid JSON reply %q", out)
		}
		var rep reply
		if err := json.Unmarshal(out, &rep); err != nil {
			t.Fatalf("reply does not decode: %v", err)
		}
		if rep.Error == nil || rep.Error.Code == "" {
			t.Fatalf("no network, yet no error reply: %s", out)
		}
	})
}

// roundTripFunc answers requests without a network.
type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// TestHTTPFetchTransport: a Transport answers instead of the network, every
// redirect hop included, while the checks before the network still apply:
// the grant, IP literals, the response cap; and nothing is resolved.
func TestHTTPFetchTransport(t *testing.T) {
	t.Parallel()
	var seen []string
	var mu sync.Mutex
	transport := roundTripFunc(func(r *http.Request) (*http.Response, error) {
		mu.Lock()
		seen = append(seen, r.Method+" "+r.URL.String())
		mu.Unlock()
		switch r.URL.Path {
		case "/moved":
			return &http.Response{StatusCode: http.StatusFound, Header: http.Header{"Location": {"https://api.example.com/here"}},
				Body: http.NoBody, Request: r}, nil
		case "/outside":
			return &http.Response{StatusCode: http.StatusFound, Header: http.Header{"Location": {"https://evil.example.net/"}},
				Body: http.NoBody, Request: r}, nil
		case "/big":
			return &http.Response{StatusCode: http.StatusOK, Body: io.NopCloser(strings.NewReader(strings.Repeat("x", 100))), Request: r}, nil
		case "/fail":
			return nil, errors.New("no recorded fixture for GET https://api.example.com/fail")
		}
		return &http.Response{StatusCode: http.StatusOK, Header: http.Header{"Content-Type": {"text/plain"}},
			Body: io.NopCloser(strings.NewReader("hi " + r.URL.Path)), Request: r}, nil
	})
	resolver := &countingResolver{}
	f := hostfuncs.HTTPFetch(hostfuncs.HTTPConfig{
		Grant:     workflow.HTTPCapability{Hosts: []string{"api.example.com", "127.0.0.1"}},
		Transport: transport, Resolver: resolver, MaxResponseBytes: 50,
	})

	rep, _ := fetch(t, f, get("https://api.example.com/a"))
	require.Equal(t, "hi /a", string(requireOK(t, rep, http.StatusOK)))
	require.Equal(t, "text/plain", rep.Headers["content-type"])

	rep, _ = fetch(t, f, get("https://api.example.com/moved"))
	require.Equal(t, "hi /here", string(requireOK(t, rep, http.StatusOK)))

	rep, _ = fetch(t, f, get("https://api.example.com/outside"))
	requireCode(t, rep, hostfuncs.HTTPCodeHostNotAllowed, "evil.example.net")

	rep, _ = fetch(t, f, get("https://other.example.com/"))
	requireCode(t, rep, hostfuncs.HTTPCodeHostNotAllowed)

	rep, _ = fetch(t, f, get("http://127.0.0.1/"))
	requireCode(t, rep, hostfuncs.HTTPCodeSSRFBlocked)

	rep, _ = fetch(t, f, get("https://api.example.com/big"))
	requireCode(t, rep, hostfuncs.HTTPCodeResponseTooLarge)

	rep, _ = fetch(t, f, get("https://api.example.com/fail"))
	requireCode(t, rep, hostfuncs.HTTPCodeNetwork, "no recorded fixture for GET https://api.example.com/fail")

	require.Zero(t, resolver.n.Load())
	require.Equal(t, []string{
		"GET https://api.example.com/a", "GET https://api.example.com/moved", "GET https://api.example.com/here",
		"GET https://api.example.com/outside", "GET https://api.example.com/big", "GET https://api.example.com/fail",
	}, seen)
}
