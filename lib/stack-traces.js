'use strict'
// Wasm frames in `error.stack`. V8 lists the wasm frames of a failed call among the JS
// frames, one line each: `    at NAME (wasm://wasm/HASH:wasm-function[INDEX]:0xOFFSET)`.
// heron's wasm runs behind each exported function's JS wrapper (index.js), so the stack V8
// records shows that wrapper's one frame where the wasm frames were. When a call into wasm
// fails, the binding (src/error.rs) passes the exception and the call's wasm frames,
// formatted as V8 formats them, to `addWasmFrames`, which puts them in place of the
// wrapper's line (for a start function, in place of `new Instance`'s frame, the native
// call's). The exception travels outwards through every call into wasm it leaves,
// and each replaces the first wrapper line left, its own, so nested JS -> wasm -> JS ->
// wasm calls come out interleaved as in V8.
//
// What is left alone: thrown values that are not Error objects, a `stack` that is not V8's
// own (a user-defined property), and stacks without the wrapper's line in V8's format. A
// user's `Error.prepareStackTrace` gets V8's CallSite objects, which heron cannot make for
// wasm frames: it sees the wrapper's frame (file `heron:exported-function`) in their place,
// and its result is rewritten only if it is a string with V8's line for that frame (as
// source-map-support writes). The stack is read, and so the hook runs, as the exception
// leaves wasm.

const { types } = require('node:util')

// The sourceURL index.js compiles the wrappers with, so their frames read
// `    at 7 (heron:exported-function:3:5)` (their name is the function's index).
const EXPORTED_FUNCTION_URL = 'heron:exported-function'

// The sourceURL of the adapters through which wasm calls JS imports (index.js). V8 has no
// such frame: an adapter's line right above the wrapper's (the wasm frames in between are
// native, so nothing else can be there) is removed with it.
const IMPORT_ADAPTER_URL = 'heron:import-adapter'
const adapterFrame = /^    at (?:.* \()?heron:import-adapter:\d+:\d+\)?$/

// The getter V8 (12 and later) gives errors for `stack`; older V8 use a data property.
const nativeStackGetter = Object.getOwnPropertyDescriptor(new Error(), 'stack')?.get

// V8 14.1 (Node 25) replaced the string hash behind `wasm://wasm/HASH` URLs.
function v8UsesRapidHash() {
  const [major, minor] = process.versions.v8.split('.').map(Number)
  return major > 14 || (major === 14 && minor >= 1)
}

// The function the binding calls, for wrappers compiled with EXPORTED_FUNCTION_URL or,
// where source cannot be compiled, defined in `wrapperFile` (index.js).
function wasmFrameWriter(wrapperFile) {
  const files = [EXPORTED_FUNCTION_URL, wrapperFile].map((file) => file.replace(/[\\^$.*+?()[\]{}|]/g, '\\$&'))
  // `    at 7 (URL:3:5)`, or `    at 7 [as run] (URL:3:5)` when called as a method; a start
  // function runs under `new Instance` (its frame is in index.js).
  const wrapperFrame = new RegExp(
    `^    at (?:\\d+(?: \\[as .*\\])? \\((?:${files.join('|')})|new Instance \\(${files[1]}):\\d+:\\d+\\)$`,
  )

  return function addWasmFrames(error, frames) {
    if (!types.isNativeError(error)) return
    const stack = ownStack(error)
    if (typeof stack !== 'string') return
    const lines = stack.split('\n')
    const wrapper = lines.findIndex((line) => wrapperFrame.test(line))
    if (wrapper === -1) return
    const firstFrame = lines.findIndex((line) => line.startsWith('    at '))
    const adapter = wrapper > 0 && adapterFrame.test(lines[wrapper - 1]) ? 1 : 0
    lines.splice(wrapper - adapter, 1 + adapter, ...frames.split('\n'))
    // V8 counts wasm frames in Error.stackTraceLimit too.
    const limit = Error.stackTraceLimit
    if (typeof limit === 'number' && lines.length - firstFrame > limit) {
      lines.length = firstFrame + Math.max(0, Math.floor(limit))
    }
    try {
      error.stack = lines.join('\n')
    } catch {
      // A frozen error keeps its stack.
    }
  }
}

// The error's own `stack` if V8 made it, read without running anyone else's code.
function ownStack(error) {
  const descriptor = Object.getOwnPropertyDescriptor(error, 'stack')
  if (descriptor === undefined) return undefined
  if ('value' in descriptor) return descriptor.value
  return descriptor.get !== undefined && descriptor.get === nativeStackGetter ? error.stack : undefined
}

module.exports = { EXPORTED_FUNCTION_URL, IMPORT_ADAPTER_URL, v8UsesRapidHash, wasmFrameWriter }
