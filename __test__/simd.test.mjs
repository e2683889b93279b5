// SIMD at the JS boundary: validate() accepts SIMD modules, SIMD code runs, and v128 values
// cannot cross to JS (a TypeError when a function with a v128 parameter or result is called
// from JS, whether it is an export or an import, and for v128 globals).
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { implementations } from './fixtures/implementations.mjs'
import { wat } from './fixtures/wat.mjs'

const simd = wat(`(module
  (import "env" "takes_v128" (func $takes (param v128)))
  (global (export "vector") v128 (v128.const i32x4 1 2 3 4))
  (func (export "dot") (param i32 i32 i32 i32) (result i32)
    (i32x4.extract_lane 0
      (i32x4.add
        (i32x4.dot_i16x8_s (i16x8.splat (local.get 0)) (i16x8.splat (local.get 1)))
        (i32x4.mul (i32x4.splat (local.get 2)) (i32x4.splat (local.get 3))))))
  (func (export "identity") (param v128) (result v128) (local.get 0))
  (func (export "make") (result v128) (v128.const i64x2 7 8))
  (func (export "call_import") (call $takes (v128.const i32x4 0 0 0 0))))`)

for (const [name, WebAssembly] of implementations) {
  describe(name, () => {
    const instantiate = (imports = { env: { takes_v128: () => assert.fail('must not be called') } }) =>
      new WebAssembly.Instance(new WebAssembly.Module(simd), imports).exports

    test('validate accepts SIMD modules and SIMD code computes', () => {
      assert.equal(WebAssembly.validate(simd), true)
      // dot of (3,3,...)·(4,4,...) over pairs = 24, plus 5*6.
      assert.equal(instantiate().dot(3, 4, 5, 6), 24 + 30)
    })

    test('calling a function with a v128 parameter or result from JS is a TypeError, before it runs', () => {
      const { identity, make } = instantiate()
      assert.throws(() => identity(), TypeError)
      assert.throws(() => make(), TypeError)
      assert.equal(identity.length, 1)
    })

    test('wasm calling a JS import with a v128 parameter is a TypeError, and the import does not run', () => {
      let called = false
      const { call_import } = instantiate({ env: { takes_v128: () => (called = true) } })
      assert.throws(() => call_import(), TypeError)
      assert.equal(called, false)
    })

    test('a v128 global cannot be read from JS', () => {
      const { vector } = instantiate()
      assert.ok(vector instanceof WebAssembly.Global)
      assert.throws(() => vector.value, TypeError)
      assert.throws(() => vector.valueOf(), TypeError)
    })
  })
}
