// Threads: shared memories and their SharedArrayBuffers, the atomic instructions, and
// memory.atomic.wait/notify, each checked against Node's own V8 as well.
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { implementations } from './fixtures/implementations.mjs'
import { wat } from './fixtures/wat.mjs'

const PAGE = 65536

const atomics = wat(`(module
  (import "env" "memory" (memory 1 2 shared))
  (func (export "add") (param i32 i32) (result i32) (i32.atomic.rmw.add (local.get 0) (local.get 1)))
  (func (export "load") (param i32) (result i32) (i32.atomic.load (local.get 0)))
  (func (export "load8") (param i32) (result i32) (i32.atomic.load8_u (local.get 0)))
  (func (export "store64") (param i32 i64) (i64.atomic.store (local.get 0) (local.get 1)))
  (func (export "cmpxchg16") (param i32 i32 i32) (result i32)
    (i32.atomic.rmw16.cmpxchg_u (local.get 0) (local.get 1) (local.get 2)))
  (func (export "wait32") (param i32 i32 i64) (result i32)
    (memory.atomic.wait32 (local.get 0) (local.get 1) (local.get 2)))
  (func (export "wait64") (param i32 i64 i64) (result i32)
    (memory.atomic.wait64 (local.get 0) (local.get 1) (local.get 2)))
  (func (export "notify") (param i32 i32) (result i32)
    (memory.atomic.notify (local.get 0) (local.get 1)))
  (func (export "fence") (atomic.fence))
  (func (export "grow") (param i32) (result i32) (memory.grow (local.get 0))))`, { threads: true })

const unshared = wat(`(module
  (memory 1)
  (func (export "wait32") (param i32 i32 i64) (result i32)
    (memory.atomic.wait32 (local.get 0) (local.get 1) (local.get 2)))
  (func (export "notify") (param i32 i32) (result i32)
    (memory.atomic.notify (local.get 0) (local.get 1)))
  (func (export "add") (param i32 i32) (result i32) (i32.atomic.rmw.add (local.get 0) (local.get 1))))`, { threads: true })

const definesShared = wat('(module (memory (export "memory") 1 3 shared))', { threads: true })

for (const [name, WebAssembly] of implementations) {
  describe(name, () => {
    test('a shared memory needs a maximum', () => {
      assert.throws(() => new WebAssembly.Memory({ initial: 1, shared: true }), TypeError)
    })

    test('a shared memory\'s buffer is a frozen SharedArrayBuffer over the memory itself', () => {
      const memory = new WebAssembly.Memory({ initial: 1, maximum: 2, shared: true })
      const buffer = memory.buffer
      assert.ok(buffer instanceof SharedArrayBuffer)
      assert.equal(buffer.byteLength, PAGE)
      assert.ok(Object.isFrozen(buffer))
      assert.equal(memory.buffer, buffer, 'the same object while the size is unchanged')
      const { exports } = new WebAssembly.Instance(new WebAssembly.Module(atomics), { env: { memory } })
      new Int32Array(buffer)[1] = 40
      assert.equal(exports.add(4, 2), 40)
      assert.equal(Atomics.load(new Int32Array(buffer), 1), 42)
    })

    test('growing gives a new SharedArrayBuffer of the new length and leaves the old one valid', () => {
      const memory = new WebAssembly.Memory({ initial: 1, maximum: 3, shared: true })
      const old = memory.buffer
      new Uint8Array(old)[7] = 9
      assert.equal(memory.grow(1), 1)
      assert.equal(old.byteLength, PAGE, 'not detached')
      const grown = memory.buffer
      assert.notEqual(grown, old)
      assert.equal(grown.byteLength, 2 * PAGE)
      assert.equal(new Uint8Array(grown)[7], 9)
      new Uint8Array(old)[8] = 5
      assert.equal(new Uint8Array(grown)[8], 5, 'both views share the bytes')
      assert.throws(() => memory.grow(2), RangeError)
    })

    test('memory.grow in wasm is seen by the next buffer read', () => {
      const memory = new WebAssembly.Memory({ initial: 1, maximum: 2, shared: true })
      const old = memory.buffer
      const { exports } = new WebAssembly.Instance(new WebAssembly.Module(atomics), { env: { memory } })
      assert.equal(exports.grow(1), 1)
      assert.equal(old.byteLength, PAGE)
      assert.equal(memory.buffer.byteLength, 2 * PAGE)
      assert.equal(exports.grow(1), -1, 'past the maximum')
    })

    test('an exported shared memory has a SharedArrayBuffer too', () => {
      const { exports } = new WebAssembly.Instance(new WebAssembly.Module(definesShared))
      assert.ok(exports.memory.buffer instanceof SharedArrayBuffer)
      assert.equal(exports.memory.buffer.byteLength, PAGE)
    })

    test('atomic accesses of every kind, zero-extended, and misaligned ones trap', () => {
      const memory = new WebAssembly.Memory({ initial: 1, maximum: 2, shared: true })
      const { exports } = new WebAssembly.Instance(new WebAssembly.Module(atomics), { env: { memory } })
      exports.store64(8, -1n)
      assert.equal(exports.load8(8), 255)
      assert.equal(exports.load(8), -1)
      assert.equal(exports.cmpxchg16(8, 0x1ffff, 7), 0xffff, 'compares the low 16 bits of the expected value')
      assert.equal(new Uint16Array(memory.buffer)[4], 7)
      exports.fence()
      assert.throws(() => exports.load(2), (e) => e instanceof WebAssembly.RuntimeError)
      assert.throws(() => exports.add(PAGE, 1), (e) => e instanceof WebAssembly.RuntimeError)
    })

    test('wait returns "not-equal" and "timed-out" at once; notify wakes nobody', () => {
      const memory = new WebAssembly.Memory({ initial: 1, maximum: 2, shared: true })
      const { exports } = new WebAssembly.Instance(new WebAssembly.Module(atomics), { env: { memory } })
      assert.equal(exports.wait32(0, 1, -1n), 1)
      assert.equal(exports.wait64(0, 0n, 1000n), 2)
      assert.equal(exports.notify(0, 1), 0)
      assert.throws(() => exports.wait32(2, 0, 0n), (e) => e instanceof WebAssembly.RuntimeError)
    })

    test('atomics work on an unshared memory, but waiting on one traps', () => {
      const { exports } = new WebAssembly.Instance(new WebAssembly.Module(unshared))
      assert.equal(exports.add(0, 5), 0)
      assert.equal(exports.add(0, 5), 5)
      assert.equal(exports.notify(0, 1), 0)
      assert.throws(() => exports.wait32(0, 10, 0n), (e) => e instanceof WebAssembly.RuntimeError)
    })

    test('a shared memory import must be shared, and the reverse', () => {
      const module = new WebAssembly.Module(atomics)
      const plain = new WebAssembly.Memory({ initial: 1, maximum: 2 })
      assert.throws(() => new WebAssembly.Instance(module, { env: { memory: plain } }), WebAssembly.LinkError)
      const importsUnshared = wat('(module (import "env" "memory" (memory 1 2)))')
      const shared = new WebAssembly.Memory({ initial: 1, maximum: 2, shared: true })
      assert.throws(() => new WebAssembly.Instance(new WebAssembly.Module(importsUnshared), { env: { memory: shared } }), WebAssembly.LinkError)
    })
  })
}
