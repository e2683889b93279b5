#!/usr/bin/env node
'use strict'
// The heron command: `heron run | validate | inspect | compile`. This file picks the command,
// loads heron, and turns every failure into one line on stderr and an exit code
// (lib/cli/errors.js); the commands themselves live in lib/cli/.

const { parseArgs } = require('node:util')
const { CliError, WasmTrap, optionError, ERROR_EXIT_CODE, TRAP_EXIT_CODE } = require('../lib/cli/errors.js')
const usage = require('../lib/cli/usage.js')

// help: the command's --help text; load: its implementation, required only when it runs;
// takesFile: its only argument is FILE. onDemand: it runs no code, so its modules compile on
// demand (HERON_COMPILATION=on-demand unless the user chose a mode) and no background thread
// compiles code that will never run.
const COMMANDS = {
  run: { help: usage.RUN, load: () => require('../lib/cli/run.js').run, takesFile: false },
  validate: { help: usage.VALIDATE, load: () => require('../lib/cli/validate.js').validate, takesFile: true, onDemand: true },
  inspect: { help: usage.INSPECT, load: () => require('../lib/cli/inspect.js').inspect, takesFile: true, onDemand: true },
  compile: { help: usage.COMPILE, load: () => require('../lib/cli/compile.js').compile, takesFile: true },
}

const write = (text) => process.stdout.write(text)

function loadHeron() {
  try {
    return require('../index.js')
  } catch (error) {
    throw new CliError(`cannot load heron's native addon: ${String(error.message).split('\n')[0]}`)
  }
}

// Whether `argv` (a command's arguments) asks for help before naming a file.
function asksForHelp(argv) {
  for (const arg of argv) {
    if (arg === '-h' || arg === '--help') return true
    if (!arg.startsWith('-')) return false
  }
  return false
}

// The one FILE argument of validate, inspect and compile.
function singleFile(name, argv) {
  let positionals
  try {
    ;({ positionals } = parseArgs({ args: argv, options: {}, strict: true, allowPositionals: true }))
  } catch (error) {
    throw optionError(error, name)
  }
  if (positionals.length !== 1) throw new CliError(`${name} takes one module file: heron ${name} FILE`)
  return positionals[0]
}

function main(argv) {
  const [name, ...rest] = argv
  if (name === '-h' || name === '--help') {
    write(usage.OVERVIEW)
    return 0
  }
  if (name === '-v' || name === '--version') {
    write(`heron ${require('../package.json').version}\n`)
    return 0
  }
  if (name === 'help') {
    write(COMMANDS[rest[0]]?.help ?? usage.OVERVIEW)
    return rest.length === 0 || COMMANDS[rest[0]] !== undefined ? 0 : ERROR_EXIT_CODE
  }
  const command = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined
  if (command === undefined) {
    process.stderr.write(usage.OVERVIEW)
    const commands = Object.keys(COMMANDS).join(', ')
    throw new CliError(name === undefined ? `no command given (commands: ${commands})` : `unknown command "${name}" (commands: ${commands})`)
  }
  if (asksForHelp(rest)) {
    write(command.help)
    return 0
  }
  const file = command.takesFile ? singleFile(name, rest) : undefined
  if (command.onDemand && process.env.HERON_COMPILATION === undefined) process.env.HERON_COMPILATION = 'on-demand'
  const heron = loadHeron()
  return command.load()(heron, command.takesFile ? file : rest, write)
}

// Messages from heron or WASI may span lines (e.g. a decoding error listing bytes); the
// report is one line whatever they hold.
const oneLine = (message) => String(message).trim().replace(/\s*\n\s*/g, ' ')

try {
  process.exitCode = main(process.argv.slice(2))
} catch (error) {
  if (error instanceof WasmTrap) {
    process.stderr.write(`heron: wasm trap: ${oneLine(error.message)}\n`)
    process.exitCode = TRAP_EXIT_CODE
  } else if (error instanceof CliError) {
    process.stderr.write(`heron: error: ${oneLine(error.message)}\n`)
    process.exitCode = ERROR_EXIT_CODE
  } else {
    // A bug in heron or its WASI: still one line, with the stack on request.
    const detail = process.env.HERON_DEBUG ? `\n${error?.stack}` : ' (set HERON_DEBUG=1 for the stack)'
    process.stderr.write(`heron: internal error: ${oneLine(error?.message ?? error)}${detail}\n`)
    process.exitCode = ERROR_EXIT_CODE
  }
}
