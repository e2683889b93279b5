// Drop-in mode: install() puts heron's namespace in place of globalThis.WebAssembly with
// the original property's attributes, uninstall() restores the original, and
// `node -r heron/register` installs before the application runs.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { createRequire } from 'node:module'
import { fileURLToPath } from 'node:url'

const require = createRequire(import.meta.url)
const root = fileURLToPath(new URL('..', import.meta.url))
const original = globalThis.WebAssembly
const originalDescriptor = Object.getOwnPropertyDescriptor(globalThis, 'WebAssembly')

test('install() replaces globalThis.WebAssembly with the same property attributes', (t) => {
  const heron = require('../index.js')
  t.after(() => heron.uninstall())
  assert.equal(heron.install(), heron)
  assert.equal(globalThis.WebAssembly, heron)
  const descriptor = Object.getOwnPropertyDescriptor(globalThis, 'WebAssembly')
  assert.deepEqual({ ...descriptor, value: undefined }, { ...originalDescriptor, value: undefined })
  // Idempotent: a second install keeps the original to restore.
  heron.install()
  heron.uninstall()
  assert.equal(globalThis.WebAssembly, original)
  assert.deepEqual(Object.getOwnPropertyDescriptor(globalThis, 'WebAssembly'), originalDescriptor)
})

test('code written against the global WebAssembly runs on heron once installed', (t) => {
  const heron = require('../index.js')
  t.after(() => heron.uninstall())
  heron.install()
  const bytes = new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0])
  const module = new WebAssembly.Module(bytes)
  assert.ok(module instanceof heron.Module)
  assert.ok(!(module instanceof original.Module))
})

// Operations V8 adds to the namespace beyond the JS API for WebAssembly 2.0, which heron
// does not implement: JS Promise Integration's WebAssembly.promising (Node 24 and later).
const BEYOND_2_0 = new Set(['promising'])

test('install and uninstall are not enumerable, so copies of the namespace look like WebAssembly', () => {
  const heron = require('../index.js')
  const originalOperations = Object.keys(original).filter((name) => !BEYOND_2_0.has(name))
  assert.deepEqual(Object.keys(heron).sort(), originalOperations.sort())
})

test('node -r heron/register runs the application on heron', () => {
  const script = "console.log(String(WebAssembly.Module === require('heron').Module))"
  const output = execFileSync(process.execPath, ['-r', 'heron/register', '-e', script], {
    cwd: root,
    encoding: 'utf8',
    env: { ...process.env, NODE_PATH: '' },
  })
  assert.equal(output.trim(), 'true')
})
