'use strict'
// The two ways a heron command fails on purpose. bin/heron.js prints each as one line and
// exits with its code; anything else reaching it is a bug in heron and is reported as one too.

/** A mistake the user can fix (usage, missing file, invalid module, link failure): exit 1. */
class CliError extends Error {}

/** A trap while running wasm code: exit 128 + SIGABRT, as wasmtime does on Unix. */
class WasmTrap extends Error {}

/** A CliError for a node:util parseArgs error: its first sentence, lowercase as heron's are. */
function optionError(error, command) {
  const sentence = error.message.split(/\.\s/)[0]
  return new CliError(`${sentence.charAt(0).toLowerCase()}${sentence.slice(1)} (see heron ${command} --help)`)
}

const ERROR_EXIT_CODE = 1
const TRAP_EXIT_CODE = 134

module.exports = { CliError, WasmTrap, optionError, ERROR_EXIT_CODE, TRAP_EXIT_CODE }
