'use strict'
// Command-line text <-> wasm values for `heron run --invoke`: arguments are parsed per the
// export's parameter types, results printed one per line (integers in signed decimal, floats
// in JS's shortest round-trip form, nan and inf spelled as in the text format).

const { CliError } = require('./errors.js')

const INTEGER = /^[+-]?(0x[0-9a-f]+|[0-9]+)$/i
const FLOAT = /^[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)(e[+-]?[0-9]+)?$/i
const FLOAT_WORDS = new Map([
  ['nan', NaN], ['+nan', NaN], ['-nan', NaN],
  ['inf', Infinity], ['+inf', Infinity], ['-inf', -Infinity],
  ['infinity', Infinity], ['+infinity', Infinity], ['-infinity', -Infinity],
])

// Integers may be written signed or unsigned: -1 and 4294967295 are the same i32.
function parseInteger(text, bits) {
  if (!INTEGER.test(text)) return undefined
  const negative = text.startsWith('-')
  const digits = text.replace(/^[+-]/, '')
  const magnitude = BigInt(digits)
  const value = negative ? -magnitude : magnitude
  if (value < -(2n ** BigInt(bits - 1)) || value >= 2n ** BigInt(bits)) return undefined
  return BigInt.asIntN(bits, value)
}

function parseFloat(text) {
  const word = FLOAT_WORDS.get(text.toLowerCase())
  if (word !== undefined) return word
  return FLOAT.test(text) ? Number(text) : undefined
}

/** The JS value for `text` as a parameter of wasm type `type`; a CliError if it isn't one. */
function parseArgument(text, type, describeParameter) {
  let value
  switch (type) {
    case 'i32': {
      const integer = parseInteger(text, 32)
      value = integer === undefined ? undefined : Number(integer)
      break
    }
    case 'i64': value = parseInteger(text, 64); break
    case 'f32': case 'f64': value = parseFloat(text); break
    default:
      throw new CliError(`${describeParameter()} has type ${type}, which cannot be given on the command line`)
  }
  if (value === undefined) {
    const range = { i32: 'an integer from -2^31 to 2^32-1', i64: 'an integer from -2^63 to 2^64-1' }[type] ?? 'a number'
    throw new CliError(`${describeParameter()} is an ${type}: expected ${range}, got "${text}"`)
  }
  return value
}

/** The text printed for a result of wasm type `type`. */
function formatResult(value, type) {
  switch (type) {
    case 'i32': case 'i64': return String(value)
    case 'f32': case 'f64':
      if (Number.isNaN(value)) return 'nan'
      if (value === Infinity) return 'inf'
      if (value === -Infinity) return '-inf'
      return Object.is(value, -0) ? '-0' : String(value)
    default:
      return value === null ? 'null' : `<${type}>`
  }
}

module.exports = { parseArgument, formatResult }
