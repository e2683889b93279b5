// Exception handling at the JS API: WebAssembly.Tag, WebAssembly.Exception (getArg, is,
// traceStack), WebAssembly.JSTag, tags imported and exported, and exceptions crossing the
// boundary both ways with their identity: a wasm exception reaching JS is a
// WebAssembly.Exception, one thrown back in is caught by its tag, and a JS exception thrown by
// an import unwinds through wasm frames, can be caught there (catch_all, catch_all_ref, JSTag)
// and rethrown, and reaches JS as the same value. Traps and stack overflow are not catchable.
// Checked against Node's own V8 where its version has the feature (the exnref instructions
// and JSTag handlers are newer than the legacy ones); heron runs everything on every Node.
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { implementations } from './fixtures/implementations.mjs'
import { wat } from './fixtures/wat.mjs'

const features = { exceptions: true }

// The legacy instructions (try/catch/catch_all/rethrow/delegate), which every Node's V8 runs.
const legacy = wat(
  `(module
  (import "env" "call" (func $call))
  (import "env" "tag" (tag $imported (param i32)))
  (tag $t (export "t") (param i32))
  (export "imported" (tag $imported))
  (func $throw (export "throw") (param i32) (throw $t (local.get 0)))
  (func (export "throw_imported") (param i32) (throw $imported (local.get 0)))
  ;; Calls the import; 1000 + the value of a $t exception, 2000 + that of an $imported one,
  ;; 3 for anything else, 0 if nothing was thrown.
  (func (export "catch") (result i32)
    (try (result i32)
      (do (call $call) (i32.const 0))
      (catch $t (i32.add (i32.const 1000)))
      (catch $imported (i32.add (i32.const 2000)))
      (catch_all (i32.const 3))))
  ;; Calls the import, catching everything and rethrowing it.
  (func (export "rethrow")
    (try
      (do (call $call))
      (catch_all (rethrow 0))))
  ;; Calls the import with no handler.
  (func (export "pass") (call $call))
  ;; An exception thrown by wasm inside a delegate, caught one frame out.
  (func (export "delegate") (result i32)
    (try (result i32)
      (do (try (do (call $throw (i32.const 5))) (delegate 0)) (i32.const 0))
      (catch $t (i32.add (i32.const 100)))))
  (func $trap (unreachable))
  (func (export "trap_in_try") (result i32)
    (try (result i32) (do (call $trap) (i32.const 0)) (catch_all (i32.const 1))))
  (func $recurse (call $recurse))
  (func (export "overflow_in_try") (result i32)
    (try (result i32) (do (call $recurse) (i32.const 0)) (catch_all (i32.const 1)))))`,
  features,
)

// The exnref instructions and a JSTag handler.
const exnref = wat(
  `(module
  (import "env" "call" (func $call))
  (import "env" "jstag" (tag $js (param externref)))
  (tag $t (export "t") (param i32))
  ;; The JS value an import threw, caught by its JSTag handler.
  (func (export "catch_js") (result externref)
    (block $h (result externref)
      (try_table (catch $js $h) (call $call))
      (ref.null extern)))
  ;; Catches whatever the import throws as an exnref and throws it again.
  (func (export "rethrow_ref")
    (block $h (result exnref)
      (try_table (catch_all_ref $h) (call $call))
      (return))
    (throw_ref))
  ;; 1 if the import threw anything, 0 if not.
  (func (export "catch_all") (result i32)
    (block $h
      (try_table (catch_all $h) (call $call))
      (return (i32.const 0)))
    (i32.const 1))
  (func (export "take_exnref") (param exnref))
  (func (export "give_exnref") (result exnref) (ref.null exn))
  ;; The loop of the zero-cost measurement, with and without a handler around the call.
  (func $leaf (param i32) (result i32) (i32.add (local.get 0) (i32.const 1)))
  (func (export "loop_plain") (param i32) (result i32) (local i32)
    (loop $l
      (local.set 1 (call $leaf (local.get 1)))
      (br_if $l (i32.lt_u (local.get 1) (local.get 0))))
    (local.get 1))
  (func (export "loop_try") (param i32) (result i32) (local i32)
    (loop $l
      (block $h
        (try_table (catch_all $h) (local.set 1 (call $leaf (local.get 1))))
        (br_if $l (i32.lt_u (local.get 1) (local.get 0)))))
    (local.get 1)))`,
  features,
)

for (const [name, WebAssembly] of implementations) {
  describe(name, () => {
    const instantiateLegacy = (call, tag = new WebAssembly.Tag({ parameters: ['i32'] })) =>
      new WebAssembly.Instance(new WebAssembly.Module(legacy), { env: { call, tag } }).exports

    describe('WebAssembly.Tag', () => {
      test('is a constructor of one argument taking a tag type', () => {
        assert.equal(typeof WebAssembly.Tag, 'function')
        assert.equal(WebAssembly.Tag.length, 1)
        const tag = new WebAssembly.Tag({ parameters: ['i32', 'f64', 'externref'] })
        assert.ok(tag instanceof WebAssembly.Tag)
        assert.equal(Object.prototype.toString.call(tag), '[object WebAssembly.Tag]')
        assert.equal(Object.getOwnPropertyDescriptor(WebAssembly, 'Tag').enumerable, false)
      })

      test('rejects a call without new, a type without parameters, and unknown value types', () => {
        assert.throws(() => WebAssembly.Tag({ parameters: [] }), TypeError)
        assert.throws(() => new WebAssembly.Tag({}), TypeError)
        assert.throws(() => new WebAssembly.Tag(), TypeError)
        assert.throws(() => new WebAssembly.Tag({ parameters: ['i33'] }), TypeError)
      })
    })

    describe('WebAssembly.Exception', () => {
      const tag = new WebAssembly.Tag({ parameters: ['i32', 'f64', 'externref'] })
      const payload = () => [7, 2.5, { some: 'object' }]

      test('getArg reads the payload by tag and index, is compares tags', () => {
        const value = payload()
        const exception = new WebAssembly.Exception(tag, value)
        assert.equal(WebAssembly.Exception.prototype.getArg.length, 2)
        assert.equal(WebAssembly.Exception.prototype.is.length, 1)
        assert.equal(exception.getArg(tag, 0), 7)
        assert.equal(exception.getArg(tag, 1), 2.5)
        assert.equal(exception.getArg(tag, 2), value[2])
        assert.equal(exception.is(tag), true)
        assert.equal(exception.is(new WebAssembly.Tag({ parameters: ['i32', 'f64', 'externref'] })), false)
        assert.equal(Object.prototype.toString.call(exception), '[object WebAssembly.Exception]')
        assert.equal(exception instanceof Error, false)
      })

      test('getArg: another tag is a TypeError, an index past the payload a RangeError', () => {
        const exception = new WebAssembly.Exception(tag, payload())
        assert.throws(() => exception.getArg(new WebAssembly.Tag({ parameters: ['i32'] }), 0), TypeError)
        assert.throws(() => exception.getArg(tag, 3), RangeError)
        assert.throws(() => exception.getArg(0), TypeError)
      })

      test('the constructor rejects JSTag, a payload of the wrong length and a missing tag', () => {
        // Node 20's V8 predates JSTag and accepts a payload of the wrong length.
        if (WebAssembly.JSTag !== undefined) {
          assert.throws(() => new WebAssembly.Exception(WebAssembly.JSTag, [1]), TypeError)
          assert.throws(() => new WebAssembly.Exception(tag, [1, 2]), TypeError)
        }
        assert.throws(() => new WebAssembly.Exception({}, []), TypeError)
        assert.throws(() => WebAssembly.Exception(tag, payload()), TypeError)
      })

      test('traceStack gives the exception a stack; without it there is none', () => {
        const traced = new WebAssembly.Exception(tag, payload(), { traceStack: true })
        assert.equal(typeof traced.stack, 'string')
        assert.match(traced.stack, /exceptions\.test\.mjs/)
        assert.equal(new WebAssembly.Exception(tag, payload()).stack, undefined)
      })
    })

    const hasJSTag = WebAssembly.JSTag !== undefined
    describe('WebAssembly.JSTag', { skip: !hasJSTag && 'this V8 lacks JSTag' }, () => {
      test('is a Tag, the same object each time, and read-only', () => {
        assert.ok(WebAssembly.JSTag instanceof WebAssembly.Tag)
        assert.equal(WebAssembly.JSTag, WebAssembly.JSTag)
        const descriptor = Object.getOwnPropertyDescriptor(WebAssembly, 'JSTag')
        assert.equal(descriptor.writable, false)
        assert.equal(descriptor.enumerable, false)
      })
    })

    describe('tags across the boundary', () => {
      test('an exported tag is a Tag, the same object each time; an imported one is the object passed in', () => {
        const tag = new WebAssembly.Tag({ parameters: ['i32'] })
        const exports = instantiateLegacy(() => {}, tag)
        assert.ok(exports.t instanceof WebAssembly.Tag)
        assert.equal(exports.imported, tag)
        const again = new WebAssembly.Instance(new WebAssembly.Module(legacy), { env: { call() {}, tag: exports.t } })
        assert.equal(again.exports.imported, exports.t)
      })

      test('a tag import needs a Tag of the same type', () => {
        assert.throws(() => instantiateLegacy(() => {}, 5), WebAssembly.LinkError)
        assert.throws(() => instantiateLegacy(() => {}, new WebAssembly.Tag({ parameters: ['f32'] })), WebAssembly.LinkError)
      })
    })

    describe('wasm exceptions reaching JS', () => {
      test('are WebAssembly.Exceptions of their tag, with their payload', () => {
        const exports = instantiateLegacy(() => {})
        assert.throws(
          () => exports.throw(42),
          (e) => e instanceof WebAssembly.Exception && e.is(exports.t) && e.getArg(exports.t, 0) === 42,
        )
      })

      test('keep their identity when JS throws them back in and they come out again', () => {
        let seen
        const exports = instantiateLegacy(() => {
          try {
            exports.throw(9)
          } catch (e) {
            seen = e
            throw e
          }
        })
        assert.throws(() => exports.pass(), (e) => e === seen)
        assert.throws(() => exports.rethrow(), (e) => e === seen)
        // Caught by its tag in wasm on the way.
        assert.equal(exports.catch(), 1009)
      })

      test('a trap is not catchable: a catch_all leaves it a RuntimeError', () => {
        assert.throws(() => instantiateLegacy(() => {}).trap_in_try(), WebAssembly.RuntimeError)
      })

      test('stack overflow is not catchable: a catch_all leaves it a RangeError', () => {
        assert.throws(() => instantiateLegacy(() => {}).overflow_in_try(), RangeError)
      })

      test('delegate hands an exception to an outer handler', () => {
        assert.equal(instantiateLegacy(() => {}).delegate(), 105)
      })
    })

    describe('JS exceptions thrown by imports', () => {
      test('a WebAssembly.Exception made in JS is caught by its tag in wasm', () => {
        const tag = new WebAssembly.Tag({ parameters: ['i32'] })
        let exports
        exports = instantiateLegacy(() => {
          throw new WebAssembly.Exception(exports.t, [5])
        }, tag)
        assert.equal(exports.catch(), 1005)
        const imported = instantiateLegacy(() => {
          throw new WebAssembly.Exception(tag, [6])
        }, tag)
        assert.equal(imported.catch(), 2006)
      })

      test('catch_all catches any JS value, and nothing is left pending', () => {
        for (const thrown of [new Error('from JS'), 'a string', 42, null, undefined]) {
          const exports = instantiateLegacy(() => {
            throw thrown
          })
          assert.equal(exports.catch(), 3)
          // The export returned normally: JS sees no exception, now or on the next call.
          assert.equal(exports.catch(), 3)
        }
      })

      test('reach JS as the same value through wasm frames, rethrown or not', () => {
        for (const thrown of [new Error('from JS'), 'a string', { plain: 'object' }]) {
          const exports = instantiateLegacy(() => {
            throw thrown
          })
          assert.throws(() => exports.pass(), (e) => e === thrown)
          assert.throws(() => exports.rethrow(), (e) => e === thrown)
        }
      })

      test('unwind through nested JS and wasm frames', () => {
        const thrown = new Error('deep')
        const inner = instantiateLegacy(() => {
          throw thrown
        })
        const outer = instantiateLegacy(() => inner.rethrow())
        assert.throws(() => outer.pass(), (e) => e === thrown)
        assert.equal(outer.catch(), 3)
        // A wasm exception from the inner instance crosses the JS frame between them.
        const innerThrows = instantiateLegacy(() => {})
        const outerCatches = instantiateLegacy(() => innerThrows.throw(8), innerThrows.t)
        assert.equal(outerCatches.catch(), 2008)
      })
    })

    const hasExnref = WebAssembly.validate(exnref) && hasJSTag
    describe('exnref and JSTag handlers', { skip: !hasExnref && 'this V8 lacks exnref or JSTag' }, () => {
      const instantiateExnref = (call) =>
        new WebAssembly.Instance(new WebAssembly.Module(exnref), { env: { call, jstag: WebAssembly.JSTag } }).exports

      test('catch $JSTag gives the thrown JS value as an externref', () => {
        for (const thrown of [new TypeError('typed'), 'text', 17]) {
          const exports = instantiateExnref(() => {
            throw thrown
          })
          assert.equal(exports.catch_js(), thrown)
        }
      })

      test('a JSTag handler does not catch a WebAssembly.Exception', () => {
        let exports
        exports = instantiateExnref(() => {
          throw new WebAssembly.Exception(exports.t, [1])
        })
        assert.throws(() => exports.catch_js(), (e) => e instanceof WebAssembly.Exception && e.is(exports.t))
      })

      test('catch_all_ref and throw_ref rethrow a JS value as itself', () => {
        const thrown = new Error('rethrown')
        const exports = instantiateExnref(() => {
          throw thrown
        })
        assert.throws(() => exports.rethrow_ref(), (e) => e === thrown)
        assert.equal(exports.catch_all(), 1)
      })

      test('exnref values cannot cross the boundary', () => {
        const exports = instantiateExnref(() => {})
        assert.throws(() => exports.take_exnref(null), TypeError)
        assert.throws(() => exports.give_exnref(), TypeError)
      })

      test('a handler around a call leaves its results alone', () => {
        const exports = instantiateExnref(() => {})
        assert.equal(exports.loop_try(1000), exports.loop_plain(1000))
      })
    })
  })
}
