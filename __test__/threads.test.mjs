// Threads: shared memories and their SharedArrayBuffers, the atomic instructions,
// memory.atomic.wait/notify, and modules and shared memories posted to Workers (a
// pthread-style counter run by 4 Workers), each checked against Node's own V8 as well.
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { Worker, MessageChannel } from 'node:worker_threads'
import { once } from 'node:events'
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

// --- Across Workers: a Module and a shared Memory posted to Workers ---------------------------

const counter = wat(`(module
  (import "env" "memory" (memory 1 1 shared))
  (func (export "increment") (param $n i32)
    (loop $again
      (drop (i32.atomic.rmw.add (i32.const 0) (i32.const 1)))
      (local.set $n (i32.sub (local.get $n) (i32.const 1)))
      (br_if $again (local.get $n))))
  (func (export "load") (param i32) (result i32) (i32.atomic.load (local.get 0)))
  (func (export "wait") (param i32 i32 i64) (result i32)
    (memory.atomic.wait32 (local.get 0) (local.get 1) (local.get 2)))
  (func (export "notify") (param i32 i32) (result i32)
    (memory.atomic.notify (local.get 0) (local.get 1))))`, { threads: true })

// The Worker: loads the implementation named by argv first (heron must be loaded where the
// objects arrive), then runs what the messages (or workerData) ask for.
const workerSource = `
const { parentPort } = require('node:worker_threads')
const [implementation, indexPath] = process.argv.slice(2)
const WebAssembly = implementation === 'heron' ? require(indexPath) : globalThis.WebAssembly
const { workerData } = require('node:worker_threads')
function run({ task, module, memory, n }) {
  const isModule = module instanceof WebAssembly.Module
  const isMemory = memory instanceof WebAssembly.Memory
  const { exports } = new WebAssembly.Instance(module, { env: { memory } })
  if (task === 'increment') exports.increment(n)
  let waited
  if (task === 'wait') waited = exports.wait(4, 0, -1n)
  if (task === 'js-wait') waited = Atomics.wait(new Int32Array(memory.buffer), 2, 0)
  return { isModule, isMemory, isShared: memory.buffer instanceof SharedArrayBuffer, waited }
}
if (workerData !== undefined) parentPort.postMessage(run(workerData))
else parentPort.on('message', (message) => parentPort.postMessage(run(message)))
`

for (const [name, WebAssembly] of implementations) {
  const indexPath = new URL('../index.js', import.meta.url).pathname
  const startWorker = (options = {}) => new Worker(workerSource, { eval: true, argv: [name, indexPath], ...options })

  describe(`${name} across Workers`, () => {
    test('4 Workers increment one counter in a shared memory with atomics (postMessage)', async () => {
      const module = new WebAssembly.Module(counter)
      const memory = new WebAssembly.Memory({ initial: 1, maximum: 1, shared: true })
      const n = 100000
      const workers = Array.from({ length: 4 }, () => startWorker())
      const replies = workers.map((worker) => once(worker, 'message'))
      for (const worker of workers) worker.postMessage({ task: 'increment', module, memory, n })
      for (const [reply] of await Promise.all(replies)) {
        assert.deepEqual(reply, { isModule: true, isMemory: true, isShared: true, waited: undefined })
      }
      await Promise.all(workers.map((worker) => worker.terminate()))
      const { exports } = new WebAssembly.Instance(module, { env: { memory } })
      assert.equal(exports.load(0), 4 * n)
      assert.equal(new Int32Array(memory.buffer)[0], 4 * n)
    })

    test('a Module and a shared Memory arrive through workerData too', async () => {
      const module = new WebAssembly.Module(counter)
      const memory = new WebAssembly.Memory({ initial: 1, maximum: 1, shared: true })
      const worker = startWorker({ workerData: { task: 'increment', module, memory, n: 5 } })
      const [reply] = await once(worker, 'message')
      assert.equal(reply.isModule && reply.isMemory && reply.isShared, true)
      assert.equal(new Int32Array(memory.buffer)[0], 5)
      await worker.terminate()
    })

    test('wasm wait in a Worker is woken by wasm notify on the main thread', async () => {
      const module = new WebAssembly.Module(counter)
      const memory = new WebAssembly.Memory({ initial: 1, maximum: 1, shared: true })
      const { exports } = new WebAssembly.Instance(module, { env: { memory } })
      const worker = startWorker()
      const reply = once(worker, 'message')
      worker.postMessage({ task: 'wait', module, memory })
      let woken = 0
      while (woken === 0) {
        woken = exports.notify(4, 1)
        if (woken === 0) await new Promise((resolve) => setTimeout(resolve, 5))
      }
      assert.equal(woken, 1)
      assert.equal((await reply)[0].waited, 0, '"ok": woken by notify')
      await worker.terminate()
    })

    test('Atomics.wait in a Worker is woken by wasm notify, and wasm wait by Atomics.notify', async () => {
      const module = new WebAssembly.Module(counter)
      const memory = new WebAssembly.Memory({ initial: 1, maximum: 1, shared: true })
      const { exports } = new WebAssembly.Instance(module, { env: { memory } })
      const view = new Int32Array(memory.buffer)
      const notifyUntilWoken = async (notify) => {
        for (;;) {
          const woken = notify()
          if (woken !== 0) return woken
          await new Promise((resolve) => setTimeout(resolve, 5))
        }
      }
      const jsWaiter = startWorker()
      const jsReply = once(jsWaiter, 'message')
      jsWaiter.postMessage({ task: 'js-wait', module, memory })
      assert.equal(await notifyUntilWoken(() => exports.notify(8, 1)), 1)
      assert.equal((await jsReply)[0].waited, 'ok')
      const wasmWaiter = startWorker()
      const wasmReply = once(wasmWaiter, 'message')
      wasmWaiter.postMessage({ task: 'wait', module, memory })
      assert.equal(await notifyUntilWoken(() => Atomics.notify(view, 1, 1)), 1)
      assert.equal((await wasmReply)[0].waited, 0)
      await Promise.all([jsWaiter.terminate(), wasmWaiter.terminate()])
    })

    test('Atomics.wait and notify on a shared memory\'s buffer on this thread', () => {
      const memory = new WebAssembly.Memory({ initial: 1, maximum: 1, shared: true })
      const view = new Int32Array(memory.buffer)
      assert.equal(Atomics.wait(view, 0, 1), 'not-equal')
      assert.equal(Atomics.wait(view, 0, 0, 0), 'timed-out')
      assert.equal(Atomics.wait(new BigInt64Array(memory.buffer), 1, 0n, 1), 'timed-out')
      assert.equal(Atomics.notify(view, 0), 0)
      assert.throws(() => Atomics.wait(view, 16384, 0, 0), RangeError)
    })

    test('an unshared Memory cannot be posted: DataCloneError', () => {
      const { port1, port2 } = new MessageChannel()
      try {
        const memory = new WebAssembly.Memory({ initial: 1 })
        assert.throws(() => port1.postMessage({ memory }), (e) => e.name === 'DataCloneError' && e instanceof DOMException)
      } finally {
        port1.close()
        port2.close()
      }
    })

    test('a message port delivers a posted Module, and a plain message is untouched', async () => {
      const module = new WebAssembly.Module(counter)
      const { port1, port2 } = new MessageChannel()
      const plain = { a: [1, { b: 2 }], c: new Uint8Array([3]) }
      const received = new Promise((resolve) => port2.on('message', resolve))
      port1.postMessage({ module, plain })
      const message = await received
      assert.ok(message.module instanceof WebAssembly.Module)
      assert.deepEqual(WebAssembly.Module.exports(message.module).map((e) => e.name), ['increment', 'load', 'wait', 'notify'])
      assert.deepEqual(message.plain, plain)
      port1.close()
      port2.close()
    })
  })
}
