// lib/cli/wasm-binary.js, the reader behind `heron inspect` and `heron run --invoke`: its
// imports and exports must be exactly what heron's Module.imports/exports report, for small
// modules written here and for every real module on hand (examples/, ../shared).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createRequire } from 'node:module'
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { wat } from './fixtures/wat.mjs'

const require = createRequire(import.meta.url)
const heron = require('../index.js')
const { parseModule, functionType, MalformedModule } = require('../lib/cli/wasm-binary.js')

function assertSameAsHeron(bytes, label) {
  const module = new heron.Module(bytes)
  const parsed = parseModule(bytes)
  assert.deepEqual(parsed.imports.map(({ module, name, kind }) => ({ module, name, kind })), heron.Module.imports(module), label)
  assert.deepEqual(parsed.exports.map(({ name, kind }) => ({ name, kind })), heron.Module.exports(module), label)
  for (const name of new Set(parsed.customSections)) {
    const count = parsed.customSections.filter((section) => section === name).length
    assert.equal(count, heron.Module.customSections(module, name).length, `${label}: custom sections named ${name}`)
  }
}

test('imports, exports and function types of a module using every kind of declaration', () => {
  const bytes = wat(`(module
    (import "a" "f" (func (param i32 i64) (result f32)))
    (import "a" "t" (table 2 10 externref))
    (import "a" "m" (memory 1))
    (import "a" "g" (global (mut f64)))
    (type $pair (func (result i32 i32)))
    (table 1 funcref)
    (global $h i32 (i32.const 7))
    (func $two (export "two") (type $pair) i32.const 1 i32.const 2)
    (func (export "v") (param v128) (local i64 externref))
    (elem declare func $two)
    (data (i32.const 0) "x")
    (export "h" (global $h))
    (start $start) (func $start))`)
  assertSameAsHeron(bytes, 'handwritten module')
  const parsed = parseModule(bytes)
  assert.deepEqual(functionType(parsed, 0), { params: ['i32', 'i64'], results: ['f32'] })
  assert.deepEqual(functionType(parsed, parsed.exports.find((e) => e.name === 'two').index), { params: [], results: ['i32', 'i32'] })
  assert.deepEqual([...parsed.localTypes].sort(), ['externref', 'i64'])
  assert.deepEqual(parsed.tables.map((t) => t.element), ['externref', 'funcref'])
  assert.deepEqual(parsed.elementSegmentFlags, [3])
  assert.deepEqual(parsed.sections.map((s) => s.name),
    ['type', 'import', 'function', 'table', 'global', 'export', 'start', 'element', 'code', 'data'])
})

test('every real module on hand reads the same as heron sees it', () => {
  const roots = [fileURLToPath(new URL('../examples', import.meta.url)), fileURLToPath(new URL('../../shared/wasi-testsuite', import.meta.url))]
  const files = []
  const walk = (dir) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      if (entry.isDirectory()) walk(join(dir, entry.name))
      else if (entry.name.endsWith('.wasm')) files.push(join(dir, entry.name))
    }
  }
  for (const dir of roots) if (existsSync(dir)) walk(dir)
  assert.ok(files.length > 0)
  for (const file of files) assertSameAsHeron(readFileSync(file), file)
})

test('malformed bytes are a MalformedModule error with the byte offset', () => {
  assert.throws(() => parseModule(new Uint8Array([1, 2, 3])), { name: 'MalformedModule', message: 'not a WebAssembly module (no \\0asm magic number) at byte offset 0' })
  assert.throws(() => parseModule(new Uint8Array([0, 0x61, 0x73, 0x6d, 0x0d, 0, 1, 0])), MalformedModule)
  // A type section claiming 5 bytes that has 2.
  assert.throws(() => parseModule(new Uint8Array([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0, 1, 5, 1, 0x60])), { message: 'unexpected end at byte offset 10' })
})
