'use strict'
// The errors node:wasi throws, with Node's `code`s and message wording, so that code
// written against Node's WASI sees the same errors from heron's: argument validation
// (ERR_INVALID_ARG_TYPE, ERR_INVALID_ARG_VALUE, ERR_OUT_OF_RANGE) and lifecycle
// (ERR_WASI_ALREADY_STARTED, ERR_WASI_NOT_STARTED).

const { inspect } = require('node:util')

function withCode(error, code) {
  Object.defineProperty(error, 'code', { value: code, writable: true, configurable: true, enumerable: true })
  return error
}

// Node's description of the value received, as in its argument errors.
function received(value) {
  if (value === undefined || value === null) return ` Received ${value}`
  if (typeof value === 'function') return ` Received function ${value.name}`
  if (typeof value === 'object') {
    if (value.constructor?.name) return ` Received an instance of ${value.constructor.name}`
    return ` Received ${inspect(value, { depth: -1 })}`
  }
  let shown = inspect(value, { colors: false })
  if (shown.length > 28) shown = `${shown.slice(0, 25)}...`
  return ` Received type ${typeof value} (${shown})`
}

const kind = (name) => (name.includes('.') ? 'property' : 'argument')

function invalidArgType(name, expected, value) {
  return withCode(new TypeError(`The "${name}" ${kind(name)} must be ${expected}.${received(value)}`), 'ERR_INVALID_ARG_TYPE')
}

function invalidArgValue(name, value, reason) {
  let shown = inspect(value)
  if (shown.length > 128) shown = `${shown.slice(0, 128)}...`
  return withCode(new TypeError(`The ${kind(name)} '${name}' ${reason}. Received ${shown}`), 'ERR_INVALID_ARG_VALUE')
}

function outOfRange(name, range, value) {
  return withCode(new RangeError(`The value of "${name}" is out of range. It must be ${range}. Received ${value}`), 'ERR_OUT_OF_RANGE')
}

function validateObject(value, name) {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw invalidArgType(name, 'of type object', value)
  }
}

function validateInt32(value, name, min = -2147483648, max = 2147483647) {
  if (typeof value !== 'number') throw invalidArgType(name, 'of type number', value)
  if (!Number.isInteger(value)) throw outOfRange(name, 'an integer', value)
  if (value < min || value > max) throw outOfRange(name, `>= ${min} && <= ${max}`, value)
}

function alreadyStarted() {
  return withCode(new Error('WASI instance has already started'), 'ERR_WASI_ALREADY_STARTED')
}

function notStarted() {
  return withCode(new Error('wasi.start() has not been called'), 'ERR_WASI_NOT_STARTED')
}

// Node's own wording for a memory export that is not a WebAssembly.Memory (it has no "The").
function notAMemory() {
  return withCode(new TypeError('"instance.exports.memory" property must be a WebAssembly.Memory object'), 'ERR_INVALID_ARG_TYPE')
}

module.exports = {
  invalidArgType,
  invalidArgValue,
  validateObject,
  validateInt32,
  alreadyStarted,
  notStarted,
  notAMemory,
}
