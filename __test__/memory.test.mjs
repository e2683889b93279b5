// WebAssembly.Memory: the constructor's descriptor checks, `buffer` as a view of the wasm
// memory itself (same object until the memory grows), `grow` from JS, and memories crossing
// the boundary as imports and exports.
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { implementations } from './fixtures/implementations.mjs'
import { wat } from './fixtures/wat.mjs'

const exporting = wat(`(module
  (memory (export "memory") 1 3)
  (func (export "store") (param i32 i32) (i32.store (local.get 0) (local.get 1)))
  (func (export "load") (param i32) (result i32) (i32.load (local.get 0)))
  (func (export "size") (result i32) (memory.size))
  (func (export "grow") (param i32) (result i32) (memory.grow (local.get 0))))`)

const importing = wat(`(module
  (import "env" "memory" (memory 1))
  (func (export "load8") (param i32) (result i32) (i32.load8_u (local.get 0))))`)

for (const [name, WebAssembly] of implementations) {
  describe(name, () => {
    test('the constructor checks its descriptor', () => {
      assert.throws(() => new WebAssembly.Memory(), TypeError)
      assert.throws(() => new WebAssembly.Memory({}), TypeError)
      assert.throws(() => new WebAssembly.Memory({ initial: -1 }), TypeError)
      assert.throws(() => new WebAssembly.Memory({ initial: NaN }), TypeError)
      assert.throws(() => new WebAssembly.Memory({ initial: 65537 }), RangeError)
      assert.throws(() => new WebAssembly.Memory({ initial: 2, maximum: 1 }), RangeError)
      assert.throws(() => WebAssembly.Memory({ initial: 1 }), TypeError)
    })

    test('a new memory is zeroed and sized in 64 KiB pages', () => {
      const memory = new WebAssembly.Memory({ initial: 2 })
      assert.ok(memory instanceof WebAssembly.Memory)
      assert.equal(Object.prototype.toString.call(memory), '[object WebAssembly.Memory]')
      assert.equal(memory.buffer.byteLength, 2 * 65536)
      assert.ok(new Uint8Array(memory.buffer).every((byte) => byte === 0))
    })

    test('buffer is the same object until the memory grows, and grow detaches it', () => {
      const memory = new WebAssembly.Memory({ initial: 1, maximum: 2 })
      const before = memory.buffer
      assert.equal(memory.buffer, before)
      new Uint8Array(before)[10] = 42
      assert.equal(memory.grow(1), 1)
      assert.equal(before.byteLength, 0)
      const after = memory.buffer
      assert.notEqual(after, before)
      assert.equal(after.byteLength, 2 * 65536)
      assert.equal(new Uint8Array(after)[10], 42)
      assert.throws(() => memory.grow(1), RangeError)
    })

    test('an exported memory views what wasm reads and writes', () => {
      const { memory, store, load, size } = new WebAssembly.Instance(new WebAssembly.Module(exporting)).exports
      assert.ok(memory instanceof WebAssembly.Memory)
      store(16, 0x01020304)
      const view = new DataView(memory.buffer)
      assert.equal(view.getInt32(16, true), 0x01020304)
      view.setInt32(32, -7, true)
      assert.equal(load(32), -7)
      assert.equal(memory.grow(2), 1)
      assert.equal(size(), 3)
      assert.throws(() => memory.grow(1), RangeError)
    })

    test('memory.grow in wasm detaches the old buffer at once, as glue code expects', () => {
      const { memory, grow, load } = new WebAssembly.Instance(new WebAssembly.Module(exporting)).exports
      const before = memory.buffer
      new Uint8Array(before)[100] = 9
      assert.equal(grow(1), 1)
      // Detached before anyone reads memory.buffer again (wasm-bindgen tests byteLength === 0).
      assert.equal(before.byteLength, 0)
      const after = memory.buffer
      assert.equal(after.byteLength, 2 * 65536)
      assert.equal(memory.buffer, after)
      assert.equal(new Uint8Array(after)[100], 9)
      assert.equal(load(100) & 0xff, 9)
      // A failed grow changes nothing.
      assert.equal(grow(5), -1)
      assert.equal(memory.buffer, after)
    })

    test('an exported memory is the same object every time, and the same as the imported one', () => {
      const memory = new WebAssembly.Memory({ initial: 1 })
      const reexporting = wat(`(module (import "env" "memory" (memory 1)) (export "a" (memory 0)) (export "b" (memory 0)))`)
      const { exports } = new WebAssembly.Instance(new WebAssembly.Module(reexporting), { env: { memory } })
      assert.equal(exports.a, memory)
      assert.equal(exports.b, memory)
    })

    test('a Memory object can be imported, and wasm sees its contents', () => {
      const memory = new WebAssembly.Memory({ initial: 1 })
      new Uint8Array(memory.buffer)[5] = 200
      const instance = new WebAssembly.Instance(new WebAssembly.Module(importing), { env: { memory } })
      assert.equal(instance.exports.load8(5), 200)
    })

    test('importing something else where a memory is expected is a LinkError', () => {
      const module = new WebAssembly.Module(importing)
      assert.throws(() => new WebAssembly.Instance(module, { env: { memory: new ArrayBuffer(65536) } }), WebAssembly.LinkError)
      assert.throws(() => new WebAssembly.Instance(module, { env: { memory: 1 } }), WebAssembly.LinkError)
    })
  })
}
