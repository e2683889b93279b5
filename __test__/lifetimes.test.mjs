// Instances, memories and tables are freed once JS drops them: more instances with memories
// than the address space could hold at once (each memory reserves 8 GiB), created in a loop
// that lets the event loop turn now and then (N-API finalizers run there), or that awaits
// nothing but instantiate(), must all succeed.
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { setImmediate as turn } from 'node:timers/promises'
import { implementations } from './fixtures/implementations.mjs'
import { wat } from './fixtures/wat.mjs'

const bytes = wat(`(module
  (memory (export "memory") 1)
  (table 2 funcref) (func $f) (elem (i32.const 0) $f)
  (global funcref (ref.func $f))
  (func (export "touch") (result i32) (i32.store (i32.const 0) (i32.const 7)) (i32.load (i32.const 0))))`)

for (const [name, WebAssembly] of implementations) {
  describe(name, () => {
    test('30,000 instances with a memory each, one after another', async () => {
      const module = new WebAssembly.Module(bytes)
      let sum = 0
      for (let i = 0; i < 30_000; i++) {
        const { touch, memory } = new WebAssembly.Instance(module).exports
        sum += touch() + new Uint8Array(memory.buffer)[0]
        if (i % 1000 === 999) await turn()
      }
      assert.equal(sum, 30_000 * 14)
    })

    // heron's instantiate() usually takes no turn of the event loop (a microtask), so it
    // must take one now and then itself for the finalizers to run.
    test('30,000 instances from instantiate(), awaiting nothing else', async () => {
      const module = new WebAssembly.Module(bytes)
      let sum = 0
      for (let i = 0; i < 30_000; i++) {
        const { touch, memory } = (await WebAssembly.instantiate(module)).exports
        sum += touch() + new Uint8Array(memory.buffer)[0]
      }
      assert.equal(sum, 30_000 * 14)
    })
  })
}
