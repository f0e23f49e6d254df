;; slow-echo.wat: an Extism node that spins (a busy loop of some tens of
;; milliseconds) and then returns its input document as its output: the
;; input's "items" become the output's items, and the other fields are
;; ignored. For crash tests that need runs in flight.
;; Rebuild: wat2wasm slow-echo.wat -o slow-echo.wasm
(module
  (import "extism:host/env" "input_length" (func $input_length (result i64)))
  (import "extism:host/env" "input_load_u8" (func $input_load_u8 (param i64) (result i32)))
  (import "extism:host/env" "alloc" (func $alloc (param i64) (result i64)))
  (import "extism:host/env" "store_u8" (func $store_u8 (param i64 i32)))
  (import "extism:host/env" "output_set" (func $output_set (param i64 i64)))
  (memory (export "memory") 1)
  (func (export "run") (result i32)
    (local $i i64) (local $n i64) (local $h i64)
    ;; spin
    (local.set $i (i64.const 2000000))
    (loop $spin
      (local.set $i (i64.sub (local.get $i) (i64.const 1)))
      (br_if $spin (i64.gt_s (local.get $i) (i64.const 0))))
    ;; copy the input to a new block and set it as the output
    (local.set $n (call $input_length))
    (local.set $h (call $alloc (local.get $n)))
    (local.set $i (i64.const 0))
    (block $done
      (loop $copy
        (br_if $done (i64.ge_u (local.get $i) (local.get $n)))
        (call $store_u8 (i64.add (local.get $h) (local.get $i))
          (call $input_load_u8 (local.get $i)))
        (local.set $i (i64.add (local.get $i) (i64.const 1)))
        (br $copy)))
    (call $output_set (local.get $h) (local.get $n))
    (i32.const 0))
)
