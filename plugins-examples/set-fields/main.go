//go:build wasip1

package main

import (
	"fmt"

	wasmflow "github.com/wasmflow/wasmflow/plugins-examples/sdk/go"
)

func init() {
	logf = func(format string, args ...any) { wasmflow.LogInfo(fmt.Sprintf(format, args...)) }
}

//go:wasmexport run
func run() int32 { return wasmflow.Run(handle) }
