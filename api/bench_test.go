package api

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"testing"
)

// benchDo sends one request and drains the answer; b.Fatal on a wrong status.
func benchDo(b *testing.B, e *env, method, path string, body []byte, want int) {
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(context.Background(), method, e.base+path, r)
	if err != nil {
		b.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+e.key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := e.client.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	if resp.StatusCode != want {
		b.Fatalf("%s %s: status %d", method, path, resp.StatusCode)
	}
}

func BenchmarkGetWorkflow(b *testing.B) {
	e := newEnv(b)
	path := "/api/v1/workflows/" + e.createWorkflow(e.key, "bench")
	for b.Loop() {
		benchDo(b, e, http.MethodGet, path, nil, http.StatusOK)
	}
}

func BenchmarkCreateWorkflow(b *testing.B) {
	e := newEnv(b)
	body, err := json.Marshal(sampleWorkflow("bench"))
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		benchDo(b, e, http.MethodPost, "/api/v1/workflows", body, http.StatusCreated)
	}
}
