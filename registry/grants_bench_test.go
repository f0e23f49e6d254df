package registry_test

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wasmflow/wasmflow/hostfuncs"
	"github.com/wasmflow/wasmflow/registry"
	"github.com/wasmflow/wasmflow/workflow"
)

// benchDoc is an output document of n items, one of them holding value.
func benchDoc(b *testing.B, n int, value string) json.RawMessage {
	b.Helper()
	items := make([]map[string]any, n)
	for i := range items {
		items[i] = map[string]any{"id": i, "email": fmt.Sprintf("user%d@example.com", i), "tags": []string{"a", "b"}}
	}
	items[n/2]["token"] = value
	doc, err := json.Marshal(map[string]any{"items": items})
	require.NoError(b, err)
	return doc
}

// BenchmarkHostSession: the cost a module run pays for its host functions
// and their record, before any call.
func BenchmarkHostSession(b *testing.B) {
	reg := newGrantRegistry(b, secretMap{}, &auditLog{}, 0)
	mod := grantModule(workflow.Capabilities{HTTP: &workflow.HTTPCapability{Hosts: []string{"*"}}, Secrets: []string{"token"}})
	b.ReportAllocs()
	for b.Loop() {
		s := reg.HostSession(b.Context(), registry.RunGrant{TenantID: "t1", Module: mod})
		if len(s.Funcs()) != 2 {
			b.Fatal("want two functions")
		}
	}
}

// BenchmarkSecretRead: one wasmflow_secret_get call: checks, read, audit
// (in memory here: the store's write is the real cost), record.
func BenchmarkSecretRead(b *testing.B) {
	reg := newGrantRegistry(b, secretMap{"t1": {"slack-prod": "xoxb-1"}}, &auditLog{}, 1<<30)
	s := reg.HostSession(b.Context(), registry.RunGrant{TenantID: "t1", Bindings: map[string]string{"token": "slack-prod"},
		Module: grantModule(workflow.Capabilities{Secrets: []string{"token"}})})
	var get hostfuncs.Func
	for _, f := range s.Funcs() {
		get = f
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := get.Call(b.Context(), []byte("token")); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRedact: redacting a 1,000-item output document, when the run
// read no secret (the common case: nothing to do), when it read one the
// document does not hold (a scan), and when the document holds it (decode,
// replace, encode).
func BenchmarkRedact(b *testing.B) {
	reg := newGrantRegistry(b, secretMap{"t1": {"slack-prod": "xoxb-SECRET-1"}}, &auditLog{}, 0)
	mod := grantModule(workflow.Capabilities{Secrets: []string{"token"}})
	read := reg.HostSession(b.Context(), registry.RunGrant{TenantID: "t1", Module: mod, Bindings: map[string]string{"token": "slack-prod"}})
	for _, f := range read.Funcs() {
		if _, err := f.Call(b.Context(), []byte("token")); err != nil {
			b.Fatal(err)
		}
	}
	none := reg.HostSession(b.Context(), registry.RunGrant{TenantID: "t1", Module: mod})
	clean, holding := benchDoc(b, 1000, "nothing"), benchDoc(b, 1000, "Bearer xoxb-SECRET-1")
	for _, bc := range []struct {
		name string
		sess *registry.HostSession
		doc  json.RawMessage
	}{{"no-read", none, holding}, {"read-absent", read, clean}, {"read-present", read, holding}} {
		b.Run(bc.name, func(b *testing.B) {
			b.SetBytes(int64(len(bc.doc)))
			b.ReportAllocs()
			for b.Loop() {
				bc.sess.Redact(bc.doc)
			}
		})
	}
}
