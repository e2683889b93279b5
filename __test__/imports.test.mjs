// Imports: how the importObject is read, what JS functions receive and return
// when wasm calls them, and what happens when they throw or call back into wasm.
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { implementations } from './fixtures/implementations.mjs'
import { wat } from './fixtures/wat.mjs'

// Calls the import with one value of each type and returns nothing.
const passEachType = wat(`(module
  (import "host" "receive" (func $receive (param i32 i64 f32 f64)))
  (func (export "send") (param i32 i64 f32 f64)
    (call $receive (local.get 0) (local.get 1) (local.get 2) (local.get 3))))`)

// Returns whatever the import returns, converted to each type.
const returnEachType = wat(`(module
  (import "host" "i32" (func $i32 (result i32)))
  (import "host" "i64" (func $i64 (result i64)))
  (import "host" "f32" (func $f32 (result f32)))
  (import "host" "f64" (func $f64 (result f64)))
  (func (export "i32") (result i32) (call $i32))
  (func (export "i64") (result i64) (call $i64))
  (func (export "f32") (result f32) (call $f32))
  (func (export "f64") (result f64) (call $f64)))`)

// Calls the import and adds one to what it returns, so the conversion is used by wasm code.
const callAndIncrement = wat(`(module
  (import "host" "value" (func $value (result i32)))
  (func (export "next") (result i32) (i32.add (call $value) (i32.const 1))))`)

const callVoid = wat(`(module
  (import "host" "callback" (func $callback))
  (func (export "call") (call $callback)))`)

// factorial(n) = n * host.recurse(n - 1): the host calls back into factorial.
const reentrantFactorial = wat(`(module
  (import "host" "recurse" (func $recurse (param i32) (result i32)))
  (func (export "factorial") (param $n i32) (result i32)
    (if (result i32) (i32.eqz (local.get $n))
      (then (i32.const 1))
      (else (i32.mul (local.get $n) (call $recurse (i32.sub (local.get $n) (i32.const 1))))))))`)

const threeImports = wat(`(module
  (import "a" "f" (func))
  (import "b" "g" (func))
  (import "a" "h" (func)))`)

// Adds the two results of the import.
const twoResults = wat(`(module
  (import "host" "pair" (func $pair (result i32 f64)))
  (func (export "sum") (result f64) (local $second f64)
    (call $pair)
    (local.set $second)
    (f64.convert_i32_s)
    (local.get $second)
    (f64.add)))`)

for (const [label, wasm] of implementations) {
  const instantiate = (bytes, importObject) => new wasm.Instance(new wasm.Module(bytes), importObject)

  describe(label, () => {
    describe('reading the importObject', () => {
      test('reads each import with ordinary property gets, one import at a time, in module order', () => {
        const reads = []
        const namespaceWithGetters = (moduleName, names) => {
          const namespace = {}
          for (const name of names) {
            Object.defineProperty(namespace, name, {
              get() {
                reads.push(`${moduleName}.${name}`)
                return () => {}
              },
            })
          }
          return namespace
        }
        const importObject = {
          get a() {
            reads.push('a')
            return namespaceWithGetters('a', ['f', 'h'])
          },
          get b() {
            reads.push('b')
            return namespaceWithGetters('b', ['g'])
          },
        }
        instantiate(threeImports, importObject)
        // The module namespace is read again for every import, not cached per module name.
        assert.deepEqual(reads, ['a', 'a.f', 'b', 'b.g', 'a', 'a.h'])
      })

      test('reads through a Proxy with nothing but get traps', () => {
        const traps = []
        const logging = (target, path) =>
          new Proxy(target, {
            get(object, key) {
              traps.push(`get ${path}${String(key)}`)
              return Reflect.get(object, key)
            },
            has: () => traps.push('has'),
            getOwnPropertyDescriptor: () => traps.push('getOwnPropertyDescriptor'),
            ownKeys: () => traps.push('ownKeys'),
            getPrototypeOf: () => traps.push('getPrototypeOf'),
          })
        const importObject = logging({ a: logging({ f() {}, h() {} }, 'a.'), b: logging({ g() {} }, 'b.') }, '')
        instantiate(threeImports, importObject)
        assert.deepEqual(traps, ['get a', 'get a.f', 'get b', 'get b.g', 'get a', 'get a.h'])
      })

      test('throws TypeError when the module has imports and no importObject is given', () => {
        assert.throws(() => instantiate(threeImports), TypeError)
      })

      test('throws TypeError when importObject[module] is not an object', () => {
        for (const notObject of [undefined, null, 1, 'a']) {
          assert.throws(() => instantiate(threeImports, { a: notObject, b: { g() {} } }), TypeError, String(notObject))
        }
      })

      test('throws LinkError when a function import is not callable', () => {
        for (const notCallable of [undefined, null, 42, 'f', {}]) {
          assert.throws(
            () => instantiate(callVoid, { host: { callback: notCallable } }),
            (error) => {
              assert.ok(error instanceof wasm.LinkError)
              assert.equal(error.name, 'LinkError')
              if (label === 'heron') {
                const got = notCallable === null ? 'null' : typeof notCallable
                assert.equal(error.message, `import host.callback: expected a function, got ${got}`)
              }
              return true
            },
          )
        }
      })

      // heron checks each import as it reads it, as the spec's "read the imports" does.
      // V8 first reads every import and only then checks them, so it reports the later
      // missing namespace "b" (TypeError) instead of the earlier bad function (LinkError).
      test('stops at the first bad import', { skip: label === 'v8' && 'V8 reads all imports before checking any' }, () => {
        assert.throws(() => instantiate(threeImports, { a: { f: 42, h() {} } }), wasm.LinkError)
      })

      test('passes on an exception thrown by a getter, unchanged', () => {
        const thrown = { reason: 'getter failed' }
        const importObject = {
          get a() {
            throw thrown
          },
        }
        assert.throws(
          () => instantiate(threeImports, importObject),
          (error) => error === thrown,
        )
      })

      test('accepts inherited properties, built-in functions and callable proxies as function imports', () => {
        const inherited = Object.create({ callback: () => {} })
        instantiate(callVoid, { host: inherited })
        instantiate(callVoid, { host: { callback: Math.max } })
        instantiate(callVoid, { host: { callback: new Proxy(() => {}, {}) } })
      })
    })

    describe('calls from wasm into JS', () => {
      test('pass each argument converted to its JS type, with this undefined', () => {
        const calls = []
        const { exports } = instantiate(passEachType, {
          host: {
            receive(...args) {
              calls.push({ self: this, args })
            },
          },
        })
        exports.send(-7, -8n, 1.5, -0)
        exports.send(2 ** 31 - 1, 2n ** 63n - 1n, Infinity, NaN)
        assert.equal(calls.length, 2)
        assert.equal(calls[0].self, undefined)
        assert.deepEqual(calls[0].args, [-7, -8n, 1.5, -0])
        assert.ok(Object.is(calls[0].args[3], -0))
        assert.deepEqual(calls[1].args, [2 ** 31 - 1, 2n ** 63n - 1n, Infinity, NaN])
      })

      test('convert the returned value to the result type', () => {
        const returning = (value) => ({
          host: { i32: () => value, i64: () => value, f32: () => value, f64: () => value },
        })
        assert.equal(instantiate(returnEachType, returning(2 ** 32 + 5)).exports.i32(), 5)
        assert.equal(instantiate(returnEachType, returning('12')).exports.i32(), 12)
        assert.equal(instantiate(returnEachType, returning(undefined)).exports.i32(), 0)
        assert.equal(instantiate(returnEachType, returning(2n ** 64n + 3n)).exports.i64(), 3n)
        assert.equal(instantiate(returnEachType, returning(true)).exports.i64(), 1n)
        assert.equal(instantiate(returnEachType, returning(0.1)).exports.f32(), Math.fround(0.1))
        assert.equal(instantiate(returnEachType, returning('0.1')).exports.f64(), 0.1)
        assert.ok(Number.isNaN(instantiate(returnEachType, returning(undefined)).exports.f64()))
        const { exports } = instantiate(returnEachType, returning({ valueOf: () => 6 }))
        assert.equal(exports.i32(), 6)
        assert.equal(exports.f64(), 6)
      })

      test('use the converted value inside wasm', () => {
        const { exports } = instantiate(callAndIncrement, { host: { value: () => 2 ** 32 + 41 } })
        assert.equal(exports.next(), 42)
      })

      test('throw TypeError when a returned value cannot be converted', () => {
        const returning = (value) => ({
          host: { i32: () => value, i64: () => value, f32: () => value, f64: () => value },
        })
        assert.throws(() => instantiate(returnEachType, returning(5)).exports.i64(), TypeError)
        assert.throws(() => instantiate(returnEachType, returning(1n)).exports.i32(), TypeError)
        assert.throws(() => instantiate(returnEachType, returning(Symbol('s'))).exports.f64(), TypeError)
      })

      test('ignore the return value of an import without results', () => {
        const { exports } = instantiate(callVoid, { host: { callback: () => ({ ignored: true }) } })
        assert.equal(exports.call(), undefined)
      })

      test('take multiple results from an iterable', () => {
        const pairOf = (value) => instantiate(twoResults, { host: { pair: () => value } }).exports
        assert.equal(pairOf([2, 0.5]).sum(), 2.5)
        assert.equal(pairOf(new Set([40, 2])).sum(), 42)
        assert.throws(() => pairOf(7).sum(), TypeError)
        assert.throws(() => pairOf([1]).sum(), TypeError)
        assert.throws(() => pairOf([1, 2, 3]).sum(), TypeError)
      })
    })

    describe('exceptions thrown by imports', () => {
      const thrownValues = [
        ['an Error', new Error('from the host')],
        ['a TypeError', new TypeError('host type error')],
        ['a plain object', { code: 'E_HOST' }],
        ['a number', 42],
        ['a string', 'thrown string'],
        ['undefined', undefined],
        ['null', null],
        ['a Symbol', Symbol('thrown')],
      ]
      for (const [description, thrown] of thrownValues) {
        test(`reach the caller as the same value: ${description}`, () => {
          const { exports } = instantiate(callVoid, {
            host: {
              callback() {
                throw thrown
              },
            },
          })
          assert.throws(
            () => exports.call(),
            (error) => Object.is(error, thrown),
          )
          // The instance is still usable afterwards.
          assert.throws(
            () => exports.call(),
            (error) => Object.is(error, thrown),
          )
        })
      }

      test('from the start function reach the Instance constructor unchanged', () => {
        const thrown = { during: 'start' }
        const module = new wasm.Module(wat(`(module (import "host" "callback" (func $callback)) (start $callback))`))
        assert.throws(
          () =>
            new wasm.Instance(module, {
              host: {
                callback() {
                  throw thrown
                },
              },
            }),
          (error) => error === thrown,
        )
      })
    })

    describe('re-entrancy', () => {
      test('wasm calls JS, which calls wasm again, many levels deep', () => {
        let depth = 0
        let deepest = 0
        const { exports } = instantiate(reentrantFactorial, {
          host: {
            recurse(n) {
              depth++
              deepest = Math.max(deepest, depth)
              try {
                return exports.factorial(n)
              } finally {
                depth--
              }
            },
          },
        })
        assert.equal(exports.factorial(0), 1)
        assert.equal(exports.factorial(5), 120)
        assert.equal(exports.factorial(12), 479001600)
        assert.equal(deepest, 12)
        assert.equal(depth, 0)
      })

      test('an exception thrown at the innermost level unwinds every wasm and JS frame', () => {
        const thrown = new Error('bottom reached')
        const { exports } = instantiate(reentrantFactorial, {
          host: {
            recurse(n) {
              if (n === 0) throw thrown
              return exports.factorial(n)
            },
          },
        })
        assert.throws(
          () => exports.factorial(10),
          (error) => error === thrown,
        )
        // And the instance still works.
        assert.throws(
          () => exports.factorial(3),
          (error) => error === thrown,
        )
      })

      test('an exception caught by JS between two wasm frames does not disturb the outer frame', () => {
        const { exports } = instantiate(reentrantFactorial, {
          host: {
            recurse(n) {
              if (n === 2) {
                try {
                  exports.factorial(2000) // its first callback throws, see below
                } catch {
                  // swallowed: the outer wasm frames carry on
                }
                return 2
              }
              if (n > 1000) throw new Error('cut off')
              return exports.factorial(n)
            },
          },
        })
        assert.equal(exports.factorial(4), 24)
      })

      test('an import keeps its arguments while it calls wasm that calls imports with others', () => {
        const seen = []
        const { exports } = instantiate(
          wat(`(module
            (import "host" "outer" (func $outer (param i32 i64 f32 f64) (result f64)))
            (import "host" "inner" (func $inner (param f64 i32) (result i32)))
            (func (export "run") (param i32 i64 f32 f64) (result f64)
              (call $outer (local.get 0) (local.get 1) (local.get 2) (local.get 3)))
            (func (export "nested") (param i32) (result i32)
              (call $inner (f64.const 0.25) (local.get 0))))`),
          {
            host: {
              outer(a, b, c, d) {
                seen.push(exports.nested(a + 1))
                seen.push([a, b, c, d])
                return d * 2
              },
              inner(x, y) {
                return y * 10 + x * 4
              },
            },
          },
        )
        assert.equal(exports.run(3, -9n, 2.5, 0.75), 1.5)
        assert.deepEqual(seen, [41, [3, -9n, 2.5, 0.75]])
      })

      test('a result converted by valueOf that calls wasm still reaches the caller', () => {
        const { exports } = instantiate(
          wat(`(module
            (import "host" "value" (func $value (param i32) (result i32)))
            (func (export "echo") (param i32) (result i32) (local.get 0))
            (func (export "next") (param i32) (result i32) (i32.add (call $value (local.get 0)) (i32.const 1))))`),
          { host: { value: (x) => ({ valueOf: () => exports.echo(x * 100) + exports.echo(7) }) } },
        )
        assert.equal(exports.next(2), 208)
      })

      test('an import that throws leaves no adapter frame in the stack', () => {
        const { exports } = instantiate(callAndIncrement, {
          host: {
            value() {
              throw new Error('from the import')
            },
          },
        })
        assert.throws(
          () => exports.next(),
          (error) => error.message === 'from the import' && !error.stack.includes('heron:import-adapter'),
        )
      })

      test('a wasm function exported by one instance can be imported by another', () => {
        const producer = instantiate(
          wat(`(module (func (export "double") (param i32) (result i32) (i32.mul (local.get 0) (i32.const 2))))`),
        )
        const consumer = instantiate(
          wat(`(module (import "producer" "double" (func $double (param i32) (result i32)))
            (func (export "quadruple") (param i32) (result i32) (call $double (call $double (local.get 0)))))`),
          { producer: producer.exports },
        )
        assert.equal(consumer.exports.quadruple(5), 20)
      })
    })
  })
}
