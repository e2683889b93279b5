// The implementation inside worker_threads Workers: loading, instantiating,
// calling, trapping and running out of stack off the main thread, including
// several threads at once.
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { Worker } from 'node:worker_threads'
import { once } from 'node:events'
import { implementations } from './fixtures/implementations.mjs'
import { wat } from './fixtures/wat.mjs'

const calculator = wat(`(module
  (import "host" "report" (func $report (param i32)))
  (func $add (export "add") (param i32 i32) (result i32) (i32.add (local.get 0) (local.get 1)))
  (func (export "report_sum") (param i32 i32) (call $report (call $add (local.get 0) (local.get 1)))))`)

const trapping = wat(`(module
  (func (export "divide") (param i32 i32) (result i32) (i32.div_s (local.get 0) (local.get 1)))
  (func $recurse (export "recurse") (param i32) (result i32)
    (i32.add (call $recurse (i32.add (local.get 0) (i32.const 1))) (i32.const 1))))`)

const workerScript = new URL('./fixtures/worker.mjs', import.meta.url)

async function runWorker(implementation) {
  const worker = new Worker(workerScript, { workerData: { implementation, calculator, trapping } })
  // Listen for both at once: a worker that exits right after posting can deliver
  // 'message' and 'exit' in the same turn, before a later listener is attached.
  const [[result], [exitCode]] = await Promise.all([once(worker, 'message'), once(worker, 'exit')])
  return { result, exitCode }
}

for (const [label, wasm] of implementations) {
  describe(label, () => {
    function assertWorkerResult({ result, exitCode }) {
      assert.equal(exitCode, 0)
      assert.equal(result.sum, 42)
      assert.deepEqual(result.reported, [42, 3])

      assert.equal(result.divideByZero.threw, true)
      assert.equal(result.divideByZero.isRuntimeError, true)
      assert.equal(result.divideByZero.name, 'RuntimeError')
      if (label === 'heron') assert.equal(result.divideByZero.message, 'integer divide by zero')
      assert.equal(result.divideAfterTrap, 42)

      assert.equal(result.recursion.threw, true)
      assert.equal(result.recursion.isRangeError, true)

      assert.equal(result.importThrowPassedThrough, true)
      assert.equal(result.repeatedTraps, true)
    }

    test('loads, instantiates, calls and traps in a worker', async () => {
      assertWorkerResult(await runWorker(label))
    })

    test('works in several workers at once while the main thread traps too', async () => {
      const workers = [runWorker(label), runWorker(label)]
      const { exports } = new wasm.Instance(new wasm.Module(trapping))
      for (let i = 0; i < 20; i++) {
        assert.throws(() => exports.divide(1, 0), wasm.RuntimeError)
      }
      assert.throws(() => exports.recurse(0), RangeError)
      for (const outcome of await Promise.all(workers)) {
        assertWorkerResult(outcome)
      }
      assert.equal(exports.divide(6, 3), 2)
    })

    test('a worker started after another has exited still works', async () => {
      assertWorkerResult(await runWorker(label))
      assertWorkerResult(await runWorker(label))
    })
  })
}
