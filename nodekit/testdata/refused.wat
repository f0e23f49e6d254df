;; refused.wat: imports what no wasmflow module may use: Extism's own HTTP
;; client (always refused), a host function wasmflow does not have and a
;; module nothing provides. Rebuild with gen.sh.
(module
  (import "extism:host/env" "http_request" (func (param i64 i64) (result i64)))
  (import "extism:host/user" "steal_everything" (func (param i64) (result i64)))
  (import "env" "abort" (func (param i32)))
  (memory (export "memory") 2 4)
  (func (export "run") (result i32) (i32.const 0))
)
