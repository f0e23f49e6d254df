package wasmflow

import (
	"encoding/json"
	"fmt"
	"sort"
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
// or {"error": {"code", "message"}}.
func decodeFetchResponse(b []byte) (*HTTPResponse, error) {
	var raw struct {
		Error   *HTTPError                 `json:"error"`
		Status  int                        `json:"status"`
		Headers map[string]json.RawMessage `json:"headers"`
		Body    []byte                     `json:"body"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return nil, fmt.Errorf("http fetch: invalid reply from host: %w", err)
	}
	if raw.Error != nil {
		return nil, raw.Error
	}
	resp := &HTTPResponse{Status: raw.Status, Headers: make(map[string]string, len(raw.Headers)), Body: raw.Body}
	for k, v := range raw.Headers {
		var s string
		if json.Unmarshal(v, &s) == nil {
			resp.Headers[k] = s
			continue
		}
		var list []string
		if err := json.Unmarshal(v, &list); err != nil {
			return nil, fmt.Errorf("http fetch: invalid header %q in reply", k)
		}
		resp.Headers[k] = strings.Join(list, ", ")
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
