;; wasi_extism.wat: a WASI command that also imports the Extism kernel,
;; which wasi-command-v1 modules may not. Rebuild with gen.sh.
(module
  (import "wasi_snapshot_preview1" "proc_exit" (func $proc_exit (param i32)))
  (import "extism:host/env" "input_length" (func $input_length (result i64)))
  (memory (export "memory") 1)
  (func (export "_start")
    (drop (call $input_length)))
)
