'use strict'
// heron's WebAssembly namespace: the JS API of js-api.bs, shaped here over the
// generated native binding (./binding.js). The binding compiles, links and runs;
// this file owns everything the spec says about JS values: which arguments are
// accepted, when bytes are copied, the order in which imports are read, what is
// synchronous and what becomes a promise rejection, and the shape of the
// objects handed back. The namespace object it exports can replace
// `globalThis.WebAssembly`.

const { types } = require('node:util')
const native = require('./binding.js')
const { installTransfer, noteTransferable, MARKER: TRANSFER_MARKER } = require('./lib/transfer.js')
const { installAtomics } = require('./lib/atomics.js')

// --- Error classes ------------------------------------------------------------

// The spec gives CompileError, LinkError and RuntimeError the NativeError
// structure (like TypeError): callable with or without `new`, `name` and
// `message` on the prototype, %Error% as the constructor's prototype. A class
// declaration cannot be called without `new`, so each is a plain function that
// builds a real Error object with the right prototype.
function defineErrorClass(name) {
  const { [name]: ErrorClass } = {
    [name]: function (message, options) {
      const error = Reflect.construct(Error, [message, options], new.target ?? ErrorClass)
      // Start the stack trace at the caller rather than inside this wrapper.
      Error.captureStackTrace(error, ErrorClass)
      return error
    },
  }
  Object.defineProperty(ErrorClass, 'prototype', {
    value: Object.create(Error.prototype, {
      constructor: { value: ErrorClass, writable: true, configurable: true },
      name: { value: name, writable: true, configurable: true },
      message: { value: '', writable: true, configurable: true },
    }),
    writable: false,
  })
  // NativeError constructors take (message, options) but report a length of 1.
  Object.defineProperty(ErrorClass, 'length', { value: 1 })
  Object.setPrototypeOf(ErrorClass, Error)
  return ErrorClass
}

const CompileError = defineErrorClass('CompileError')
const LinkError = defineErrorClass('LinkError')
const RuntimeError = defineErrorClass('RuntimeError')

// From now on native code throws instances of these classes directly, so no
// error needs translating on the way out.
native.setErrorClasses(CompileError, LinkError, RuntimeError)

// Errors leaving wasm get its frames in their stack, as with V8 (lib/stack-traces.js).
const stackTraces = require('./lib/stack-traces.js')
native.setStackTraceSupport(stackTraces.wasmFrameWriter(__filename), stackTraces.v8UsesRapidHash())

// Node profiling for perf (--perf-basic-prof): heron's perf map names wasm code too.
if (require('./lib/profiling.js').nodeProfilesWithPerf()) native.enablePerfMap()

// --- Exported functions -------------------------------------------------------

// An exported wasm function reaches JS as an arrow function made here, which
// calls one of two native functions shared by every export (src/export.rs
// explains both). Arrow functions are not constructors, so `new f()` throws a
// TypeError as with V8.
//
// When every parameter and result is a number (the binding says so by giving
// the function an index in its export table), the arrow converts the
// arguments itself, exactly as ToWebAssemblyValue does (`x | 0` is ToInt32,
// `+x` is ToNumber, `BigInt.asIntN(64, x)` is ToBigInt64, a Float32Array store
// rounds to f32), all of them before storing any (a conversion may call back
// into wasm, which uses the same slots), then stores them and its index in the
// call slots, calls the native function without arguments and reads the
// results from the slots. V8 inlines all of it into the caller. Otherwise the
// arrow passes itself and its arguments on.
//
// The call slots' layout comes from the binding (src/slots.rs), which answers
// the registration below with { buffer, slotCount, slotBytes, indexOffset }.
const slotViews = {
  // Captured now, so that a later change to the global BigInt cannot alter conversions.
  asIntN: BigInt.asIntN,
}
// Per value type letter: the conversion, and the typed array that stores it.
const SLOT_TYPES = {
  i: { convert: (x) => `${x} | 0`, view: 'I32', elementBytes: Int32Array.BYTES_PER_ELEMENT },
  I: { convert: (x) => `asIntN(64, ${x})`, view: 'I64', elementBytes: BigInt64Array.BYTES_PER_ELEMENT },
  f: { convert: (x) => `+${x}`, view: 'F32', elementBytes: Float32Array.BYTES_PER_ELEMENT },
  F: { convert: (x) => `+${x}`, view: 'F64', elementBytes: Float64Array.BYTES_PER_ELEMENT },
}

// The function that makes exported functions of each signature, for the fast path and off it.
const fastExportFunctionMakers = new Map()
const nativeExportFunctionMakers = new Map()

// Source of a function (native, views, index, name) => exported function, for
// signature `params:results` (letters of SLOT_TYPES; `x` for any other type),
// on the fast path or not. The arrow gets its name from the computed key,
// which is cheaper than redefining `name` afterwards.
function exportFunctionSource(signature, fast) {
  const [params, results] = signature.split(':')
  const names = [...params].map((_, i) => `a${i}`)
  const list = names.join(', ')
  if (!fast) {
    return `const exported = { [name]: (${list}) => native(exported, ${list}) }[name]\nreturn exported`
  }
  const { indexOffset } = callSlots
  const body = [
    ...[...params].map((letter, i) => `${names[i]} = ${SLOT_TYPES[letter].convert(names[i])}`),
    ...[...params].map((letter, i) => `${slot(letter, i)} = ${names[i]}`),
    `U32[${indexOffset / Uint32Array.BYTES_PER_ELEMENT}] = index`,
    'native()',
  ]
  const read = [...results].map(slot)
  if (read.length === 1) body.push(`return ${read[0]}`)
  if (read.length > 1) body.push(`return [${read.join(', ')}]`)
  return `const { I32, I64, F32, F64, U32, asIntN } = views\nreturn { [name]: (${list}) => {\n  ${body.join('\n  ')}\n} }[name]`
}

// The typed-array element holding slot `i` as type `letter`.
function slot(letter, i) {
  return `${SLOT_TYPES[letter].view}[${(i * callSlots.slotBytes) / SLOT_TYPES[letter].elementBytes}]`
}

// Whether source text can be compiled here (not under
// --disallow-code-generation-from-strings). Without, every exported function
// converts natively, through a wrapper that needs no compiled source.
const canCompileSource = (() => {
  try {
    return typeof new Function('') === 'function'
  } catch {
    return false
  }
})()

// Called by the binding for each new exported function: `index` is its entry
// in the binding's export table if it takes the fast path, else null.
function makeExportFunction(native, index, signature, name, length) {
  if (!canCompileSource) {
    const exported = { [name]: (...args) => native(exported, ...args) }[name]
    Object.defineProperty(exported, 'length', { value: length })
    return exported
  }
  const fast = index !== null
  const makers = fast ? fastExportFunctionMakers : nativeExportFunctionMakers
  let make = makers.get(signature)
  if (make === undefined) {
    // The sourceURL marks the wrapper's frame, for lib/stack-traces.js to replace.
    const source = `${exportFunctionSource(signature, fast)}\n//# sourceURL=${stackTraces.EXPORTED_FUNCTION_URL}`
    make = new Function('native', 'views', 'index', 'name', source)
    makers.set(signature, make)
  }
  return make(native, slotViews, index, name)
}

// The binding answers with the call slots' layout, that of the first
// registration on this thread if this file is evaluated again (as test
// runners' module registries do), or null when the fast path is off.
const callSlots = native.setExportSupport(makeExportFunction, canCompileSource)
if (callSlots !== null) {
  const { buffer } = callSlots
  Object.assign(slotViews, {
    I32: new Int32Array(buffer),
    I64: new BigInt64Array(buffer),
    F32: new Float32Array(buffer),
    F64: new Float64Array(buffer),
    U32: new Uint32Array(buffer),
  })
}

// --- Imported functions -------------------------------------------------------

// A JS function imported with numeric parameters and at most one numeric result
// is called by wasm through an adapter made here (src/import.rs explains why):
// the binding stores the arguments in the call slots and calls the adapter,
// which reads them all (an Int32Array or Float64Array read is ToJSValue's
// Number, a BigInt64Array read its BigInt), calls the import with `undefined`
// as `this`, converts the result as exported functions convert their
// arguments (ToWebAssemblyValue) and only then stores it in slot 0, where the
// binding reads it back. Its frame is marked by IMPORT_ADAPTER_URL, which
// lib/stack-traces.js removes from stacks it rewrites.
const importAdapterMakers = new Map()

function importAdapterSource(signature) {
  const [params, results] = signature.split(':')
  const call = `callee(${[...params].map(slot).join(', ')})`
  const body = results === '' ? call : `${slot(results, 0)} = ${SLOT_TYPES[results].convert(call)}`
  return `const { I32, I64, F32, F64, asIntN } = views\nreturn () => {\n  ${body}\n}`
}

// Called by the binding for each JS function a module imports with such a
// signature (`params:results`, letters of SLOT_TYPES).
function makeImportAdapter(callee, signature) {
  let make = importAdapterMakers.get(signature)
  if (make === undefined) {
    const source = `${importAdapterSource(signature)}\n//# sourceURL=${stackTraces.IMPORT_ADAPTER_URL}`
    make = new Function('callee', 'views', source)
    importAdapterMakers.set(signature, make)
  }
  return make(callee, slotViews)
}

if (callSlots !== null) native.setImportSupport(makeImportAdapter)

// --- Arguments ----------------------------------------------------------------

// A copy of a BufferSource's bytes, taken at call time as "get a copy of the
// bytes held by the buffer source" requires: later writes to the caller's buffer
// must not reach a compile that is still pending. A detached buffer has no bytes.
function copyBufferSource(source, caller, expected = 'an ArrayBuffer, a TypedArray or a DataView') {
  if (ArrayBuffer.isView(source)) {
    return new Uint8Array(source.buffer, source.byteOffset, source.byteLength).slice()
  }
  if (types.isArrayBuffer(source)) {
    return new Uint8Array(source.slice(0))
  }
  throw new TypeError(`${caller}: argument must be ${expected}, got ${describe(source)}`)
}

function isObject(value) {
  return (typeof value === 'object' && value !== null) || typeof value === 'function'
}

function describe(value) {
  return value === null ? 'null' : typeof value
}

// WebIDL's `optional object importObject`: absent is fine, anything else must be an object.
function checkImportObject(importObject, caller) {
  if (importObject !== undefined && !isObject(importObject)) {
    throw new TypeError(`${caller}: importObject must be an object, got ${describe(importObject)}`)
  }
}

// Property attributes WebIDL gives to operations and attributes (enumerable),
// which class syntax does not (it makes methods and accessors non-enumerable).
function makeEnumerable(target, names) {
  for (const name of names) {
    Object.defineProperty(target, name, { enumerable: true })
  }
}

function defineToStringTag(target, tag) {
  Object.defineProperty(target, Symbol.toStringTag, { value: tag, configurable: true })
}

// Tokens that only this file can create, so the public constructors can take an
// internal fast path (module compiled off-thread, imports already read) that users
// cannot reach. They are recognised by a private field, not `instanceof`: on a
// Proxy passed as importObject, `instanceof` would run traps the spec does not.
// heron's compile option: `deterministic: true` makes every NaN canonical (README
// "Controls"). Other keys (another proposal's compile options) are ignored.
function compileOptions(options, caller) {
  if (options === undefined || options === null) {
    return false
  }
  if (typeof options !== 'object' && typeof options !== 'function') {
    throw new TypeError(`${caller}: options must be an object, got ${typeof options}`)
  }
  return Boolean(options.deterministic)
}

class CompiledModule {
  #bytes
  #native
  constructor(bytes, nativeModule) {
    this.#bytes = bytes
    this.#native = nativeModule
  }
  static unwrap(value) {
    return isObject(value) && #bytes in value ? { bytes: value.#bytes, nativeModule: value.#native } : undefined
  }
}

class ResolvedImports {
  #values
  constructor(values) {
    this.#values = values
  }
  static unwrap(value) {
    return isObject(value) && #values in value ? value.#values : undefined
  }
}

// --- Module ---------------------------------------------------------------------

// Module's private state, opened to the rest of this file (and nobody else) by
// its static block.
let nativeModuleOf
let moduleBytesOf
let importDescriptorsOf
let exportDescriptorsOf

class Module {
  #native
  // The copied source bytes (the spec's [[Bytes]]), kept for customSections.
  #bytes
  // Descriptors from the native module, fetched once: every instantiation needs them.
  #imports
  #exports

  // The second argument, heron's compile options ({ deterministic }), is read through
  // `arguments` so that Module.length stays 1.
  constructor(bytes) {
    noteTransferable()
    const compiled = CompiledModule.unwrap(bytes)
    if (compiled !== undefined) {
      this.#bytes = compiled.bytes
      this.#native = compiled.nativeModule
      return
    }
    const deterministic = compileOptions(arguments[1], 'WebAssembly.Module()')
    this.#bytes = copyBufferSource(bytes, 'WebAssembly.Module()')
    this.#native = new native.NativeModule(this.#bytes, deterministic)
  }

  static exports(moduleObject) {
    const descriptors = Module.#checked(moduleObject, 'WebAssembly.Module.exports()').#exportDescriptors()
    // Fresh objects each call: callers may mutate what they get back.
    return descriptors.map(({ name, kind }) => ({ name, kind }))
  }

  static imports(moduleObject) {
    const descriptors = Module.#checked(moduleObject, 'WebAssembly.Module.imports()').#importDescriptors()
    return descriptors.map(({ module, name, kind }) => ({ module, name, kind }))
  }

  static customSections(moduleObject, sectionName) {
    const module = Module.#checked(moduleObject, 'WebAssembly.Module.customSections()')
    if (arguments.length < 2) {
      throw new TypeError('WebAssembly.Module.customSections(): sectionName is required')
    }
    // A template literal converts like WebIDL's DOMString: a Symbol is a TypeError.
    return customSectionsNamed(module.#bytes, `${sectionName}`)
  }

  static #checked(moduleObject, caller) {
    if (!(isObject(moduleObject) && #native in moduleObject)) {
      throw new TypeError(`${caller}: argument must be a WebAssembly.Module, got ${describe(moduleObject)}`)
    }
    return moduleObject
  }

  #importDescriptors() {
    this.#imports ??= this.#native.imports()
    return this.#imports
  }

  #exportDescriptors() {
    this.#exports ??= this.#native.exports()
    return this.#exports
  }

  static {
    nativeModuleOf = (moduleObject) => (isObject(moduleObject) && #native in moduleObject ? moduleObject.#native : undefined)
    moduleBytesOf = (moduleObject) => moduleObject.#bytes
    importDescriptorsOf = (moduleObject) => moduleObject.#importDescriptors()
    exportDescriptorsOf = (moduleObject) => moduleObject.#exportDescriptors()
  }
}
makeEnumerable(Module, ['exports', 'imports', 'customSections'])
defineToStringTag(Module.prototype, 'WebAssembly.Module')

// The payloads of the custom sections called `name`, each a new ArrayBuffer.
// The bytes were validated when the module was compiled, so the section
// headers can be trusted here.
function customSectionsNamed(bytes, name) {
  const sections = []
  const utf8 = new TextDecoder()
  let offset = 8 // magic and version
  const readU32 = () => {
    let result = 0
    let shift = 0
    let byte
    do {
      byte = bytes[offset++]
      result += (byte & 0x7f) * 2 ** shift
      shift += 7
    } while (byte & 0x80)
    return result
  }
  while (offset < bytes.length) {
    const id = bytes[offset++]
    const size = readU32()
    const end = offset + size
    if (id === 0) {
      const nameLength = readU32()
      const nameEnd = offset + nameLength
      if (utf8.decode(bytes.subarray(offset, nameEnd)) === name) {
        sections.push(bytes.slice(nameEnd, end).buffer)
      }
    }
    offset = end
  }
  return sections
}

// --- Memory, Table and Global objects -------------------------------------------------

// Brand checks, set by the classes' static blocks: the native object behind a Memory or
// Global, or undefined for anything else. Tables are branded by a map.
let nativeMemoryOf
let nativeGlobalOf
let nativeTagOf
const nativeTables = new WeakMap()

// The spec's Memory, Table and Global object caches: one JS object per underlying memory,
// table or global, so a memory imported and re-exported is the very object passed in.
// Keyed by the native identity; entries go when their object is collected.
const objectsByIdentity = new Map()
const forgetObject = new FinalizationRegistry((identity) => {
  if (objectsByIdentity.get(identity)?.deref() === undefined) {
    objectsByIdentity.delete(identity)
  }
})

function rememberObject(object, nativeObject) {
  const identity = nativeObject.identity()
  objectsByIdentity.set(identity, new WeakRef(object))
  forgetObject.register(object, identity)
}

// The JS object for an exported memory, table or global: the existing one if any.
function objectFor(nativeObject) {
  const existing = objectsByIdentity.get(nativeObject.identity())?.deref()
  if (existing !== undefined) {
    return existing
  }
  if (nativeObject instanceof native.NativeMemory) {
    return new Memory(new Adopt(nativeObject))
  }
  if (nativeObject instanceof native.NativeGlobal) {
    return new Global(new Adopt(nativeObject))
  }
  if (nativeObject instanceof native.NativeTag) {
    return new Tag(new Adopt(nativeObject))
  }
  const object = Object.create(Table.prototype)
  nativeTables.set(object, nativeObject)
  rememberObject(object, nativeObject)
  return object
}

// WebIDL's [EnforceRange] unsigned long.
function enforceRangeU32(value, what) {
  if (typeof value === 'symbol' || typeof value === 'bigint') {
    throw new TypeError(`${what} must be a number, got ${typeof value}`)
  }
  const number = Number(value)
  if (!Number.isFinite(number)) {
    throw new TypeError(`${what} must be a finite number, got ${describe(value)}`)
  }
  const integer = Math.trunc(number)
  if (integer < 0 || integer > 0xffffffff) {
    throw new TypeError(`${what} must be in the range 0 to 4294967295, got ${integer}`)
  }
  return integer
}

// A WebIDL enum value: ToString, then membership.
function enumValue(value, allowed, what) {
  if (typeof value === 'symbol') {
    throw new TypeError(`${what} must be a string, got a symbol`)
  }
  const string = `${value}`
  if (!allowed.includes(string)) {
    throw new TypeError(`${what} must be one of ${allowed.map((a) => `"${a}"`).join(', ')}, got "${string}"`)
  }
  return string
}

function checkDescriptor(descriptor, caller) {
  if (!isObject(descriptor)) {
    throw new TypeError(`${caller}: the descriptor must be an object, got ${describe(descriptor)}`)
  }
}

const MAX_PAGES = 65536
// The JS API's limit for 64-bit memories (16 GiB), V8's too.
const MAX_PAGES_64 = 262144
const ADDRESS_TYPES = ['i32', 'i64']
// What toResizableBuffer throws for a memory that has a maximum (see the method).
const RESIZABLE_BUFFER_UNSUPPORTED =
  'WebAssembly.Memory.toResizableBuffer(): heron cannot make a resizable buffer over a wasm memory: ' +
  "V8's public API cannot wrap memory it did not allocate in a resizable ArrayBuffer or route " +
  'its resize() to memory.grow; use memory.buffer instead (fixed-length: read it again after the memory grows)'

// A descriptor's `address` member: "i32" when absent.
function addressType(descriptor, caller) {
  const value = descriptor.address
  return value === undefined ? 'i32' : enumValue(value, ADDRESS_TYPES, `${caller}: address`)
}

// ToPrimitive with hint "number", for ToBigInt.
function toPrimitiveNumber(value, what) {
  const exotic = value[Symbol.toPrimitive]
  if (exotic !== undefined && exotic !== null) {
    if (typeof exotic !== 'function') throw new TypeError(`${what}: Symbol.toPrimitive is not a function`)
    const result = exotic.call(value, 'number')
    if (isObject(result)) throw new TypeError(`${what}: cannot convert an object to a primitive value`)
    return result
  }
  for (const name of ['valueOf', 'toString']) {
    const method = value[name]
    if (typeof method === 'function') {
      const result = method.call(value)
      if (!isObject(result)) return result
    }
  }
  throw new TypeError(`${what}: cannot convert an object to a primitive value`)
}

// ECMAScript's ToBigInt: BigInts, booleans and numeric strings; a Number is a TypeError.
function toBigInt(value, what) {
  const primitive = isObject(value) ? toPrimitiveNumber(value, what) : value
  switch (typeof primitive) {
    case 'bigint':
      return primitive
    case 'boolean':
      return primitive ? 1n : 0n
    case 'string':
      return BigInt(primitive) // a SyntaxError for a string that is no integer, as ToBigInt's
    default:
      throw new TypeError(`${what} must be a BigInt for an i64 address type, got ${describe(value)}`)
  }
}

// The JS API's AddressValueToU64: [EnforceRange] unsigned long for "i32" (a Number), ToBigInt
// within 0 to 2^64 - 1 for "i64" (a BigInt).
function addressValueToU64(value, address, what) {
  if (address === 'i32') return enforceRangeU32(value, what)
  const bigint = toBigInt(value, what)
  if (bigint < 0n || bigint > MAX_U64) {
    throw new TypeError(`${what} must be in the range 0 to ${MAX_U64}, got ${bigint}`)
  }
  return bigint
}

// A u64 from heron as the AddressValue of `address`: a Number for "i32", a BigInt for "i64".
function u64ToAddressValue(value, address) {
  return address === 'i64' ? BigInt(value) : value
}

// An AddressValue, already in range, as the u32 the native side takes: sizes and indices
// above 2^32 - 1 exceed every limit, so they are clamped to a value that still does.
function clampToU32(value) {
  return typeof value === 'bigint' ? Number(value > 0xffffffffn ? 0xffffffffn : value) : value
}

// Token by which objectFor hands an existing native object to a constructor.
class Adopt {
  #native
  constructor(nativeObject) {
    this.#native = nativeObject
  }
  static unwrap(value) {
    return isObject(value) && #native in value ? value.#native : undefined
  }
}

class Memory {
  #native
  // The current buffer: valid while its byteLength is not 0, since every grow detaches it.
  #buffer

  constructor(descriptor) {
    noteTransferable()
    const adopted = Adopt.unwrap(descriptor)
    if (adopted !== undefined) {
      this.#native = adopted
    } else {
      this.#native = Memory.#create(descriptor)
    }
    rememberObject(this, this.#native)
  }

  static #create(descriptor) {
    checkDescriptor(descriptor, 'WebAssembly.Memory()')
    // Dictionary members are read and converted in lexicographic order.
    const address = addressType(descriptor, 'WebAssembly.Memory()')
    const initialValue = descriptor.initial
    if (initialValue === undefined) {
      throw new TypeError('WebAssembly.Memory(): the descriptor needs an initial size')
    }
    const initial = addressValueToU64(initialValue, address, 'WebAssembly.Memory(): initial')
    const maximumValue = descriptor.maximum
    const maximum =
      maximumValue === undefined ? undefined : addressValueToU64(maximumValue, address, 'WebAssembly.Memory(): maximum')
    const shared = Boolean(descriptor.shared)
    if (shared && maximum === undefined) {
      throw new TypeError('WebAssembly.Memory(): a shared memory needs a maximum size')
    }
    const limit = address === 'i64' ? MAX_PAGES_64 : MAX_PAGES
    if (initial > limit || (maximum !== undefined && maximum > limit)) {
      throw new RangeError(`WebAssembly.Memory(): sizes of ${address} memories are limited to ${limit} pages`)
    }
    if (maximum !== undefined && maximum < initial) {
      throw new RangeError('WebAssembly.Memory(): the maximum is below the initial size')
    }
    const max = maximum === undefined ? undefined : Number(maximum)
    return new native.NativeMemory(Number(initial), max, shared, address === 'i64')
  }

  get buffer() {
    if (!(#native in this)) {
      throw new TypeError('WebAssembly.Memory.buffer: receiver is not a WebAssembly.Memory')
    }
    const buffer = this.#buffer
    // A shared memory's buffers never detach; the native side hands out the current one.
    if (buffer !== undefined && buffer.byteLength !== 0 && !(buffer instanceof SharedArrayBuffer)) {
      return buffer
    }
    return (this.#buffer = this.#native.buffer())
  }

  grow(delta) {
    if (!(#native in this)) {
      throw new TypeError('WebAssembly.Memory.grow(): receiver is not a WebAssembly.Memory')
    }
    const address = this.#native.address64() ? 'i64' : 'i32'
    const pages = addressValueToU64(delta, address, 'WebAssembly.Memory.grow(): delta')
    return u64ToAddressValue(this.#native.grow(clampToU32(pages)), address)
  }

  // The JS API's toFixedLengthBuffer: the current buffer when it is fixed-length, which every
  // buffer heron hands out is (see toResizableBuffer).
  toFixedLengthBuffer() {
    if (!(#native in this)) {
      throw new TypeError('WebAssembly.Memory.toFixedLengthBuffer(): receiver is not a WebAssembly.Memory')
    }
    return this.buffer
  }

  // The JS API's toResizableBuffer, up to the point where it would make the buffer: the
  // receiver and maximum checks as the spec orders them, then a TypeError naming what is
  // missing. A resizable buffer over a wasm memory needs a resizable ArrayBuffer whose data is
  // the memory and whose `resize()` grows it, and V8's public API (Node 22 to 26) makes no
  // such buffer (README.md, "Not yet"); a lookalike that copies or lets `resize()` bypass the
  // memory would misbehave. The memory and its current buffer are left as they were.
  toResizableBuffer() {
    if (!(#native in this)) {
      throw new TypeError('WebAssembly.Memory.toResizableBuffer(): receiver is not a WebAssembly.Memory')
    }
    if (!this.#native.hasMaximum()) {
      throw new TypeError('WebAssembly.Memory.toResizableBuffer(): the memory must have a maximum')
    }
    throw new TypeError(RESIZABLE_BUFFER_UNSUPPORTED)
  }

  static {
    nativeMemoryOf = (value) => (isObject(value) && #native in value ? value.#native : undefined)
  }
}
makeEnumerable(Memory.prototype, ['buffer', 'grow', 'toFixedLengthBuffer', 'toResizableBuffer'])
defineToStringTag(Memory.prototype, 'WebAssembly.Memory')

// heron's table size limit, V8's too.
const MAX_TABLE_LENGTH = 10000000
// "funcref" is accepted besides the spec's "anyfunc", as newer engines do.
const TABLE_ELEMENT_TYPES = ['anyfunc', 'funcref', 'externref']

class Table {
  // `value = undefined` keeps the constructor's length at 1, as WebIDL counts only required arguments.
  constructor(descriptor, value = undefined) {
    checkDescriptor(descriptor, 'WebAssembly.Table()')
    // Dictionary members are read and converted in lexicographic order.
    const address = addressType(descriptor, 'WebAssembly.Table()')
    const elementValue = descriptor.element
    if (elementValue === undefined) {
      throw new TypeError('WebAssembly.Table(): the descriptor needs an element type')
    }
    const element = enumValue(elementValue, TABLE_ELEMENT_TYPES, 'WebAssembly.Table(): element')
    const initialValue = descriptor.initial
    if (initialValue === undefined) {
      throw new TypeError('WebAssembly.Table(): the descriptor needs an initial size')
    }
    const initial = addressValueToU64(initialValue, address, 'WebAssembly.Table(): initial')
    const maximumValue = descriptor.maximum
    const maximum =
      maximumValue === undefined ? undefined : addressValueToU64(maximumValue, address, 'WebAssembly.Table(): maximum')
    if (maximum !== undefined && maximum < initial) {
      throw new RangeError('WebAssembly.Table(): the maximum is below the initial size')
    }
    if (initial > MAX_TABLE_LENGTH) {
      throw new RangeError(`WebAssembly.Table(): tables are limited to ${MAX_TABLE_LENGTH} elements`)
    }
    const max = maximum === undefined ? undefined : clampToU32(maximum)
    const nativeTable = new native.NativeTable(element, Number(initial), max, value, address === 'i64')
    nativeTables.set(this, nativeTable)
    rememberObject(this, nativeTable)
  }

  get length() {
    const table = checkedTable(this, 'WebAssembly.Table.length')
    return u64ToAddressValue(table.length(), tableAddress(table))
  }

  get(index) {
    const table = checkedTable(this, 'WebAssembly.Table.get()')
    return table.get(clampToU32(addressValueToU64(index, tableAddress(table), 'WebAssembly.Table.get(): index')))
  }

  set(index, value = undefined) {
    const table = checkedTable(this, 'WebAssembly.Table.set()')
    if (arguments.length < 1) {
      throw new TypeError('WebAssembly.Table.set(): an index is required')
    }
    // Only a missing value means the element type's default; an explicit `undefined` is
    // converted like any other value, so a funcref table refuses it (as the JS API's
    // tests and V8 do).
    const at = addressValueToU64(index, tableAddress(table), 'WebAssembly.Table.set(): index')
    table.set(clampToU32(at), value, arguments.length >= 2)
  }

  grow(delta, value = undefined) {
    const table = checkedTable(this, 'WebAssembly.Table.grow()')
    const address = tableAddress(table)
    const elements = addressValueToU64(delta, address, 'WebAssembly.Table.grow(): delta')
    return u64ToAddressValue(table.grow(clampToU32(elements), value), address)
  }
}
makeEnumerable(Table.prototype, ['length', 'get', 'set', 'grow'])
defineToStringTag(Table.prototype, 'WebAssembly.Table')

// "i64" for a 64-bit table, else "i32".
function tableAddress(nativeTable) {
  return nativeTable.address64() ? 'i64' : 'i32'
}

function checkedTable(value, caller) {
  const nativeTable = isObject(value) ? nativeTables.get(value) : undefined
  if (nativeTable === undefined) {
    throw new TypeError(`${caller}: receiver is not a WebAssembly.Table`)
  }
  return nativeTable
}

const VALUE_TYPES = ['i32', 'i64', 'f32', 'f64', 'v128', 'externref', 'anyfunc', 'funcref']

// Typed arrays whose element stores convert exactly as ToWebAssemblyValue does.
const GLOBAL_VIEWS = { i32: Int32Array, i64: BigInt64Array, f32: Float32Array, f64: Float64Array }

class Global {
  #native
  #mutable
  // For numeric globals, a one-element view of the global's storage: value reads and
  // writes need no native call. Undefined for reference globals.
  #view

  constructor(descriptor, value = undefined) {
    const adopted = Adopt.unwrap(descriptor)
    this.#native = adopted ?? Global.#create(descriptor, value)
    this.#mutable = this.#native.mutable()
    const View = GLOBAL_VIEWS[this.#native.valueType()]
    this.#view = View === undefined ? undefined : new View(this.#native.storage(), 0, 1)
    rememberObject(this, this.#native)
  }

  static #create(descriptor, value) {
    checkDescriptor(descriptor, 'WebAssembly.Global()')
    // Dictionary members are read and converted in lexicographic order.
    const mutable = Boolean(descriptor.mutable)
    const typeValue = descriptor.value
    if (typeValue === undefined) {
      throw new TypeError('WebAssembly.Global(): the descriptor needs a value type')
    }
    const type = enumValue(typeValue, VALUE_TYPES, 'WebAssembly.Global(): value')
    if (type === 'v128') {
      throw new TypeError('WebAssembly.Global(): v128 globals cannot be created from JS')
    }
    return new native.NativeGlobal(type, mutable, value)
  }

  get value() {
    if (!(#native in this)) {
      throw new TypeError('WebAssembly.Global.value: receiver is not a WebAssembly.Global')
    }
    const view = this.#view
    return view !== undefined ? view[0] : this.#native.value()
  }

  set value(value) {
    if (!(#native in this)) {
      throw new TypeError('WebAssembly.Global.value: receiver is not a WebAssembly.Global')
    }
    if (arguments.length < 1) {
      throw new TypeError('WebAssembly.Global.value: the setter needs a value')
    }
    if (!this.#mutable) {
      throw new TypeError('WebAssembly.Global.value: cannot set the value of an immutable global')
    }
    const view = this.#view
    if (view !== undefined) {
      view[0] = value
    } else {
      this.#native.setValue(value)
    }
  }

  valueOf() {
    if (!(#native in this)) {
      throw new TypeError('WebAssembly.Global.valueOf(): receiver is not a WebAssembly.Global')
    }
    return this.value
  }

  static {
    nativeGlobalOf = (value) => (isObject(value) && #native in value ? value.#native : undefined)
  }
}
makeEnumerable(Global.prototype, ['value', 'valueOf'])
defineToStringTag(Global.prototype, 'WebAssembly.Global')

// --- Tag, Exception, JSTag ----------------------------------------------------------

class Tag {
  #native

  constructor(type) {
    if (new.target === undefined) {
      throw new TypeError('WebAssembly.Tag(): must be invoked with new')
    }
    this.#native = Adopt.unwrap(type) ?? Tag.#create(type)
    rememberObject(this, this.#native)
  }

  static #create(type) {
    checkDescriptor(type, 'WebAssembly.Tag()')
    const parameters = type.parameters
    if (parameters === undefined) {
      throw new TypeError("WebAssembly.Tag(): the tag type needs 'parameters'")
    }
    if (!isObject(parameters) || typeof parameters[Symbol.iterator] !== 'function') {
      throw new TypeError(`WebAssembly.Tag(): parameters must be a sequence of value types, got ${describe(parameters)}`)
    }
    const names = Array.from(parameters, (name) => enumValue(name, VALUE_TYPES, 'WebAssembly.Tag(): parameter'))
    return new native.NativeTag(names)
  }

  static {
    nativeTagOf = (value) => (isObject(value) && #native in value ? value.#native : undefined)
  }
}
defineToStringTag(Tag.prototype, 'WebAssembly.Tag')

// The Tag argument of Exception's methods, as WebIDL converts it.
function tagArgument(value, what) {
  const tag = nativeTagOf(value)
  if (tag === undefined) {
    throw new TypeError(`${what}: argument 0 must be a WebAssembly.Tag, got ${describe(value)}`)
  }
  return tag
}

// One Exception object per exception (the spec's Exception object cache), so an exception
// that goes into wasm and out again is the object that went in. Weak: an object nobody
// holds cannot be compared, so a later crossing may make a new one.
const exceptionObjects = new Map()
const forgetException = new FinalizationRegistry((identity) => {
  if (exceptionObjects.get(identity)?.deref() === undefined) {
    exceptionObjects.delete(identity)
  }
})

class Exception {
  #native

  // Two named parameters: WebIDL's length counts the required arguments; the optional
  // options bag is read through `arguments`.
  constructor(exceptionTag, payload) {
    if (new.target === undefined) {
      throw new TypeError('WebAssembly.Exception(): must be invoked with new')
    }
    const adopted = Adopt.unwrap(exceptionTag)
    if (adopted !== undefined) {
      this.#native = adopted
    } else {
      const tag = tagArgument(exceptionTag, 'WebAssembly.Exception()')
      if (!isObject(payload) || typeof payload[Symbol.iterator] !== 'function') {
        throw new TypeError(`WebAssembly.Exception(): the payload must be a sequence, got ${describe(payload)}`)
      }
      const values = Array.from(payload)
      const options = arguments[2]
      if (options !== undefined && options !== null && !isObject(options)) {
        throw new TypeError(`WebAssembly.Exception(): options must be an object, got ${describe(options)}`)
      }
      const traceStack = Boolean(options?.traceStack)
      this.#native = new native.NativeException(tag, values)
      if (traceStack) {
        // As V8 does: the stack of the code that made the exception, as an own property.
        Error.captureStackTrace(this, Exception)
      }
    }
    const identity = this.#native.identity()
    exceptionObjects.set(identity, new WeakRef(this))
    forgetException.register(this, identity)
  }

  getArg(exceptionTag, index) {
    if (!(#native in this)) {
      throw new TypeError('WebAssembly.Exception.getArg(): receiver is not a WebAssembly.Exception')
    }
    const tag = tagArgument(exceptionTag, 'WebAssembly.Exception.getArg()')
    if (!this.#native.is(tag)) {
      throw new TypeError('WebAssembly.Exception.getArg(): the tag is not the exception tag')
    }
    return this.#native.getArg(enforceRangeU32(index, 'WebAssembly.Exception.getArg(): index'))
  }

  is(exceptionTag) {
    if (!(#native in this)) {
      throw new TypeError('WebAssembly.Exception.is(): receiver is not a WebAssembly.Exception')
    }
    return this.#native.is(tagArgument(exceptionTag, 'WebAssembly.Exception.is()'))
  }

  // The spec's attribute: undefined unless traceStack gave the object its own `stack`.
  get stack() {
    if (!(#native in this)) {
      throw new TypeError('WebAssembly.Exception.stack: receiver is not a WebAssembly.Exception')
    }
    return undefined
  }

  static {
    // The binding's hooks (src/exception.rs): the object for an exception reaching JS, and
    // the exception behind a value a JS import throws.
    native.setExceptionSupport(
      (nativeException) =>
        exceptionObjects.get(nativeException.identity())?.deref() ?? new Exception(new Adopt(nativeException)),
      (value) => (isObject(value) && #native in value ? value.#native.identity() : undefined),
    )
  }
}
makeEnumerable(Exception.prototype, ['getArg', 'is', 'stack'])
defineToStringTag(Exception.prototype, 'WebAssembly.Exception')

// WebAssembly.JSTag: the tag of JS exceptions thrown through wasm, one object per thread.
const JSTag = objectFor(native.NativeTag.jsTag())

// --- Instance -------------------------------------------------------------------

// "Read the imports": one import at a time, in the module's import order, with
// ordinary property reads (getters and proxies observe exactly these). Kinds are
// checked here; the native side checks types when it links. The result holds, per
// import, a function or the native object of a Memory, Table or Global.
function readImports(moduleObject, importObject, caller) {
  checkImportObject(importObject, caller)
  const descriptors = importDescriptorsOf(moduleObject)
  if (descriptors.length > 0 && importObject === undefined) {
    throw new TypeError(`${caller}: the module has imports, so an importObject is required`)
  }
  const values = new Array(descriptors.length)
  for (let i = 0; i < descriptors.length; i++) {
    const descriptor = descriptors[i]
    const { module, name, kind } = descriptor
    const namespace = importObject[module]
    if (!isObject(namespace)) {
      throw new TypeError(`import ${module}.${name}: importObject.${module} must be an object, got ${describe(namespace)}`)
    }
    const value = namespace[name]
    const expected = (what) => new LinkError(`import ${module}.${name}: expected ${what}, got ${describe(value)}`)
    let linked
    switch (kind) {
      case 'function':
        if (typeof value !== 'function') throw expected('a function')
        linked = value
        break
      case 'memory':
        linked = nativeMemoryOf(value)
        if (linked === undefined) throw expected('a WebAssembly.Memory')
        break
      case 'table':
        linked = isObject(value) ? nativeTables.get(value) : undefined
        if (linked === undefined) throw expected('a WebAssembly.Table')
        break
      case 'global':
        linked = nativeGlobalOf(value) ?? globalFromValue(descriptor, value, expected)
        break
      case 'tag':
        linked = nativeTagOf(value)
        if (linked === undefined) throw expected('a WebAssembly.Tag')
        break
    }
    values[i] = linked
  }
  return values
}

// A global import given as a plain value becomes a new immutable global of the import's type.
function globalFromValue({ valueType }, value, expected) {
  if (valueType === 'i64' && typeof value !== 'bigint') throw expected('a BigInt or a WebAssembly.Global')
  if (['i32', 'f32', 'f64'].includes(valueType) && typeof value !== 'number') {
    throw expected('a Number or a WebAssembly.Global')
  }
  if (valueType === 'v128') throw expected('a WebAssembly.Global (v128 values cannot come from JS)')
  // ToWebAssemblyValue(undefined, funcref) is a TypeError, even though WebIDL treats an
  // undefined argument of the constructor as missing.
  if (valueType === 'anyfunc' && value === undefined) throw expected('null or a WebAssembly function')
  try {
    return new native.NativeGlobal(valueType, false, value)
  } catch (error) {
    if (error instanceof TypeError) throw expected(`a value convertible to ${valueType}`)
    throw error
  }
}

function isNativeExtern(value) {
  return (
    value instanceof native.NativeMemory ||
    value instanceof native.NativeTable ||
    value instanceof native.NativeGlobal ||
    value instanceof native.NativeTag
  )
}

// The exports object: built once per instance, null prototype, frozen. The binding gives a
// function for each function export and a native Memory, Table or Global for the others.
function createExportsObject(moduleObject, values) {
  const exportsObject = Object.create(null)
  const descriptors = exportDescriptorsOf(moduleObject)
  for (let i = 0; i < descriptors.length; i++) {
    const value = values[i]
    // Plain assignment defines the same writable, enumerable, configurable data property as
    // defineProperty, even for "__proto__" (a null-prototype object inherits no setter),
    // and is about 3 times faster: instances of one module share one chain of shapes.
    exportsObject[descriptors[i].name] = typeof value === 'function' ? value : objectFor(value)
  }
  return Object.freeze(exportsObject)
}

// --- Execution controls (README "Controls") ------------------------------------------------

// The options heron reads from an option bag; anything else in the bag is ignored, so a
// bag meant for another proposal (say, js-string-builtins' compile options) passes through.
const CONTROL_NAMES = ['timeout', 'breakOnSigint', 'interruptible', 'fuel', 'memoryLimit', 'tableLimit']
const MAX_U64 = (1n << 64n) - 1n

// A non-negative whole number of at most 2^53 - 1, from a Number or a BigInt.
function wholeNumber(value, what) {
  if (typeof value === 'bigint') {
    if (value < 0n || value > BigInt(Number.MAX_SAFE_INTEGER)) {
      throw new RangeError(`${what} must be between 0 and ${Number.MAX_SAFE_INTEGER}, got ${value}`)
    }
    return Number(value)
  }
  if (typeof value !== 'number') {
    throw new TypeError(`${what} must be a number, got ${describe(value)}`)
  }
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new RangeError(`${what} must be a whole number between 0 and ${Number.MAX_SAFE_INTEGER}, got ${value}`)
  }
  return value
}

// A fuel amount as a BigInt of at most 2^64 - 1, from a Number or a BigInt.
function fuelAmount(value, what) {
  const fuel = typeof value === 'bigint' ? value : BigInt(wholeNumber(value, what))
  if (fuel < 0n || fuel > MAX_U64) {
    throw new RangeError(`${what} must be between 0 and 2^64 - 1, got ${fuel}`)
  }
  return fuel
}

// The controls an option bag asks for, validated, as the binding takes them.
function parseControls(options, caller) {
  const controls = {}
  if (options === undefined || options === null) {
    return controls
  }
  if (typeof options !== 'object' && typeof options !== 'function') {
    throw new TypeError(`${caller}: options must be an object, got ${describe(options)}`)
  }
  for (const name of CONTROL_NAMES) {
    const value = options[name]
    if (value === undefined) continue
    const what = `${caller}: ${name}`
    switch (name) {
      case 'timeout': {
        const ms = typeof value === 'bigint' ? Number(value) : value
        if (typeof ms !== 'number') throw new TypeError(`${what} must be a number of milliseconds, got ${describe(value)}`)
        if (!(ms > 0) || !Number.isFinite(ms)) throw new RangeError(`${what} must be a positive number of milliseconds, got ${ms}`)
        controls.timeout = Math.min(Math.ceil(ms), Number.MAX_SAFE_INTEGER)
        break
      }
      case 'breakOnSigint':
      case 'interruptible':
        controls[name] = Boolean(value)
        break
      case 'fuel':
        controls.fuel = fuelAmount(value, what)
        break
      default:
        controls[name] = wholeNumber(value, what)
    }
  }
  return controls
}

// A byte count from the environment: digits with an optional K, M or G suffix (powers of 1024).
function parseByteSize(text, what) {
  const match = /^\s*(\d+)\s*([kKmMgG]?)[bB]?\s*$/.exec(text)
  if (match === null) {
    throw new Error(`heron: ${what}=${JSON.stringify(text)} is not a byte count (digits with an optional K, M or G suffix)`)
  }
  const scale = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[match[2].toLowerCase()]
  return wholeNumber(Number(match[1]) * scale, `heron: ${what}`)
}

// The process-wide defaults of HERON_TIMEOUT, HERON_MEMORY_LIMIT, HERON_FUEL and
// HERON_BREAK_ON_SIGINT, read once when heron loads. A bad value stops the load: a limit
// the user asked for must not silently vanish.
function environmentControls(env) {
  const controls = {}
  const read = (name) => (env[name] === undefined || env[name] === '' ? undefined : env[name])
  const timeout = read('HERON_TIMEOUT')
  if (timeout !== undefined) {
    const ms = Number(timeout)
    if (!(ms > 0) || !Number.isFinite(ms)) {
      throw new Error(`heron: HERON_TIMEOUT=${JSON.stringify(timeout)} is not a positive number of milliseconds`)
    }
    controls.timeout = Math.ceil(ms)
  }
  const memoryLimit = read('HERON_MEMORY_LIMIT')
  if (memoryLimit !== undefined) {
    controls.memoryLimit = parseByteSize(memoryLimit, 'HERON_MEMORY_LIMIT')
  }
  const fuel = read('HERON_FUEL')
  if (fuel !== undefined) {
    if (!/^\s*\d+\s*$/.test(fuel)) {
      throw new Error(`heron: HERON_FUEL=${JSON.stringify(fuel)} is not a whole number of instructions`)
    }
    controls.fuel = fuelAmount(BigInt(fuel.trim()), 'heron: HERON_FUEL')
  }
  const sigint = read('HERON_BREAK_ON_SIGINT')
  if (sigint !== undefined) {
    if (sigint !== '1' && sigint !== '0') {
      throw new Error(`heron: HERON_BREAK_ON_SIGINT=${JSON.stringify(sigint)} must be 1 or 0`)
    }
    controls.breakOnSigint = sigint === '1'
  }
  return controls
}

const environmentDefaults = environmentControls(process.env)
// The defaults of the current install(options), if any.
let installDefaults = {}
const hasEnvironmentDefaults = Object.keys(environmentDefaults).length > 0
let hasInstallDefaults = false

// The controls of a new instance: environment defaults, then install()'s, then the
// instance's own options; undefined when there are none (the plain, check-free path).
function instanceControls(options, caller) {
  // The common case without allocating: no option bag and no defaults.
  if ((options === undefined || options === null) && !hasEnvironmentDefaults && !hasInstallDefaults) {
    return undefined
  }
  const controls = { ...environmentDefaults, ...installDefaults, ...parseControls(options, caller) }
  for (const name of CONTROL_NAMES) {
    if (controls[name] === false) delete controls[name]
  }
  return Object.keys(controls).length === 0 ? undefined : controls
}

// The native side of each instance created under controls.
const controlledInstances = new WeakMap()

class Instance {
  #exports

  // `importObject = undefined` keeps the constructor's length at 1, as WebIDL counts only
  // required arguments; the third argument, heron's option bag, is read through `arguments`.
  constructor(module, importObject = undefined) {
    const nativeModule = nativeModuleOf(module)
    if (nativeModule === undefined) {
      throw new TypeError(`WebAssembly.Instance(): argument must be a WebAssembly.Module, got ${describe(module)}`)
    }
    const controls = instanceControls(arguments[2], 'WebAssembly.Instance()')
    const imports = ResolvedImports.unwrap(importObject) ?? readImports(module, importObject, 'WebAssembly.Instance()')
    const linkValues = imports.map((value) => (isNativeExtern(value) ? value.linkId() : value))
    if (controls === undefined) {
      this.#exports = createExportsObject(module, native.instantiate(nativeModule, linkValues))
    } else {
      const [exportValues, nativeInstance] = native.instantiateControlled(nativeModule, linkValues, controls)
      this.#exports = createExportsObject(module, exportValues)
      controlledInstances.set(this, nativeInstance)
    }
  }

  get exports() {
    return this.#exports
  }
}
makeEnumerable(Instance.prototype, ['exports'])
defineToStringTag(Instance.prototype, 'WebAssembly.Instance')

// --- Namespace functions -----------------------------------------------------------

// The namespace's operations are method definitions (`const { validate } = { validate(bytes)
// {...} }`) rather than function declarations: WebIDL operations are built-in functions that
// are not constructors and have no `prototype`, and so are methods.
const { validate } = {
  validate(bytes) {
    return native.validate(copyBufferSource(bytes, 'WebAssembly.validate()'))
  },
}

// The spec instantiates "in parallel", in a queued task; heron does it in a microtask:
// still after the caller has its promise back, with every error, argument errors
// included, arriving as a rejection, but without a turn of the event loop, which costs
// more than instantiating a small module (tens of microseconds on a busy machine). V8
// instantiates before returning. Every TURN_EVERY-th one still waits for a turn: N-API
// runs the finalizers that free collected instances' memories only there, and a loop
// awaiting nothing but instantiate() would otherwise never free one.
const TURN_EVERY = 64
let instantiationsSinceTurn = 0
function later(work) {
  if (++instantiationsSinceTurn < TURN_EVERY) {
    return Promise.resolve().then(work)
  }
  instantiationsSinceTurn = 0
  return new Promise((resolve) => setImmediate(resolve)).then(work)
}

const { compile } = {
  // The second argument is heron's compile options (see Module).
  compile(bytes) {
    return compileLater(bytes, 'WebAssembly.compile()', undefined, arguments[1])
  },
}

// Decodes and compiles on a libuv worker thread; the main thread stays free meanwhile.
function compileLater(bytes, caller, expected, options) {
  let copy
  let deterministic
  try {
    deterministic = compileOptions(options, caller)
    copy = copyBufferSource(bytes, caller, expected)
  } catch (error) {
    return Promise.reject(error)
  }
  return native.compileAsync(copy, deterministic).then((result) => {
    if (result instanceof Error) {
      throw result
    }
    return new Module(new CompiledModule(copy, result))
  })
}

// "Asynchronously instantiate a WebAssembly module": the imports are read now,
// the instance is created on a later turn.
function instantiateModule(moduleObject, importObject, options) {
  let imports
  try {
    imports = new ResolvedImports(readImports(moduleObject, importObject, 'WebAssembly.instantiate()'))
  } catch (error) {
    return Promise.reject(error)
  }
  return later(() => new Instance(moduleObject, imports, options))
}

const { instantiate } = {
  // The third argument is heron's option bag for the instance (see Instance).
  instantiate(source, importObject = undefined) {
    const options = arguments[2]
    if (nativeModuleOf(source) !== undefined) {
      return instantiateModule(source, importObject, options)
    }
    try {
      checkImportObject(importObject, 'WebAssembly.instantiate()')
    } catch (error) {
      return Promise.reject(error)
    }
    const compiling = compileLater(
      source,
      'WebAssembly.instantiate()',
      'a WebAssembly.Module, an ArrayBuffer, a TypedArray or a DataView',
      options,
    )
    return compiling.then(async (module) => ({ module, instance: await instantiateModule(module, importObject, options) }))
  },
}

// --- Streaming -------------------------------------------------------------------------

// compileStreaming's checks on the Response, in the spec's order, then its bytes.
async function responseBytes(source, caller) {
  const response = await source
  if (typeof Response !== 'function' || !(response instanceof Response)) {
    throw new TypeError(`${caller}: argument must be a Response or a promise of one, got ${describe(response)}`)
  }
  const essence = mimeEssence(response.headers.get('content-type'))
  if (essence !== 'application/wasm') {
    throw new TypeError(`${caller}: the response's Content-Type must be application/wasm, got ${essence ?? 'none'}`)
  }
  if (!response.ok) {
    throw new TypeError(`${caller}: the response's status ${response.status} is not ok`)
  }
  if (response.bodyUsed) {
    throw new TypeError(`${caller}: the response's body has already been read`)
  }
  return response.arrayBuffer()
}

// The essence ("type/subtype", lowercased) of the last MIME type in a Content-Type
// header value, or undefined if there is none.
function mimeEssence(headerValue) {
  if (headerValue === null) {
    return undefined
  }
  const candidates = headerValue.split(',').map((part) => part.split(';')[0].trim().toLowerCase())
  const valid = candidates.filter((essence) => /^[!#$%&'*+.^_`|~0-9a-z-]+\/[!#$%&'*+.^_`|~0-9a-z-]+$/.test(essence))
  return valid.at(-1)
}

const { compileStreaming } = {
  compileStreaming(source) {
    return responseBytes(source, 'WebAssembly.compileStreaming()').then((bytes) =>
      compileLater(bytes, 'WebAssembly.compileStreaming()'),
    )
  },
}

const { instantiateStreaming } = {
  instantiateStreaming(source, importObject = undefined) {
    try {
      checkImportObject(importObject, 'WebAssembly.instantiateStreaming()')
    } catch (error) {
      return Promise.reject(error)
    }
    return responseBytes(source, 'WebAssembly.instantiateStreaming()')
      .then((bytes) => compileLater(bytes, 'WebAssembly.instantiateStreaming()'))
      .then(async (module) => ({ module, instance: await instantiateModule(module, importObject) }))
  },
}

// --- The namespace ----------------------------------------------------------------------

// A literal object so Node's ESM loader can see the names (`import { Module } from 'heron'`);
// the property attributes are then set to the namespace's.
const namespace = {
  validate,
  compile,
  instantiate,
  compileStreaming,
  instantiateStreaming,
  Module,
  Instance,
  Memory,
  Table,
  Global,
  Tag,
  Exception,
  JSTag,
  CompileError,
  LinkError,
  RuntimeError,
}
// Interfaces and error classes are non-enumerable on the namespace; operations stay enumerable.
const interfaceNames = ['Module', 'Instance', 'Memory', 'Table', 'Global', 'Tag', 'Exception']
for (const name of [...interfaceNames, 'CompileError', 'LinkError', 'RuntimeError']) {
  Object.defineProperty(namespace, name, { enumerable: false })
}
// JSTag is a readonly attribute: V8 makes it a non-writable data property.
Object.defineProperty(namespace, 'JSTag', { enumerable: false, writable: false })
defineToStringTag(namespace, 'WebAssembly')

// --- WASI ------------------------------------------------------------------------------

// heron.WASI is node:wasi's WASI class for heron's instances (lib/wasi). Heron's own, so
// non-enumerable like install().
const { WASI, acceptMemoryClass } = require('./lib/wasi/index.js')
acceptMemoryClass(Memory)
Object.defineProperty(namespace, 'WASI', { value: WASI, writable: true, configurable: true })

// --- Drop-in mode -----------------------------------------------------------------------

// The global WebAssembly property as it was before install(), to put back on uninstall().
let replacedDescriptor

// Puts heron's namespace in place of globalThis.WebAssembly, with the original property's
// attributes. Idempotent. `options` (execution controls) become the defaults of every
// instance created until uninstall() or the next install(options).
function install(options = undefined) {
  if (options !== undefined) {
    installDefaults = parseControls(options, 'heron.install()')
    hasInstallDefaults = Object.keys(installDefaults).length > 0
  }
  const current = Object.getOwnPropertyDescriptor(globalThis, 'WebAssembly')
  if (current?.value === namespace) {
    return namespace
  }
  replacedDescriptor = current
  Object.defineProperty(globalThis, 'WebAssembly', {
    value: namespace,
    writable: current?.writable ?? true,
    enumerable: current?.enumerable ?? false,
    configurable: true,
  })
  installWasi()
  return namespace
}

// Restores the WebAssembly property install() replaced.
function uninstall() {
  if (Object.getOwnPropertyDescriptor(globalThis, 'WebAssembly')?.value !== namespace) {
    return
  }
  if (replacedDescriptor === undefined) {
    delete globalThis.WebAssembly
  } else {
    Object.defineProperty(globalThis, 'WebAssembly', replacedDescriptor)
  }
  replacedDescriptor = undefined
  installDefaults = {}
  hasInstallDefaults = false
  uninstallWasi()
}

// node:wasi's exports object, loaded without the ExperimentalWarning Node 20 prints on
// loading it: installing heron must not warn about a module the application may never use.
function builtinWasiExports() {
  const emitWarning = process.emitWarning
  process.emitWarning = function (warning, ...rest) {
    if (`${warning?.message ?? warning}`.startsWith('WASI is an experimental feature')) return
    return Reflect.apply(emitWarning, this, [warning, ...rest])
  }
  try {
    return require('node:wasi')
  } finally {
    process.emitWarning = emitWarning
  }
}

// Node's WASI class, while heron's is in its place.
let replacedWasi

// Makes `require('node:wasi').WASI` and `import { WASI } from 'node:wasi'` heron's:
// the CommonJS exports object of the builtin is mutable, and syncBuiltinESMExports()
// copies it to the ESM named exports.
function installWasi() {
  const wasiExports = builtinWasiExports()
  if (wasiExports.WASI === WASI) return
  replacedWasi = wasiExports.WASI
  wasiExports.WASI = WASI
  require('node:module').syncBuiltinESMExports()
}

function uninstallWasi() {
  if (replacedWasi === undefined) return
  builtinWasiExports().WASI = replacedWasi
  replacedWasi = undefined
  require('node:module').syncBuiltinESMExports()
}

// install and uninstall are heron's own, so they are non-enumerable: code that copies the
// namespace's enumerable operations sees only WebAssembly's.
Object.defineProperty(namespace, 'install', { value: install, writable: true, configurable: true })
Object.defineProperty(namespace, 'uninstall', { value: uninstall, writable: true, configurable: true })

// Blocks until every function of `module` is compiled (heron compiles in the background
// and on first call; see README). Heron's own, so non-enumerable like install().
function waitForCompilation(module) {
  const nativeModule = nativeModuleOf(module)
  if (nativeModule === undefined) {
    throw new TypeError(`heron.waitForCompilation(): argument must be a WebAssembly.Module, got ${describe(module)}`)
  }
  nativeModule.waitForCompilation()
}
Object.defineProperty(namespace, 'waitForCompilation', { value: waitForCompilation, writable: true, configurable: true })

// How many threads of the process (the main thread and Workers) have run wasm code so far:
// shows that a multithreaded program (an Emscripten -pthread build) really runs wasm on
// several threads. Heron's own, so non-enumerable.
function threadsThatRanWasm() {
  return native.threadsThatRanWasm()
}
Object.defineProperty(namespace, 'threadsThatRanWasm', { value: threadsThatRanWasm, writable: true, configurable: true })

// --- The persistent code cache (README "Code cache") --------------------------------------

// heron.cache: where compiled code is kept between processes, and clearing it. Heron's
// own, so non-enumerable. The directory is fixed when heron loads (HERON_CACHE_DIR, ...).
const cacheDirectory = native.codeCacheDirectory()
const cache = Object.freeze({
  get directory() { return cacheDirectory },
  get enabled() { return cacheDirectory !== null },
  // The cache's directory and size bound, what it holds, and this process's hits, misses
  // and writes; null when the cache is off.
  stats() { return native.codeCacheStats() },
  // Removes every entry (only heron's files) of the directory.
  clear() { native.clearCodeCache() },
  // Writes the code compiled so far that the cache lacks (heron also does after a quiet
  // second, when background compilation ends, and at exit).
  flush() { native.flushCodeCache() },
})
Object.defineProperty(namespace, 'cache', { value: cache, writable: true, configurable: true })
// Functions compiled lazily since the last write reach the cache before the process ends.
if (cacheDirectory !== null) process.on('exit', () => native.flushCodeCache())

// --- Execution controls on instances ------------------------------------------------------

function controlledInstance(instance, caller) {
  if (!(instance instanceof Instance)) {
    throw new TypeError(`${caller}: argument must be a WebAssembly.Instance, got ${describe(instance)}`)
  }
  return controlledInstances.get(instance)
}

// The fuel an instance has left, as a BigInt.
function remainingFuel(instance) {
  const fuel = controlledInstance(instance, 'heron.remainingFuel()')?.remainingFuel()
  if (fuel === undefined || fuel === null) {
    throw new TypeError('heron.remainingFuel(): the instance was created without fuel')
  }
  return fuel
}

// Adds to an instance's fuel (a Number or a BigInt).
function addFuel(instance, fuel) {
  const nativeInstance = controlledInstance(instance, 'heron.addFuel()')
  const amount = fuelAmount(fuel, 'heron.addFuel(): fuel')
  if (nativeInstance === undefined || !nativeInstance.addFuel(amount)) {
    throw new TypeError('heron.addFuel(): the instance was created without fuel')
  }
}

// Interrupts one instance's running call from any thread. Its only state is `id`, so a
// handle posted to another thread (structured clone keeps own data, not the prototype)
// arrives as `{ id }`: heron.interruptHandle() there turns it back into a handle.
class InterruptHandle {
  constructor(id) {
    this.id = id
  }

  // Makes the instance's running call throw at its next function entry or loop header
  // (or when the host function it is in returns to wasm); true if the instance still
  // exists. Does nothing while the instance is not running.
  interrupt() {
    return native.interruptInstance(this.id)
  }
}

function interruptHandle(source) {
  if (source instanceof Instance) {
    const id = controlledInstances.get(source)?.interruptId()
    if (id === undefined || id === null) {
      throw new TypeError(
        'heron.interruptHandle(): the instance has no interrupt checks; create it with timeout, breakOnSigint or interruptible: true',
      )
    }
    return new InterruptHandle(id)
  }
  if (source !== null && typeof source === 'object' && Number.isSafeInteger(source.id) && source.id > 0) {
    return new InterruptHandle(source.id)
  }
  throw new TypeError(
    `heron.interruptHandle(): argument must be a WebAssembly.Instance or a posted interrupt handle, got ${describe(source)}`,
  )
}

// Heron's own, so non-enumerable like install().
for (const [name, value] of Object.entries({ remainingFuel, addFuel, interruptHandle, InterruptHandle })) {
  Object.defineProperty(namespace, name, { value, writable: true, configurable: true })
}

// Modules and shared memories sent to Workers (lib/transfer.js): a marker with a carrier of
// the engine object on the way, the heron object again on arrival.
installTransfer({
  carrierCountBuffer: () => native.carrierCountBuffer(),
  toMarker(value) {
    const nativeModule = nativeModuleOf(value)
    if (nativeModule !== undefined) {
      return { [TRANSFER_MARKER]: 'module', carrier: nativeModule.carrier(), bytes: moduleBytesOf(value) }
    }
    const nativeMemory = nativeMemoryOf(value)
    if (nativeMemory !== undefined) {
      if (!nativeMemory.isShared()) {
        throw new DOMException('#<Memory> could not be cloned.', 'DataCloneError')
      }
      return { [TRANSFER_MARKER]: 'memory', carrier: nativeMemory.carrier() }
    }
    return undefined
  },
  fromMarker(marker) {
    if (!(marker.carrier instanceof SharedArrayBuffer)) return undefined
    const view = new Uint8Array(marker.carrier)
    try {
      if (marker[TRANSFER_MARKER] === 'module' && marker.bytes instanceof Uint8Array) {
        return new Module(new CompiledModule(marker.bytes, native.NativeModule.fromCarrier(view)))
      }
      if (marker[TRANSFER_MARKER] === 'memory') {
        return new Memory(new Adopt(native.NativeMemory.fromCarrier(view)))
      }
    } catch {
      // Not a live carrier: a user object that happens to look like a marker stays as it is.
    }
    return undefined
  },
})

// Atomics.wait/notify on shared memories' buffers meet wasm's wait/notify (lib/atomics.js).
installAtomics(native)

module.exports = namespace
