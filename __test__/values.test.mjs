// Values crossing from JS into wasm (ToWebAssemblyValue) and back (ToJSValue),
// through the parameters and results of exported functions.
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { implementations } from './fixtures/implementations.mjs'
import { wat } from './fixtures/wat.mjs'

const identities = wat(`(module
  (func (export "i32") (param i32) (result i32) local.get 0)
  (func (export "i64") (param i64) (result i64) local.get 0)
  (func (export "f32") (param f32) (result f32) local.get 0)
  (func (export "f64") (param f64) (result f64) local.get 0)
  (func (export "i32_add_one") (param i32) (result i32) (i32.add (local.get 0) (i32.const 1)))
  (func (export "i64_add_one") (param i64) (result i64) (i64.add (local.get 0) (i64.const 1)))
  (func (export "i32_max_unsigned") (result i32) i32.const 0xffffffff)
  (func (export "i64_minus_one") (result i64) i64.const -1)
  (func (export "i64_min") (result i64) i64.const 0x8000000000000000)
  (func (export "f32_third") (result f32) (f32.div (f32.const 1) (f32.const 3)))
  (func (export "f64_negative_zero") (result f64) f64.const -0)
  (func (export "f64_infinity") (result f64) (f64.div (f64.const 1) (f64.const 0)))
  (func (export "f64_nan") (result f64) (f64.div (f64.const 0) (f64.const 0)))
  (func (export "mixed") (param i32 i64 f32 f64) (result f64 f32 i64 i32)
    local.get 3 local.get 2 local.get 1 local.get 0)
  ;; More numbers than heron's call slots hold: the native-conversion path.
  (func (export "sum20") (param i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32) (result i32)
    (i32.add (i32.add (i32.add (i32.add (local.get 0) (local.get 1)) (i32.add (local.get 2) (local.get 3)))
                      (i32.add (i32.add (local.get 4) (local.get 5)) (i32.add (local.get 6) (local.get 7))))
             (i32.add (i32.add (i32.add (local.get 8) (local.get 9)) (i32.add (local.get 10) (local.get 11)))
                      (i32.add (i32.add (i32.add (local.get 12) (local.get 13)) (i32.add (local.get 14) (local.get 15)))
                               (i32.add (i32.add (local.get 16) (local.get 17)) (i32.add (local.get 18) (local.get 19)))))))
  (func (export "spread17") (param f64) (result f64 f64 f64 f64 f64 f64 f64 f64 f64 f64 f64 f64 f64 f64 f64 f64 i32)
    local.get 0 local.get 0 local.get 0 local.get 0 local.get 0 local.get 0 local.get 0 local.get 0
    local.get 0 local.get 0 local.get 0 local.get 0 local.get 0 local.get 0 local.get 0 local.get 0
    i32.const 17))`)

// An i64 parameter in a signature with a reference type, and an i64 result from a JS import:
// both converted by heron's native code rather than the fast numeric path.
const i64WithExternref = wat(`(module
  (func (export "first") (param i64 externref) (result i64) local.get 0))`)
const i64FromImport = wat(`(module
  (import "env" "get" (func $get (result i64)))
  (func (export "get") (result i64) call $get))`)

for (const [label, wasm] of implementations) {
  const { exports } = new wasm.Instance(new wasm.Module(identities))

  describe(label, () => {
    describe('i32', () => {
      test('arguments go through ToInt32', () => {
        assert.equal(exports.i32(5), 5)
        assert.equal(exports.i32(-5), -5)
        assert.equal(exports.i32(2 ** 32 + 5), 5)
        assert.equal(exports.i32(2 ** 31), -(2 ** 31))
        assert.equal(exports.i32(-1 >>> 0), -1)
        assert.equal(exports.i32(1.9), 1)
        assert.equal(exports.i32(-1.9), -1)
        assert.equal(exports.i32(NaN), 0)
        assert.equal(exports.i32(Infinity), 0)
        assert.equal(exports.i32(-Infinity), 0)
        assert.equal(exports.i32(-0), 0)
        assert.ok(Object.is(exports.i32(-0), 0))
        assert.equal(exports.i32(undefined), 0)
        assert.equal(exports.i32(null), 0)
        assert.equal(exports.i32(true), 1)
        assert.equal(exports.i32('42'), 42)
        assert.equal(exports.i32('0x10'), 16)
        assert.equal(exports.i32('not a number'), 0)
        assert.equal(exports.i32({ valueOf: () => 7 }), 7)
      })

      test('results are signed Numbers', () => {
        assert.equal(exports.i32_max_unsigned(), -1)
        assert.equal(exports.i32_add_one(2 ** 31 - 1), -(2 ** 31))
      })

      test('a BigInt or Symbol argument is a TypeError', () => {
        assert.throws(() => exports.i32(1n), TypeError)
        assert.throws(() => exports.i32(Symbol('x')), TypeError)
      })

      test('valueOf is called exactly once per argument, in argument order', () => {
        const calls = []
        const counted = (name, value) => ({
          valueOf() {
            calls.push(name)
            return value
          },
        })
        assert.deepEqual(exports.mixed(counted('a', 1), 2n, counted('c', 3), counted('d', 4)), [4, 3, 2n, 1])
        assert.deepEqual(calls, ['a', 'c', 'd'])
      })

      test('an exception thrown by valueOf reaches the caller unchanged', () => {
        const thrown = { from: 'valueOf' }
        assert.throws(
          () =>
            exports.i32({
              valueOf() {
                throw thrown
              },
            }),
          (error) => error === thrown,
        )
      })
    })

    describe('i64', () => {
      test('arguments go through ToBigInt64 and results are BigInts', () => {
        assert.equal(exports.i64(5n), 5n)
        assert.equal(exports.i64(-5n), -5n)
        assert.equal(exports.i64(2n ** 63n - 1n), 2n ** 63n - 1n)
        assert.equal(exports.i64(2n ** 63n), -(2n ** 63n))
        assert.equal(exports.i64(2n ** 64n - 1n), -1n)
        assert.equal(exports.i64(2n ** 64n + 7n), 7n)
        assert.equal(exports.i64(-(2n ** 64n) - 1n), -1n)
        assert.equal(exports.i64(true), 1n)
        assert.equal(exports.i64(false), 0n)
        assert.equal(exports.i64('12345678901234567890'), 12345678901234567890n - 2n ** 64n)
        assert.equal(exports.i64({ valueOf: () => 9n }), 9n)
      })

      test('results cover the whole signed range', () => {
        assert.equal(exports.i64_minus_one(), -1n)
        assert.equal(exports.i64_min(), -(2n ** 63n))
        assert.equal(exports.i64_add_one(2n ** 63n - 1n), -(2n ** 63n))
        assert.equal(typeof exports.i64(0n), 'bigint')
      })

      test('a Number, undefined, null or Symbol argument is a TypeError', () => {
        for (const notBigInt of [5, 0, NaN, undefined, null, Symbol('x')]) {
          assert.throws(() => exports.i64(notBigInt), TypeError, String(notBigInt))
        }
        assert.throws(() => exports.i64(), TypeError)
        assert.throws(() => exports.i64('1.5'), SyntaxError) // ToBigInt of a string that is not an integer
      })

      // ToBigInt converts an object with ToPrimitive (hint number) and then refuses a Number,
      // whichever of valueOf and toString produced it. The same conversion applies to i64
      // parameters of any signature and to i64 results of JS imports.
      test('an object converting to a Number is a TypeError; one converting to a BigInt or string is not', () => {
        const { exports: mixed } = new wasm.Instance(new wasm.Module(i64WithExternref))
        const { exports: calling } = new wasm.Instance(new wasm.Module(i64FromImport), {
          env: { get: () => importResult },
        })
        let importResult
        const viaImport = (value) => {
          importResult = value
          return calling.get()
        }
        const convert = [exports.i64, (value) => mixed.first(value, null), viaImport]
        for (const toI64 of convert) {
          assert.throws(() => toI64({ valueOf: () => 5 }), TypeError)
          assert.throws(() => toI64({ valueOf: undefined, toString: () => 5 }), TypeError)
          assert.throws(() => toI64({ [Symbol.toPrimitive]: () => 5 }), TypeError)
          assert.throws(() => toI64(5), TypeError)
          assert.equal(toI64({ valueOf: () => 5n }), 5n)
          assert.equal(toI64({ toString: () => '6' }), 6n)
          assert.equal(toI64({ valueOf: () => true }), 1n)
          assert.throws(() => toI64({ valueOf: () => '6.5' }), SyntaxError)
        }
      })
    })

    describe('f32', () => {
      test('arguments are rounded to the nearest f32, like Math.fround', () => {
        for (const value of [0.1, 1 / 3, 16777217, 3.4028235677973366e38, 1e-46, -2.5]) {
          assert.equal(exports.f32(value), Math.fround(value), String(value))
        }
        assert.equal(exports.f32(2 ** 128), Infinity)
        assert.equal(exports.f32('0.5'), 0.5)
      })

      test('NaN, infinities and -0 pass through', () => {
        assert.ok(Number.isNaN(exports.f32(NaN)))
        assert.ok(Number.isNaN(exports.f32(undefined)))
        assert.equal(exports.f32(Infinity), Infinity)
        assert.equal(exports.f32(-Infinity), -Infinity)
        assert.ok(Object.is(exports.f32(-0), -0))
      })

      test('results computed in f32 are exact f32 values', () => {
        assert.equal(exports.f32_third(), Math.fround(1 / 3))
      })

      test('a BigInt argument is a TypeError', () => {
        assert.throws(() => exports.f32(1n), TypeError)
      })
    })

    describe('f64', () => {
      test('arguments and results are exact', () => {
        for (const value of [0.1, 1 / 3, Number.MAX_VALUE, Number.MIN_VALUE, -123456.789, 2 ** 53 + 2]) {
          assert.equal(exports.f64(value), value, String(value))
        }
        assert.equal(exports.f64('1.5'), 1.5)
        assert.equal(exports.f64(null), 0)
      })

      test('NaN, infinities and -0 pass through both ways', () => {
        assert.ok(Number.isNaN(exports.f64(NaN)))
        assert.ok(Number.isNaN(exports.f64(undefined)))
        assert.equal(exports.f64(Infinity), Infinity)
        assert.equal(exports.f64(-Infinity), -Infinity)
        assert.ok(Object.is(exports.f64(-0), -0))
        assert.ok(Object.is(exports.f64_negative_zero(), -0))
        assert.equal(exports.f64_infinity(), Infinity)
        assert.ok(Number.isNaN(exports.f64_nan()))
      })

      test('a BigInt argument is a TypeError', () => {
        assert.throws(() => exports.f64(1n), TypeError)
      })
    })

    describe('multiple results', () => {
      test('come back as a new array, each value converted by its type', () => {
        const first = exports.mixed(1, 2n, 0.1, -0)
        assert.ok(Array.isArray(first))
        assert.equal(first.length, 4)
        assert.ok(Object.is(first[0], -0))
        assert.equal(first[1], Math.fround(0.1))
        assert.equal(first[2], 2n)
        assert.equal(first[3], 1)
        assert.notEqual(exports.mixed(1, 2n, 0.1, -0), first)
      })
    })

    describe('many values', () => {
      test('twenty parameters convert and arrive in order', () => {
        const args = Array.from({ length: 20 }, (_, i) => 2 ** i)
        assert.equal(exports.sum20(...args), 2 ** 20 - 1)
        assert.equal(exports.sum20(...args.map(String)), 2 ** 20 - 1)
        assert.equal(exports.sum20.length, 20)
      })

      test('seventeen results come back in order', () => {
        assert.deepEqual(exports.spread17(1.5), [...Array(16).fill(1.5), 17])
      })
    })

    describe('conversions', () => {
      // heron converts numeric arguments in JS and passes them through shared slots: a
      // conversion that calls wasm must not disturb the arguments already converted.
      test('a valueOf that calls exported functions itself does not disturb the call', () => {
        const reentrant = (value) => ({
          valueOf() {
            assert.deepEqual(exports.mixed(7, 8n, 9, 10), [10, 9, 8n, 7])
            assert.equal(exports.i32_add_one(41), 42)
            return value
          },
        })
        assert.deepEqual(exports.mixed(reentrant(1), 2n, reentrant(3), reentrant(4)), [4, 3, 2n, 1])
        assert.equal(exports.i32(reentrant(5)), 5)
      })

      test('exported functions are not constructors and have no prototype', () => {
        assert.throws(() => new exports.i32(1), TypeError)
        assert.equal(exports.i32.prototype, undefined)
        assert.deepEqual([exports.mixed.length, exports.mixed.name], [4, '13'])
      })
    })
  })
}

// The same assertions where V8 may not compile source text, so heron converts every
// argument natively (src/export.rs, the second path).
test('with code generation from strings disallowed, values convert the same', { skip: process.env.HERON_NATIVE_CONVERSION === '1' }, () => {
  // Without the runner's NODE_TEST_CONTEXT the child reports on its own, in TAP as asked
  // (Node 23 and later default to the spec reporter).
  const { NODE_TEST_CONTEXT, ...env } = process.env
  const child = spawnSync(process.execPath, ['--disallow-code-generation-from-strings', '--test', '--test-reporter=tap', fileURLToPath(import.meta.url)], {
    env: { ...env, HERON_NATIVE_CONVERSION: '1', HERON_TEST_ONLY: 'heron' },
    encoding: 'utf8',
  })
  assert.equal(child.status, 0, child.stdout + child.stderr)
  assert.match(child.stdout, /# fail 0/)
})
