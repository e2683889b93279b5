'use strict'
// heron's demo: the MDN example for WebAssembly.Instance, run synchronously and
// asynchronously, then one compute-heavy export timed on heron and on Node's
// own WebAssembly (V8) with the same module bytes. The module is demo.wat,
// assembled into demo.wasm.

const fs = require('node:fs')
const path = require('node:path')
const heron = require('..')

const bytes = fs.readFileSync(path.join(__dirname, 'demo.wasm'))
const FIB_ITERATIONS = 100_000_000

const importObject = {
  imports: {
    imported_func(arg) {
      console.log(arg)
    },
  },
}

// Times one call of fib(FIB_ITERATIONS) on an implementation of the WebAssembly namespace.
async function timeFib(wasm) {
  const { instance } = await wasm.instantiate(bytes, importObject)
  const { fib } = instance.exports
  // V8 compiles lazily with a baseline compiler and optimizes hot functions in
  // background threads, but cannot swap the code of a call that is already
  // running. Warm up with short calls and give the optimizer a moment, so V8 is
  // timed at its best. heron compiles once, up front; the warm-up is harmless.
  for (let i = 0; i < 20; i++) fib(100_000)
  await new Promise((resolve) => setTimeout(resolve, 50))

  const start = process.hrtime.bigint()
  const result = fib(FIB_ITERATIONS)
  const milliseconds = Number(process.hrtime.bigint() - start) / 1e6
  return { result, milliseconds }
}

async function main() {
  console.log('MDN example, synchronously: new Module(bytes), new Instance(module, importObject)')
  const module = new heron.Module(bytes)
  const instance = new heron.Instance(module, importObject)
  instance.exports.exported_func()

  console.log('MDN example, asynchronously: instantiate(bytes, importObject)')
  const instantiated = await heron.instantiate(bytes, importObject)
  console.log(`  got { module: ${instantiated.module}, instance: ${instantiated.instance} }`)
  instantiated.instance.exports.exported_func()

  console.log(`\nfib(${FIB_ITERATIONS.toLocaleString('en-US')}) mod 2^64, one call each:`)
  const onHeron = await timeFib(heron)
  const onV8 = await timeFib(WebAssembly)
  console.log(`  heron: ${onHeron.milliseconds.toFixed(1).padStart(8)} ms`)
  console.log(`  V8:    ${onV8.milliseconds.toFixed(1).padStart(8)} ms`)
  console.log(`  heron / V8: ${(onHeron.milliseconds / onV8.milliseconds).toFixed(2)}`)
  const equal = onHeron.result === onV8.result
  console.log(`  results equal: ${equal} (${BigInt.asUintN(64, onHeron.result)})`)
  if (!equal) {
    console.error(`  V8 returned ${onV8.result}`)
    process.exitCode = 1
  }
}

main().catch((error) => {
  console.error(error)
  process.exitCode = 1
})
