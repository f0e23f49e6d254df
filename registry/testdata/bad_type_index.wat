;; bad_type_index.wat: an invalid module whose second function names type 5
;; of 1, called by the first. wazero v1.12.0 validates the call before the
;; callee's type index and panics (index out of range) instead of failing:
;; the registry must refuse it, not crash. Built with --no-check (see gen.sh).
(module
  (type (func))
  (func (export "run") (type 0) (call 1))
  (func (type 5))
)
