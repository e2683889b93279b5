// examples/demo.wasm is committed so the demo runs without devDependencies;
// this keeps it in step with examples/demo.wat and checks what the demo relies on.
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { implementations } from './fixtures/implementations.mjs'
import { wat } from './fixtures/wat.mjs'

const readExample = (name) => readFileSync(new URL(`../examples/${name}`, import.meta.url))
const demoBytes = readExample('demo.wasm')

test('examples/demo.wasm is examples/demo.wat assembled', () => {
  assert.deepEqual(new Uint8Array(demoBytes), wat(readExample('demo.wat').toString('utf8')))
})

for (const [label, wasm] of implementations) {
  describe(label, () => {
    test('the demo module calls its import with 42 and computes Fibonacci numbers mod 2^64', async () => {
      const received = []
      const { instance } = await wasm.instantiate(demoBytes, { imports: { imported_func: (arg) => received.push(arg) } })
      instance.exports.exported_func()
      assert.deepEqual(received, [42])
      assert.equal(instance.exports.fib(0), 0n)
      assert.equal(instance.exports.fib(10), 55n)
      assert.equal(instance.exports.fib(90), 2880067194370816120n)
      // fib(93) no longer fits in 64 bits: wasm wraps, and signed results are negative here.
      assert.equal(instance.exports.fib(93), BigInt.asIntN(64, 12200160415121876738n))
    })
  })
}
