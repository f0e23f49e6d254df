package wasmflow

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// HTTPRequest is the request document of wasmflow_http_fetch. Header values may
// hold {{secret:NAME}}, which the host replaces, so the guest never sees the
// secret. Body travels base64-encoded (encoding/json does that for []byte).
type HTTPRequest struct {
	Method  string            `json:"method"`
	URL     string            `json:"url"`
	Headers map[string]string `json:"headers,omitempty"`
	Body    []byte            `json:"body,omitempty"`
}

// HTTPResponse is the reply of wasmflow_http_fetch. A header with several
// values is joined with ", ".
type HTTPResponse struct {
	Status  int               `json:"status"`
	Headers map[string]string `json:"headers"`
	Body    []byte            `json:"body"`
}

// HTTPError is the host's refusal or a failed request: Code is one of
// host_not_allowed, method_not_allowed, ssrf_blocked, too_many_requests,
// response_too_large, timeout, network.
type HTTPError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

func (e *HTTPError) Error() string { return "http fetch: " + e.Code + ": " + e.Message }

// decodeFetchResponse parses the host's reply: {"status", "headers", "body"}
// or {"error": {"code", "message"}}. It uses the SDK's own decoder: a reply
// carries the whole response body (base64), which encoding/json reads several
// times slower in Wasm.
func decodeFetchResponse(b []byte) (*HTTPResponse, error) {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("http fetch: invalid reply from host: "+format, args...)
	}
	v, err := decodeValue(b)
	if err != nil {
		return nil, bad("%w", err)
	}
	reply, ok := v.(map[string]any)
	if !ok {
		return nil, bad("not an object")
	}
	if e, ok := reply["error"]; ok && e != nil {
		obj, ok := e.(map[string]any)
		code, okCode := obj["code"].(string)
		msg, okMsg := obj["message"].(string)
		if !ok || !okCode || (!okMsg && obj["message"] != nil) {
			return nil, bad("error is not {\"code\", \"message\"}")
		}
		return nil, &HTTPError{Code: code, Message: msg}
	}
	resp := &HTTPResponse{Headers: map[string]string{}}
	if n, ok := reply["status"].(json.Number); ok {
		if resp.Status, err = strconv.Atoi(string(n)); err != nil {
			return nil, bad("status %s", n)
		}
	} else if reply["status"] != nil {
		return nil, bad("status is not a number")
	}
	if h, ok := reply["headers"].(map[string]any); ok {
		for k, v := range h {
			switch t := v.(type) {
			case string:
				resp.Headers[k] = t
			case []any:
				list := make([]string, len(t))
				for i, e := range t {
					if list[i], ok = e.(string); !ok {
						return nil, bad("header %q", k)
					}
				}
				resp.Headers[k] = strings.Join(list, ", ")
			default:
				return nil, bad("header %q", k)
			}
		}
	} else if reply["headers"] != nil {
		return nil, bad("headers is not an object")
	}
	switch body := reply["body"].(type) {
	case nil:
	case string:
		if resp.Body, err = base64.StdEncoding.DecodeString(body); err != nil {
			return nil, bad("body: %w", err)
		}
	default:
		return nil, bad("body is not a string")
	}
	return resp, nil
}

// HeaderNames returns the response's header names, sorted.
func (r *HTTPResponse) HeaderNames() []string {
	names := make([]string, 0, len(r.Headers))
	for k := range r.Headers {
		names = append(names, k)
	}
	sort.Strings(names)
	return names
}
