;; bad_import.wat: imports a function WASI does not have, so instantiating
;; it fails under either ABI. Rebuild with gen.sh.
(module
  (import "wasi_snapshot_preview1" "no_such_call" (func (param i32)))
  (memory (export "memory") 1)
  (func (export "run") (result i32) (i32.const 0))
  (func (export "_start"))
)
