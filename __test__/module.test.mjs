// WebAssembly.Module: which byte sources it accepts, when it copies them, and
// the descriptors Module.exports / Module.imports / Module.customSections return.
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { implementations } from './fixtures/implementations.mjs'
import { wat } from './fixtures/wat.mjs'

const emptyModule = new Uint8Array([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00])

// Imports and exports of every kind; the memory and table exports re-export the
// imported ones, since a 1.0 module has at most one of each.
const oneOfEachKind = wat(`(module
  (import "env" "log" (func (param i32)))
  (import "env" "table" (table $functions 1 funcref))
  (import "env" "memory" (memory $heap 1))
  (import "other" "counter" (global (mut i32)))
  (func $answer (result i32) i32.const 42)
  (global $limit i32 (i32.const 7))
  (export "answer" (func $answer))
  (export "heap" (memory $heap))
  (export "functions" (table $functions))
  (export "limit" (global $limit)))`)

const answerModule = wat(`(module (func (export "answer") (result i32) i32.const 42))`)

// A module with a custom section appended by hand: id 0, size, name, payload.
function withCustomSection(bytes, name, payload) {
  const nameBytes = new TextEncoder().encode(name)
  const body = [nameBytes.length, ...nameBytes, ...payload]
  return new Uint8Array([...bytes, 0, body.length, ...body])
}

for (const [label, wasm] of implementations) {
  describe(label, () => {
    describe('constructor', () => {
      test('accepts an ArrayBuffer and TypedArrays of any element type', () => {
        const buffer = answerModule.slice().buffer
        const sources = [buffer, new Uint8Array(buffer), new Int8Array(buffer), new Uint8ClampedArray(buffer), Buffer.from(buffer)]
        for (const source of sources) {
          const module = new wasm.Module(source)
          assert.ok(module instanceof wasm.Module, source.constructor.name)
        }
        // Wider elements: the module bytes, padded to a multiple of 8 with a custom section
        // (3 header bytes for an empty name, then the payload).
        const paddingLength = (8 - ((answerModule.length + 3) % 8)) % 8
        const padded = withCustomSection(answerModule, '', new Array(paddingLength).fill(0))
        assert.equal(padded.length % 8, 0)
        for (const View of [Uint16Array, Int32Array, Float32Array, Float64Array, BigUint64Array]) {
          assert.ok(new wasm.Module(new View(padded.buffer)) instanceof wasm.Module, View.name)
        }
      })

      test('accepts a DataView', { skip: label === 'v8' && 'V8 11.3 (Node 20) rejects DataView, although a DataView is a BufferSource' }, () => {
        const module = new wasm.Module(new DataView(answerModule.slice().buffer))
        assert.deepEqual(wasm.Module.exports(module), [{ name: 'answer', kind: 'function' }])
      })

      test('reads only the bytes a view covers, not its whole buffer', () => {
        const padded = new Uint8Array(answerModule.length + 6).fill(0xff)
        padded.set(answerModule, 3)
        const view = padded.subarray(3, 3 + answerModule.length)
        const module = new wasm.Module(view)
        assert.deepEqual(wasm.Module.exports(module), [{ name: 'answer', kind: 'function' }])
      })

      test('copies the bytes: later writes to the buffer do not change the module', () => {
        const bytes = answerModule.slice()
        const module = new wasm.Module(bytes)
        bytes.fill(0)
        const instance = new wasm.Instance(module)
        assert.equal(instance.exports.answer(), 42)
      })

      test('throws TypeError for anything that is not a BufferSource', () => {
        for (const notBytes of [undefined, null, 42, 'wasm', [...emptyModule], { length: 8 }]) {
          assert.throws(() => new wasm.Module(notBytes), TypeError, String(notBytes))
        }
      })

      test('throws CompileError for bytes that are not a valid module', () => {
        const invalid = [new Uint8Array(0), new Uint8Array([0, 1, 2, 3]), emptyModule.slice(0, 6)]
        for (const bytes of invalid) {
          assert.throws(
            () => new wasm.Module(bytes),
            (error) => {
              assert.ok(error instanceof wasm.CompileError)
              assert.ok(error instanceof Error)
              assert.equal(error.name, 'CompileError')
              assert.equal(typeof error.message, 'string')
              assert.notEqual(error.message, '')
              return true
            },
          )
        }
      })

      test('throws CompileError for a function body that does not type-check', () => {
        const illTyped = wat(`(module (func (result i32) i32.const 1))`)
        // Overwrite the body's `i32.const 1` (0x41 0x01) with `nop nop`: the function
        // then leaves nothing on the stack although it declares an i32 result.
        const at = illTyped.lastIndexOf(0x41)
        illTyped[at] = 0x01
        illTyped[at + 1] = 0x01
        assert.throws(() => new wasm.Module(illTyped), wasm.CompileError)
      })

      test('must be called with new', () => {
        assert.throws(() => wasm.Module(emptyModule), TypeError)
      })

      test('is tagged WebAssembly.Module', () => {
        assert.equal(Object.prototype.toString.call(new wasm.Module(emptyModule)), '[object WebAssembly.Module]')
      })
    })

    describe('Module.exports and Module.imports', () => {
      test('list exports as {name, kind} in module order', () => {
        const module = new wasm.Module(oneOfEachKind)
        assert.deepEqual(wasm.Module.exports(module), [
          { name: 'answer', kind: 'function' },
          { name: 'heap', kind: 'memory' },
          { name: 'functions', kind: 'table' },
          { name: 'limit', kind: 'global' },
        ])
      })

      test('list imports as {module, name, kind} in module order', () => {
        const module = new wasm.Module(oneOfEachKind)
        assert.deepEqual(wasm.Module.imports(module), [
          { module: 'env', name: 'log', kind: 'function' },
          { module: 'env', name: 'table', kind: 'table' },
          { module: 'env', name: 'memory', kind: 'memory' },
          { module: 'other', name: 'counter', kind: 'global' },
        ])
      })

      test('return empty arrays for an empty module', () => {
        const module = new wasm.Module(emptyModule)
        assert.deepEqual(wasm.Module.exports(module), [])
        assert.deepEqual(wasm.Module.imports(module), [])
      })

      test('return fresh arrays, so changing one does not change the next', () => {
        const module = new wasm.Module(oneOfEachKind)
        const first = wasm.Module.exports(module)
        first[0].name = 'changed'
        first.pop()
        assert.notEqual(wasm.Module.exports(module), first)
        assert.equal(wasm.Module.exports(module)[0].name, 'answer')
        assert.equal(wasm.Module.exports(module).length, 4)

        const imports = wasm.Module.imports(module)
        imports[0].module = 'changed'
        assert.equal(wasm.Module.imports(module)[0].module, 'env')
      })

      test('throw TypeError when the argument is not a Module', () => {
        for (const notModule of [undefined, null, {}, emptyModule, wasm.Module.prototype]) {
          assert.throws(() => wasm.Module.exports(notModule), TypeError)
          assert.throws(() => wasm.Module.imports(notModule), TypeError)
        }
      })

      test('are enumerable static methods, as WebIDL defines operations', () => {
        for (const name of ['exports', 'imports', 'customSections']) {
          const descriptor = Object.getOwnPropertyDescriptor(wasm.Module, name)
          assert.equal(typeof descriptor.value, 'function')
          assert.equal(descriptor.enumerable, true)
        }
      })
    })

    describe('Module.customSections', () => {
      test('returns a copy of the payload of each custom section with that name', () => {
        let bytes = withCustomSection(answerModule, 'notes', [1, 2, 3])
        bytes = withCustomSection(bytes, 'other', [9])
        bytes = withCustomSection(bytes, 'notes', [4])
        const module = new wasm.Module(bytes)
        const sections = wasm.Module.customSections(module, 'notes')
        assert.equal(sections.length, 2)
        assert.ok(sections.every((section) => section instanceof ArrayBuffer))
        assert.deepEqual([...new Uint8Array(sections[0])], [1, 2, 3])
        assert.deepEqual([...new Uint8Array(sections[1])], [4])
        assert.deepEqual(wasm.Module.customSections(module, 'missing'), [])
      })

      test('matches names exactly, including non-ASCII ones', () => {
        const module = new wasm.Module(withCustomSection(emptyModule, 'héron', [7]))
        assert.equal(wasm.Module.customSections(module, 'héron').length, 1)
        assert.equal(wasm.Module.customSections(module, 'heron').length, 0)
      })

      test('throws TypeError without a Module or without a section name', () => {
        const module = new wasm.Module(emptyModule)
        assert.throws(() => wasm.Module.customSections({}, 'name'), TypeError)
        assert.throws(() => wasm.Module.customSections(module), TypeError)
      })

      // sectionName is a required DOMString: an explicit undefined is passed, and converts to
      // the string "undefined".
      test('converts the section name with ToString, undefined included', { skip: label === 'v8' && 'V8 11.3 (Node 20) refuses an explicit undefined' }, () => {
        const module = new wasm.Module(withCustomSection(emptyModule, 'undefined', [5]))
        assert.deepEqual([...new Uint8Array(wasm.Module.customSections(module, undefined)[0])], [5])
        assert.equal(wasm.Module.customSections(module, { toString: () => 'undefined' }).length, 1)
      })
    })
  })
}
