// Memory64 at the JS API: `address: 'i64'` in Memory and Table descriptors with BigInt sizes,
// indices and `grow` results (the JS API's AddressValue), 64-bit memories and tables crossing
// the boundary (an import matches only an export of the same address type), and wasm code
// using them: i64 addresses, memory.size/grow in i64, call_indirect with an i64 index, and
// bounds checks at addresses near 2^32 and 2^64. Node's own V8 runs the same assertions where
// its version has memory64 (Node 26); heron has it on every Node.
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { implementations } from './fixtures/implementations.mjs'
import { wat } from './fixtures/wat.mjs'

const memory64 = { memory64: true }

const exporting = wat(
  `(module
  (memory (export "memory") i64 1 4)
  (func (export "store") (param i64 i32) (i32.store (local.get 0) (local.get 1)))
  (func (export "load") (param i64) (result i32) (i32.load (local.get 0)))
  (func (export "load_far") (param i64) (result i32) (i32.load offset=0xffffffff (local.get 0)))
  (func (export "load_top") (param i64) (result i64) (i64.load offset=0xfffffffffffffff0 (local.get 0)))
  (func (export "size") (result i64) (memory.size))
  (func (export "grow") (param i64) (result i64) (memory.grow (local.get 0)))
  (func (export "fill") (param i64 i32 i64) (memory.fill (local.get 0) (local.get 1) (local.get 2))))`,
  memory64,
)

const unbounded = wat(
  `(module
  (memory (export "memory") i64 1)
  (func (export "load") (param i64) (result i32) (i32.load8_u (local.get 0))))`,
  memory64,
)

const importingMemory = wat(`(module (import "env" "memory" (memory i64 1)))`, memory64)
const importingMemory32 = wat(`(module (import "env" "memory" (memory 1)))`)

const tables = wat(
  `(module
  (type $answer (func (result i32)))
  (table $t (export "table") i64 2 funcref)
  (elem (table $t) (i64.const 1) func $forty_two)
  (func $forty_two (type $answer) (i32.const 42))
  (func (export "call") (param i64) (result i32) (call_indirect $t (type $answer) (local.get 0)))
  (func (export "size") (result i64) (table.size $t))
  (func (export "grow") (param i64) (result i64) (table.grow $t (ref.null func) (local.get 0))))`,
  memory64,
)

const importingTable = wat(`(module (import "env" "table" (table i64 1 funcref)))`, memory64)
const importingTable32 = wat(`(module (import "env" "table" (table 1 funcref)))`)

// Node 22's V8 validates 64-bit memories but has neither 64-bit tables nor the JS API's
// `address`; Node 24's and 26's have all of memory64.
function hasMemory64(WebAssembly) {
  if (!WebAssembly.validate(exporting) || !WebAssembly.validate(tables)) return false
  try {
    return new WebAssembly.Memory({ address: 'i64', initial: 1n }).buffer.byteLength === 65536
  } catch {
    return false
  }
}

for (const [name, WebAssembly] of implementations) {
  const skip = !hasMemory64(WebAssembly) && 'this V8 lacks memory64'
  describe(name, { skip }, () => {
    test('validate accepts 64-bit memories and tables', () => {
      assert.equal(WebAssembly.validate(exporting), true)
      assert.equal(WebAssembly.validate(tables), true)
    })

    test('an i64 Memory takes BigInt sizes, and grow returns a BigInt', () => {
      const memory = new WebAssembly.Memory({ address: 'i64', initial: 1n, maximum: 10n })
      assert.equal(memory.buffer.byteLength, 65536)
      assert.equal(memory.grow(1n), 1n)
      assert.equal(memory.buffer.byteLength, 2 * 65536)
      assert.equal(memory.grow(0n), 2n)
      assert.throws(() => memory.grow(9n), RangeError)
      // ToBigInt accepts booleans and numeric strings, as it does everywhere.
      assert.equal(memory.grow(true), 2n)
      assert.equal(memory.grow('0'), 3n)
    })

    test('an i64 Memory refuses Numbers, out-of-range BigInts and unknown address types', () => {
      assert.throws(() => new WebAssembly.Memory({ address: 'i64', initial: 1 }), TypeError)
      assert.throws(() => new WebAssembly.Memory({ address: 'i64', initial: -1n }), TypeError)
      assert.throws(() => new WebAssembly.Memory({ address: 'i64', initial: 2n ** 64n }), TypeError)
      assert.throws(() => new WebAssembly.Memory({ address: 'i64', initial: 262145n }), RangeError)
      assert.throws(() => new WebAssembly.Memory({ address: 'i64', initial: 1n, maximum: 262145n }), RangeError)
      assert.throws(() => new WebAssembly.Memory({ address: 'i64', initial: 2n, maximum: 1n }), RangeError)
      assert.throws(() => new WebAssembly.Memory({ address: 'i32', initial: 1n }), TypeError)
      assert.throws(() => new WebAssembly.Memory({ address: 'x', initial: 1 }), TypeError)
      const memory = new WebAssembly.Memory({ address: 'i64', initial: 1n })
      assert.throws(() => memory.grow(1), TypeError)
      assert.throws(() => memory.grow(-1n), TypeError)
    })

    test('a shared i64 Memory gives a SharedArrayBuffer and grows with BigInts', () => {
      const memory = new WebAssembly.Memory({ address: 'i64', shared: true, initial: 1n, maximum: 2n })
      assert.ok(memory.buffer instanceof SharedArrayBuffer)
      assert.equal(memory.buffer.byteLength, 65536)
      assert.equal(memory.grow(1n), 1n)
      assert.equal(memory.buffer.byteLength, 2 * 65536)
      assert.throws(() => memory.grow(1n), RangeError)
    })

    test('the descriptor is read in order: address, initial, maximum', () => {
      const reads = []
      const descriptor = {}
      for (const [key, value] of [['address', 'i64'], ['initial', 1n], ['maximum', 2n], ['shared', false]]) {
        Object.defineProperty(descriptor, key, { get: () => (reads.push(key), value) })
      }
      new WebAssembly.Memory(descriptor)
      assert.deepEqual(reads, ['address', 'initial', 'maximum', 'shared'])
    })

    test('an i64 Table has a BigInt length and takes BigInt indices', () => {
      const table = new WebAssembly.Table({ address: 'i64', element: 'anyfunc', initial: 2n })
      assert.equal(table.length, 2n)
      assert.equal(table.grow(1n), 2n)
      assert.equal(table.length, 3n)
      assert.equal(table.get(0n), null)
      table.set(1n, null)
      assert.throws(() => table.get(0), TypeError)
      assert.throws(() => table.get(3n), RangeError)
      assert.throws(() => table.get(2n ** 40n), RangeError)
      assert.throws(() => table.set(-1n, null), TypeError)
      assert.throws(() => table.grow(1), TypeError)
      assert.throws(() => new WebAssembly.Table({ address: 'i64', element: 'anyfunc', initial: 1 }), TypeError)
      const table32 = new WebAssembly.Table({ address: 'i32', element: 'anyfunc', initial: 1 })
      assert.equal(table32.length, 1)
    })

    test('wasm code reads and writes a 64-bit memory at i64 addresses', () => {
      const { exports } = new WebAssembly.Instance(new WebAssembly.Module(exporting))
      exports.store(100n, 0x12345678)
      assert.equal(exports.load(100n), 0x12345678)
      assert.equal(new DataView(exports.memory.buffer).getInt32(100, true), 0x12345678)
      assert.equal(exports.size(), 1n)
      assert.equal(exports.grow(1n), 1n)
      assert.equal(exports.size(), 2n)
      assert.equal(exports.grow(10n), -1n)
      assert.equal(exports.memory.grow(1n), 2n)
      assert.equal(exports.size(), 3n)
      exports.fill(10n, 7, 3n)
      assert.deepEqual([...new Uint8Array(exports.memory.buffer, 9, 5)], [0, 7, 7, 7, 0])
    })

    test('accesses past the end, wrapping addresses and huge offsets trap', () => {
      const { exports } = new WebAssembly.Instance(new WebAssembly.Module(exporting))
      const outOfBounds = (f) => assert.throws(f, (e) => e instanceof WebAssembly.RuntimeError)
      outOfBounds(() => exports.load(65533n))
      outOfBounds(() => exports.load(1n << 32n))
      outOfBounds(() => exports.load((1n << 64n) - 1n))
      outOfBounds(() => exports.load(-4n))
      outOfBounds(() => exports.load_far(0n))
      outOfBounds(() => exports.load_top(0n))
      outOfBounds(() => exports.load_top(0x20n)) // index + offset wraps to 0x10
      outOfBounds(() => exports.fill((1n << 64n) - 1n, 0, 2n))
      outOfBounds(() => exports.fill(0n, 0, 1n << 63n))
      assert.equal(exports.load(65532n), 0)
    })

    test('a 64-bit memory without a maximum grows and bounds-checks', () => {
      const { exports } = new WebAssembly.Instance(new WebAssembly.Module(unbounded))
      assert.equal(exports.memory.grow(2n), 1n)
      new Uint8Array(exports.memory.buffer)[3 * 65536 - 1] = 9
      assert.equal(exports.load(3n * 65536n - 1n), 9)
      assert.throws(() => exports.load(3n * 65536n), WebAssembly.RuntimeError)
    })

    test('call_indirect, table.size and table.grow take and give i64', () => {
      const { exports } = new WebAssembly.Instance(new WebAssembly.Module(tables))
      assert.equal(exports.call(1n), 42)
      assert.throws(() => exports.call(0n), WebAssembly.RuntimeError)
      assert.throws(() => exports.call(2n), WebAssembly.RuntimeError)
      assert.throws(() => exports.call(1n << 32n | 1n), WebAssembly.RuntimeError)
      assert.equal(exports.size(), 2n)
      assert.equal(exports.grow(3n), 2n)
      assert.equal(exports.table.length, 5n)
      assert.equal(exports.table.get(1n)(), 42)
    })

    test('imports match only memories and tables of the same address type', () => {
      const memory64 = new WebAssembly.Memory({ address: 'i64', initial: 1n })
      const memory32 = new WebAssembly.Memory({ initial: 1 })
      new WebAssembly.Instance(new WebAssembly.Module(importingMemory), { env: { memory: memory64 } })
      new WebAssembly.Instance(new WebAssembly.Module(importingMemory32), { env: { memory: memory32 } })
      const link = (bytes, imports) => () => new WebAssembly.Instance(new WebAssembly.Module(bytes), { env: imports })
      assert.throws(link(importingMemory, { memory: memory32 }), WebAssembly.LinkError)
      assert.throws(link(importingMemory32, { memory: memory64 }), WebAssembly.LinkError)
      const table64 = new WebAssembly.Table({ address: 'i64', element: 'anyfunc', initial: 1n })
      const table32 = new WebAssembly.Table({ element: 'anyfunc', initial: 1 })
      new WebAssembly.Instance(new WebAssembly.Module(importingTable), { env: { table: table64 } })
      assert.throws(link(importingTable, { table: table32 }), WebAssembly.LinkError)
      assert.throws(link(importingTable32, { table: table64 }), WebAssembly.LinkError)
      const { exports } = new WebAssembly.Instance(new WebAssembly.Module(exporting))
      new WebAssembly.Instance(new WebAssembly.Module(importingMemory), { env: { memory: exports.memory } })
    })
  })
}

// Memory.prototype.toFixedLengthBuffer (JS API main): every buffer heron hands out is
// fixed-length, so it is the current buffer. Node 26's V8 has it; older ones do not.
for (const [name, WebAssembly] of implementations) {
  const skip = typeof WebAssembly.Memory.prototype.toFixedLengthBuffer !== 'function' && 'this V8 lacks it'
  test(`${name}: toFixedLengthBuffer returns the current fixed-length buffer`, { skip }, () => {
    const memory = new WebAssembly.Memory({ initial: 1, maximum: 3 })
    const buffer = memory.toFixedLengthBuffer()
    assert.equal(buffer, memory.buffer)
    assert.equal(buffer.resizable, false)
    assert.equal(buffer.byteLength, 65536)
    memory.grow(1)
    assert.equal(buffer.byteLength, 0)
    assert.equal(memory.toFixedLengthBuffer(), memory.buffer)
    assert.equal(memory.toFixedLengthBuffer().byteLength, 2 * 65536)
    const shared = new WebAssembly.Memory({ initial: 1, maximum: 2, shared: true })
    assert.equal(shared.toFixedLengthBuffer(), shared.buffer)
    assert.throws(() => WebAssembly.Memory.prototype.toFixedLengthBuffer.call({}), TypeError)
  })
}
