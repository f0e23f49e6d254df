;; wasi_cat.wat: a WASI command that copies stdin to stdout and says hello on
;; stderr (_start), plus one export per hostile behaviour the runtime tests
;; exercise; the manifest's entrypoint picks it. Rebuild with gen.sh.
(module
  (import "wasi_snapshot_preview1" "fd_read" (func $fd_read (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $proc_exit (param i32)))

  ;; 0: iovec {buf, len}; 8: nread/nwritten; 16..: strings; 1024..: buffer.
  (memory (export "memory") 1)
  (data (i32.const 16) "hello from stderr\n")  ;; 18 bytes
  (data (i32.const 48) "about to fail\n")      ;; 14 bytes
  (data (i32.const 64) "not json")             ;; 8 bytes
  (data (i32.const 80) "{\"items\":[]}")          ;; 12 bytes

  (func $write (param $fd i32) (param $buf i32) (param $len i32)
    (i32.store (i32.const 0) (local.get $buf))
    (i32.store (i32.const 4) (local.get $len))
    (drop (call $fd_write (local.get $fd) (i32.const 0) (i32.const 1) (i32.const 8))))

  ;; _start copies stdin to stdout, then writes a line to stderr.
  (func (export "_start")
    (local $n i32)
    (block $eof
      (loop $more
        (i32.store (i32.const 0) (i32.const 1024))
        (i32.store (i32.const 4) (i32.const 64512))
        (if (call $fd_read (i32.const 0) (i32.const 0) (i32.const 1) (i32.const 8))
          (then (call $proc_exit (i32.const 1))))
        (local.set $n (i32.load (i32.const 8)))
        (br_if $eof (i32.eqz (local.get $n)))
        (call $write (i32.const 1) (i32.const 1024) (local.get $n))
        (br $more)))
    (call $write (i32.const 2) (i32.const 16) (i32.const 18)))

  ;; fail writes to stderr and exits with code 3.
  (func (export "fail")
    (call $write (i32.const 2) (i32.const 48) (i32.const 14))
    (call $proc_exit (i32.const 3)))

  ;; loop never returns.
  (func (export "loop")
    (loop $forever (br $forever)))

  ;; trap hits unreachable.
  (func (export "trap")
    (unreachable))

  ;; spam writes 100 x 64512 bytes to stdout.
  (func (export "spam")
    (local $i i32)
    (block $done
      (loop $more
        (br_if $done (i32.ge_u (local.get $i) (i32.const 100)))
        (call $write (i32.const 1) (i32.const 1024) (i32.const 64512))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $more))))

  ;; logspam writes its stderr line 1000 times, then an empty document.
  (func (export "logspam")
    (local $i i32)
    (block $done
      (loop $more
        (br_if $done (i32.ge_u (local.get $i) (i32.const 1000)))
        (call $write (i32.const 2) (i32.const 16) (i32.const 18))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $more)))
    (call $write (i32.const 1) (i32.const 80) (i32.const 12)))

  ;; nonjson writes text that is not JSON to stdout.
  (func (export "nonjson")
    (call $write (i32.const 1) (i32.const 64) (i32.const 8)))
)
