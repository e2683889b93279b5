'use strict'
// heron.WASI: WASI preview1 for programs running on heron (or V8), with the
// constructor options, methods and errors of Node's `node:wasi` WASI class, so that
// code written for Node's runs unchanged. Files are reached only through the
// preopened directories (paths.js keeps every path inside its directory).
//
//   const wasi = new heron.WASI({ version: 'preview1', args, env, preopens: { '/': dir } })
//   const instance = await heron.instantiate(bytes, wasi.getImportObject())
//   const exitCode = wasi.start(instance.instance)

const { FdTable } = require('./fd-table.js')
const { fileCalls } = require('./file-calls.js')
const { systemCalls } = require('./system-calls.js')
const { makeWasiImport } = require('./imports.js')
const {
  invalidArgType, invalidArgValue, validateObject, validateInt32, alreadyStarted, notAMemory,
} = require('./node-errors.js')

// Import module names per `version`, as Node's.
const MODULE_NAMES = { preview1: 'wasi_snapshot_preview1', unstable: 'wasi_unstable' }

// Memory classes whose objects can back a WASI instance: V8's (captured before heron
// can be installed in its place) and heron's (registered by index.js).
const memoryClasses = [globalThis.WebAssembly?.Memory].filter(Boolean)
function acceptMemoryClass(MemoryClass) {
  memoryClasses.push(MemoryClass)
}
const isMemory = (value) => memoryClasses.some((MemoryClass) => value instanceof MemoryClass)

// Like uvwasi when Node's WASI object goes away: the preopens and files the guest left
// open are closed when the WASI object is collected.
const closeDescriptors = new FinalizationRegistry((table) => table.closeAll())

// What proc_exit throws, with returnOnExit, to unwind the guest back to start().
const kExit = Symbol('kExitCode')

class WASI {
  #moduleName
  #started = false
  #memory
  #exitCode = 0

  constructor(options = {}) {
    validateObject(options, 'options')
    const { version } = options
    if (typeof version !== 'string') throw invalidArgType('options.version', 'of type string', version)
    if (!Object.hasOwn(MODULE_NAMES, version)) throw invalidArgValue('options.version', version, 'unsupported WASI version')
    this.#moduleName = MODULE_NAMES[version]

    if (options.args !== undefined && !Array.isArray(options.args)) {
      throw invalidArgType('options.args', 'an instance of Array', options.args)
    }
    const args = (options.args ?? []).map(String)

    const env = []
    if (options.env !== undefined) {
      validateObject(options.env, 'options.env')
      for (const [key, value] of Object.entries(options.env)) {
        if (value !== undefined) env.push(`${key}=${value}`)
      }
    }

    const preopens = []
    if (options.preopens !== undefined) {
      validateObject(options.preopens, 'options.preopens')
      for (const [guestPath, hostPath] of Object.entries(options.preopens)) {
        preopens.push([String(guestPath), String(hostPath)])
      }
    }

    const { stdin = 0, stdout = 1, stderr = 2 } = options
    validateInt32(stdin, 'options.stdin', 0)
    validateInt32(stdout, 'options.stdout', 0)
    validateInt32(stderr, 'options.stderr', 0)

    const table = new FdTable([stdin, stdout, stderr], preopens)
    closeDescriptors.register(this, table)

    let returnOnExit = true
    if (options.returnOnExit !== undefined) {
      if (typeof options.returnOnExit !== 'boolean') {
        throw invalidArgType('options.returnOnExit', 'of type boolean', options.returnOnExit)
      }
      returnOnExit = options.returnOnExit
    }
    const exit = returnOnExit
      ? (code) => {
          this.#exitCode = code
          throw kExit
        }
      : (code) => process.exit(code)

    const calls = { ...fileCalls(table), ...systemCalls(table, { args, env, exit }) }
    this.wasiImport = makeWasiImport(calls, () => this.#memory)
  }

  // Binds the instance's memory (or options.memory). Node's order since finalizeBindings
  // became public (Node 24): the instance and memory are checked before the WASI counts as
  // started, so a call rejected here can be retried; from then on a second call fails, even
  // when start() or initialize() rejects the exports. (Node 20 and 22 counted it started
  // before any check.)
  finalizeBindings(instance, { memory = instance?.exports?.memory } = {}) {
    if (this.#started) throw alreadyStarted()
    validateObject(instance, 'instance')
    validateObject(instance.exports, 'instance.exports')
    if (!isMemory(memory)) throw notAMemory()
    this.#started = true
    this.#memory = memory
  }

  // Runs a command: `_start` must be exported, `_initialize` must not. Returns the
  // exit code (proc_exit's, with returnOnExit; 0 if _start returns).
  start(instance) {
    this.finalizeBindings(instance)
    const { _start, _initialize } = instance.exports
    if (typeof _start !== 'function') throw invalidArgType('instance.exports._start', 'of type function', _start)
    if (_initialize !== undefined) throw invalidArgType('instance.exports._initialize', 'undefined', _initialize)
    try {
      _start()
    } catch (error) {
      if (error !== kExit) throw error
    }
    return this.#exitCode
  }

  // Prepares a reactor: `_start` must not be exported; `_initialize` runs if it is.
  initialize(instance) {
    this.finalizeBindings(instance)
    const { _start, _initialize } = instance.exports
    if (_start !== undefined) throw invalidArgType('instance.exports._start', 'undefined', _start)
    if (_initialize !== undefined) {
      if (typeof _initialize !== 'function') {
        throw invalidArgType('instance.exports._initialize', 'of type function', _initialize)
      }
      _initialize()
    }
  }

  getImportObject() {
    return { [this.#moduleName]: this.wasiImport }
  }
}

module.exports = { WASI, acceptMemoryClass }
