// Data segments and instances of one module: heron maps each instance's initial memory
// from a copy-on-write image made once per module (README "Instantiation"), so every
// instance must still start from the segments and keep its writes to itself, and the
// memory must behave as a copied one through `buffer`, `grow` and `memory.grow`.
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { implementations } from './fixtures/implementations.mjs'
import { wat } from './fixtures/wat.mjs'

const withData = wat(`(module
  (memory (export "memory") 2 5)
  (data (i32.const 8) "\\01\\02\\03\\04")
  (data (i32.const 70000) "high")
  (data (i32.const 9) "\\ff")
  (func (export "load8") (param i32) (result i32) (i32.load8_u (local.get 0)))
  (func (export "store8") (param i32 i32) (i32.store8 (local.get 0) (local.get 1)))
  (func (export "grow") (param i32) (result i32) (memory.grow (local.get 0))))`)

// The last page of a 300-page memory, and a sparse pair of segments 16 MiB apart.
const highOffsets = wat(`(module
  (memory (export "memory") 300)
  (data (i32.const 19660780) "end!")
  (data (i32.const 16) "low")
  (data (i32.const 16777216) "far"))`)

const importing = wat(`(module
  (import "env" "memory" (memory 1))
  (data (i32.const 100) "imported")
  (func (export "store8") (param i32 i32) (i32.store8 (local.get 0) (local.get 1))))`)

const text = (memory, offset, length) => Buffer.from(memory.buffer, offset, length).toString('latin1')

for (const [name, WebAssembly] of implementations) {
  describe(name, () => {
    test('every instance starts from the segments, applied in order, and keeps its writes to itself', async () => {
      const module = new WebAssembly.Module(withData)
      const instances = []
      for (let i = 0; i < 40; i++) {
        instances.push(i % 2 === 0 ? new WebAssembly.Instance(module) : await WebAssembly.instantiate(module))
      }
      for (const [i, { exports }] of instances.entries()) {
        assert.deepEqual([...new Uint8Array(exports.memory.buffer, 8, 4)], [1, 0xff, 3, 4])
        assert.equal(text(exports.memory, 70000, 4), 'high')
        exports.store8(8, i)
        new Uint8Array(exports.memory.buffer)[70000] = i
        exports.store8(4096 * 5, i + 1)
      }
      for (const [i, { exports }] of instances.entries()) {
        assert.equal(exports.load8(8), i)
        assert.equal(exports.load8(70000), i)
        assert.equal(exports.load8(4096 * 5), i + 1)
        assert.equal(exports.load8(9), 0xff)
      }
      const fresh = new WebAssembly.Instance(module).exports
      assert.deepEqual([fresh.load8(8), fresh.load8(70000), fresh.load8(4096 * 5)], [1, 'h'.charCodeAt(0), 0])
    })

    test('growing after instantiation keeps the initial contents and adds zero pages', () => {
      const { exports } = new WebAssembly.Instance(new WebAssembly.Module(withData))
      assert.equal(exports.grow(1), 2)
      assert.equal(exports.memory.grow(1), 3)
      assert.equal(exports.memory.buffer.byteLength, 4 * 65536)
      assert.equal(text(exports.memory, 70000, 4), 'high')
      assert.ok(new Uint8Array(exports.memory.buffer, 2 * 65536).every((byte) => byte === 0))
      exports.store8(4 * 65536 - 1, 7)
      assert.equal(exports.load8(4 * 65536 - 1), 7)
      assert.equal(exports.grow(2), -1, 'the maximum still holds')
    })

    test('segments at high and far-apart offsets', () => {
      const module = new WebAssembly.Module(highOffsets)
      for (let i = 0; i < 3; i++) {
        const { memory } = new WebAssembly.Instance(module).exports
        assert.equal(memory.buffer.byteLength, 300 * 65536)
        assert.equal(text(memory, 19660780, 4), 'end!')
        assert.equal(text(memory, 16, 3), 'low')
        assert.equal(text(memory, 16777216, 3), 'far')
        new Uint8Array(memory.buffer).fill(1, 19660780, 19660784)
      }
    })

    test('an imported memory receives the segments on each instantiation', () => {
      const memory = new WebAssembly.Memory({ initial: 1 })
      const module = new WebAssembly.Module(importing)
      const first = new WebAssembly.Instance(module, { env: { memory } }).exports
      assert.equal(text(memory, 100, 8), 'imported')
      first.store8(100, 'I'.charCodeAt(0))
      first.store8(200, 1)
      new WebAssembly.Instance(module, { env: { memory } })
      assert.equal(text(memory, 100, 8), 'imported')
      assert.equal(new Uint8Array(memory.buffer)[200], 1)
    })
  })
}
