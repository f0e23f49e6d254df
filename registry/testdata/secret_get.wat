;; secret_get.wat: an Extism plugin importing the wasmflow_secret_get host
;; function, which needs the secrets capability. Rebuild with gen.sh.
(module
  (import "extism:host/user" "wasmflow_secret_get" (func $get (param i64) (result i64)))
  (memory (export "memory") 1)
  (func (export "run") (result i32)
    (drop (call $get (i64.const 0)))
    (i32.const 0))
)
