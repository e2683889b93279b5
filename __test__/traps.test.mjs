// Traps: compiled code that stops reaches JS as a RuntimeError, and running out
// of stack as a RangeError. heron uses the spec testsuite's wording for trap
// messages; V8 words them its own way ("divide by zero"), so messages are
// checked on heron only and the class on both.
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { implementations } from './fixtures/implementations.mjs'
import { wat } from './fixtures/wat.mjs'

const trapping = wat(`(module
  (memory 1)
  (table 2 funcref)
  (elem (i32.const 0) $returns_one)
  (type $to_i32 (func (result i32)))
  (type $to_f64 (func (result f64)))
  (func $returns_one (result i32) i32.const 1)
  (func (export "unreachable") unreachable)
  (func (export "div_s") (param i32 i32) (result i32) (i32.div_s (local.get 0) (local.get 1)))
  (func (export "rem_u") (param i32 i32) (result i32) (i32.rem_u (local.get 0) (local.get 1)))
  (func (export "div_s_64") (param i64 i64) (result i64) (i64.div_s (local.get 0) (local.get 1)))
  (func (export "trunc_f32_s") (param f32) (result i32) (i32.trunc_f32_s (local.get 0)))
  (func (export "trunc_f64_u") (param f64) (result i32) (i32.trunc_f64_u (local.get 0)))
  (func (export "trunc_f64_s_64") (param f64) (result i64) (i64.trunc_f64_s (local.get 0)))
  (func (export "load") (param i32) (result i32) (i32.load (local.get 0)))
  (func (export "call_as_i32") (param i32) (result i32) (call_indirect (type $to_i32) (local.get 0)))
  (func (export "call_as_f64") (param i32) (result f64) (call_indirect (type $to_f64) (local.get 0)))
  (func $recurse (export "recurse") (param i32) (result i32)
    (i32.add (call $recurse (i32.add (local.get 0) (i32.const 1))) (i32.const 1))))`)

// Each case: what to call, the spec's message, and a call that must not trap.
const trapCases = [
  ['unreachable', (e) => e.unreachable(), 'unreachable'],
  ['i32.div_s by zero', (e) => e.div_s(1, 0), 'integer divide by zero'],
  ['i32.rem_u by zero', (e) => e.rem_u(1, 0), 'integer divide by zero'],
  ['i64.div_s by zero', (e) => e.div_s_64(1n, 0n), 'integer divide by zero'],
  ['i32.div_s of INT32_MIN by -1', (e) => e.div_s(-(2 ** 31), -1), 'integer overflow'],
  ['i64.div_s of INT64_MIN by -1', (e) => e.div_s_64(-(2n ** 63n), -1n), 'integer overflow'],
  ['i32.trunc_f32_s of NaN', (e) => e.trunc_f32_s(NaN), 'invalid conversion to integer'],
  ['i32.trunc_f32_s of 2^31', (e) => e.trunc_f32_s(2 ** 31), 'integer overflow'],
  ['i32.trunc_f64_u of -1', (e) => e.trunc_f64_u(-1), 'integer overflow'],
  ['i32.trunc_f64_u of Infinity', (e) => e.trunc_f64_u(Infinity), 'integer overflow'],
  ['i64.trunc_f64_s of NaN', (e) => e.trunc_f64_s_64(NaN), 'invalid conversion to integer'],
  ['i32.load past the end of memory', (e) => e.load(65536), 'out of bounds memory access'],
  ['i32.load straddling the end of memory', (e) => e.load(65534), 'out of bounds memory access'],
  ['i32.load at a negative (huge unsigned) address', (e) => e.load(-1), 'out of bounds memory access'],
  ['call_indirect with the wrong signature', (e) => e.call_as_f64(0), 'indirect call type mismatch'],
]

for (const [label, wasm] of implementations) {
  const instantiate = () => new wasm.Instance(new wasm.Module(trapping)).exports

  describe(label, () => {
    for (const [description, run, message] of trapCases) {
      test(`${description} throws RuntimeError`, () => {
        const exports = instantiate()
        assert.throws(
          () => run(exports),
          (error) => {
            assert.ok(error instanceof wasm.RuntimeError, `${error}`)
            assert.ok(error instanceof Error)
            assert.equal(error.name, 'RuntimeError')
            if (label === 'heron') assert.equal(error.message, message)
            return true
          },
        )
      })
    }

    test('call_indirect to an empty table slot or past the table throws RuntimeError', () => {
      const exports = instantiate()
      // The testsuite's wording: "uninitialized element" for an empty slot,
      // "undefined element" for an index past the end of the table.
      const cases = [
        [1, 'uninitialized element'],
        [2, 'undefined element'],
        [-1, 'undefined element'],
      ]
      for (const [index, message] of cases) {
        assert.throws(
          () => exports.call_as_i32(index),
          (error) => {
            assert.ok(error instanceof wasm.RuntimeError)
            if (label === 'heron') assert.equal(error.message, message)
            return true
          },
        )
      }
    })

    test('the values next to each trap do not trap', () => {
      const exports = instantiate()
      assert.equal(exports.div_s(-(2 ** 31), 1), -(2 ** 31))
      assert.equal(exports.div_s(7, -2), -3)
      assert.equal(exports.rem_u(7, 4), 3)
      assert.equal(exports.div_s_64(-(2n ** 63n), 1n), -(2n ** 63n))
      assert.equal(exports.trunc_f32_s(-(2 ** 31)), -(2 ** 31))
      assert.equal(exports.trunc_f32_s(-1.5), -1)
      assert.equal(exports.trunc_f64_u(-0.9), 0)
      assert.equal(exports.trunc_f64_u(2 ** 32 - 1), -1)
      assert.equal(exports.load(65532), 0)
      assert.equal(exports.call_as_i32(0), 1)
    })

    test('an instance keeps working after a trap', () => {
      const exports = instantiate()
      for (let i = 0; i < 3; i++) {
        assert.throws(() => exports.div_s(1, 0), wasm.RuntimeError)
        assert.equal(exports.div_s(10, 2), 5)
      }
    })

    test('a new RuntimeError is thrown for each trap', () => {
      const exports = instantiate()
      const errors = []
      for (let i = 0; i < 2; i++) {
        try {
          exports.unreachable()
        } catch (error) {
          errors.push(error)
        }
      }
      assert.equal(errors.length, 2)
      assert.notEqual(errors[0], errors[1])
    })

    test('a trap passes through JS frames between wasm frames unchanged', () => {
      const module = new wasm.Module(
        wat(`(module
          (import "host" "callback" (func $callback))
          (func (export "outer") (call $callback))
          (func (export "inner") unreachable))`),
      )
      let caughtInside
      const { exports } = new wasm.Instance(module, {
        host: {
          callback() {
            try {
              exports.inner()
            } catch (error) {
              caughtInside = error
              throw error
            }
          },
        },
      })
      assert.throws(
        () => exports.outer(),
        (error) => error === caughtInside && error instanceof wasm.RuntimeError,
      )
    })

    test('a trap in the start function makes the Instance constructor throw RuntimeError', () => {
      const module = new wasm.Module(wat(`(module (func $start unreachable) (start $start))`))
      assert.throws(
        () => new wasm.Instance(module),
        (error) => {
          assert.ok(error instanceof wasm.RuntimeError)
          if (label === 'heron') assert.equal(error.message, 'unreachable')
          return true
        },
      )
    })

    test('unbounded recursion throws RangeError, and the instance keeps working', () => {
      const exports = instantiate()
      for (let i = 0; i < 2; i++) {
        assert.throws(
          () => exports.recurse(0),
          (error) => {
            assert.ok(error instanceof RangeError, `${error}`)
            // heron words this like V8 (and JS recursion), not like the testsuite's
            // "call stack exhausted": to JS code it is the same condition.
            assert.equal(error.message, 'Maximum call stack size exceeded')
            return true
          },
        )
      }
      assert.equal(exports.div_s(9, 3), 3)
    })

    test('recursion through a JS import that runs out of stack throws RangeError', () => {
      const module = new wasm.Module(
        wat(`(module
          (import "host" "again" (func $again (param i32) (result i32)))
          (func (export "descend") (param i32) (result i32)
            (i32.add (call $again (i32.add (local.get 0) (i32.const 1))) (i32.const 1))))`),
      )
      const { exports } = new wasm.Instance(module, { host: { again: (n) => exports.descend(n) } })
      assert.throws(() => exports.descend(0), RangeError)
      assert.throws(() => exports.descend(0), RangeError)
    })
  })
}
