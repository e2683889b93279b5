// The WebAssembly namespace itself: validate, compile, instantiate, the error
// classes, and the shape of the namespace object.
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { implementations } from './fixtures/implementations.mjs'
import { wat } from './fixtures/wat.mjs'
import { createRequire } from 'node:module'

const emptyModule = new Uint8Array([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00])
const notAModule = new Uint8Array([0x00, 0x61, 0x73, 0x6d, 0x02, 0x00, 0x00, 0x00])

const greeter = wat(`(module
  (import "host" "greet" (func $greet (param i32)))
  (func (export "greet_answer") (call $greet (i32.const 42))))`)

const answer = wat(`(module (func (export "answer") (result i32) i32.const 42))`)

const trapsOnStart = wat(`(module (func $start unreachable) (start $start))`)

// Lets pending setImmediate / promise work run, so a test can observe that
// something did (or did not) happen synchronously.
const nextTurn = () => new Promise((resolve) => setImmediate(resolve))

for (const [label, wasm] of implementations) {
  describe(label, () => {
    describe('validate', () => {
      test('returns true for valid modules and false for invalid bytes', () => {
        assert.equal(wasm.validate(emptyModule), true)
        assert.equal(wasm.validate(answer), true)
        assert.equal(wasm.validate(answer.buffer), true)
        assert.equal(wasm.validate(notAModule), false)
        assert.equal(wasm.validate(new Uint8Array(0)), false)
        assert.equal(wasm.validate(answer.subarray(0, answer.length - 1)), false)
      })

      test('returns false for a module that decodes but does not type-check', () => {
        // (func (result i32)) with an empty body: decodes fine, fails validation.
        const illTyped = wat(`(module (func (result i32) i32.const 0))`)
        const at = illTyped.lastIndexOf(0x41)
        illTyped[at] = 0x01 // nop
        illTyped[at + 1] = 0x01 // nop
        assert.equal(wasm.validate(illTyped), false)
      })

      test('throws TypeError for anything that is not a BufferSource', () => {
        for (const notBytes of [undefined, null, 1, 'wasm', [0, 97, 115, 109]]) {
          assert.throws(() => wasm.validate(notBytes), TypeError)
        }
      })
    })

    describe('compile', () => {
      test('resolves to a Module', async () => {
        const module = await wasm.compile(answer)
        assert.ok(module instanceof wasm.Module)
        assert.deepEqual(wasm.Module.exports(module), [{ name: 'answer', kind: 'function' }])
      })

      test('copies the bytes before returning', async () => {
        const bytes = answer.slice()
        const compiling = wasm.compile(bytes)
        bytes.fill(0)
        const module = await compiling
        assert.equal(new wasm.Instance(module).exports.answer(), 42)
      })

      test('never throws synchronously: bad arguments become rejections', async () => {
        let compiling
        assert.doesNotThrow(() => {
          compiling = wasm.compile(42)
        })
        assert.ok(compiling instanceof Promise)
        await assert.rejects(compiling, TypeError)
        await assert.rejects(wasm.compile(), TypeError)
      })

      test('rejects with CompileError for invalid bytes', async () => {
        await assert.rejects(wasm.compile(notAModule), wasm.CompileError)
        await assert.rejects(wasm.compile(new Uint8Array(0)), wasm.CompileError)
      })

      test('settles after the current turn', async () => {
        let settled = false
        const compiling = wasm.compile(answer).then(() => {
          settled = true
        })
        await Promise.resolve()
        assert.equal(settled, false)
        await compiling
        assert.equal(settled, true)
      })

      test('compiles off the main thread: the event loop keeps turning meanwhile', { skip: label === 'v8' && 'V8 compiles lazily, too fast to observe' }, async () => {
        // Thousands of functions keep the compiler busy for many event loop turns.
        const body = Array.from({ length: 4000 }, (_, i) => `(func (export "f${i}") (param i32) (result i32) (i32.mul (local.get 0) (i32.const ${i})))`)
        const bytes = wat(`(module ${body.join('\n')})`)
        let turns = 0
        const ticker = setInterval(() => turns++, 0)
        try {
          const module = await wasm.compile(bytes)
          assert.equal(new wasm.Instance(module).exports.f7(6), 42)
        } finally {
          clearInterval(ticker)
        }
        assert.ok(turns > 0, 'no timer ran while compiling')
      })
    })

    describe('instantiate with bytes', () => {
      test('resolves to {module, instance}', async () => {
        const greeted = []
        const result = await wasm.instantiate(greeter, { host: { greet: (value) => greeted.push(value) } })
        assert.deepEqual(Object.keys(result).sort(), ['instance', 'module'])
        assert.ok(result.module instanceof wasm.Module)
        assert.ok(result.instance instanceof wasm.Instance)
        result.instance.exports.greet_answer()
        assert.deepEqual(greeted, [42])
      })

      test('accepts an ArrayBuffer', async () => {
        const { instance } = await wasm.instantiate(answer.slice().buffer)
        assert.equal(instance.exports.answer(), 42)
      })

      test('reads the imports only after compiling, not synchronously', async () => {
        let reads = 0
        const importObject = {
          get host() {
            reads++
            return { greet() {} }
          },
        }
        const instantiating = wasm.instantiate(greeter, importObject)
        assert.equal(reads, 0)
        await instantiating
        assert.equal(reads, 1)
      })

      test('rejects with TypeError for a source that is neither bytes nor a Module', async () => {
        for (const notSource of [undefined, 42, 'wasm', {}]) {
          await assert.rejects(wasm.instantiate(notSource), TypeError)
        }
      })

      test('rejects with CompileError, LinkError, TypeError or RuntimeError as each step fails', async () => {
        await assert.rejects(wasm.instantiate(notAModule), wasm.CompileError)
        await assert.rejects(wasm.instantiate(greeter, { host: { greet: 1 } }), wasm.LinkError)
        await assert.rejects(wasm.instantiate(greeter), TypeError)
        await assert.rejects(wasm.instantiate(greeter, { host: 1 }), TypeError)
        await assert.rejects(wasm.instantiate(trapsOnStart), wasm.RuntimeError)
      })

      test('rejects with TypeError for an importObject that is not an object', async () => {
        await assert.rejects(wasm.instantiate(answer, 42), TypeError)
        await assert.rejects(wasm.instantiate(answer, null), TypeError)
      })
    })

    describe('instantiate with a Module', () => {
      test('resolves to an Instance', async () => {
        const module = new wasm.Module(answer)
        const instance = await wasm.instantiate(module)
        assert.ok(instance instanceof wasm.Instance)
        assert.equal(instance.exports.answer(), 42)
      })

      const startingModule = () =>
        new wasm.Module(wat(`(module (import "host" "started" (func $started)) (func $main (call $started)) (start $main))`))

      test('reads the imports synchronously', async () => {
        const events = []
        const importObject = {
          get host() {
            events.push('read')
            return { started() {} }
          },
        }
        const instantiating = wasm.instantiate(startingModule(), importObject)
        events.push('returned')
        await instantiating
        assert.deepEqual(events, ['read', 'returned'])
      })

      // The spec instantiates in a queued task, after instantiate() has returned;
      // heron does so in a microtask. V8 instantiates (and runs the start function) before returning.
      test('runs the start function after returning', { skip: label === 'v8' && 'V8 instantiates synchronously' }, async () => {
        const events = []
        const instantiating = wasm.instantiate(startingModule(), { host: { started: () => events.push('start function ran') } })
        events.push('returned')
        await instantiating
        assert.deepEqual(events, ['returned', 'start function ran'])
      })

      test('never throws synchronously: import errors become rejections', async () => {
        const module = new wasm.Module(greeter)
        let instantiating
        assert.doesNotThrow(() => {
          instantiating = wasm.instantiate(module, { host: { greet: 'not a function' } })
        })
        await assert.rejects(instantiating, wasm.LinkError)
        await assert.rejects(wasm.instantiate(module), TypeError)
        await assert.rejects(wasm.instantiate(module, 'imports'), TypeError)
        await assert.rejects(wasm.instantiate(new wasm.Module(trapsOnStart)), wasm.RuntimeError)
      })

      test('passes on an exception from an import getter as the rejection reason', async () => {
        const thrown = { from: 'getter' }
        const importObject = {
          get host() {
            throw thrown
          },
        }
        await assert.rejects(wasm.instantiate(new wasm.Module(greeter), importObject), (error) => error === thrown)
      })

      test('does not leave unhandled work behind when its promise is ignored', async () => {
        wasm.instantiate(new wasm.Module(answer))
        await nextTurn()
      })
    })

    describe('error classes', () => {
      for (const name of ['CompileError', 'LinkError', 'RuntimeError']) {
        test(`${name} is an Error subclass named ${name}`, () => {
          const ErrorClass = wasm[name]
          assert.equal(typeof ErrorClass, 'function')
          assert.equal(ErrorClass.name, name)
          assert.equal(ErrorClass.length, 1)
          assert.equal(Object.getPrototypeOf(ErrorClass), Error)
          assert.equal(Object.getPrototypeOf(ErrorClass.prototype), Error.prototype)
          assert.equal(ErrorClass.prototype.name, name)
          assert.equal(ErrorClass.prototype.message, '')
          assert.equal(ErrorClass.prototype.constructor, ErrorClass)

          const error = new ErrorClass('something failed')
          assert.ok(error instanceof ErrorClass)
          assert.ok(error instanceof Error)
          assert.equal(error.name, name)
          assert.equal(error.message, 'something failed')
          assert.equal(String(error), `${name}: something failed`)
          assert.ok(error.stack.startsWith(`${name}: something failed\n`))
          assert.equal(Object.hasOwn(error, 'name'), false)
          assert.equal(Object.prototype.toString.call(error), '[object Error]')
        })

        test(`${name} can be called without new, and takes a cause`, () => {
          const ErrorClass = wasm[name]
          const error = ErrorClass('no new')
          assert.ok(error instanceof ErrorClass)
          assert.equal(error.message, 'no new')
          const cause = new Error('root')
          assert.equal(new ErrorClass('wrapped', { cause }).cause, cause)
          assert.equal(Object.hasOwn(new ErrorClass(), 'message'), false)
        })

        test(`${name} can be subclassed`, () => {
          class Specific extends wasm[name] {}
          const error = new Specific('specific')
          assert.ok(error instanceof Specific)
          assert.ok(error instanceof wasm[name])
          assert.equal(error.name, name)
        })
      }

      test('the three classes are distinct and not the built-in ones of another implementation', () => {
        assert.ok(!(new wasm.LinkError('x') instanceof wasm.CompileError))
        assert.ok(!(new wasm.RuntimeError('x') instanceof wasm.LinkError))
        assert.ok(!(new wasm.CompileError('x') instanceof TypeError))
      })
    })

    describe('the namespace object', () => {
      test('is tagged WebAssembly', () => {
        assert.equal(Object.prototype.toString.call(wasm), '[object WebAssembly]')
        const tag = Object.getOwnPropertyDescriptor(wasm, Symbol.toStringTag)
        assert.deepEqual(tag, { value: 'WebAssembly', writable: false, enumerable: false, configurable: true })
      })

      test('has enumerable functions and non-enumerable classes, all writable and configurable', () => {
        for (const name of ['validate', 'compile', 'instantiate']) {
          const descriptor = Object.getOwnPropertyDescriptor(wasm, name)
          assert.equal(typeof descriptor.value, 'function', name)
          assert.equal(descriptor.enumerable, true, name)
          assert.equal(descriptor.writable, true, name)
          assert.equal(descriptor.configurable, true, name)
        }
        for (const name of ['Module', 'Instance', 'CompileError', 'LinkError', 'RuntimeError']) {
          const descriptor = Object.getOwnPropertyDescriptor(wasm, name)
          assert.equal(typeof descriptor.value, 'function', name)
          assert.equal(descriptor.enumerable, false, name)
          assert.equal(descriptor.writable, true, name)
          assert.equal(descriptor.configurable, true, name)
        }
      })

      test('is a plain object, not a function', () => {
        assert.equal(typeof wasm, 'object')
        assert.equal(Object.getPrototypeOf(wasm), Object.prototype)
      })
    })
  })
}

// Test runners with module registries (Jest) evaluate a package's files again in the same
// thread, while the native binding stays loaded once: every copy must keep working.
test('heron evaluated twice in one thread: both copies work side by side', { skip: process.env.HERON_TEST_ONLY === 'v8' && 'heron only' }, () => {
  const require = createRequire(import.meta.url)
  const path = require.resolve('../index.js')
  const first = require(path)
  delete require.cache[path]
  const second = require(path)
  assert.notEqual(first, second)
  const adder = wat(`(module
    (func (export "add") (param i32 f64) (result f64) (f64.add (f64.convert_i32_s (local.get 0)) (local.get 1))))`)
  const a = new first.Instance(new first.Module(adder)).exports.add
  const b = new second.Instance(new second.Module(adder)).exports.add
  for (let i = 0; i < 1000; i++) {
    assert.equal(a(i, 0.5), i + 0.5)
    assert.equal(b(-i, 0.25), -i + 0.25)
  }
})
