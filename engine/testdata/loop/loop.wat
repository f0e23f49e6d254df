;; loop.wat: an Extism node that never returns, for timeout and cancel
;; tests. Rebuild: wat2wasm loop.wat -o loop.wasm
(module
  (memory (export "memory") 1)
  (func (export "run") (result i32)
    (loop $forever (br $forever))
    (i32.const 0))
)
