;; bad_hostfunc_sig.wat: imports wasmflow_http_fetch with the wrong type
;; (i32 -> i32 instead of i64 -> i64). Rebuild with gen.sh.
(module
  (import "extism:host/user" "wasmflow_http_fetch" (func $fetch (param i32) (result i32)))
  (memory (export "memory") 1)
  (func (export "run") (result i32)
    (drop (call $fetch (i32.const 0)))
    (i32.const 0))
)
