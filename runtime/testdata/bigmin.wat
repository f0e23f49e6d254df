;; bigmin.wat: a module whose declared minimum memory (2048 pages, 128 MiB)
;; exceeds any limit the tests set. Rebuild with gen.sh.
(module
  (memory (export "memory") 2048)
  (func (export "run") (result i32) (i32.const 0))
  (func (export "_start"))
)
