;; no_entry.wat: a valid module exporting no "run" and no "_start".
;; Rebuild with gen.sh.
(module
  (memory (export "memory") 1)
  (func (export "main") (result i32) (i32.const 0))
  (func (export "other"))
)
