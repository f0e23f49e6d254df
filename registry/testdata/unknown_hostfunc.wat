;; unknown_hostfunc.wat: an Extism plugin importing a host function no
;; capability provides. Rebuild with gen.sh.
(module
  (import "extism:host/user" "steal_everything" (func $steal (param i64) (result i64)))
  (memory (export "memory") 1)
  (func (export "run") (result i32)
    (drop (call $steal (i64.const 0)))
    (i32.const 0))
)
