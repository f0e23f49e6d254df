package hostfuncs

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/wasmflow/wasmflow/workflow"
)

// HTTPFetchName is the import name of the HTTP host function in extism:host/user.
const HTTPFetchName = "wasmflow_http_fetch"

// Defaults for the zero fields of [HTTPConfig].
const (
	DefaultHTTPTimeout          = 30 * time.Second
	DefaultHTTPMaxResponseBytes = 10 << 20
	DefaultHTTPMaxRequestBytes  = 10 << 20
	DefaultHTTPMaxRequests      = 50
	DefaultHTTPMaxRedirects     = 5
)

// Error codes of a wasmflow_http_fetch error reply (DESIGN §4).
const (
	// HTTPCodeInvalidRequest: the input is not a valid request (JSON, method,
	// URL, scheme, header, base64 body, body size) or a redirect points at one.
	HTTPCodeInvalidRequest = "invalid_request"
	// HTTPCodeHostNotAllowed: the host (of the request or of a redirect) is not in the grant.
	HTTPCodeHostNotAllowed = "host_not_allowed"
	// HTTPCodeMethodNotAllowed: the method (of the request or of a redirect) is not in the grant.
	HTTPCodeMethodNotAllowed = "method_not_allowed"
	// HTTPCodeSSRFBlocked: the host is, or resolves to, an address requests may not reach.
	HTTPCodeSSRFBlocked = "ssrf_blocked"
	// HTTPCodeTooManyRequests: the run has used up its requests (every redirect hop counts).
	HTTPCodeTooManyRequests = "too_many_requests"
	// HTTPCodeResponseTooLarge: the response body is over the byte cap.
	HTTPCodeResponseTooLarge = "response_too_large"
	// HTTPCodeTimeout: no complete response within the per-request timeout, or the run ended.
	HTTPCodeTimeout = "timeout"
	// HTTPCodeNetwork: anything else between the host and the server (DNS,
	// connection, TLS, protocol, too many redirects).
	HTTPCodeNetwork = "network"
	// HTTPCodeSecretNotGranted: a header names a {{secret:NAME}} the run may not read.
	HTTPCodeSecretNotGranted = "secret_not_granted"
)

// NetResolver resolves host names to addresses; *net.Resolver is one.
type NetResolver interface {
	LookupIPAddr(ctx context.Context, host string) ([]net.IPAddr, error)
}

// HTTPConfig configures the wasmflow_http_fetch function of one node run.
// Zero numeric fields take the Default* values.
type HTTPConfig struct {
	// Grant lists the hosts (exact names or IP literals, case-insensitive,
	// "*.domain" matching every subdomain of domain but not domain itself, or
	// "*" matching every host; any port; the address policy applies to all) and the methods (all when empty) the run may use: the manifest's
	// http capability as the tenant granted it.
	Grant workflow.HTTPCapability
	// Timeout bounds one call: connect, redirects, headers and body.
	Timeout time.Duration
	// MaxResponseBytes caps the response body of one call.
	MaxResponseBytes int64
	// MaxRequestBytes caps the (decoded) request body of one call.
	MaxRequestBytes int64
	// MaxRequests caps the requests sent in the run; every redirect hop counts.
	MaxRequests int
	// MaxRedirects caps the redirects followed by one call. Negative: none is
	// followed, the 3xx response itself is the reply.
	MaxRedirects int
	// AllowPrivate (the operator's --http-allow-private) lets requests reach
	// loopback, private, link-local, CGNAT, documentation and other
	// non-public unicast addresses, still only for granted hosts. Unspecified,
	// multicast, broadcast, reserved and cloud metadata addresses stay closed.
	AllowPrivate bool
	// Resolver resolves host names at dial time; nil means net.DefaultResolver.
	Resolver NetResolver
	// Secrets returns the value of the secret name for a "{{secret:NAME}}"
	// placeholder in a request header value. nil, or an error, refuses the
	// request with secret_not_granted; the error text is not shown to the guest.
	Secrets func(ctx context.Context, name string) (string, error)
	// Observe, when set, is called once per call of the function, after it
	// finished, with what the call did (for the node run's record and the
	// audit log). It never sees header values or bodies.
	Observe func(HTTPRequestRecord)

	// AllowAddrs lets exactly these address:port pairs through the address
	// policy (the operator's --http-allow-addr): one internal service the
	// nodes may reach, still only for granted hosts, without opening every
	// private address as AllowPrivate does.
	AllowAddrs []netip.AddrPort

	// Transport, when set, answers every request (redirect hops included)
	// instead of the network: `wasmflow node test` answers from recorded
	// fixtures. Every check before the network still applies (input, grant,
	// IP literals, request count, secrets, redirects, the response cap); the
	// dial-time address checks do not, as nothing is dialed. Nil: the
	// function's own transport, which dials with those checks.
	Transport http.RoundTripper
}

// HTTPRequestRecord describes one call of wasmflow_http_fetch.
type HTTPRequestRecord struct {
	// Method is the request method (upper case), empty when the input did not parse.
	Method string
	// Host is the host the guest asked for (lower case, no port), empty when
	// the input did not parse.
	Host string
	// FinalHost is the host of the last request sent: Host unless redirects were followed.
	FinalHost string
	// Redirects counts the redirects followed.
	Redirects int
	// Status is the final HTTP status, 0 when no response arrived.
	Status int
	// BytesOut is the size of the request body; BytesIn the size of the response body read.
	BytesOut, BytesIn int64
	// Duration is the time the call took.
	Duration time.Duration
	// Code is the error code of the reply, empty when it carries a response
	// ("internal" when the function panicked and failed the run).
	Code string
}

// HTTPFetch returns the wasmflow_http_fetch host function of one node run.
// The function holds the run's state (its own transport, which keeps no
// connection between calls and takes no proxy from the environment, and the
// request count): make a new one for every run, never share one between runs
// or tenants.
//
// Input (JSON):
//
//	{"method": "GET", "url": "https://…", "headers": {"k": "v"}, "body": "<base64>"}
//
// method defaults to GET and is upper-cased; url must be absolute http or
// https without user info; header values may contain {{secret:NAME}}, replaced
// by the host after all checks, so the guest never sees the value; the
// transport-managed headers Host, Content-Length, Transfer-Encoding,
// Connection, Keep-Alive, Proxy-Connection, TE, Trailer and Upgrade are
// refused; body is standard base64 (with padding). Unknown fields are refused.
//
// Reply (JSON), for every HTTP status:
//
//	{"status": 200, "headers": {"content-type": "text/plain"}, "body": "<base64>"}
//
// Response header names are lower case; a header sent several times has its
// values joined with ", " (Set-Cookie, which cannot be joined so, with "\n").
// When the host refuses or the request fails the reply is instead
//
//	{"error": {"code": "ssrf_blocked", "message": "…"}}
//
// with one of the HTTPCode* codes. Call returns a Go error (failing the run)
// only if the function itself panicked, which is a bug; every refusal and
// failure the guest might handle, a refused secret included, is a reply.
// Error messages never contain secret values.
//
// Checks, in order: input syntax, host against the grant (before any DNS),
// method against the grant, IP literals against the address policy, the
// run's request count (before secrets are read), secrets. At dial time every resolved address is checked
// again (and once more in the socket's Control hook), so a name that resolves
// to an internal address, now or after a DNS change, is refused. Every
// redirect is checked like a new request and counts against MaxRequests;
// headers that carried secrets are dropped when a redirect leaves the host or
// downgrades https to http.
func HTTPFetch(cfg HTTPConfig) Func {
	r := newHTTPRun(cfg)
	return Func{Name: HTTPFetchName, Call: r.call}
}

// httpRun is the state of wasmflow_http_fetch for one node run.
type httpRun struct {
	cfg       HTTPConfig
	methods   []string // upper case; empty allows all
	resolver  NetResolver
	dialer    *net.Dialer
	transport *http.Transport

	mu   sync.Mutex
	sent int // requests sent (or about to be) in this run
}

func newHTTPRun(cfg HTTPConfig) *httpRun {
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultHTTPTimeout
	}
	if cfg.MaxResponseBytes <= 0 {
		cfg.MaxResponseBytes = DefaultHTTPMaxResponseBytes
	}
	if cfg.MaxRequestBytes <= 0 {
		cfg.MaxRequestBytes = DefaultHTTPMaxRequestBytes
	}
	if cfg.MaxRequests <= 0 {
		cfg.MaxRequests = DefaultHTTPMaxRequests
	}
	if cfg.MaxRedirects == 0 {
		cfg.MaxRedirects = DefaultHTTPMaxRedirects
	}
	r := &httpRun{cfg: cfg, resolver: cfg.Resolver}
	if r.resolver == nil {
		r.resolver = net.DefaultResolver
	}
	for _, m := range cfg.Grant.Methods {
		r.methods = append(r.methods, strings.ToUpper(strings.TrimSpace(m)))
	}
	r.dialer = &net.Dialer{Timeout: cfg.Timeout, Control: r.control}
	r.transport = &http.Transport{
		Proxy:                  nil, // never a proxy from the environment
		DialContext:            r.dialContext,
		TLSClientConfig:        &tls.Config{MinVersion: tls.VersionTLS12},
		TLSHandshakeTimeout:    cfg.Timeout,
		DisableKeepAlives:      true, // nothing outlives the call, no pool to close at the end of the run
		DisableCompression:     true, // the guest gets the bytes the server sent
		MaxResponseHeaderBytes: 256 << 10,
	}
	return r
}

// fetchError is a refusal or failure that becomes an error reply.
type fetchError struct {
	code, msg string
}

func (e *fetchError) Error() string { return e.code + ": " + e.msg }

func failf(code, format string, args ...any) *fetchError {
	return &fetchError{code: code, msg: fmt.Sprintf(format, args...)}
}

// call is Func.Call: it never returns an error but for a recovered panic.
func (r *httpRun) call(ctx context.Context, in []byte) (out []byte, err error) {
	start := time.Now()
	var rec HTTPRequestRecord
	defer func() {
		if p := recover(); p != nil {
			out, err = nil, fmt.Errorf("%s: internal error: %v", HTTPFetchName, p)
			rec.Code = "internal"
		}
		rec.Duration = time.Since(start)
		if r.cfg.Observe != nil {
			r.cfg.Observe(rec)
		}
	}()
	reply, ferr := r.fetch(ctx, in, &rec)
	if ferr != nil {
		rec.Code = ferr.code
		return encodeErrorReply(ferr), nil
	}
	return reply, nil
}

// fetchInput is the guest's request.
type fetchInput struct {
	Method  string            `json:"method"`
	URL     string            `json:"url"`
	Headers map[string]string `json:"headers"`
	Body    string            `json:"body"`
}

// fetchReply is the reply for a response.
type fetchReply struct {
	Status  int               `json:"status"`
	Headers map[string]string `json:"headers"`
	Body    string            `json:"body"`
}

type errorReply struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

func encodeErrorReply(e *fetchError) []byte {
	var rep errorReply
	rep.Error.Code, rep.Error.Message = e.code, e.msg
	b, err := json.Marshal(rep)
	if err != nil { // strings only: cannot happen
		return []byte(`{"error":{"code":"` + e.code + `","message":"unencodable message"}}`)
	}
	return b
}

// fetch checks and sends one request, filling rec as it goes.
func (r *httpRun) fetch(ctx context.Context, in []byte, rec *HTTPRequestRecord) ([]byte, *fetchError) {
	input, body, method, tgt, ferr := r.decode(in)
	if ferr != nil {
		return nil, ferr
	}
	rec.Method, rec.Host, rec.FinalHost, rec.BytesOut = method, tgt.host, tgt.host, int64(len(body))
	if ferr := r.checkTarget(tgt, method); ferr != nil {
		return nil, ferr
	}
	if err := ctx.Err(); err != nil {
		return nil, failf(HTTPCodeTimeout, "the node run ended: %v", err)
	}
	if r.exhausted() { // before reading secrets: a read that is never used would still be audited
		return nil, r.tooMany()
	}
	header, secretHeaders, ferr := r.buildHeader(ctx, input.Headers)
	if ferr != nil {
		return nil, ferr
	}
	if !r.take() {
		return nil, r.tooMany()
	}

	reqCtx, cancel := context.WithTimeout(ctx, r.cfg.Timeout)
	defer cancel()
	var bodyReader io.Reader
	if len(body) > 0 {
		bodyReader = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(reqCtx, method, tgt.url.String(), bodyReader)
	if err != nil {
		return nil, failf(HTTPCodeInvalidRequest, "request: %v", err)
	}
	req.Header = header
	if req.Header.Get("User-Agent") == "" {
		req.Header.Set("User-Agent", "wasmflow")
	}
	var transport http.RoundTripper = r.transport
	if r.cfg.Transport != nil {
		transport = r.cfg.Transport
	}
	client := &http.Client{
		Transport:     transport,
		CheckRedirect: r.checkRedirect(tgt, secretHeaders, rec),
	}
	resp, err := client.Do(req)
	if err != nil {
		ferr := r.classify(ctx, reqCtx, err)
		if rec.Redirects > 0 && !strings.Contains(ferr.msg, "redirect") {
			ferr = failf(ferr.code, "after a redirect to %s: %s", rec.FinalHost, ferr.msg)
		}
		return nil, ferr
	}
	defer func() { _ = resp.Body.Close() }() // read-only: nothing to learn from the close
	rec.Status = resp.StatusCode
	limit := r.cfg.MaxResponseBytes
	if resp.ContentLength > limit {
		return nil, failf(HTTPCodeResponseTooLarge, "the response body has %d bytes, over the cap of %d", resp.ContentLength, limit)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	rec.BytesIn = int64(len(data))
	if int64(len(data)) > limit {
		return nil, failf(HTTPCodeResponseTooLarge, "the response body is over the cap of %d bytes", limit)
	}
	if err != nil {
		return nil, r.classify(ctx, reqCtx, err)
	}
	reply, err := json.Marshal(fetchReply{
		Status:  resp.StatusCode,
		Headers: replyHeaders(resp.Header),
		Body:    base64.StdEncoding.EncodeToString(data),
	})
	if err != nil { // strings and ints only: cannot happen
		return nil, failf(HTTPCodeNetwork, "encoding the reply: %v", err)
	}
	return reply, nil
}

// decode parses and checks the guest's input.
func (r *httpRun) decode(in []byte) (fetchInput, []byte, string, target, *fetchError) {
	var input fetchInput
	dec := json.NewDecoder(bytes.NewReader(in))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&input); err != nil {
		return input, nil, "", target{}, failf(HTTPCodeInvalidRequest, "the request is not a valid JSON object: %v", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return input, nil, "", target{}, failf(HTTPCodeInvalidRequest, "the request has data after the JSON object")
	}
	method := strings.ToUpper(input.Method)
	if method == "" {
		method = http.MethodGet
	}
	if !isToken(method) {
		return input, nil, "", target{}, failf(HTTPCodeInvalidRequest, "invalid method %q", input.Method)
	}
	if input.URL == "" {
		return input, nil, "", target{}, failf(HTTPCodeInvalidRequest, "url is required")
	}
	u, err := url.Parse(input.URL)
	if err != nil {
		return input, nil, "", target{}, failf(HTTPCodeInvalidRequest, "invalid url: %v", err)
	}
	tgt, ferr := parseTarget(u)
	if ferr != nil {
		return input, nil, "", target{}, ferr
	}
	body, err := base64.StdEncoding.DecodeString(input.Body)
	if err != nil {
		return input, nil, "", target{}, failf(HTTPCodeInvalidRequest, "body is not standard base64: %v", err)
	}
	if int64(len(body)) > r.cfg.MaxRequestBytes {
		return input, nil, "", target{}, failf(HTTPCodeInvalidRequest, "the request body has %d bytes, over the cap of %d", len(body), r.cfg.MaxRequestBytes)
	}
	return input, body, method, tgt, nil
}

// target is a checked request URL.
type target struct {
	url  *url.URL
	host string     // lower case, without brackets or a trailing dot
	addr netip.Addr // valid when host is an IP literal
	// legacy marks an IPv4 literal in a non-canonical form ("127.1", "0x7f000001").
	legacy bool
	port   uint16
}

// parseTarget checks a request or redirect URL: absolute http(s), no user
// info, a syntactically valid host and port.
func parseTarget(u *url.URL) (target, *fetchError) {
	if u.Scheme != "http" && u.Scheme != "https" {
		return target{}, failf(HTTPCodeInvalidRequest, "scheme %q is not allowed: only http and https", u.Scheme)
	}
	if u.User != nil {
		return target{}, failf(HTTPCodeInvalidRequest, "user info in the url is not allowed; send credentials in a header")
	}
	if u.Opaque != "" || u.Host == "" {
		return target{}, failf(HTTPCodeInvalidRequest, "the url has no host")
	}
	t := target{url: u, port: 80}
	if u.Scheme == "https" {
		t.port = 443
	}
	if p := u.Port(); p != "" {
		n, err := strconv.ParseUint(p, 10, 16)
		if err != nil || n == 0 {
			return target{}, failf(HTTPCodeInvalidRequest, "invalid port %q", p)
		}
		t.port = uint16(n)
	}
	host := strings.ToLower(u.Hostname())
	if strings.HasPrefix(u.Host, "[") {
		a, err := netip.ParseAddr(host)
		if err != nil || !a.Is6() {
			return target{}, failf(HTTPCodeInvalidRequest, "invalid IPv6 literal %q", host)
		}
		if a.Zone() != "" {
			return target{}, failf(HTTPCodeInvalidRequest, "scoped IPv6 literals are not allowed")
		}
		t.host, t.addr = host, a
		return t, nil
	}
	host = strings.TrimSuffix(host, ".")
	if host == "" {
		return target{}, failf(HTTPCodeInvalidRequest, "the url has no host")
	}
	t.host = host
	if a, err := netip.ParseAddr(host); err == nil {
		if !a.Is4() {
			return target{}, failf(HTTPCodeInvalidRequest, "IPv6 literals must be in brackets")
		}
		t.addr = a
		return t, nil
	}
	if endsInNumber(host) {
		a, ok := parseLegacyIPv4(host)
		if !ok {
			return target{}, failf(HTTPCodeInvalidRequest, "host %q ends in a number but is not an IPv4 address", host)
		}
		t.addr, t.legacy = a, true
		return t, nil
	}
	if ferr := checkDNSName(host); ferr != nil {
		return target{}, ferr
	}
	return t, nil
}

// checkDNSName accepts ASCII host names: labels of letters, digits, '-' and
// '_', 1 to 63 bytes, 253 in all. Internationalised names must come as punycode.
func checkDNSName(host string) *fetchError {
	if len(host) > 253 {
		return failf(HTTPCodeInvalidRequest, "host name longer than 253 bytes")
	}
	for label := range strings.SplitSeq(host, ".") {
		if label == "" || len(label) > 63 {
			return failf(HTTPCodeInvalidRequest, "invalid host name %q", host)
		}
		for i := range len(label) {
			c := label[i]
			if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '-' && c != '_' {
				return failf(HTTPCodeInvalidRequest, "invalid host name %q (ASCII letters, digits, '-', '_' and '.' only; use punycode)", host)
			}
		}
	}
	return nil
}

// checkTarget applies the grant and, for IP literals, the address policy:
// all before any network I/O.
func (r *httpRun) checkTarget(t target, method string) *fetchError {
	if !r.hostAllowed(t) {
		return failf(HTTPCodeHostNotAllowed, "host %q is not in the node's http grant", t.host)
	}
	if len(r.methods) > 0 && !slices.Contains(r.methods, method) {
		return failf(HTTPCodeMethodNotAllowed, "method %s is not in the node's http grant", method)
	}
	if t.addr.IsValid() {
		if reason := r.blocked(netip.AddrPortFrom(t.addr, t.port)); reason != "" {
			if t.legacy {
				return failf(HTTPCodeSSRFBlocked, "host %q means %s, a %s address: requests to internal addresses are refused", t.host, t.addr.Unmap(), reason)
			}
			return failf(HTTPCodeSSRFBlocked, "%s is a %s address: requests to internal addresses are refused", t.addr, reason)
		}
		if t.legacy {
			return failf(HTTPCodeInvalidRequest, "host %q is a non-canonical IPv4 literal: write it as %s", t.host, t.addr)
		}
	}
	return nil
}

// hostAllowed matches t against the grant: exact names and IP literals
// (case-insensitive, an IP also by value), and "*.domain" for the proper
// subdomains of domain. Globs never match IP literals.
func (r *httpRun) hostAllowed(t target) bool {
	for _, p := range r.cfg.Grant.Hosts {
		p = strings.TrimSuffix(strings.ToLower(strings.TrimSpace(p)), ".")
		p = strings.TrimSuffix(strings.TrimPrefix(p, "["), "]")
		if p == "" {
			continue
		}
		if p == "*" || p == t.host {
			return true
		}
		if t.addr.IsValid() {
			if a, err := netip.ParseAddr(p); err == nil && a.Unmap() == t.addr.Unmap() && a.Zone() == "" {
				return true
			}
			continue
		}
		if suffix, ok := strings.CutPrefix(p, "*"); ok && strings.HasPrefix(suffix, ".") && len(suffix) > 1 &&
			len(t.host) > len(suffix) && strings.HasSuffix(t.host, suffix) {
			return true
		}
	}
	return false
}

// blocked says why the address policy refuses ap, "" when it allows it.
func (r *httpRun) blocked(ap netip.AddrPort) string {
	for _, allowed := range r.cfg.AllowAddrs {
		if allowed.Addr().Unmap() == ap.Addr().Unmap() && ap.Addr().Zone() == "" && allowed.Port() == ap.Port() {
			return ""
		}
	}
	return addrBlocked(ap.Addr(), r.cfg.AllowPrivate)
}

// take counts one request against the run's cap; false when it is used up.
func (r *httpRun) take() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.sent >= r.cfg.MaxRequests {
		return false
	}
	r.sent++
	return true
}

// exhausted reports whether the run's requests are used up.
func (r *httpRun) exhausted() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.sent >= r.cfg.MaxRequests
}

func (r *httpRun) tooMany() *fetchError {
	return failf(HTTPCodeTooManyRequests, "the node run has used all of its %d requests", r.cfg.MaxRequests)
}

// requestHeadersRefused are managed by the transport, not the guest.
var requestHeadersRefused = []string{
	"host", "content-length", "transfer-encoding", "connection", "keep-alive",
	"proxy-connection", "te", "trailer", "upgrade",
}

// secretRef is a secret placeholder in a header value.
var secretRef = regexp.MustCompile(`\{\{\s*secret:([A-Za-z0-9_.\-]+)\s*\}\}`)

// buildHeader checks the guest's headers and replaces secret placeholders.
// It returns the names (canonical) of the headers that carry secrets.
func (r *httpRun) buildHeader(ctx context.Context, in map[string]string) (http.Header, []string, *fetchError) {
	h := make(http.Header, len(in))
	var withSecrets []string
	secrets := map[string]string{}
	names := make([]string, 0, len(in))
	for k := range in {
		names = append(names, k)
	}
	slices.Sort(names)
	for _, name := range names {
		value := in[name]
		if !isToken(name) {
			return nil, nil, failf(HTTPCodeInvalidRequest, "invalid header name %q", name)
		}
		if slices.Contains(requestHeadersRefused, strings.ToLower(name)) {
			return nil, nil, failf(HTTPCodeInvalidRequest, "header %q is set by the host, not the request", name)
		}
		if !validHeaderValue(value) {
			return nil, nil, failf(HTTPCodeInvalidRequest, "header %q has an invalid value (control characters)", name)
		}
		if secretRef.MatchString(value) {
			var ferr *fetchError
			value, ferr = r.substituteSecrets(ctx, value, secrets)
			if ferr != nil {
				return nil, nil, ferr
			}
			if !validHeaderValue(value) {
				return nil, nil, failf(HTTPCodeInvalidRequest, "header %q: a secret's value cannot be sent in a header (control characters)", name)
			}
			withSecrets = append(withSecrets, http.CanonicalHeaderKey(name))
		}
		h.Add(name, value)
	}
	return h, withSecrets, nil
}

// substituteSecrets replaces every {{secret:NAME}} in value; cache holds the
// values already read in this call.
func (r *httpRun) substituteSecrets(ctx context.Context, value string, cache map[string]string) (string, *fetchError) {
	var b strings.Builder
	last := 0
	for _, m := range secretRef.FindAllStringSubmatchIndex(value, -1) {
		name := value[m[2]:m[3]]
		v, ok := cache[name]
		if !ok {
			if r.cfg.Secrets == nil {
				return "", failf(HTTPCodeSecretNotGranted, "secret %q is not available: the node has no secrets", name)
			}
			var err error
			v, err = r.cfg.Secrets(ctx, name)
			if err != nil { // the hook's text is not shown: it is not ours to reveal
				return "", failf(HTTPCodeSecretNotGranted, "secret %q is not available to this node", name)
			}
			cache[name] = v
		}
		b.WriteString(value[last:m[0]])
		b.WriteString(v)
		last = m[1]
	}
	b.WriteString(value[last:])
	return b.String(), nil
}

// checkRedirect re-checks every redirect like a new request.
func (r *httpRun) checkRedirect(first target, secretHeaders []string, rec *HTTPRequestRecord) func(*http.Request, []*http.Request) error {
	return func(next *http.Request, via []*http.Request) error {
		if r.cfg.MaxRedirects < 0 {
			return http.ErrUseLastResponse
		}
		if len(via) > r.cfg.MaxRedirects {
			return failf(HTTPCodeNetwork, "stopped after %d redirects", r.cfg.MaxRedirects)
		}
		t, ferr := parseTarget(next.URL)
		if ferr != nil {
			return failf(ferr.code, "redirect: %s", ferr.msg)
		}
		if ferr := r.checkTarget(t, next.Method); ferr != nil {
			return failf(ferr.code, "redirect to %s: %s", t.host, ferr.msg)
		}
		prev := via[len(via)-1].URL
		if t.host != first.host || (prev.Scheme == "https" && next.URL.Scheme == "http") {
			for _, h := range secretHeaders {
				next.Header.Del(h)
			}
		}
		if !r.take() {
			return r.tooMany()
		}
		rec.Redirects++
		rec.FinalHost = t.host
		return nil
	}
}

// dialContext resolves address with the run's resolver and connects to the
// first address the policy allows; Control checks it once more.
func (r *httpRun) dialContext(ctx context.Context, network, address string) (net.Conn, error) {
	host, portText, err := net.SplitHostPort(address)
	if err != nil {
		return nil, failf(HTTPCodeInvalidRequest, "invalid address %q", address)
	}
	port, err := strconv.ParseUint(portText, 10, 16)
	if err != nil {
		return nil, failf(HTTPCodeInvalidRequest, "invalid port %q", portText)
	}
	var addrs []netip.Addr
	if a, err := netip.ParseAddr(host); err == nil {
		addrs = []netip.Addr{a}
	} else if endsInNumber(host) { // parseTarget refuses these; be safe anyway
		a, ok := parseLegacyIPv4(host)
		if !ok {
			return nil, failf(HTTPCodeInvalidRequest, "host %q ends in a number but is not an IPv4 address", host)
		}
		addrs = []netip.Addr{a}
	} else {
		ips, err := r.resolver.LookupIPAddr(ctx, strings.ToLower(host))
		if err != nil {
			return nil, err
		}
		for _, ip := range ips {
			if a, ok := netip.AddrFromSlice(ip.IP); ok {
				addrs = append(addrs, a.WithZone(ip.Zone))
			}
		}
		if len(addrs) == 0 {
			return nil, failf(HTTPCodeNetwork, "host %q has no addresses", host)
		}
	}
	var refused *fetchError
	var lastErr error
	for _, a := range addrs {
		ap := netip.AddrPortFrom(a.Unmap(), uint16(port))
		if reason := r.blocked(ap); reason != "" {
			if refused == nil {
				refused = failf(HTTPCodeSSRFBlocked, "host %q resolves to %s, a %s address: requests to internal addresses are refused", host, a.Unmap(), reason)
			}
			continue
		}
		conn, err := r.dialer.DialContext(ctx, network, ap.String())
		if err == nil {
			return conn, nil
		}
		lastErr = err
	}
	if lastErr != nil {
		return nil, lastErr
	}
	return nil, refused
}

// control is the dialer's last word: it sees the very address the socket is
// about to connect to.
func (r *httpRun) control(_, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return failf(HTTPCodeSSRFBlocked, "cannot check the address %q", address)
	}
	if reason := r.blocked(ap); reason != "" {
		return failf(HTTPCodeSSRFBlocked, "%s is a %s address: requests to internal addresses are refused", ap.Addr(), reason)
	}
	return nil
}

// classify turns a client error into a reply: the code the checks chose, a
// timeout, or a network failure.
func (r *httpRun) classify(runCtx, reqCtx context.Context, err error) *fetchError {
	var fe *fetchError
	if errors.As(err, &fe) {
		return fe
	}
	if runCtx.Err() != nil {
		return failf(HTTPCodeTimeout, "the node run ended: %v", runCtx.Err())
	}
	var ne net.Error
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(reqCtx.Err(), context.DeadlineExceeded) ||
		(errors.As(err, &ne) && ne.Timeout()) {
		return failf(HTTPCodeTimeout, "no complete response within %s", r.cfg.Timeout)
	}
	return failf(HTTPCodeNetwork, "%v", err)
}

// replyHeaders flattens response headers: lower-case names, values joined.
func replyHeaders(h http.Header) map[string]string {
	out := make(map[string]string, len(h))
	for k, vs := range h {
		sep := ", "
		if strings.EqualFold(k, "Set-Cookie") {
			sep = "\n"
		}
		out[strings.ToLower(k)] = strings.Join(vs, sep)
	}
	return out
}

// isToken reports whether s is an RFC 9110 token (method and header names).
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := range len(s) {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' {
			continue
		}
		if !strings.ContainsRune("!#$%&'*+-.^_`|~", rune(c)) {
			return false
		}
	}
	return true
}

// validHeaderValue refuses control characters other than tab.
func validHeaderValue(v string) bool {
	for i := range len(v) {
		if c := v[i]; (c < ' ' && c != '\t') || c == 0x7f {
			return false
		}
	}
	return true
}
