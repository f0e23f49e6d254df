;; raw_items.wat: an Extism plugin for the raw-IO tests, written against
;; extism:host/env alone (as a PDK's output is) and knowing nothing of
;; wasmflow. Each call counts itself in a global, so a reply shows whether
;; its instance served earlier calls. By input:
;;   "fail…"  error_set("refused: " + the input's first 64 bytes) and return
;;            1: a failure the guest reports itself
;;   "trap…"  unreachable: a trap
;;   other    the reply {"calls":N}, N the calls this instance has served
;; Rebuild with gen.sh.
(module
  (import "extism:host/env" "input_length" (func $input_length (result i64)))
  (import "extism:host/env" "input_load_u8" (func $input_load_u8 (param i64) (result i32)))
  (import "extism:host/env" "alloc" (func $alloc (param i64) (result i64)))
  (import "extism:host/env" "store_u8" (func $store_u8 (param i64 i32)))
  (import "extism:host/env" "output_set" (func $output_set (param i64 i64)))
  (import "extism:host/env" "error_set" (func $error_set (param i64)))
  (memory (export "memory") 1)
  (global $calls (mut i32) (i32.const 0))
  (data (i32.const 0) "refused: ")
  (data (i32.const 128) "{\22calls\22:")

  ;; $starts: the input begins with the four bytes of $word (little-endian).
  (func $starts (param $word i32) (result i32)
    (if (i64.lt_u (call $input_length) (i64.const 4))
      (then (return (i32.const 0))))
    (i32.eq (local.get $word)
      (i32.or
        (i32.or (call $input_load_u8 (i64.const 0))
                (i32.shl (call $input_load_u8 (i64.const 1)) (i32.const 8)))
        (i32.or (i32.shl (call $input_load_u8 (i64.const 2)) (i32.const 16))
                (i32.shl (call $input_load_u8 (i64.const 3)) (i32.const 24))))))

  ;; $handle copies $len bytes at $ptr of this memory to a new kernel block.
  (func $handle (param $ptr i32) (param $len i32) (result i64)
    (local $h i64) (local $i i32)
    (local.set $h (call $alloc (i64.extend_i32_u (local.get $len))))
    (block $done
      (loop $copy
        (br_if $done (i32.ge_u (local.get $i) (local.get $len)))
        (call $store_u8 (i64.add (local.get $h) (i64.extend_i32_u (local.get $i)))
          (i32.load8_u (i32.add (local.get $ptr) (local.get $i))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $copy)))
    (local.get $h))

  (func (export "run") (result i32)
    (local $n i32) (local $i i32) (local $v i32) (local $digits i32) (local $h i64)
    (global.set $calls (i32.add (global.get $calls) (i32.const 1)))
    (if (call $starts (i32.const 0x70617274)) ;; "trap"
      (then unreachable))
    (if (call $starts (i32.const 0x6c696166)) ;; "fail"
      (then
        (local.set $n (i32.wrap_i64 (call $input_length)))
        (if (i32.gt_u (local.get $n) (i32.const 64))
          (then (local.set $n (i32.const 64))))
        (block $done
          (loop $copy
            (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
            (i32.store8 (i32.add (i32.const 9) (local.get $i))
              (call $input_load_u8 (i64.extend_i32_u (local.get $i))))
            (local.set $i (i32.add (local.get $i) (i32.const 1)))
            (br $copy)))
        (call $error_set (call $handle (i32.const 0) (i32.add (i32.const 9) (local.get $n))))
        (return (i32.const 1))))
    ;; {"calls":N}: count N's digits, write them after the prefix, close.
    (local.set $v (global.get $calls))
    (local.set $digits (i32.const 1))
    (block $counted
      (loop $count
        (br_if $counted (i32.lt_u (local.get $v) (i32.const 10)))
        (local.set $v (i32.div_u (local.get $v) (i32.const 10)))
        (local.set $digits (i32.add (local.get $digits) (i32.const 1)))
        (br $count)))
    (local.set $v (global.get $calls))
    (local.set $i (local.get $digits))
    (block $written
      (loop $write
        (br_if $written (i32.eqz (local.get $i)))
        (local.set $i (i32.sub (local.get $i) (i32.const 1)))
        (i32.store8 (i32.add (i32.const 137) (local.get $i))
          (i32.add (i32.const 48) (i32.rem_u (local.get $v) (i32.const 10))))
        (local.set $v (i32.div_u (local.get $v) (i32.const 10)))
        (br $write)))
    (i32.store8 (i32.add (i32.const 137) (local.get $digits)) (i32.const 125)) ;; "}"
    (local.set $n (i32.add (i32.const 10) (local.get $digits)))
    (local.set $h (call $handle (i32.const 128) (local.get $n)))
    (call $output_set (local.get $h) (i64.extend_i32_u (local.get $n)))
    (i32.const 0))
)
