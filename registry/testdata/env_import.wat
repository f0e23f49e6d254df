;; env_import.wat: imports from "env", which nothing provides (what an
;; AssemblyScript build without the Extism PDK's bindings looks like), plus a
;; WASI memory, which WASI does not provide either. Rebuild with gen.sh.
(module
  (import "env" "abort" (func $abort (param i32 i32 i32 i32)))
  (import "wasi_snapshot_preview1" "memory" (memory 1))
  (func (export "run") (result i32) (i32.const 0))
)
