'use strict'
// Reading a module file and compiling it with heron, with the failures a user can fix turned
// into one-line CliErrors.

const fs = require('node:fs')
const { CliError } = require('./errors.js')

/** The bytes of the module file at `path`. */
function readModuleFile(path) {
  let bytes
  try {
    bytes = fs.readFileSync(path)
  } catch (error) {
    const reasons = { ENOENT: 'no such file', EISDIR: 'it is a directory', EACCES: 'permission denied' }
    throw new CliError(`cannot read ${path}: ${reasons[error.code] ?? error.message}`)
  }
  if (looksLikeText(bytes)) {
    throw new CliError(`${path} is WebAssembly text, not a binary module: assemble it first (e.g. wat2wasm ${path})`)
  }
  return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength)
}

function looksLikeText(bytes) {
  const start = bytes.subarray(0, 64).toString('latin1').trimStart()
  return start.startsWith('(module') || start.startsWith(';;') || start.startsWith('(;')
}

/** A heron WebAssembly.Module of `bytes`; an invalid module is a CliError naming `path`. */
function compileModule(heron, bytes, path) {
  try {
    return new heron.Module(bytes)
  } catch (error) {
    if (error instanceof heron.CompileError) {
      throw new CliError(`${path} is not a valid module: ${error.message}`)
    }
    throw error
  }
}

module.exports = { readModuleFile, compileModule }
