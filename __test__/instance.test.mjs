// WebAssembly.Instance: its arguments, the exports object, and the exported
// functions it holds.
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { implementations } from './fixtures/implementations.mjs'
import { wat } from './fixtures/wat.mjs'

const calculator = wat(`(module
  (import "host" "report" (func $report (param i32)))
  (func $add (param i32 i32) (result i32) (i32.add (local.get 0) (local.get 1)))
  (func $negate (param i32) (result i32) (i32.sub (i32.const 0) (local.get 0)))
  (func $report_sum (param i32 i32) (call $report (call $add (local.get 0) (local.get 1))))
  (export "add" (func $add))
  (export "negate" (func $negate))
  (export "plus" (func $add))
  (export "report_sum" (func $report_sum)))`)

const noImports = wat(`(module (func (export "seven") (result i32) i32.const 7))`)

for (const [label, wasm] of implementations) {
  describe(label, () => {
    describe('constructor', () => {
      test('throws TypeError unless the first argument is a Module', () => {
        for (const notModule of [undefined, null, {}, noImports, wasm.Module.prototype, Object.create(wasm.Module.prototype)]) {
          assert.throws(() => new wasm.Instance(notModule), TypeError)
        }
      })

      test('throws TypeError for a Module of another implementation', () => {
        const other = implementations.find(([otherLabel]) => otherLabel !== label)
        if (other === undefined) return
        const foreignModule = new other[1].Module(noImports)
        assert.throws(() => new wasm.Instance(foreignModule), TypeError)
      })

      test('must be called with new', () => {
        assert.throws(() => wasm.Instance(new wasm.Module(noImports)), TypeError)
      })

      test('accepts a missing or undefined importObject when the module has no imports', () => {
        const module = new wasm.Module(noImports)
        assert.equal(new wasm.Instance(module).exports.seven(), 7)
        assert.equal(new wasm.Instance(module, undefined).exports.seven(), 7)
        assert.equal(new wasm.Instance(module, {}).exports.seven(), 7)
      })

      test('throws TypeError for an importObject that is not an object, even with no imports', () => {
        const module = new wasm.Module(noImports)
        for (const notObject of [null, 42, 'imports', true]) {
          assert.throws(() => new wasm.Instance(module, notObject), TypeError, String(notObject))
        }
      })

      test('runs the start function once, during construction', () => {
        let calls = 0
        const module = new wasm.Module(
          wat(`(module (import "host" "started" (func $started)) (func $main (call $started)) (start $main))`),
        )
        new wasm.Instance(module, { host: { started: () => calls++ } })
        assert.equal(calls, 1)
      })

      test('gives each instance its own state', () => {
        const module = new wasm.Module(
          wat(`(module (global $count (mut i32) (i32.const 0))
            (func (export "next") (result i32)
              (global.set $count (i32.add (global.get $count) (i32.const 1)))
              (global.get $count)))`),
        )
        const first = new wasm.Instance(module)
        const second = new wasm.Instance(module)
        assert.equal(first.exports.next(), 1)
        assert.equal(first.exports.next(), 2)
        assert.equal(second.exports.next(), 1)
      })

      test('is tagged WebAssembly.Instance', () => {
        const instance = new wasm.Instance(new wasm.Module(noImports))
        assert.equal(Object.prototype.toString.call(instance), '[object WebAssembly.Instance]')
      })
    })

    describe('exports', () => {
      const instantiateCalculator = (report = () => {}) => new wasm.Instance(new wasm.Module(calculator), { host: { report } })

      test('is a frozen object with a null prototype, holding the exports in module order', () => {
        const { exports } = instantiateCalculator()
        assert.equal(Object.getPrototypeOf(exports), null)
        assert.ok(Object.isFrozen(exports))
        assert.deepEqual(Object.keys(exports), ['add', 'negate', 'plus', 'report_sum'])
        const descriptor = Object.getOwnPropertyDescriptor(exports, 'add')
        assert.equal(descriptor.enumerable, true)
        assert.equal(descriptor.writable, false)
        assert.equal(descriptor.configurable, false)
      })

      test('is the same object on every read', () => {
        const instance = instantiateCalculator()
        assert.equal(instance.exports, instance.exports)
      })

      test('is an enumerable getter on the prototype that rejects other receivers', () => {
        const descriptor = Object.getOwnPropertyDescriptor(wasm.Instance.prototype, 'exports')
        assert.equal(typeof descriptor.get, 'function')
        assert.equal(descriptor.set, undefined)
        assert.equal(descriptor.enumerable, true)
        assert.throws(() => descriptor.get.call({}), TypeError)
        assert.throws(() => descriptor.get.call(wasm.Instance.prototype), TypeError)
      })

      test('cannot be changed', () => {
        const { exports } = instantiateCalculator()
        assert.throws(() => {
          exports.add = null
        }, TypeError)
        assert.throws(() => {
          exports.extra = 1
        }, TypeError)
      })

      test('can be called and compute', () => {
        const reported = []
        const { exports } = instantiateCalculator((value) => reported.push(value))
        assert.equal(exports.add(2, 3), 5)
        assert.equal(exports.negate(9), -9)
        assert.equal(exports.report_sum(20, 22), undefined)
        assert.deepEqual(reported, [42])
      })

      test('holds one function object per wasm function, even when exported twice', () => {
        const { exports } = instantiateCalculator()
        assert.equal(exports.add, exports.plus)
      })

      test('functions are named by their function index and have their parameter count as length', () => {
        const { exports } = instantiateCalculator()
        // Index 0 is the imported function, so the module's own functions start at 1.
        assert.equal(exports.add.name, '1')
        assert.equal(exports.add.length, 2)
        assert.equal(exports.negate.name, '2')
        assert.equal(exports.negate.length, 1)
        assert.equal(exports.report_sum.name, '3')
      })

      test('functions are not constructors', () => {
        const { exports } = instantiateCalculator()
        assert.throws(() => new exports.add(1, 2), TypeError)
      })

      test('functions ignore extra arguments and treat missing ones as undefined', () => {
        const { exports } = instantiateCalculator()
        assert.equal(exports.add(1, 2, 3, 4), 3)
        assert.equal(exports.add(5), 5) // ToInt32(undefined) is 0
        assert.equal(exports.add(), 0)
      })

      test('functions of different instances of one module are different objects', () => {
        const first = instantiateCalculator()
        const second = instantiateCalculator()
        assert.notEqual(first.exports.add, second.exports.add)
      })

      test('a wasm function imported by another instance keeps its identity when re-exported or put in a table', () => {
        const source = new wasm.Instance(new wasm.Module(noImports)).exports
        const relinking = wat(`(module
          (import "m" "seven" (func $seven (result i32)))
          (table (export "table") 1 funcref)
          (elem (i32.const 0) $seven)
          (func (export "ref") (result funcref) (ref.func $seven))
          (func (export "twice") (result i32) (i32.add (call $seven) (call $seven)))
          (export "again" (func $seven)))`)
        const { again, table, ref, twice } = new wasm.Instance(new wasm.Module(relinking), { m: { seven: source.seven } }).exports
        assert.equal(twice(), 14)
        assert.equal(again, source.seven)
        assert.equal(table.get(0), source.seven)
        assert.equal(ref(), source.seven)
        // So a WeakMap keyed by exported functions finds them again, however they come back.
        const names = new WeakMap([[source.seven, 'seven']])
        assert.equal(names.get(table.get(0)), 'seven')
      })

      test('a JS function imported and re-exported comes back as a wasm function of the import type', () => {
        const js = (x) => x * 2
        const module = wat(`(module (import "m" "double" (func $d (param i32) (result i32))) (export "double" (func $d)))`)
        const { double } = new wasm.Instance(new wasm.Module(module), { m: { double: js } }).exports
        assert.notEqual(double, js)
        assert.equal(double.length, 1)
        assert.equal(double(21), 42)
        assert.equal(double(2 ** 31), 0)
      })
    })
  })
}
