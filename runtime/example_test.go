package runtime_test

import (
	"context"
	"fmt"
	"log"
	"os"

	"github.com/wasmflow/wasmflow/runtime"
	"github.com/wasmflow/wasmflow/workflow"
)

func ExampleRuntime_Run() {
	ctx := context.Background()
	r, err := runtime.New(ctx, runtime.Config{})
	if err != nil {
		log.Fatal(err)
	}
	defer r.Close(ctx)

	// An Extism plugin written in WAT; its "echo" export returns its input.
	wasm, err := os.ReadFile("testdata/extism_guest.wasm")
	if err != nil {
		log.Fatal(err)
	}
	manifest := &workflow.Manifest{Name: "example/echo", Version: "1.0.0", ABI: workflow.ABIExtism, Entrypoint: "echo"}
	res, err := r.Run(ctx, &runtime.RunParams{Wasm: wasm, Manifest: manifest, Input: []byte(`{"items":[{"id":1}]}`)})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(string(res.Output))

	// Its "loop" export never returns: the run's time limit stops it.
	manifest.Entrypoint = "loop"
	manifest.Limits.TimeoutMS = 10
	_, err = r.Run(ctx, &runtime.RunParams{Wasm: wasm, Manifest: manifest})
	fmt.Println(runtime.KindOf(err))
	// Output:
	// {"items":[{"id":1}]}
	// timeout
}
