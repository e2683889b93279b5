;; The module examples/demo.js runs. demo.wasm is this file assembled with
;; `npx wat2wasm examples/demo.wat -o examples/demo.wasm` (wabt, a devDependency),
;; committed so the demo runs without devDependencies; __test__/demo.test.mjs
;; checks that the two agree.
(module
  ;; The MDN example for WebAssembly.Instance: call the host with 42.
  (func $imported_func (import "imports" "imported_func") (param i32))
  (func (export "exported_func")
    i32.const 42
    call $imported_func)

  ;; The n-th Fibonacci number modulo 2^64, iteratively: n dependent i64
  ;; additions, a loop for timing compiled code.
  (func (export "fib") (param $n i32) (result i64)
    (local $previous i64)
    (local $current i64)
    (local $next i64)
    (local.set $current (i64.const 1))
    (block $done
      (loop $step
        (br_if $done (i32.eqz (local.get $n)))
        (local.set $next (i64.add (local.get $previous) (local.get $current)))
        (local.set $previous (local.get $current))
        (local.set $current (local.get $next))
        (local.set $n (i32.sub (local.get $n) (i32.const 1)))
        (br $step)))
    (local.get $previous)))
