;; kinds.wat: imports and exports of every kind Inspect reports, imported
;; from a module nothing provides. Rebuild with gen.sh.
(module
  (import "env" "abort" (func $abort (param f32 f64)))
  (import "env" "memory" (memory 2 3))
  (import "env" "table" (table 1 funcref))
  (import "env" "g" (global i32))
  (export "abort_again" (func $abort))
  (export "mem" (memory 0))
  (export "tab" (table 0))
  (export "glob" (global 0))
  (func (export "refs") (param funcref externref) (result v128)
    (v128.const i64x2 0 0))
)
