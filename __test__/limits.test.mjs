// The JS API's implementation-defined limits ("Implementation-defined Limits" in js-api.bs):
// a module at a limit validates, one just over it fails `validate`, `new Module` and
// `compile` with a CompileError; the sizes limited at run time fail with a RangeError.
// The modules are written byte by byte (fixtures/binary.mjs) and made once, when first used.
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { implementations } from './fixtures/implementations.mjs'
import { SECTION, concat, leb, module, repeat, section } from './fixtures/binary.mjs'
import { wat } from './fixtures/wat.mjs'

const I32 = 0x7f
const FUNCREF = 0x70
const END = 0x0b
const NOP = 0x01
// One type, `[] -> []`.
const nullaryType = section(SECTION.type, 1, [0x60, 0, 0])

// A function of type 0 whose body (`size` bytes, local declarations included) declares
// `locals` i32 locals in one group and is otherwise `nop`s.
function oneFunction(size, locals = 0) {
  const head = locals === 0 ? [0] : [1, ...leb(locals), I32]
  const body = concat(head, repeat([NOP], size - head.length - 1), [END])
  return [section(SECTION.function, 1, [0]), section(SECTION.code, 1, concat(leb(body.length), body))]
}

// A function type with `params` parameters and `results` results, all i32.
function functionType(params, results) {
  return section(SECTION.type, 1, concat([0x60], leb(params), repeat([I32], params), leb(results), repeat([I32], results)))
}

// Export names "0", "1", ..., "z", "10", ...: unique, as names must be.
function exportsOfGlobal0(count) {
  const entries = new Uint8Array(count * 8)
  let at = 0
  for (let i = 0; i < count; i++) {
    const name = i.toString(36)
    entries[at++] = name.length
    for (let c = 0; c < name.length; c++) entries[at++] = name.charCodeAt(c)
    entries[at++] = 3
    entries[at++] = 0
  }
  return entries.subarray(0, at)
}

// Each limit: the spec's number, and a module with `n` of what it limits. `v8` and `heron`
// say where Node 20's V8 (11.3) or heron cannot reach the limit; `compiles` marks modules cheap enough to compile at the limit
// (the others are only validated there: compiling a million functions is slow on any engine).
const limits = [
  { what: 'types', limit: 1_000_000, make: (n) => module(section(SECTION.type, n, repeat([0x60, 0, 0], n))) },
  {
    what: 'functions',
    limit: 1_000_000,
    make: (n) => module(nullaryType, section(SECTION.function, n, repeat([0], n)), section(SECTION.code, n, repeat([2, 0, END], n))),
  },
  {
    what: 'imports',
    limit: 1_000_000,
    make: (n) => module(nullaryType, section(SECTION.import, n, repeat([0, 0, 0, 0], n))),
    v8: 'V8 11.3 (Node 20) still has the older limit of 100,000 imports',
    heron: "wasmparser caps the summed size of imported and exported types at 1,000,000, so heron takes at most 499,999 imports of `[] -> []` functions (README)",
  },
  {
    what: 'exports',
    limit: 1_000_000,
    make: (n) => module(section(SECTION.global, 1, [I32, 0, 0x41, 0, END]), section(SECTION.export, n, exportsOfGlobal0(n))),
    v8: 'V8 11.3 (Node 20) still has the older limit of 100,000 exports',
    heron: "wasmparser caps the summed size of imported and exported types at 1,000,000, so heron takes at most 999,998 exports of one global (README)",
  },
  { what: 'globals', limit: 1_000_000, make: (n) => module(section(SECTION.global, n, repeat([I32, 0, 0x41, 0, END], n))) },
  { what: 'data segments', limit: 100_000, make: (n) => module(section(SECTION.data, n, repeat([1, 0], n))), compiles: true },
  { what: 'tables', limit: 100_000, make: (n) => module(section(SECTION.table, n, repeat([FUNCREF, 0, 0], n))), compiles: true },
  { what: 'initial memory pages', limit: 65_536, make: (n) => module(section(SECTION.memory, 1, [0, ...leb(n)])), compiles: true },
  { what: 'maximum memory pages', limit: 65_536, make: (n) => module(section(SECTION.memory, 1, [1, 0, ...leb(n)])), compiles: true },
  { what: 'parameters', limit: 1_000, make: (n) => module(functionType(n, 0)), compiles: true },
  { what: 'results', limit: 1_000, make: (n) => module(functionType(0, n)), compiles: true },
  { what: 'locals', limit: 50_000, make: (n) => module(nullaryType, ...oneFunction(8, n)), compiles: true },
  {
    // Parameters count as locals: two i32 parameters leave room for 49,998 declared locals.
    what: 'declared locals beside two parameters',
    limit: 49_998,
    make: (n) => module(functionType(2, 0), ...oneFunction(8, n)),
    compiles: true,
  },
  { what: 'bytes of a function body', limit: 7_654_321, make: (n) => module(nullaryType, ...oneFunction(n)) },
  {
    what: 'entries of one element segment',
    limit: 10_000_000,
    // A table of one element and a passive segment of `n` references to function 0.
    make: (n) =>
      module(
        nullaryType,
        section(SECTION.function, 1, [0]),
        section(SECTION.table, 1, [FUNCREF, 0, 1]),
        section(SECTION.element, 1, concat([1, 0], leb(n), repeat([0], n))),
        section(SECTION.code, 1, [2, 0, END]),
      ),
  },
]

// The modules, made on first use and shared by both implementations.
const made = new Map()
function bytesOf(limit, n) {
  const key = `${limit.what} ${n}`
  if (!made.has(key)) made.set(key, limit.make(n))
  return made.get(key)
}

for (const [name, WebAssembly] of implementations) {
  describe(name, () => {
    for (const limit of limits) {
      test(`${limit.limit} ${limit.what} pass`, { skip: limit[name] }, () => {
        const bytes = bytesOf(limit, limit.limit)
        assert.equal(WebAssembly.validate(bytes), true)
        if (limit.compiles) {
          assert.ok(new WebAssembly.Module(bytes) instanceof WebAssembly.Module)
        }
      })

      test(`${limit.limit + 1} ${limit.what} fail to compile`, async () => {
        const bytes = bytesOf(limit, limit.limit + 1)
        assert.equal(WebAssembly.validate(bytes), false)
        assert.throws(() => new WebAssembly.Module(bytes), WebAssembly.CompileError)
        await assert.rejects(WebAssembly.compile(bytes), WebAssembly.CompileError)
      })
    }

    test('100,000 imports and 100,000 exports pass', () => {
      for (const limit of [limits[2], limits[3]]) {
        const bytes = bytesOf(limit, 100_000)
        assert.equal(WebAssembly.validate(bytes), true, limit.what)
        assert.ok(new WebAssembly.Module(bytes) instanceof WebAssembly.Module)
      }
    })

    test('a CompileError over a limit names the limit', { skip: name === 'v8' && "heron's own messages" }, () => {
      assert.throws(
        () => new WebAssembly.Module(bytesOf(limits[2], 1_000_001)),
        (error) => error instanceof WebAssembly.CompileError && /module has 1000001 imports; the limit is 1000000/.test(error.message),
      )
      assert.throws(
        () => new WebAssembly.Module(bytesOf(limits[13], 7_654_322)),
        (error) => /function body is 7654322 bytes; the limit is 7654321 bytes/.test(error.message),
      )
    })

    // The JS API's own tests treat a table's size as a limit reached when the table is
    // created (V8 does too): a module declaring a bigger table compiles, and instantiating
    // it is a RangeError.
    test('a module declaring a table of more than 10,000,000 elements compiles but does not instantiate', async () => {
      const bytes = module(section(SECTION.table, 1, [FUNCREF, 0, ...leb(10_000_001)]))
      if (name === 'v8' && !WebAssembly.validate(bytes)) {
        // V8 from Node 26 rejects the declaration at compile time instead.
        assert.throws(() => new WebAssembly.Module(bytes), WebAssembly.CompileError)
        return
      }
      assert.equal(WebAssembly.validate(bytes), true)
      const compiled = new WebAssembly.Module(bytes)
      assert.throws(() => new WebAssembly.Instance(compiled), RangeError)
      await assert.rejects(WebAssembly.instantiate(bytes), RangeError)
    })

    test('a table may declare a bigger maximum, but grows to 10,000,000 elements at most', () => {
      const { exports } = new WebAssembly.Instance(
        new WebAssembly.Module(
          wat(`(module (table $t 1 20000000 funcref)
            (func (export "grow") (param i32) (result i32) (table.grow $t (ref.null func) (local.get 0))))`),
        ),
      )
      assert.equal(exports.grow(10_000_000), -1)
      assert.throws(() => new WebAssembly.Table({ element: 'anyfunc', initial: 10_000_001 }), RangeError)
      const table = new WebAssembly.Table({ element: 'anyfunc', initial: 1, maximum: 10_000_001 })
      assert.throws(() => table.grow(10_000_000), RangeError)
      assert.equal(table.length, 1)
    })

    test('a memory grows to 65,536 pages at most', () => {
      assert.throws(() => new WebAssembly.Memory({ initial: 65_537 }), RangeError)
      assert.throws(() => new WebAssembly.Memory({ initial: 0, maximum: 65_537 }), RangeError)
      const memory = new WebAssembly.Memory({ initial: 0 })
      assert.throws(() => memory.grow(65_537), RangeError)
      assert.equal(memory.buffer.byteLength, 0)
      const { exports } = new WebAssembly.Instance(
        new WebAssembly.Module(wat(`(module (memory 0) (func (export "grow") (param i32) (result i32) (memory.grow (local.get 0))))`)),
      )
      assert.equal(exports.grow(65_537), -1)
    })
  })
}
