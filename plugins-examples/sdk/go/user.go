//go:build wasip1

package wasmflow

import (
	"encoding/json"
	"errors"
)

// wasmflow's own host functions, module "extism:host/user". The host links
// them only when the manifest declares the capability and the tenant granted
// it; a module that imports one it was not granted is refused. Go imports them
// only when HTTPFetch or SecretGet is reachable from your program.

//go:wasmimport extism:host/user wasmflow_http_fetch
func wasmflowHTTPFetch(request uint64) uint64

//go:wasmimport extism:host/user wasmflow_secret_get
func wasmflowSecretGet(name uint64) uint64

// HTTPFetch sends req through the host's HTTP client (capability "http": the
// host checks the allow-listed hosts and methods, the resolved address and
// every redirect). A refusal or failure returns an *HTTPError.
func HTTPFetch(req HTTPRequest) (*HTTPResponse, error) {
	b, err := json.Marshal(req)
	if err != nil {
		return nil, err
	}
	in := allocBytes(b)
	out := wasmflowHTTPFetch(in)
	extismFree(in)
	if out == 0 {
		return nil, errors.New("http fetch: host returned no reply")
	}
	reply := readBytes(out)
	extismFree(out)
	return decodeFetchResponse(reply)
}

// SecretGet returns the value of the secret name (capability "secrets": only
// names the manifest declares; the host fails the run on any other).
func SecretGet(name string) (string, error) {
	in := allocBytes([]byte(name))
	out := wasmflowSecretGet(in)
	extismFree(in)
	if out == 0 {
		return "", errors.New("secret " + name + ": not available")
	}
	v := readBytes(out)
	extismFree(out)
	return string(v), nil
}
