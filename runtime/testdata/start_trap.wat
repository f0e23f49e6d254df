;; start_trap.wat: a module whose start function traps, so guest code fails
;; while it is instantiated. Rebuild with gen.sh.
(module
  (memory (export "memory") 1)
  (func $boom (unreachable))
  (start $boom)
  (func (export "run") (result i32) (i32.const 0))
  (func (export "_start"))
)
