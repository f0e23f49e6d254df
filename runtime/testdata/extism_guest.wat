;; extism_guest.wat: an Extism plugin with one export per behaviour the
;; runtime tests exercise, well-behaved and hostile alike. The manifest's
;; entrypoint picks the export. Rebuild with gen.sh.
(module
  (import "extism:host/env" "input_length" (func $input_length (result i64)))
  (import "extism:host/env" "input_load_u8" (func $input_load_u8 (param i64) (result i32)))
  (import "extism:host/env" "input_load_u64" (func $input_load_u64 (param i64) (result i64)))
  (import "extism:host/env" "alloc" (func $alloc (param i64) (result i64)))
  (import "extism:host/env" "length" (func $length (param i64) (result i64)))
  (import "extism:host/env" "store_u8" (func $store_u8 (param i64 i32)))
  (import "extism:host/env" "store_u64" (func $store_u64 (param i64 i64)))
  (import "extism:host/env" "output_set" (func $output_set (param i64 i64)))
  (import "extism:host/env" "error_set" (func $error_set (param i64)))
  (import "extism:host/env" "log_info" (func $log_info (param i64)))
  (import "extism:host/env" "log_warn" (func $log_warn (param i64)))
  (import "extism:host/env" "log_error" (func $log_error (param i64)))
  (import "extism:host/env" "http_request" (func $http_request (param i64 i64) (result i64)))

  (memory (export "memory") 1)
  (data (i32.const 0) "{\"items\":[{\"ok\":true}]}") ;; 23 bytes
  (data (i32.const 64) "boom: bad params")       ;; 16 bytes
  (data (i32.const 128) "hello from the guest")  ;; 20 bytes
  (data (i32.const 160) "careful")               ;; 7 bytes
  (data (i32.const 176) "it broke")              ;; 8 bytes
  (data (i32.const 192) "not json")              ;; 8 bytes

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

  ;; $input_handle copies the whole input into a new Extism block.
  (func $input_handle (result i64)
    (local $n i64) (local $h i64) (local $i i64)
    (local.set $n (call $input_length))
    (local.set $h (call $alloc (local.get $n)))
    (block $done
      (loop $copy
        (br_if $done (i64.ge_u (local.get $i) (local.get $n)))
        (if (i64.le_u (i64.add (local.get $i) (i64.const 8)) (local.get $n))
          (then
            (call $store_u64 (i64.add (local.get $h) (local.get $i))
              (call $input_load_u64 (local.get $i)))
            (local.set $i (i64.add (local.get $i) (i64.const 8))))
          (else
            (call $store_u8 (i64.add (local.get $h) (local.get $i))
              (call $input_load_u8 (local.get $i)))
            (local.set $i (i64.add (local.get $i) (i64.const 1)))))
        (br $copy)))
    (local.get $h))

  (func $output_doc
    (call $output_set (call $handle (i32.const 0) (i32.const 23)) (i64.const 23)))

  ;; run outputs a constant document.
  (func (export "run") (result i32)
    (call $output_doc)
    (i32.const 0))

  ;; echo outputs its input.
  (func (export "echo") (result i32)
    (call $output_set (call $input_handle) (call $input_length))
    (i32.const 0))

  ;; inlen outputs the input length as 8 little-endian bytes (use with io raw).
  (func (export "inlen") (result i32)
    (local $h i64)
    (local.set $h (call $alloc (i64.const 8)))
    (call $store_u64 (local.get $h) (call $input_length))
    (call $output_set (local.get $h) (i64.const 8))
    (i32.const 0))

  ;; loop never returns.
  (func (export "loop") (result i32)
    (loop $forever (br $forever))
    (i32.const 0))

  ;; grow grows memory until refused, then traps as an allocator would abort.
  (func (export "grow") (result i32)
    (block $refused
      (loop $more
        (br_if $refused (i32.eq (memory.grow (i32.const 16)) (i32.const -1)))
        (br $more)))
    (unreachable))

  ;; grow_ok grows memory until refused, then carries on and succeeds.
  (func (export "grow_ok") (result i32)
    (block $refused
      (loop $more
        (br_if $refused (i32.eq (memory.grow (i32.const 16)) (i32.const -1)))
        (br $more)))
    (call $output_doc)
    (i32.const 0))

  ;; trap hits unreachable.
  (func (export "trap") (result i32)
    (unreachable))

  ;; fail reports an error through error_set.
  (func (export "fail") (result i32)
    (call $error_set (call $handle (i32.const 64) (i32.const 16)))
    (i32.const 1))

  ;; rc returns 7 without an error message.
  (func (export "rc") (result i32)
    (i32.const 7))

  ;; bigout sets a 2 MiB output.
  (func (export "bigout") (result i32)
    (call $output_set (call $alloc (i64.const 2097152)) (i64.const 2097152))
    (i32.const 0))

  ;; nonjson outputs text that is not JSON.
  (func (export "nonjson") (result i32)
    (call $output_set (call $handle (i32.const 192) (i32.const 8)) (i64.const 8))
    (i32.const 0))

  ;; empty outputs nothing.
  (func (export "empty") (result i32)
    (i32.const 0))

  ;; log logs at three levels, then outputs a document.
  (func (export "log") (result i32)
    (call $log_info (call $handle (i32.const 128) (i32.const 20)))
    (call $log_warn (call $handle (i32.const 160) (i32.const 7)))
    (call $log_error (call $handle (i32.const 176) (i32.const 8)))
    (call $output_doc)
    (i32.const 0))

  ;; logspam logs a 20-byte line 1000 times, then outputs a document.
  (func (export "logspam") (result i32)
    (local $i i32)
    (block $done
      (loop $more
        (br_if $done (i32.ge_u (local.get $i) (i32.const 1000)))
        (call $log_info (call $handle (i32.const 128) (i32.const 20)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $more)))
    (call $output_doc)
    (i32.const 0))

  ;; http sends its input as an Extism http_request and outputs the body.
  (func (export "http") (result i32)
    (local $body i64)
    (local.set $body (call $http_request (call $input_handle) (i64.const 0)))
    (call $output_set (local.get $body) (call $length (local.get $body)))
    (i32.const 0))

  ;; badsig is not a valid Extism export: it takes a parameter.
  (func (export "badsig") (param i32) (result i32)
    (i32.const 0))
)
