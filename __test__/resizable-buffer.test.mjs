// Memory.prototype.toResizableBuffer (JS API main). The method's shape and its checks before a
// buffer is made (the receiver, then a maximum, as the spec orders them) are the same in heron
// and in V8 where V8 has the method (Node 26). Past them heron throws a TypeError naming the
// limitation: V8's public API cannot make a resizable ArrayBuffer over memory V8 did not
// allocate (README.md, "Not yet"). Those tests check that the refusal leaves the memory and its
// buffer exactly as they were, for plain, shared, 64-bit and exported memories, in Workers too.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Worker } from 'node:worker_threads'
import { once } from 'node:events'
import { implementations } from './fixtures/implementations.mjs'
import { wat } from './fixtures/wat.mjs'

const heron = implementations.find(([name]) => name === 'heron')?.[1]
const skipHeron = heron === undefined && 'HERON_TEST_ONLY excludes heron'

const UNSUPPORTED = /toResizableBuffer\(\): heron cannot make a resizable buffer over a wasm memory/

// A memory with a maximum, exported, and code that writes, reads and grows it.
const exporting = wat(`(module
  (memory (export "memory") 1 4)
  (func (export "store") (param i32 i32) (i32.store8 (local.get 0) (local.get 1)))
  (func (export "load") (param i32) (result i32) (i32.load8_u (local.get 0)))
  (func (export "grow") (param i32) (result i32) (memory.grow (local.get 0))))`)

for (const [name, WebAssembly] of implementations) {
  const skip = typeof WebAssembly.Memory.prototype.toResizableBuffer !== 'function' && 'this V8 lacks it'

  test(`${name}: toResizableBuffer is an enumerable method of no arguments`, { skip }, () => {
    const descriptor = Object.getOwnPropertyDescriptor(WebAssembly.Memory.prototype, 'toResizableBuffer')
    assert.equal(descriptor.enumerable, true)
    assert.equal(descriptor.writable, true)
    assert.equal(descriptor.configurable, true)
    assert.equal(descriptor.value.name, 'toResizableBuffer')
    assert.equal(descriptor.value.length, 0)
  })

  test(`${name}: toResizableBuffer refuses a receiver that is not a Memory`, { skip }, () => {
    for (const receiver of [{}, undefined, null, 1, new ArrayBuffer(8)]) {
      assert.throws(() => WebAssembly.Memory.prototype.toResizableBuffer.call(receiver), TypeError)
    }
  })

  test(`${name}: toResizableBuffer needs a maximum and leaves the buffer as it was`, { skip }, () => {
    const memory = new WebAssembly.Memory({ initial: 1 })
    const buffer = memory.buffer
    new Uint8Array(buffer)[7] = 42
    assert.throws(() => memory.toResizableBuffer(), TypeError)
    assert.equal(memory.buffer, buffer)
    assert.equal(buffer.byteLength, 65536)
    assert.equal(buffer.resizable, false)
    assert.equal(new Uint8Array(memory.buffer)[7], 42)
  })
}

test('heron: toResizableBuffer refuses a memory with a maximum, naming the limitation', { skip: skipHeron }, () => {
  const memory = new heron.Memory({ initial: 1, maximum: 4 })
  const buffer = memory.buffer
  assert.throws(() => memory.toResizableBuffer(), (error) => error instanceof TypeError && UNSUPPORTED.test(error.message))
  // Nothing changed: the same fixed-length buffer, attached, still aliasing the memory.
  assert.equal(memory.buffer, buffer)
  assert.equal(memory.toFixedLengthBuffer(), buffer)
  assert.equal(buffer.resizable, false)
  assert.equal(buffer.byteLength, 65536)
  // Growing still detaches it and hands out a new fixed-length buffer.
  assert.equal(memory.grow(1), 1)
  assert.equal(buffer.byteLength, 0)
  assert.equal(memory.buffer.byteLength, 2 * 65536)
  assert.equal(memory.buffer.resizable, false)
})

test('heron: toResizableBuffer refusal leaves an exported memory usable by wasm', { skip: skipHeron }, () => {
  const { exports } = new heron.Instance(new heron.Module(exporting))
  const buffer = exports.memory.buffer
  exports.store(100, 7)
  assert.throws(() => exports.memory.toResizableBuffer(), UNSUPPORTED)
  assert.equal(exports.memory.buffer, buffer)
  // Writes still alias both ways.
  assert.equal(new Uint8Array(buffer)[100], 7)
  new Uint8Array(buffer)[101] = 9
  assert.equal(exports.load(101), 9)
  assert.equal(exports.grow(1), 1)
  assert.equal(buffer.byteLength, 0)
  assert.equal(exports.memory.buffer.byteLength, 2 * 65536)
  assert.equal(new Uint8Array(exports.memory.buffer)[101], 9)
})

test('heron: toResizableBuffer refuses shared and 64-bit memories alike', { skip: skipHeron }, () => {
  const shared = new heron.Memory({ initial: 1, maximum: 2, shared: true })
  const sharedBuffer = shared.buffer
  assert.throws(() => shared.toResizableBuffer(), UNSUPPORTED)
  assert.equal(shared.buffer, sharedBuffer)
  assert.equal(sharedBuffer.growable, false)
  assert.equal(sharedBuffer.byteLength, 65536)

  const memory64 = new heron.Memory({ address: 'i64', initial: 1n, maximum: 2n })
  assert.throws(() => memory64.toResizableBuffer(), UNSUPPORTED)
  assert.equal(memory64.buffer.byteLength, 65536)
  const unbounded64 = new heron.Memory({ address: 'i64', initial: 1n })
  assert.throws(
    () => unbounded64.toResizableBuffer(),
    (error) => error instanceof TypeError && /must have a maximum/.test(error.message),
  )
})

test('heron: toResizableBuffer refuses in a Worker, on a shared memory sent there', { skip: skipHeron }, async () => {
  const shared = new heron.Memory({ initial: 1, maximum: 2, shared: true })
  new Uint8Array(shared.buffer)[3] = 5
  const source = `
    const { parentPort, workerData } = require('node:worker_threads')
    import(workerData.index).then(({ default: heron }) => {
      parentPort.once('message', (memory) => {
        let message
        try {
          memory.toResizableBuffer()
        } catch (error) {
          message = error.constructor.name + ': ' + error.message
        }
        const own = new heron.Memory({ initial: 1, maximum: 1 })
        let ownMessage
        try {
          own.toResizableBuffer()
        } catch (error) {
          ownMessage = error.constructor.name + ': ' + error.message
        }
        parentPort.postMessage({ message, ownMessage, byte: new Uint8Array(memory.buffer)[3] })
      })
      parentPort.postMessage('ready')
    })`
  const index = new URL('../index.js', import.meta.url).href
  const worker = new Worker(source, { eval: true, workerData: { index } })
  const [ready] = await once(worker, 'message')
  assert.equal(ready, 'ready')
  worker.postMessage(shared)
  const [[result], [exitCode]] = await Promise.all([once(worker, 'message'), once(worker, 'exit')])
  assert.equal(exitCode, 0)
  assert.match(result.message, /^TypeError: /)
  assert.match(result.message, UNSUPPORTED)
  assert.match(result.ownMessage, UNSUPPORTED)
  assert.equal(result.byte, 5)
})
