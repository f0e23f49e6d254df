;; bigmem.wat: an Extism-shaped module that declares 64 pages (4 MiB) of
;; memory at least. Rebuild with gen.sh.
(module
  (memory (export "memory") 64)
  (func (export "run") (result i32) (i32.const 0))
)
