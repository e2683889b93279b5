'use strict'
// `heron run`: runs a WASI command through heron.WASI, or calls one export (--invoke).
// Returns the process exit code.

const fs = require('node:fs')
const { parseArgs } = require('node:util')
const { CliError, WasmTrap, optionError } = require('./errors.js')
const { readModuleFile, compileModule } = require('./module-file.js')
const { parseModule, functionType, MalformedModule } = require('./wasm-binary.js')
const { parseArgument, formatResult } = require('./invoke-values.js')
const { RUN } = require('./usage.js')

const OPTIONS = {
  dir: { type: 'string', multiple: true, default: [] },
  env: { type: 'string', multiple: true, default: [] },
  invoke: { type: 'string' },
  timeout: { type: 'string' },
  fuel: { type: 'string' },
  'max-memory': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
}

// The WASI module names of preview1 and of its predecessor, and the heron.WASI version of each.
const WASI_VERSIONS = new Map([
  ['wasi_snapshot_preview1', 'preview1'],
  ['wasi_unstable', 'unstable'],
])

/**
 * Splits run's arguments into heron's options (before FILE) and FILE's own arguments (after
 * it), as wasmtime does, so `heron run app.wasm --help` passes --help to the program.
 */
function splitRunArguments(argv) {
  let index = 0
  while (index < argv.length) {
    const arg = argv[index]
    if (arg === '--') return { own: argv.slice(0, index), file: argv[index + 1], rest: argv.slice(index + 2) }
    if (!arg.startsWith('-') || arg === '-') break
    const name = arg.replace(/^--?/, '')
    index += OPTIONS[name]?.type === 'string' ? 2 : 1
  }
  return { own: argv.slice(0, index), file: argv[index], rest: argv.slice(index + 1) }
}

function parseRunArguments(argv) {
  const { own, file, rest } = splitRunArguments(argv)
  let values
  try {
    ;({ values } = parseArgs({ args: own, options: OPTIONS, strict: true, allowPositionals: false }))
  } catch (error) {
    throw optionError(error, 'run')
  }
  if (values.help) return { help: true }
  if (file === undefined) throw new CliError('run needs a module file: heron run FILE [args...]')
  return { ...values, file, args: rest, env: parseEnv(values.env), preopens: parsePreopens(values.dir) }
}

// The controls (README "Controls") as heron.Instance's option bag: --timeout in
// milliseconds (or with an ms/s suffix), --fuel in instructions, --max-memory in bytes (K, M
// or G suffix) for every memory the module defines.
function parseControls(options) {
  const controls = {}
  if (options.timeout !== undefined) {
    const match = /^(\d+(?:\.\d+)?)(ms|s)?$/.exec(options.timeout)
    const ms = match === null ? NaN : Number(match[1]) * (match[2] === 's' ? 1000 : 1)
    if (!(ms >= 1) || !Number.isSafeInteger(Math.round(ms))) {
      throw new CliError(`--timeout ${options.timeout}: expected a duration such as 500, 500ms or 2s`)
    }
    controls.timeout = Math.round(ms)
  }
  if (options.fuel !== undefined) {
    if (!/^\d+$/.test(options.fuel)) throw new CliError(`--fuel ${options.fuel}: expected a whole number of instructions`)
    controls.fuel = BigInt(options.fuel)
  }
  if (options['max-memory'] !== undefined) {
    const match = /^(\d+)([kKmMgG]?)$/.exec(options['max-memory'])
    const bytes = match === null ? NaN : Number(match[1]) * { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[match[2].toLowerCase()]
    if (!Number.isSafeInteger(bytes)) {
      throw new CliError(`--max-memory ${options['max-memory']}: expected a byte count such as 65536, 64K or 16M`)
    }
    controls.memoryLimit = bytes
  }
  return controls
}

function parsePreopens(dirs) {
  const preopens = {}
  for (const dir of dirs) {
    const separator = dir.indexOf('::')
    const host = separator === -1 ? dir : dir.slice(0, separator)
    const guest = separator === -1 ? dir : dir.slice(separator + 2)
    if (host === '' || guest === '') throw new CliError(`--dir ${dir}: expected HOST or HOST::GUEST`)
    if (!fs.statSync(host, { throwIfNoEntry: false })?.isDirectory()) {
      throw new CliError(`--dir ${dir}: ${host} is not a directory`)
    }
    preopens[guest] = host
  }
  return preopens
}

function parseEnv(assignments) {
  const env = {}
  for (const assignment of assignments) {
    const separator = assignment.indexOf('=')
    const name = separator === -1 ? assignment : assignment.slice(0, separator)
    if (name === '') throw new CliError(`--env ${assignment}: expected NAME=VALUE or NAME`)
    if (separator !== -1) env[name] = assignment.slice(separator + 1)
    else if (process.env[name] !== undefined) env[name] = process.env[name]
  }
  return env
}

// Runs `call` (instantiation or a call into wasm), turning a trap into a WasmTrap and a link
// or resource failure into a CliError. Exhausting the stack is a RangeError with V8's message
// (README), and a trap like any other; other RangeErrors are resource limits (memory).
function guardWasm(heron, path, call) {
  try {
    return call()
  } catch (error) {
    if (error instanceof heron.RuntimeError) throw new WasmTrap(error.message)
    if (error instanceof RangeError && error.message === 'Maximum call stack size exceeded') throw new WasmTrap(error.message)
    if (error instanceof RangeError) throw new CliError(`cannot run ${path}: ${error.message}`)
    if (error instanceof heron.LinkError) throw new CliError(`cannot link ${path}: ${error.message}`)
    throw error
  }
}

// The WASI version `structure`'s imports ask for; a CliError for any import WASI can't give.
function wasiVersionOf(structure, path) {
  let version
  for (const entry of structure.imports) {
    const wasiVersion = WASI_VERSIONS.get(entry.module)
    if (wasiVersion === undefined || entry.kind !== 'function') {
      throw new CliError(
        `${path} imports ${entry.kind} ${entry.module}.${entry.name}, which heron run cannot provide (only WASI functions)`,
      )
    }
    version = wasiVersion
  }
  return version
}

function makeWasi(heron, path, version, options) {
  if (typeof heron.WASI !== 'function') {
    throw new CliError(`${path} imports WASI but this heron build has no heron.WASI to provide it`)
  }
  return new heron.WASI({
    version,
    args: [path, ...options.args],
    env: options.env,
    preopens: options.preopens,
    returnOnExit: true,
  })
}

function runCommand(heron, path, module, structure, options) {
  if (!structure.exports.some((entry) => entry.name === '_start' && entry.kind === 'function')) {
    throw new CliError(`${path} has no _start export, so it is not a WASI command; use --invoke NAME to call an export`)
  }
  const wasi = makeWasi(heron, path, wasiVersionOf(structure, path) ?? 'preview1', options)
  const instance = guardWasm(heron, path, () => new heron.Instance(module, wasi.getImportObject(), options.controls))
  return guardWasm(heron, path, () => wasi.start(instance)) ?? 0
}

function invokeExport(heron, path, module, structure, options, write) {
  const name = options.invoke
  const exported = structure.exports.find((entry) => entry.name === name)
  if (exported === undefined) {
    const functions = structure.exports.filter((entry) => entry.kind === 'function').map((entry) => entry.name)
    throw new CliError(`${path} has no export named "${name}" (exported functions: ${functions.join(', ') || 'none'})`)
  }
  if (exported.kind !== 'function') throw new CliError(`export "${name}" of ${path} is a ${exported.kind}, not a function`)
  const type = functionType(structure, exported.index)
  if (options.args.length !== type.params.length) {
    throw new CliError(
      `${name} takes ${type.params.length} argument(s) (${type.params.join(', ') || 'none'}), got ${options.args.length}`,
    )
  }
  const args = options.args.map((text, i) =>
    parseArgument(text, type.params[i], () => `argument ${i + 1} of ${name}`),
  )

  // Only WASI imports can be provided; a module with them gets a WASI instance set up as a
  // library (memory bound, _initialize run) unless it is a command, which only _start sets up.
  const version = wasiVersionOf(structure, path)
  let imports = {}
  let wasi
  if (version !== undefined) {
    wasi = makeWasi(heron, path, version, options)
    imports = wasi.getImportObject()
  }
  const instance = guardWasm(heron, path, () => new heron.Instance(module, imports, options.controls))
  if (wasi !== undefined && typeof instance.exports._start !== 'function' && typeof wasi.initialize === 'function') {
    guardWasm(heron, path, () => wasi.initialize(instance))
  }
  const result = guardWasm(heron, path, () => instance.exports[name](...args))
  const results = type.results.length > 1 ? result : type.results.length === 1 ? [result] : []
  for (let i = 0; i < type.results.length; i++) write(`${formatResult(results[i], type.results[i])}\n`)
  return 0
}

/** `heron run` (argv: what follows "run"): returns the exit code; `write` prints to stdout. */
function run(heron, argv, write) {
  const options = parseRunArguments(argv)
  if (options.help) {
    write(RUN)
    return 0
  }
  options.controls = parseControls(options)
  const path = options.file
  const bytes = readModuleFile(path)
  const module = compileModule(heron, bytes, path)
  let structure
  try {
    structure = parseModule(bytes)
  } catch (error) {
    if (error instanceof MalformedModule) throw new CliError(`cannot read the structure of ${path}: ${error.message}`)
    throw error
  }
  return options.invoke === undefined
    ? runCommand(heron, path, module, structure, options)
    : invokeExport(heron, path, module, structure, options, write)
}

module.exports = { run }
