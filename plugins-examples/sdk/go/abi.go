//go:build wasip1

package wasmflow

// The Extism guest ABI, imported by hand from the module "extism:host/env".
//
// Extism keeps its own memory (the "kernel" memory) beside the guest's linear
// memory. Every buffer the host and the guest exchange (input, output, error
// message, log line, config value, host-function argument or result) lives
// there and is named by a handle: an i64 offset into the kernel memory. A guest
// copies bytes in and out with load_*/store_* (8 bytes at a time with the u64
// variants, then byte by byte), allocates with alloc and learns a block's size
// with length. The node input is special: it has its own input_length and
// input_load_* functions.
//
// Each function below becomes a Wasm import only if the program calls it: the
// Go linker drops unreachable functions, and their imports with them.

//go:wasmimport extism:host/env input_length
func extismInputLength() uint64

//go:wasmimport extism:host/env input_load_u8
func extismInputLoadU8(offset uint64) uint32

//go:wasmimport extism:host/env input_load_u64
func extismInputLoadU64(offset uint64) uint64

//go:wasmimport extism:host/env alloc
func extismAlloc(length uint64) uint64

//go:wasmimport extism:host/env free
func extismFree(offset uint64)

//go:wasmimport extism:host/env length
func extismLength(offset uint64) uint64

//go:wasmimport extism:host/env load_u8
func extismLoadU8(offset uint64) uint32

//go:wasmimport extism:host/env load_u64
func extismLoadU64(offset uint64) uint64

//go:wasmimport extism:host/env store_u8
func extismStoreU8(offset uint64, v uint32)

//go:wasmimport extism:host/env store_u64
func extismStoreU64(offset uint64, v uint64)

//go:wasmimport extism:host/env output_set
func extismOutputSet(offset, length uint64)

//go:wasmimport extism:host/env error_set
func extismErrorSet(offset uint64)

//go:wasmimport extism:host/env config_get
func extismConfigGet(keyOffset uint64) uint64

//go:wasmimport extism:host/env var_get
func extismVarGet(keyOffset uint64) uint64

//go:wasmimport extism:host/env var_set
func extismVarSet(keyOffset, valueOffset uint64)

//go:wasmimport extism:host/env log_trace
func extismLogTrace(offset uint64)

//go:wasmimport extism:host/env log_debug
func extismLogDebug(offset uint64)

//go:wasmimport extism:host/env log_info
func extismLogInfo(offset uint64)

//go:wasmimport extism:host/env log_warn
func extismLogWarn(offset uint64)

//go:wasmimport extism:host/env log_error
func extismLogError(offset uint64)
