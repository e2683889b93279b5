'use strict'
// Atomics.wait and Atomics.notify on the SharedArrayBuffers of heron's shared memories go to
// the memory's own parking lot (src/atomics.rs), the one wasm's memory.atomic.wait*/notify
// use, so JS and wasm wake each other in any thread, as they do in V8; Atomics.waitAsync
// queues in the same lot, and its promise resolves on this thread when a notify (of wasm or
// JS, on any thread) wakes it. Every other buffer goes to V8's own Atomics untouched. The
// arguments are converted as the spec says, once.
let installed = false

function installAtomics(native) {
  if (installed) return
  installed = true
  const { wait: v8Wait, notify: v8Notify, waitAsync: v8WaitAsync } = Atomics

  const candidate = (typedArray) =>
    (typedArray instanceof Int32Array || typedArray instanceof BigInt64Array) && typedArray.buffer instanceof SharedArrayBuffer

  // ToIndex of a Number, then the range check of ValidateAtomicAccess (V8's message). Other
  // index types take V8's path, which converts them itself.
  const elementIndex = (typedArray, index) => {
    const number = Number(index)
    const integer = Number.isNaN(number) ? 0 : Math.trunc(number)
    if (integer < 0 || integer > Number.MAX_SAFE_INTEGER || integer >= typedArray.length) {
      throw new RangeError('Invalid atomic access index')
    }
    return integer
  }

  const isHeron = (typedArray, index) =>
    candidate(typedArray) && typeof index === 'number' && native.atomicsIsHeron(typedArray, elementIndex(typedArray, index))
  const expectedValue = (typedArray, value) =>
    typedArray instanceof BigInt64Array ? BigInt.asIntN(64, BigInt(value)) : BigInt(Number(value) | 0)
  const timeoutMs = (timeout) => {
    const milliseconds = Number(timeout)
    return Number.isNaN(milliseconds) ? Infinity : Math.max(milliseconds, 0)
  }

  const wait = {
    wait(typedArray, index, value, timeout) {
      if (!isHeron(typedArray, index)) return Reflect.apply(v8Wait, Atomics, arguments)
      const i = elementIndex(typedArray, index)
      return native.atomicsWait(typedArray, i, expectedValue(typedArray, value), timeoutMs(timeout))
    },
  }.wait
  // The result is { async, value } as V8 makes it: a string at once, or a promise resolved
  // with "ok" by a notify or "timed-out" by the timer. Like a pending V8 waitAsync, a pending
  // one keeps no event loop alive (the timer and the native wake-up are unreferenced).
  const settlers = new Map()
  const settle = (id, outcome) => {
    const settler = settlers.get(id)
    if (settler === undefined) return
    settlers.delete(id)
    settler(outcome)
  }
  const waitAsync = {
    waitAsync(typedArray, index, value, timeout) {
      if (!isHeron(typedArray, index)) return Reflect.apply(v8WaitAsync, Atomics, arguments)
      const i = elementIndex(typedArray, index)
      const milliseconds = timeoutMs(timeout)
      let id
      const pending = native.atomicsWaitAsync(typedArray, i, expectedValue(typedArray, value), milliseconds, () => settle(id, 'ok'))
      if (typeof pending === 'string') return { async: false, value: pending }
      id = pending
      let timer
      const promise = new Promise((resolve) => {
        settlers.set(id, (outcome) => {
          if (timer !== undefined) clearTimeout(timer)
          resolve(outcome)
        })
      })
      if (milliseconds !== Infinity) {
        // setTimeout's bound; a longer timeout is as good as none within a process's life.
        timer = setTimeout(() => {
          if (native.atomicsCancelWaitAsync(id)) settle(id, 'timed-out')
        }, Math.min(milliseconds, 0x7fffffff))
        timer.unref()
      }
      return { async: true, value: promise }
    },
  }.waitAsync
  const notify = {
    notify(typedArray, index, count) {
      if (!isHeron(typedArray, index)) return Reflect.apply(v8Notify, Atomics, arguments)
      const i = elementIndex(typedArray, index)
      let n = 0xffffffff
      if (count !== undefined) {
        const c = Number(count)
        n = Number.isNaN(c) ? 0 : Math.min(Math.max(Math.trunc(c), 0), 0xffffffff)
      }
      return native.atomicsNotify(typedArray, i, n)
    },
  }.notify
  const replaced = [['wait', wait], ['notify', notify]]
  if (typeof v8WaitAsync === 'function') replaced.push(['waitAsync', waitAsync])
  for (const [name, value] of replaced) {
    Object.defineProperty(Atomics, name, { ...Object.getOwnPropertyDescriptor(Atomics, name), value })
  }
  // A Worker terminated while blocked in one of heron's waits must stop waiting: the wait
  // polls whether V8 still runs this empty function (src/termination.rs).
  native.installWaitCancellation(() => {})
}

module.exports = { installAtomics }
