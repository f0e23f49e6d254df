// Package wasmflow is a Go guest SDK for wasmflow nodes built as Extism
// plugins (GOOS=wasip1 GOARCH=wasm, -buildmode=c-shared, exports with
// //go:wasmexport). It implements the Extism guest ABI by hand: no dependency
// beyond the standard library.
//
// A node exports one function returning an int32 (0 = success) and calls Run:
//
//	//go:wasmexport run
//	func run() int32 {
//		return wasmflow.Run(func(in *wasmflow.Input) (*wasmflow.Output, error) {
//			return &wasmflow.Output{Items: in.Items}, nil
//		})
//	}
//
//	func main() {}
//
// Lower level: InputBytes, SetOutput, SetError, Log*, ConfigGet, VarGet/VarSet,
// and the wasmflow host functions HTTPFetch and SecretGet. The ABI functions
// are compiled only for wasip1; the document types and codecs build anywhere
// (so they can be tested with a plain go test).
//
// Documents are decoded and encoded by a small reflection-free codec
// (fastjson.go) that gives the same results as encoding/json (UseNumber, no
// HTML escaping) several times faster in Wasm; it also reads the replies of
// HTTPFetch, writes json.RawMessage values (validated and compacted, never
// decoded) and answers ValidJSON. Params and values of other types still go
// through encoding/json.
//
// A module imports only the host functions it calls: the Go linker drops
// unreachable //go:wasmimport functions. This matters because wasmflow
// refuses a module importing wasmflow_http_fetch or wasmflow_secret_get
// without the matching capability.
package wasmflow
