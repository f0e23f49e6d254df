;; extism_hostfunc.wat: an Extism plugin that hands its input to the host
;; function wasmflow_secret_get and outputs the reply ("run"), or hands it a
;; handle that points nowhere ("badhandle"). Rebuild with gen.sh.
(module
  (import "extism:host/env" "input_length" (func $input_length (result i64)))
  (import "extism:host/env" "input_load_u8" (func $input_load_u8 (param i64) (result i32)))
  (import "extism:host/env" "alloc" (func $alloc (param i64) (result i64)))
  (import "extism:host/env" "length" (func $length (param i64) (result i64)))
  (import "extism:host/env" "store_u8" (func $store_u8 (param i64 i32)))
  (import "extism:host/env" "output_set" (func $output_set (param i64 i64)))
  (import "extism:host/user" "wasmflow_secret_get" (func $secret_get (param i64) (result i64)))
  (memory (export "memory") 1)

  (func (export "run") (result i32)
    (local $n i64) (local $h i64) (local $i i64) (local $reply i64)
    (local.set $n (call $input_length))
    (local.set $h (call $alloc (local.get $n)))
    (block $done
      (loop $copy
        (br_if $done (i64.ge_u (local.get $i) (local.get $n)))
        (call $store_u8 (i64.add (local.get $h) (local.get $i))
          (call $input_load_u8 (local.get $i)))
        (local.set $i (i64.add (local.get $i) (i64.const 1)))
        (br $copy)))
    (local.set $reply (call $secret_get (local.get $h)))
    (call $output_set (local.get $reply) (call $length (local.get $reply)))
    (i32.const 0))

  (func (export "badhandle") (result i32)
    (drop (call $secret_get (i64.const 0x7fffffff00)))
    (i32.const 0))
)
