//go:build wasip1

package wasmflow

// Run is the whole body of a document-IO node's export:
//
//	//go:wasmexport run
//	func run() int32 { return wasmflow.Run(handle) }
//
// It reads and decodes the input document, calls f, and sets the encoded
// output document ({"items"} or {"outputs"}). An error (or a panic) from f, or
// an undecodable input, is set with error_set and Run returns 1, which fails
// the run with that message; success returns 0.
func Run(f func(*Input) (*Output, error)) int32 {
	out, err := process(InputBytes(), f)
	if err != nil {
		SetError(err.Error())
		return 1
	}
	SetOutput(out)
	return 0
}
