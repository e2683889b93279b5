// WebAssembly 3.0 features at the JS API: tail calls (a 10-million-deep chain of mutual tail
// calls runs in constant stack, into JS imports too), multiple memories, and relaxed SIMD
// (results among those the spec allows; heron's `deterministic: true` gives the spec's
// deterministic profile). Node's own V8 runs each part where its version has the feature.
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { implementations } from './fixtures/implementations.mjs'
import { wat } from './fixtures/wat.mjs'

const tailCalls = wat(
  `(module
  (import "env" "add" (func $add (param i64 i64) (result i64)))
  (type $step (func (param i64 i64) (result i64)))
  (table funcref (elem $even_indirect $odd_indirect))
  (func $even (export "even") (param i64 i64) (result i64)
    (if (result i64) (i64.eqz (local.get 0))
      (then (local.get 1))
      (else (return_call $odd (i64.sub (local.get 0) (i64.const 1)) (i64.add (local.get 1) (i64.const 1))))))
  (func $odd (param i64 i64) (result i64)
    (if (result i64) (i64.eqz (local.get 0))
      (then (i64.sub (i64.const 0) (local.get 1)))
      (else (return_call $even (i64.sub (local.get 0) (i64.const 1)) (i64.add (local.get 1) (i64.const 1))))))
  (func $even_indirect (export "even_indirect") (param i64 i64) (result i64)
    (if (result i64) (i64.eqz (local.get 0))
      (then (local.get 1))
      (else (return_call_indirect (type $step)
        (i64.sub (local.get 0) (i64.const 1)) (i64.add (local.get 1) (i64.const 1)) (i32.const 1)))))
  (func $odd_indirect (param i64 i64) (result i64)
    (if (result i64) (i64.eqz (local.get 0))
      (then (i64.sub (i64.const 0) (local.get 1)))
      (else (return_call_indirect (type $step)
        (i64.sub (local.get 0) (i64.const 1)) (i64.add (local.get 1) (i64.const 1)) (i32.const 0)))))
  (func (export "to_import") (param i64 i64) (result i64)
    (return_call $add (local.get 0) (local.get 1)))
  (func $trapper (result i32) unreachable)
  (func (export "trap_after_tail_call") (result i32) (return_call $trapper)))`,
  { tail_call: true },
)

const multiMemory = wat(
  `(module
  (memory $a (export "a") 1)
  (memory $b (export "b") 2)
  (func (export "copy_b_to_a") (param i32 i32 i32)
    (memory.copy $a $b (local.get 0) (local.get 1) (local.get 2)))
  (func (export "sizes") (result i32 i32) (memory.size $a) (memory.size $b))
  (func (export "load_b") (param i32) (result i32) (i32.load8_u $b (local.get 0))))`,
  { multi_memory: true },
)

// Lane 0 of each relaxed instruction on inputs where the host's result and the deterministic
// profile's differ, as an i32.
const relaxedSimd = wat(
  `(module
  (func (export "swizzle") (result i32)
    (i8x16.extract_lane_u 0 (i8x16.relaxed_swizzle
      (v128.const i8x16 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25)
      (v128.const i8x16 17 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0))))
  (func (export "trunc") (result i32)
    (i32x4.extract_lane 0 (i32x4.relaxed_trunc_f32x4_s (v128.const f32x4 nan 1 1 1))))
  (func (export "madd") (result f32)
    (f32x4.extract_lane 0 (f32x4.relaxed_madd
      (v128.const f32x4 0x1.001p0 0 0 0) (v128.const f32x4 0x1.001p0 0 0 0) (v128.const f32x4 -0x1.002p0 0 0 0))))
  (func (export "q15mulr") (result i32)
    (i16x8.extract_lane_s 0 (i16x8.relaxed_q15mulr_s
      (v128.const i16x8 -32768 0 0 0 0 0 0 0) (v128.const i16x8 -32768 0 0 0 0 0 0 0))))
  (func (export "laneselect") (result i32)
    (i8x16.extract_lane_u 0 (i8x16.relaxed_laneselect
      (v128.const i8x16 -1 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0)
      (v128.const i8x16 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0)
      (v128.const i8x16 0x80 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0))))
  (func (export "dot") (result i32)
    (i16x8.extract_lane_s 0 (i16x8.relaxed_dot_i8x16_i7x16_s
      (v128.const i8x16 -1 -1 0 0 0 0 0 0 0 0 0 0 0 0 0 0)
      (v128.const i8x16 0x80 0x80 0 0 0 0 0 0 0 0 0 0 0 0 0 0)))))`,
  { relaxed_simd: true },
)

// What the spec allows for each (the first is the deterministic profile's).
const relaxedResults = {
  swizzle: [0, 11],
  trunc: [0, -2147483648],
  madd: [0, 2 ** -24],
  q15mulr: [32767, -32768],
  laneselect: [0x80, 0xff],
  dot: [256, -256],
}

for (const [name, WebAssembly] of implementations) {
  describe(name, () => {
    describe('tail calls', { skip: !WebAssembly.validate(tailCalls) && 'this V8 lacks tail calls' }, () => {
      const instantiate = () =>
        new WebAssembly.Instance(new WebAssembly.Module(tailCalls), { env: { add: (a, b) => a + b } }).exports

      test('validate accepts return_call and return_call_indirect', () => {
        assert.equal(WebAssembly.validate(tailCalls), true)
      })

      test('ten million mutual tail calls run in constant stack', () => {
        const { even, even_indirect } = instantiate()
        assert.equal(even(10_000_000n, 0n), 10_000_000n)
        assert.equal(even(10_000_001n, 0n), -10_000_001n)
        assert.equal(even_indirect(10_000_000n, 0n), 10_000_000n)
      })

      test('a tail call to a JS import returns its result to the caller', () => {
        assert.equal(instantiate().to_import(40n, 2n), 42n)
      })

      test('a trap after a tail call is a RuntimeError', () => {
        assert.throws(() => instantiate().trap_after_tail_call(), WebAssembly.RuntimeError)
      })
    })

    describe('multiple memories', { skip: !WebAssembly.validate(multiMemory) && 'this V8 lacks multi-memory' }, () => {
      test('each memory is exported with its own size, and memory.copy goes between them', () => {
        assert.equal(WebAssembly.validate(multiMemory), true)
        const { a, b, copy_b_to_a, sizes, load_b } = new WebAssembly.Instance(new WebAssembly.Module(multiMemory))
          .exports
        assert.ok(a instanceof WebAssembly.Memory && b instanceof WebAssembly.Memory)
        assert.notEqual(a.buffer, b.buffer)
        assert.deepEqual([a.buffer.byteLength, b.buffer.byteLength], [65536, 131072])
        assert.deepEqual(sizes(), [1, 2])
        // (No data segment for memory 1: wabt 1.0.39 encodes it without its memory index.)
        new Uint8Array(b.buffer).set(new TextEncoder().encode('heron'), 8)
        assert.equal(load_b(8), 'h'.charCodeAt(0))
        copy_b_to_a(100, 8, 5)
        assert.equal(new TextDecoder().decode(new Uint8Array(a.buffer, 100, 5)), 'heron')
        b.grow(1)
        assert.deepEqual(sizes(), [1, 3])
        assert.throws(() => copy_b_to_a(65534, 8, 5), WebAssembly.RuntimeError)
      })
    })

    describe('relaxed SIMD', { skip: !WebAssembly.validate(relaxedSimd) && 'this V8 lacks relaxed SIMD' }, () => {
      test('every relaxed instruction gives one of the results the spec allows', () => {
        const exports = new WebAssembly.Instance(new WebAssembly.Module(relaxedSimd)).exports
        for (const [instruction, allowed] of Object.entries(relaxedResults)) {
          assert.ok(allowed.includes(exports[instruction]()), `${instruction}: ${exports[instruction]()}`)
        }
      })
    })
  })
}

describe('heron', () => {
  const heron = implementations.find(([name]) => name === 'heron')?.[1]

  test('deterministic: true gives the relaxed instructions the deterministic profile', { skip: !heron }, () => {
    const module = new heron.Module(relaxedSimd, { deterministic: true })
    const exports = new heron.Instance(module).exports
    for (const [instruction, [deterministic]] of Object.entries(relaxedResults)) {
      assert.equal(exports[instruction](), deterministic, instruction)
    }
  })
})
