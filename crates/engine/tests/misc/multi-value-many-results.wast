;; Functions with more results than x86-64 has return registers: Cranelift needs a return
;; area for them. Found by tests/fuzz.rs (wasm-smith), which failed to compile such modules.
(module
  (type $many (func (param i32) (result i32 i64 f32 f64 i32 i64 f32 f64 i32 i64 f32 f64 i32 i64 f32 f64 i32 i64 f32 f64)))
  (table funcref (elem $many))
  (func $many (export "many") (type $many)
    (if (i32.eqz (local.get 0)) (then (unreachable)))
    (i32.const 1) (i64.const 2) (f32.const 3) (f64.const 4) (i32.const 5) (i64.const 6) (f32.const 7) (f64.const 8) (i32.const 9) (i64.const 10) (f32.const 11) (f64.const 12) (i32.const 13) (i64.const 14) (f32.const 15) (f64.const 16) (i32.const 17) (i64.const 18) (f32.const 19) (f64.const 20))
  (func (export "call") (type $many)
    (call $many (local.get 0)))
  (func (export "call_indirect") (type $many)
    (call_indirect (type $many) (local.get 0) (i32.const 0)))
)
(register "M")

(assert_return (invoke "many" (i32.const 1)) (i32.const 1) (i64.const 2) (f32.const 3) (f64.const 4) (i32.const 5) (i64.const 6) (f32.const 7) (f64.const 8) (i32.const 9) (i64.const 10) (f32.const 11) (f64.const 12) (i32.const 13) (i64.const 14) (f32.const 15) (f64.const 16) (i32.const 17) (i64.const 18) (f32.const 19) (f64.const 20))
(assert_return (invoke "call" (i32.const 1)) (i32.const 1) (i64.const 2) (f32.const 3) (f64.const 4) (i32.const 5) (i64.const 6) (f32.const 7) (f64.const 8) (i32.const 9) (i64.const 10) (f32.const 11) (f64.const 12) (i32.const 13) (i64.const 14) (f32.const 15) (f64.const 16) (i32.const 17) (i64.const 18) (f32.const 19) (f64.const 20))
(assert_return (invoke "call_indirect" (i32.const 1)) (i32.const 1) (i64.const 2) (f32.const 3) (f64.const 4) (i32.const 5) (i64.const 6) (f32.const 7) (f64.const 8) (i32.const 9) (i64.const 10) (f32.const 11) (f64.const 12) (i32.const 13) (i64.const 14) (f32.const 15) (f64.const 16) (i32.const 17) (i64.const 18) (f32.const 19) (f64.const 20))
(assert_trap (invoke "call" (i32.const 0)) "unreachable")

;; The same function called through an import.
(module
  (import "M" "many" (func $many (param i32) (result i32 i64 f32 f64 i32 i64 f32 f64 i32 i64 f32 f64 i32 i64 f32 f64 i32 i64 f32 f64)))
  (func (export "call_import") (param i32) (result i32 i64 f32 f64 i32 i64 f32 f64 i32 i64 f32 f64 i32 i64 f32 f64 i32 i64 f32 f64)
    (call $many (local.get 0)))
)
(assert_return (invoke "call_import" (i32.const 1)) (i32.const 1) (i64.const 2) (f32.const 3) (f64.const 4) (i32.const 5) (i64.const 6) (f32.const 7) (f64.const 8) (i32.const 9) (i64.const 10) (f32.const 11) (f64.const 12) (i32.const 13) (i64.const 14) (f32.const 15) (f64.const 16) (i32.const 17) (i64.const 18) (f32.const 19) (f64.const 20))
