'use strict'
// Atomics.wait and Atomics.notify on the SharedArrayBuffers of heron's shared memories go to
// the memory's own parking lot (src/atomics.rs), the one wasm's memory.atomic.wait*/notify
// use, so JS and wasm wake each other in any thread, as they do in V8. Every other buffer
// goes to V8's own Atomics untouched (and Atomics.waitAsync always does: it does not see
// heron's notifies). The arguments are converted as the spec says, once.
let installed = false

function installAtomics(native) {
  if (installed) return
  installed = true
  const { wait: v8Wait, notify: v8Notify } = Atomics

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

  const wait = {
    wait(typedArray, index, value, timeout) {
      if (!candidate(typedArray) || typeof index !== 'number' || !native.atomicsIsHeron(typedArray, elementIndex(typedArray, index))) {
        return Reflect.apply(v8Wait, Atomics, arguments)
      }
      const i = elementIndex(typedArray, index)
      const expected = typedArray instanceof BigInt64Array ? BigInt.asIntN(64, BigInt(value)) : BigInt(Number(value) | 0)
      const milliseconds = Number(timeout)
      const bounded = Number.isNaN(milliseconds) ? Infinity : Math.max(milliseconds, 0)
      return native.atomicsWait(typedArray, i, expected, bounded)
    },
  }.wait
  const notify = {
    notify(typedArray, index, count) {
      if (!candidate(typedArray) || typeof index !== 'number' || !native.atomicsIsHeron(typedArray, elementIndex(typedArray, index))) {
        return Reflect.apply(v8Notify, Atomics, arguments)
      }
      const i = elementIndex(typedArray, index)
      let n = 0xffffffff
      if (count !== undefined) {
        const c = Number(count)
        n = Number.isNaN(c) ? 0 : Math.min(Math.max(Math.trunc(c), 0), 0xffffffff)
      }
      return native.atomicsNotify(typedArray, i, n)
    },
  }.notify
  for (const [name, value] of [['wait', wait], ['notify', notify]]) {
    Object.defineProperty(Atomics, name, { ...Object.getOwnPropertyDescriptor(Atomics, name), value })
  }
}

module.exports = { installAtomics }
