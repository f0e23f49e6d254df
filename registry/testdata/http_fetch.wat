;; http_fetch.wat: an Extism plugin importing the wasmflow_http_fetch host
;; function, which needs the http capability. Rebuild with gen.sh.
(module
  (import "extism:host/user" "wasmflow_http_fetch" (func $fetch (param i64) (result i64)))
  (memory (export "memory") 1)
  (func (export "run") (result i32)
    (drop (call $fetch (i64.const 0)))
    (i32.const 0))
)
