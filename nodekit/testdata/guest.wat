;; guest.wat: an Extism plugin whose exports each do one thing the node
;; test needs; the manifest's entrypoint picks one. It imports both wasmflow
;; host functions, so its manifest declares http and secrets.
;; Rebuild with gen.sh.
(module
  (import "extism:host/env" "input_length" (func $input_length (result i64)))
  (import "extism:host/env" "input_load_u8" (func $input_load_u8 (param i64) (result i32)))
  (import "extism:host/env" "alloc" (func $alloc (param i64) (result i64)))
  (import "extism:host/env" "length" (func $length (param i64) (result i64)))
  (import "extism:host/env" "store_u8" (func $store_u8 (param i64 i32)))
  (import "extism:host/env" "output_set" (func $output_set (param i64 i64)))
  (import "extism:host/env" "error_set" (func $error_set (param i64)))
  (import "extism:host/env" "log_info" (func $log_info (param i64)))
  (import "extism:host/user" "wasmflow_http_fetch" (func $fetch (param i64) (result i64)))
  (import "extism:host/user" "wasmflow_secret_get" (func $secret (param i64) (result i64)))

  (memory (export "memory") 1)
  (data (i32.const 0) "boom: bad params")                              ;; 16 bytes
  (data (i32.const 32) "hello from the guest")                         ;; 20 bytes
  (data (i32.const 64) "{\"url\":\"https://api.example.com/users/1\"}") ;; 41 bytes
  (data (i32.const 128) "token")                                       ;; 5 bytes

  ;; $handle copies len bytes at guest offset src into a new Extism block.
  (func $handle (param $src i32) (param $len i32) (result i64)
    (local $h i64) (local $i i32)
    (local.set $h (call $alloc (i64.extend_i32_u (local.get $len))))
    (block $done
      (loop $copy
        (br_if $done (i32.ge_u (local.get $i) (local.get $len)))
        (call $store_u8
          (i64.add (local.get $h) (i64.extend_i32_u (local.get $i)))
          (i32.load8_u (i32.add (local.get $src) (local.get $i))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $copy)))
    (local.get $h))

  ;; run outputs its input document.
  (func (export "run") (result i32)
    (local $n i64) (local $h i64) (local $i i64)
    (local.set $n (call $input_length))
    (local.set $h (call $alloc (local.get $n)))
    (block $done
      (loop $copy
        (br_if $done (i64.ge_u (local.get $i) (local.get $n)))
        (call $store_u8 (i64.add (local.get $h) (local.get $i))
          (call $input_load_u8 (local.get $i)))
        (local.set $i (i64.add (local.get $i) (i64.const 1)))
        (br $copy)))
    (call $output_set (local.get $h) (local.get $n))
    (i32.const 0))

  ;; fail logs a line and reports an error through error_set.
  (func (export "fail") (result i32)
    (call $log_info (call $handle (i32.const 32) (i32.const 20)))
    (call $error_set (call $handle (i32.const 0) (i32.const 16)))
    (i32.const 1))

  ;; loop never returns.
  (func (export "loop") (result i32)
    (loop $forever (br $forever))
    (i32.const 0))

  ;; fetch sends GET https://api.example.com/users/1 and outputs the reply.
  (func (export "fetch") (result i32)
    (local $r i64)
    (local.set $r (call $fetch (call $handle (i32.const 64) (i32.const 41))))
    (call $output_set (local.get $r) (call $length (local.get $r)))
    (i32.const 0))

  ;; secret reads the secret "token" and outputs its value.
  (func (export "secret") (result i32)
    (local $r i64)
    (local.set $r (call $secret (call $handle (i32.const 128) (i32.const 5))))
    (call $output_set (local.get $r) (call $length (local.get $r)))
    (i32.const 0))
)
