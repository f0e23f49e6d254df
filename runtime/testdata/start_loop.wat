;; start_loop.wat: a module whose start function never returns.
;; Rebuild with gen.sh.
(module
  (memory (export "memory") 1)
  (func $forever (loop $l (br $l)))
  (start $forever)
  (func (export "run") (result i32) (i32.const 0))
  (func (export "_start"))
)
