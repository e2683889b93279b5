// Many memories alive at once. Each memory with guard pages reserves 8 GiB of address space
// (V8's reserve 10 GiB); heron reserves them for at most 8191 memories at a time, or fewer
// if the address space runs short, and gives the rest explicit bounds checks. They must
// behave alike: same contents, same traps, same growth and buffer detaching.
//
// Own file, so own process: the address space this uses is not taken from other tests.
// V8 runs first here: it fails outright once its reservations do not fit, while heron,
// running after it, must cope with what V8 left (the fallback on a failed reservation).
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { implementations } from './fixtures/implementations.mjs'
import { wat } from './fixtures/wat.mjs'

const bytes = wat(`(module
  (memory (export "memory") 1 3)
  (func (export "store") (param i32 i32) (i32.store (local.get 0) (local.get 1)))
  (func (export "load") (param i32) (result i32) (i32.load (local.get 0)))
  (func (export "grow") (param i32) (result i32) (memory.grow (local.get 0))))`)

for (const [name, WebAssembly] of [...implementations].reverse()) {
  describe(name, () => {
    test('10,000 memories alive at once all work, grow and trap alike', () => {
      const module = new WebAssembly.Module(bytes)
      const instances = []
      for (let i = 0; i < 10_000; i++) {
        const instance = new WebAssembly.Instance(module)
        instance.exports.store(65532, i)
        instances.push(instance)
      }
      instances.forEach(({ exports: { load } }, i) => {
        assert.equal(load(65532), i)
        assert.throws(() => load(65533), WebAssembly.RuntimeError)
      })
      for (const { exports: { memory, grow, load, store } } of [instances[0], instances.at(-1)]) {
        const before = memory.buffer
        assert.equal(grow(2), 1)
        assert.equal(before.byteLength, 0)
        assert.equal(new Uint32Array(memory.buffer)[65532 / 4], load(65532))
        store(3 * 65536 - 4, 5)
        assert.equal(new Uint32Array(memory.buffer).at(-1), 5)
        assert.throws(() => load(3 * 65536 - 3), WebAssembly.RuntimeError)
      }
    })
  })
}
