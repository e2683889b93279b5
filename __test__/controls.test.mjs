// heron's execution controls (README "Controls"): timeouts, interrupt handles (across
// threads), Ctrl-C, fuel, memory and table limits, and their defaults from install() and
// the environment. Each error is a WebAssembly.RuntimeError with a distinct `code`.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Worker } from 'node:worker_threads'
import { spawn, spawnSync } from 'node:child_process'
import { once } from 'node:events'
import { fileURLToPath } from 'node:url'
import heron from '../index.js'
import { wat } from './fixtures/wat.mjs'

const indexPath = fileURLToPath(new URL('../index.js', import.meta.url))

const spinSource = `(module
  (import "host" "started" (func $started))
  (memory (export "memory") 1)
  (func (export "spin") (loop $l (br $l)))
  (func (export "signalThenSpin") (call $started) (loop $l (br $l)))
  (func (export "count") (param i32) (result i32) (local i32)
    (loop $l
      (local.set 1 (i32.add (local.get 1) (i32.const 1)))
      (i32.store (i32.const 0) (local.get 1))
      (br_if $l (i32.ne (local.get 1) (local.get 0))))
    (local.get 1)))`
const spin = wat(spinSource)
const noImports = { host: { started() {} } }

const growable = wat(`(module
  (memory (export "memory") 1)
  (table (export "table") 1 funcref)
  (func (export "grow") (param i32) (result i32) (memory.grow (local.get 0)))
  (func (export "growTable") (param i32) (result i32) (table.grow (ref.null func) (local.get 0))))`)

const nans = wat(`(module
  (func (export "div") (param f32 f32) (result i32) (i32.reinterpret_f32 (f32.div (local.get 0) (local.get 1))))
  (func (export "add") (param i32) (result i32) (i32.reinterpret_f32 (f32.add (f32.reinterpret_i32 (local.get 0)) (f32.const 1)))))`)

function isControlError(code) {
  return (error) => error instanceof heron.RuntimeError && error.code === code
}

test('the control functions are heron-only, non-enumerable and check their arguments', () => {
  for (const name of ['remainingFuel', 'addFuel', 'interruptHandle', 'InterruptHandle']) {
    assert.equal(typeof heron[name], 'function', name)
    assert.equal(Object.keys(heron).includes(name), false, name)
  }
  assert.equal(heron.instantiate.length, 1)
  assert.throws(() => heron.remainingFuel({}), TypeError)
  assert.throws(() => heron.interruptHandle(42), TypeError)
  const module = new heron.Module(spin)
  for (const bad of [{ timeout: -1 }, { timeout: 0 }, { fuel: -1 }, { memoryLimit: 1.5 }, { tableLimit: -2 }]) {
    assert.throws(() => new heron.Instance(module, noImports, bad), RangeError, JSON.stringify(bad))
  }
  assert.throws(() => new heron.Instance(module, noImports, { timeout: '50' }), TypeError)
})

test('a timeout stops a loop without calls within 10 ms of its deadline, and the instance stays usable', () => {
  const module = new heron.Module(spin)
  heron.waitForCompilation(module)
  const instance = new heron.Instance(module, noImports, { timeout: 50 })
  assert.ok(instance instanceof heron.Instance)
  const started = process.hrtime.bigint()
  assert.throws(() => instance.exports.spin(), (error) => {
    assert.ok(isControlError('ERR_HERON_TIMEOUT')(error))
    assert.equal(error.message, 'wasm execution timed out after 50 ms')
    return true
  })
  const elapsed = Number(process.hrtime.bigint() - started) / 1e6
  assert.ok(elapsed >= 50, `fired early: ${elapsed} ms`)
  assert.ok(elapsed < 60 + (process.env.CI ? 100 : 40), `fired late: ${elapsed} ms`)
  // The memory is as the trap left it and later calls run normally.
  assert.equal(instance.exports.count(5), 5)
  assert.equal(new Uint32Array(instance.exports.memory.buffer)[0], 5)
  assert.throws(() => instance.exports.spin(), isControlError('ERR_HERON_TIMEOUT'))
})

test('heron.instantiate takes the same options, from bytes or a module', async () => {
  const { instance } = await heron.instantiate(spin, noImports, { timeout: 20 })
  assert.throws(() => instance.exports.spin(), isControlError('ERR_HERON_TIMEOUT'))
  const again = await heron.instantiate(new heron.Module(spin), noImports, { fuel: 1000 })
  assert.equal(typeof heron.remainingFuel(again), 'bigint')
})

test('nested wasm -> JS -> wasm keeps the outermost deadline', () => {
  let instance
  let innerError
  const imports = {
    host: {
      started() {
        try {
          instance.exports.spin()
        } catch (error) {
          innerError = error
        }
      },
    },
  }
  instance = new heron.Instance(new heron.Module(spin), imports, { timeout: 50 })
  const started = Date.now()
  // The inner call times out at the outer deadline; back in wasm, the outer call's next
  // check fires at once.
  assert.throws(() => instance.exports.signalThenSpin(), isControlError('ERR_HERON_TIMEOUT'))
  assert.ok(isControlError('ERR_HERON_TIMEOUT')(innerError))
  assert.ok(Date.now() - started < 1000)
})

test('an interrupt requested while an import runs fires when it returns into wasm', () => {
  let handle
  const imports = { host: { started: () => handle.interrupt() } }
  const instance = new heron.Instance(new heron.Module(spin), imports, { interruptible: true })
  handle = heron.interruptHandle(instance)
  assert.ok(handle instanceof heron.InterruptHandle)
  assert.throws(() => instance.exports.signalThenSpin(), (error) => {
    assert.ok(isControlError('ERR_HERON_INTERRUPTED')(error))
    assert.equal(error.message, 'wasm execution was interrupted')
    return true
  })
  // An interrupt while idle does not reach the next call.
  handle.interrupt()
  assert.equal(instance.exports.count(3), 3)
})

// A wait forever on a shared memory nobody notifies: only the controls can end it.
const waitForever = wat(`(module
  (import "host" "started" (func $started))
  (memory 1 1 shared)
  (func (export "wait") (result i32)
    (call $started)
    (memory.atomic.wait32 (i32.const 0) (i32.const 0) (i64.const -1))))`, { threads: true })

test('a timeout stops a wasm wait with the error a loop gets', () => {
  const instance = new heron.Instance(new heron.Module(waitForever), noImports, { timeout: 30 })
  assert.throws(() => instance.exports.wait(), (error) => {
    assert.ok(isControlError('ERR_HERON_TIMEOUT')(error))
    assert.equal(error.message, 'wasm execution timed out after 30 ms')
    return true
  })
})

test('an interrupt from another thread stops a wasm wait', async () => {
  const instance = new heron.Instance(new heron.Module(waitForever), noImports, { interruptible: true })
  // The Worker interrupts until this thread has returned: an interrupt before the call
  // starts is forgotten, one during the wait must end it.
  const returned = new Int32Array(new SharedArrayBuffer(4))
  const worker = new Worker(
    `const { workerData } = require('node:worker_threads')
     const handle = require(${JSON.stringify(indexPath)}).interruptHandle(workerData.handle)
     while (Atomics.load(workerData.returned, 0) === 0) {
       handle.interrupt()
       Atomics.wait(workerData.returned, 0, 0, 5)
     }`,
    { eval: true, workerData: { handle: heron.interruptHandle(instance), returned } },
  )
  await once(worker, 'online')
  assert.throws(() => instance.exports.wait(), isControlError('ERR_HERON_INTERRUPTED'))
  Atomics.store(returned, 0, 1)
  await once(worker, 'exit')
})

test('breakOnSigint: Ctrl-C during a wasm wait throws, and the process goes on', async () => {
  const { code, output } = await sigintChild('{ breakOnSigint: true }', { wasm: waitForever, entry: 'wait' })
  assert.equal(code, 0)
  assert.match(output, /caught ERR_HERON_INTERRUPTED/)
})

test('interruptHandle needs an instance with interrupt checks', () => {
  const module = new heron.Module(spin)
  assert.throws(() => heron.interruptHandle(new heron.Instance(module, noImports)), TypeError)
  assert.throws(() => heron.interruptHandle(new heron.Instance(module, noImports, { fuel: 10 })), TypeError)
})

// The worker runs the loop; the main thread interrupts it, and the reverse. A
// SharedArrayBuffer says when the loop has started, so the interrupt cannot come first.
const workerSource = `
const { parentPort, workerData } = require('node:worker_threads')
const heron = require(workerData.indexPath)
const flag = new Int32Array(workerData.shared)
if (workerData.role === 'spinner') {
  const imports = { host: { started: () => Atomics.store(flag, 0, 1) } }
  const instance = new heron.Instance(new heron.Module(workerData.spin), imports, { interruptible: true })
  parentPort.postMessage(heron.interruptHandle(instance))
  try {
    instance.exports.signalThenSpin()
    parentPort.postMessage('returned')
  } catch (error) {
    parentPort.postMessage(error.code)
  }
} else {
  const handle = heron.interruptHandle(workerData.handle)
  while (Atomics.load(flag, 0) === 0) Atomics.wait(flag, 0, 0, 5)
  parentPort.postMessage(handle.interrupt())
}
`

test('a handle posted from the main thread interrupts it from a Worker', async () => {
  const shared = new SharedArrayBuffer(4)
  const flag = new Int32Array(shared)
  const imports = { host: { started: () => Atomics.store(flag, 0, 1) } }
  const instance = new heron.Instance(new heron.Module(spin), imports, { interruptible: true })
  const handle = heron.interruptHandle(instance)
  const worker = new Worker(workerSource, {
    eval: true,
    workerData: { indexPath, shared, role: 'interrupter', handle: structuredClone(handle) },
  })
  assert.throws(() => instance.exports.signalThenSpin(), isControlError('ERR_HERON_INTERRUPTED'))
  const [[interrupted], [exitCode]] = await Promise.all([once(worker, 'message'), once(worker, 'exit')])
  assert.equal(interrupted, true)
  assert.equal(exitCode, 0)
})

test('a handle posted from a Worker interrupts it from the main thread', async () => {
  const shared = new SharedArrayBuffer(4)
  const flag = new Int32Array(shared)
  const worker = new Worker(workerSource, { eval: true, workerData: { indexPath, shared, role: 'spinner', spin } })
  const messages = []
  worker.on('message', (message) => messages.push(message))
  // Resolves at the Worker's exit, so a Worker that ends early fails the test with what it sent.
  const exited = new Promise((resolve, reject) => {
    worker.on('error', reject)
    worker.on('exit', resolve)
  })
  while (messages.length === 0) await new Promise((resolve) => setTimeout(resolve, 5))
  const handle = heron.interruptHandle(messages[0])
  while (Atomics.load(flag, 0) === 0) await new Promise((resolve) => setTimeout(resolve, 5))
  assert.equal(handle.interrupt(), true)
  const exitCode = await exited
  assert.deepEqual({ exitCode, sent: messages.slice(1) }, { exitCode: 0, sent: ['ERR_HERON_INTERRUPTED'] })
})

test('timeouts and fuel work in a Worker', async () => {
  const source = `
const { parentPort, workerData } = require('node:worker_threads')
const heron = require(workerData.indexPath)
const module = new heron.Module(workerData.spin)
const imports = { host: { started() {} } }
const codes = []
for (const options of [{ timeout: 20 }, { fuel: 1000 }]) {
  try { new heron.Instance(module, imports, options).exports.spin() } catch (error) { codes.push(error.code) }
}
parentPort.postMessage(codes)
`
  const worker = new Worker(source, { eval: true, workerData: { indexPath, spin } })
  const [[codes]] = await Promise.all([once(worker, 'message'), once(worker, 'exit')])
  assert.deepEqual(codes, ['ERR_HERON_TIMEOUT', 'ERR_HERON_OUT_OF_FUEL'])
})

test('every option works in a Worker', async () => {
  const source = `
const { parentPort, workerData } = require('node:worker_threads')
const heron = require(workerData.indexPath)
const module = new heron.Module(workerData.spin)
const imports = { host: { started() {} } }
const outcome = (run) => {
  try { return run() } catch (error) { return error.code?.startsWith('ERR_HERON') ? error.code : error.name }
}
const results = {}
results.timeout = outcome(() => new heron.Instance(module, imports, { timeout: 20 }).exports.spin())
results.fuel = outcome(() => new heron.Instance(module, imports, { fuel: 1000 }).exports.spin())
results.remaining = String(heron.remainingFuel(new heron.Instance(module, imports, { fuel: 77n })))
let handle
const interrupted = new heron.Instance(module, { host: { started: () => handle.interrupt() } }, { interruptible: true })
handle = heron.interruptHandle(interrupted)
results.interruptible = outcome(() => interrupted.exports.signalThenSpin())
results.breakOnSigint = new heron.Instance(module, imports, { breakOnSigint: true }).exports.count(7)
const limited = new heron.Instance(new heron.Module(workerData.growable), {}, { memoryLimit: 2 * 65536, tableLimit: 2 })
results.memoryLimit = [limited.exports.grow(1), limited.exports.grow(1), outcome(() => limited.exports.memory.grow(1))]
results.tableLimit = [limited.exports.growTable(1), limited.exports.growTable(1), outcome(() => limited.exports.table.grow(1))]
results.deterministic = new heron.Instance(new heron.Module(workerData.nans, { deterministic: true }), {}).exports.div(0, 0) >>> 0
heron.install({ fuel: 500 })
results.installed = String(heron.remainingFuel(new heron.Instance(module, imports)))
heron.uninstall()
parentPort.postMessage(results)
`
  const worker = new Worker(source, { eval: true, workerData: { indexPath, spin, growable, nans } })
  const [[results], [exitCode]] = await Promise.all([once(worker, 'message'), once(worker, 'exit')])
  assert.equal(exitCode, 0)
  assert.deepEqual(results, {
    timeout: 'ERR_HERON_TIMEOUT',
    fuel: 'ERR_HERON_OUT_OF_FUEL',
    remaining: '77',
    interruptible: 'ERR_HERON_INTERRUPTED',
    breakOnSigint: 7,
    memoryLimit: [1, -1, 'RangeError'],
    tableLimit: [1, -1, 'RangeError'],
    deterministic: 0x7fc00000,
    installed: '500',
  })
})

test('fuel is exact: the same budget runs out at the same point on every run and tier', () => {
  const run = (env) => {
    const script = `
const heron = require(${JSON.stringify(indexPath)})
const bytes = Buffer.from(${JSON.stringify(Buffer.from(spin).toString('base64'))}, 'base64')
const instance = new heron.Instance(new heron.Module(bytes), { host: { started() {} } }, { fuel: 12345 })
let code
try { instance.exports.count(1000000) } catch (error) { code = error.code }
const stored = new Uint32Array(instance.exports.memory.buffer)[0]
const counted = new heron.Instance(new heron.Module(bytes), { host: { started() {} } }, { fuel: 1000000n })
counted.exports.count(100)
console.log(JSON.stringify({ code, stored, remaining: String(heron.remainingFuel(instance)), used: String(1000000n - heron.remainingFuel(counted)) }))
`
    const result = spawnSync(process.execPath, ['-e', script], { env: { ...process.env, ...env }, encoding: 'utf8' })
    assert.equal(result.status, 0, result.stderr)
    return JSON.parse(result.stdout)
  }
  const eager = run({ HERON_COMPILATION: 'eager' })
  assert.equal(eager.code, 'ERR_HERON_OUT_OF_FUEL')
  assert.equal(eager.remaining, '0')
  assert.ok(eager.stored > 0 && eager.stored < 12345, `stopped inside the loop: ${eager.stored}`)
  // One unit per instruction: 11 per iteration, plus the final local.get.
  assert.equal(eager.used, String(100 * 11 + 1))
  assert.deepEqual(run({ HERON_COMPILATION: 'eager' }), eager)
  assert.deepEqual(run({ HERON_COMPILATION: 'baseline' }), eager)
  assert.deepEqual(run({ HERON_COMPILATION: 'lazy' }), eager)
})

test('addFuel and remainingFuel', () => {
  const instance = new heron.Instance(new heron.Module(spin), noImports, { fuel: 100 })
  assert.equal(heron.remainingFuel(instance), 100n)
  assert.throws(() => instance.exports.count(1000), isControlError('ERR_HERON_OUT_OF_FUEL'))
  assert.equal(heron.remainingFuel(instance), 0n)
  assert.throws(() => instance.exports.count(1), isControlError('ERR_HERON_OUT_OF_FUEL'))
  heron.addFuel(instance, 1_000_000)
  heron.addFuel(instance, 5n)
  assert.equal(heron.remainingFuel(instance), 1_000_005n)
  assert.equal(instance.exports.count(10), 10)
  assert.ok(heron.remainingFuel(instance) < 1_000_005n)
  assert.throws(() => heron.addFuel(new heron.Instance(new heron.Module(spin), noImports), 1), TypeError)
})

test('memoryLimit and tableLimit: wasm grows get -1, JS grows a RangeError, instantiation a RangeError', () => {
  const module = new heron.Module(growable)
  const { exports } = new heron.Instance(module, {}, { memoryLimit: 3 * 65536, tableLimit: 10 })
  assert.equal(exports.grow(2), 1)
  assert.equal(exports.grow(1), -1)
  assert.throws(() => exports.memory.grow(1), RangeError)
  assert.equal(exports.memory.buffer.byteLength, 3 * 65536)
  assert.equal(exports.growTable(9), 1)
  assert.equal(exports.growTable(1), -1)
  assert.throws(() => exports.table.grow(1), RangeError)
  assert.throws(() => new heron.Instance(module, {}, { memoryLimit: 1000 }), RangeError)
  assert.throws(() => new heron.Instance(module, {}, { tableLimit: 0 }), RangeError)
  // Imported memories keep the limits of whoever created them.
  const importer = wat(`(module (import "m" "memory" (memory 1)) (func (export "grow") (param i32) (result i32) (memory.grow (local.get 0))))`)
  const memory = new heron.Memory({ initial: 1 })
  const imported = new heron.Instance(new heron.Module(importer), { m: { memory } }, { memoryLimit: 65536 })
  assert.equal(imported.exports.grow(1), 1)
})

test('install(options) sets defaults for every instance until uninstall; explicit options override', () => {
  const module = new heron.Module(spin)
  try {
    heron.install({ timeout: 30, fuel: 1_000_000_000 })
    const instance = new heron.Instance(module, noImports)
    assert.equal(heron.remainingFuel(instance), 1_000_000_000n)
    assert.throws(() => instance.exports.spin(), isControlError('ERR_HERON_TIMEOUT'))
    const explicit = new heron.Instance(module, noImports, { fuel: 50 })
    assert.equal(heron.remainingFuel(explicit), 50n)
  } finally {
    heron.uninstall()
  }
  assert.throws(() => heron.remainingFuel(new heron.Instance(module, noImports)), TypeError)
})

function runScript(script, env) {
  return spawnSync(process.execPath, ['-e', script], { env: { ...process.env, ...env }, encoding: 'utf8', timeout: 30_000 })
}

const spinInFreshProcess = `
const heron = require(${JSON.stringify(indexPath)})
const bytes = Buffer.from(${JSON.stringify(Buffer.from(spin).toString('base64'))}, 'base64')
try { new heron.Instance(new heron.Module(bytes), { host: { started() {} } }).exports.spin() } catch (error) { console.log(error.code, error.message) }
`

test('HERON_TIMEOUT and HERON_FUEL set defaults for every instance; bad values stop the load', () => {
  const timed = runScript(spinInFreshProcess, { HERON_TIMEOUT: '25' })
  assert.equal(timed.status, 0, timed.stderr)
  assert.equal(timed.stdout.trim(), 'ERR_HERON_TIMEOUT wasm execution timed out after 25 ms')
  const fueled = runScript(spinInFreshProcess, { HERON_FUEL: '100000' })
  assert.equal(fueled.stdout.trim(), 'ERR_HERON_OUT_OF_FUEL wasm execution ran out of fuel')
  const bad = runScript(spinInFreshProcess, { HERON_TIMEOUT: 'soon' })
  assert.notEqual(bad.status, 0)
  assert.match(bad.stderr, /HERON_TIMEOUT="soon" is not a positive number of milliseconds/)
  const badSize = runScript(spinInFreshProcess, { HERON_MEMORY_LIMIT: '12X' })
  assert.match(badSize.stderr, /HERON_MEMORY_LIMIT="12X" is not a byte count/)
  const limited = runScript(
    `const heron = require(${JSON.stringify(indexPath)})
     try { new heron.Memory({ initial: 1 }); new heron.Instance(new heron.Module(Buffer.from(${JSON.stringify(Buffer.from(growable).toString('base64'))}, 'base64')), {}) } catch (error) { console.log(error.name) }`,
    { HERON_MEMORY_LIMIT: '32K' },
  )
  assert.equal(limited.stdout.trim(), 'RangeError')
})

const sigintScript = (options, wasm, entry) => `
const heron = require(${JSON.stringify(indexPath)})
const bytes = Buffer.from(${JSON.stringify(Buffer.from(wasm).toString('base64'))}, 'base64')
const instance = new heron.Instance(new heron.Module(bytes), { host: { started() { console.log('started') } } }, ${options})
try { instance.exports.${entry}() } catch (error) { console.log('caught', error.code) }
`

// The same in a Worker: the child's main thread waits for the loop to start (a flag in a
// SharedArrayBuffer), says so, and prints what the Worker reports.
const sigintWorkerScript = (options) => `
const { Worker } = require('node:worker_threads')
const flag = new Int32Array(new SharedArrayBuffer(4))
const worker = new Worker(\`
const { parentPort, workerData } = require('node:worker_threads')
const heron = require(workerData.indexPath)
const flag = new Int32Array(workerData.shared)
const instance = new heron.Instance(new heron.Module(workerData.bytes), { host: { started: () => Atomics.store(flag, 0, 1) } }, ${options})
try { instance.exports.signalThenSpin() } catch (error) { parentPort.postMessage('caught ' + error.code) }
\`, { eval: true, workerData: { indexPath: ${JSON.stringify(indexPath)}, shared: flag.buffer, bytes: Buffer.from(${JSON.stringify(Buffer.from(spin).toString('base64'))}, 'base64') } })
worker.on('message', (message) => console.log(message))
const poll = setInterval(() => { if (Atomics.load(flag, 0) === 1) { clearInterval(poll); console.log('started') } }, 5)
`

async function sigintChild(options, { env = {}, inWorker = false, wasm = spin, entry = 'signalThenSpin' } = {}) {
  const script = inWorker ? sigintWorkerScript(options) : sigintScript(options, wasm, entry)
  const child = spawn(process.execPath, ['-e', script], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...env },
  })
  let output = ''
  child.stdout.setEncoding('utf8')
  await new Promise((resolve) => child.stdout.on('data', (chunk) => (output += chunk).includes('started') && resolve()))
  // The loop is running (or about to): give it a moment, then Ctrl-C.
  await new Promise((resolve) => setTimeout(resolve, 50))
  child.kill('SIGINT')
  const [code, signal] = await once(child, 'exit')
  return { code, signal, output }
}

test('breakOnSigint: Ctrl-C while wasm runs throws, and the process goes on', async () => {
  const { code, output } = await sigintChild('{ breakOnSigint: true }')
  assert.equal(code, 0)
  assert.match(output, /caught ERR_HERON_INTERRUPTED/)
})

test('breakOnSigint in a Worker: Ctrl-C while its wasm runs throws there, and the process goes on', async () => {
  const { code, output } = await sigintChild('{ breakOnSigint: true }', { inWorker: true })
  assert.equal(code, 0)
  assert.match(output, /caught ERR_HERON_INTERRUPTED/)
})

test('HERON_BREAK_ON_SIGINT=1 makes Ctrl-C break the wasm of an instance without options', async () => {
  const { code, output } = await sigintChild('{}', { env: { HERON_BREAK_ON_SIGINT: '1' } })
  assert.equal(code, 0)
  assert.match(output, /caught ERR_HERON_INTERRUPTED/)
})

test('without breakOnSigint, Ctrl-C still ends the process', async () => {
  const { signal, output } = await sigintChild('{ timeout: 20000 }')
  assert.equal(signal, 'SIGINT')
  assert.doesNotMatch(output, /caught/)
})

test('deterministic: true makes every NaN canonical, through Module, compile and instantiate', async () => {
  const check = (instance) => {
    assert.equal(instance.exports.div(0, 0) >>> 0, 0x7fc00000)
    assert.equal(instance.exports.add(0x7fa00001) >>> 0, 0x7fc00000)
  }
  assert.equal(heron.Module.length, 1)
  check(new heron.Instance(new heron.Module(nans, { deterministic: true }), {}))
  check(new heron.Instance(await heron.compile(nans, { deterministic: true }), {}))
  check((await heron.instantiate(nans, {}, { deterministic: true })).instance)
  // x86's own NaN has the sign bit set: the option is what makes results portable.
  assert.notEqual(new heron.Instance(new heron.Module(nans), {}).exports.div(0, 0) >>> 0, 0x7fc00000)
  assert.throws(() => new heron.Module(nans, 'yes'), TypeError)
})
