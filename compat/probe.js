'use strict'
// Preloaded (after register.js under heron) into every process and worker thread
// of a compat workload: fails it at once if globalThis.WebAssembly is not the
// implementation the run is meant to test, so a thread that escaped the preload
// cannot pass on V8 unnoticed.
const path = require('node:path')

const expect = process.env.HERON_COMPAT_EXPECT
// Under V8 the probe does not load heron at all: heron's namespace is the only one
// with an own `install`.
const isHeron = expect === 'heron'
  ? globalThis.WebAssembly === require(path.join(__dirname, '..', 'index.js'))
  : Object.hasOwn(globalThis.WebAssembly, 'install')
if ((expect === 'heron') !== isHeron) {
  throw new Error(`compat probe: expected ${expect}'s WebAssembly, found ${isHeron ? 'heron' : 'another'}`)
}
