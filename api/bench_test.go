package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
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

// BenchmarkWebhookLastNode measures a webhook that waits for its workflow
// (webhook → three Wasm nodes → last_node answer) in the embedded mode
// (SQLite, in-process queue): each loop sends webhookBenchRequests
// requests from conc clients and reports requests per second and the p50
// and p99 latency.
func BenchmarkWebhookLastNode(b *testing.B) {
	e := newHookEnv(b, Config{})
	e.activeHook(e.key, hookWorkflow("bench", map[string]any{"path": "bench", "respond": "last_node"},
		map[string]any{"name": "h1", "module": "wasmflow/hash@^1", "params": map[string]any{"field": "method"}},
		map[string]any{"name": "h2", "module": "wasmflow/hash@^1", "params": map[string]any{"field": "path"}},
		map[string]any{"name": "h3", "module": "wasmflow/hash@^1", "params": map[string]any{"field": "method_sha256"}}))
	url := e.base + hooksPrefix + "/" + e.tenantID + "/bench"
	client := &http.Client{Timeout: time.Minute, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	b.Cleanup(client.CloseIdleConnections)
	send := func() (time.Duration, error) {
		start := time.Now()
		req, err := http.NewRequestWithContext(context.Background(), http.MethodPost, url, bytes.NewReader([]byte(`{"n": 1}`)))
		if err != nil {
			return 0, err
		}
		req.Header.Set("Content-Type", "application/json")
		resp, err := client.Do(req)
		if err != nil {
			return 0, err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return 0, fmt.Errorf("status %d", resp.StatusCode)
		}
		return time.Since(start), nil
	}
	for range 20 { // warm: modules compiled, connections open
		if _, err := send(); err != nil {
			b.Fatal(err)
		}
	}
	for _, conc := range []int{1, 10, 50} {
		b.Run(fmt.Sprintf("concurrency=%d", conc), func(b *testing.B) {
			n := webhookBenchRequests
			var rps, p50, p99 float64
			for b.Loop() {
				lat := make([]time.Duration, n)
				errs := make([]error, n)
				var next atomic.Int64
				var wg sync.WaitGroup
				start := time.Now()
				for range conc {
					wg.Go(func() {
						for i := int(next.Add(1)) - 1; i < n; i = int(next.Add(1)) - 1 {
							lat[i], errs[i] = send()
						}
					})
				}
				wg.Wait()
				elapsed := time.Since(start)
				if err := errors.Join(errs...); err != nil {
					b.Fatal(err)
				}
				slices.Sort(lat)
				rps = float64(n) / elapsed.Seconds()
				p50 = float64(lat[n/2]) / float64(time.Millisecond)
				p99 = float64(lat[n*99/100]) / float64(time.Millisecond)
			}
			b.ReportMetric(rps, "req/s")
			b.ReportMetric(p50, "p50_ms")
			b.ReportMetric(p99, "p99_ms")
		})
	}
}

// webhookBenchRequests is how many requests one loop of
// BenchmarkWebhookLastNode sends.
const webhookBenchRequests = 200
