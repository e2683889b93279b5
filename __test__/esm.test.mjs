// heron as an ES module (index.mjs through package.json "exports"): the default export is the
// namespace CommonJS gets, and every member of it, enumerable or not, is a named export.
// The package imports itself by name, as a user's code would.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createRequire } from 'node:module'
import heron, * as named from 'heron'

const require = createRequire(import.meta.url)

test('import heron from "heron" is the namespace require("heron") returns', () => {
  assert.equal(heron, require('heron'))
  assert.equal(require.resolve('heron'), require.resolve('../index.js'))
  assert.equal(Object.prototype.toString.call(heron), '[object WebAssembly]')
})

test('every member of the namespace is a named export with the same value, and nothing else is', () => {
  const members = Object.getOwnPropertyNames(heron).sort()
  assert.deepEqual(Object.keys(named).filter((name) => name !== 'default').sort(), members)
  for (const name of members) assert.equal(named[name], heron[name], name)
})

test('named exports work as the namespace members do', async () => {
  const { Module, Instance, validate, CompileError } = named
  const bytes = new Uint8Array([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0])
  assert.equal(validate(bytes), true)
  assert.ok(new Instance(new Module(bytes)) instanceof Instance)
  assert.throws(() => new Module(new Uint8Array(4)), CompileError)
})
