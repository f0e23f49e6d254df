//go:build wasip1

package main

import (
	wasmflow "github.com/wasmflow/wasmflow/plugins-examples/sdk/go"
)

//go:wasmexport run
func run() int32 {
	return wasmflow.Run(func(in *wasmflow.Input) (*wasmflow.Output, error) {
		return handle(in, wasmflow.HTTPFetch, wasmflow.LogInfo)
	})
}
