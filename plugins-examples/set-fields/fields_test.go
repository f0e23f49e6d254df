package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	wasmflow "github.com/wasmflow/wasmflow/plugins-examples/sdk/go"
)

// TestTestdata runs the node logic (without Wasm) on every testdata pair.
func TestTestdata(t *testing.T) {
	inputs, _ := filepath.Glob("testdata/*.input.json")
	if len(inputs) < 2 {
		t.Fatal("missing testdata")
	}
	for _, path := range inputs {
		name := strings.TrimSuffix(filepath.Base(path), ".input.json")
		t.Run(name, func(t *testing.T) {
			raw, _ := os.ReadFile(path)
			in, err := wasmflow.DecodeInput(raw)
			if err != nil {
				t.Fatal(err)
			}
			out, err := handle(in)
			if err != nil {
				t.Fatal(err)
			}
			got, err := wasmflow.EncodeOutput(out)
			if err != nil {
				t.Fatal(err)
			}
			want, _ := os.ReadFile(filepath.Join("testdata", name+".output.json"))
			var g, w any
			if json.Unmarshal(got, &g) != nil || json.Unmarshal(want, &w) != nil || !reflect.DeepEqual(g, w) {
				t.Fatalf("got %s\nwant %s", got, want)
			}
		})
	}
}

func TestErrors(t *testing.T) {
	inputs, _ := filepath.Glob("testdata/errors/*.input.json")
	for _, path := range inputs {
		name := strings.TrimSuffix(filepath.Base(path), ".input.json")
		t.Run(name, func(t *testing.T) {
			raw, _ := os.ReadFile(path)
			want, _ := os.ReadFile(filepath.Join("testdata/errors", name+".error.txt"))
			in, err := wasmflow.DecodeInput(raw)
			if err == nil {
				_, err = handle(in)
			}
			if err == nil || !strings.Contains(err.Error(), strings.TrimSpace(string(want))) {
				t.Fatalf("err = %v, want %q", err, want)
			}
		})
	}
}
