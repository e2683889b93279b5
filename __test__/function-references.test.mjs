// Typed function references at the JS API: `(ref $t)` and `(ref null $t)` parameters, results,
// globals and tables (with initializers) take exported wasm functions of exactly that type
// (ToWebAssemblyValue: a TypeError otherwise, and for null where the type is non-nullable);
// call_ref, return_call_ref, ref.as_non_null, br_on_null and br_on_non_null; imports of typed
// functions; anyref values passed through. Node's own V8 runs the same assertions where its
// version validates the module (V8 13 and later); GC modules are refused by heron only.
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { implementations } from './fixtures/implementations.mjs'
import { concat, module, section } from './fixtures/binary.mjs'

// Assembled from the .wat files of the same names (wabt cannot assemble typed references).
const fixture = (name) => readFileSync(new URL(`./fixtures/${name}.wasm`, import.meta.url))
const main = fixture('function-references')
const importer = fixture('function-references-import')

// `(type $t (func (param i32) (result i32)))`, a tag of `(param (ref null $t))` exported as
// "tag" and the identity function of type $t exported as "f".
const name = (text) => concat([text.length], [...text].map((c) => c.charCodeAt(0)))
const typedTag = module(
  section(1, 2, concat([0x60, 0x01, 0x7f, 0x01, 0x7f], [0x60, 0x01, 0x63, 0x00, 0x00])),
  section(3, 1, [0x00]),
  section(13, 1, [0x00, 0x01]),
  section(7, 2, concat(name('f'), [0x00, 0x00], name('tag'), [0x04, 0x00])),
  section(10, 1, [0x04, 0x00, 0x20, 0x00, 0x0b]),
)

// `(type (struct))`, and a function using `ref.i31`: the GC proposal beyond its types.
const structType = module(section(1, 1, [0x5f, 0x00]))
const i31Body = [0x00, 0x41, 0x00, 0xfb, 0x1c, 0x1a, 0x0b]
const i31Instruction = module(
  section(1, 1, [0x60, 0x00, 0x00]),
  section(3, 1, [0x00]),
  section(10, 1, concat([i31Body.length], i31Body)),
)

for (const [name, WebAssembly] of implementations) {
  const supported = WebAssembly.validate(main)
  describe(name, { skip: !supported && 'this V8 lacks typed function references' }, () => {
    const instantiate = () => new WebAssembly.Instance(new WebAssembly.Module(main)).exports

    test('parameters and results of (ref $t) pass exported functions of that type through', () => {
      const e = instantiate()
      assert.equal(e.identity(e.inc), e.inc)
      assert.equal(e.getInc(), e.inc)
      assert.equal(e.nullable(null), null)
      assert.equal(e.asNonNull(e.inc), e.inc)
    })

    test('a value that is not a function of the expected type is a TypeError', () => {
      const e = instantiate()
      assert.throws(() => e.identity(null), TypeError)
      assert.throws(() => e.identity(e.add), TypeError)
      assert.throws(() => e.nullable(e.add), TypeError)
      assert.throws(() => e.identity(() => 1), TypeError)
      assert.throws(() => e.identity(0), TypeError)
    })

    test('call_ref, return_call_ref, br_on_null, br_on_non_null and locals set before use run', () => {
      const e = instantiate()
      assert.equal(e.apply(e.inc, 4), 5)
      assert.equal(e.tailApply(e.inc, 9), 10)
      assert.equal(e.isNull(null), 1)
      assert.equal(e.isNull(e.inc), 0)
      assert.equal(e.applyOr(null, 3), -1)
      assert.equal(e.applyOr(e.inc, 3), 4)
      assert.equal(e.local(), 42)
    })

    test('call_ref of null and ref.as_non_null of null trap', () => {
      const e = instantiate()
      assert.throws(() => e.apply(null, 1), WebAssembly.RuntimeError)
      assert.throws(() => e.asNonNull(null), WebAssembly.RuntimeError)
    })

    test('globals of typed references take only functions of their type', () => {
      const e = instantiate()
      assert.equal(e.unaryConst.value, e.inc)
      assert.equal(e.unaryGlobal.value, e.inc)
      assert.equal(e.applyGlobal(1), 2)
      assert.throws(() => {
        e.unaryGlobal.value = e.add
      }, TypeError)
      e.unaryGlobal.value = null
      assert.equal(e.unaryGlobal.value, null)
      assert.throws(() => e.applyGlobal(1), WebAssembly.RuntimeError)
      e.unaryGlobal.value = e.inc
      assert.equal(e.applyGlobal(2), 3)
    })

    test('tables of typed references: initializers, set, grow and the type check', () => {
      const e = instantiate()
      assert.equal(e.unaries.get(0), null)
      e.unaries.set(1, e.inc)
      assert.equal(e.applyElement(1, 1), 2)
      assert.throws(() => e.unaries.set(0, e.add), TypeError)
      assert.throws(() => e.applyElement(0, 1), WebAssembly.RuntimeError)
      assert.equal(e.unaries.grow(1), 2)
      assert.equal(e.unaries.get(2), null)

      assert.equal(e.nonNull.length, 3)
      assert.equal(e.nonNull.get(2), e.inc)
      assert.throws(() => e.nonNull.set(0, null), TypeError)
      assert.throws(() => e.nonNull.grow(1), TypeError)
      assert.equal(e.nonNull.grow(1, e.inc), 3)
      assert.equal(e.nonNull.get(3), e.inc)
    })

    test('an import of a typed function links a function of the same type, from any module', () => {
      const e = instantiate()
      const linked = new WebAssembly.Instance(new WebAssembly.Module(importer), {
        m: { inc: e.inc, selfish: e.selfish },
      }).exports
      assert.equal(linked.callImported(1), 2)
      assert.equal(linked.selfishRef(), 7)
      assert.throws(
        () => new WebAssembly.Instance(new WebAssembly.Module(importer), { m: { inc: e.add, selfish: e.selfish } }),
        WebAssembly.LinkError,
      )
      const fromJs = new WebAssembly.Instance(new WebAssembly.Module(importer), {
        m: { inc: (x) => x * 10, selfish: () => 3 },
      }).exports
      assert.equal(fromJs.callImported(4), 40)
      assert.equal(fromJs.selfishRef(), 3)
    })

    test('anyref carries host values through and back', () => {
      const e = instantiate()
      const object = {}
      assert.equal(e.anyIdentity(object), object)
      assert.equal(e.anyIdentity('text'), 'text')
      assert.equal(e.anyIdentity(5), 5)
      assert.equal(Object.is(e.anyIdentity(-0), -0), true)
      assert.equal(e.anyIdentity(null), null)
      assert.equal(e.anyIsNull(null), 1)
      assert.equal(e.anyIsNull(object), 0)
    })

    test('an exception of a tag with a typed reference parameter carries a function of that type', {
      skip: !WebAssembly.validate(typedTag) && 'this V8 lacks exceptions with typed references',
    }, () => {
      const { f, tag } = new WebAssembly.Instance(new WebAssembly.Module(typedTag)).exports
      const exception = new WebAssembly.Exception(tag, [f])
      assert.equal(exception.getArg(tag, 0), f)
      assert.equal(new WebAssembly.Exception(tag, [null]).getArg(tag, 0), null)
      assert.throws(() => new WebAssembly.Exception(tag, [instantiate().add]), TypeError)
    })
  })
}

for (const [name, WebAssembly] of implementations.filter(([name]) => name === 'heron')) {
  describe(`${name}: the GC proposal beyond its types`, () => {
    test('validate() is false and compiling throws a CompileError naming GC', () => {
      for (const bytes of [structType, i31Instruction]) {
        assert.equal(WebAssembly.validate(bytes), false)
        assert.throws(() => new WebAssembly.Module(bytes), (error) => {
          assert.ok(error instanceof WebAssembly.CompileError)
          assert.match(error.message, /GC proposal/)
          return true
        })
      }
    })
  })
}
