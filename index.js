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
// internal fast path (bytes already copied, imports already read) that users
// cannot reach. They are recognised by a private field, not `instanceof`: on a
// Proxy passed as importObject, `instanceof` would run traps the spec does not.
class StableBytes {
  #bytes
  constructor(bytes) {
    this.#bytes = bytes
  }
  static unwrap(value) {
    return isObject(value) && #bytes in value ? value.#bytes : undefined
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
let importDescriptorsOf
let exportDescriptorsOf

class Module {
  #native
  // The copied source bytes (the spec's [[Bytes]]), kept for customSections.
  #bytes
  // Descriptors from the native module, fetched once: every instantiation needs them.
  #imports
  #exports

  constructor(bytes) {
    this.#bytes = StableBytes.unwrap(bytes) ?? copyBufferSource(bytes, 'WebAssembly.Module()')
    this.#native = new native.NativeModule(this.#bytes)
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

// --- Memory -----------------------------------------------------------------------

// Memory objects are branded by this map (not a private field) so that memories exported
// by an instance can be wrapped without running the public constructor.
const nativeMemories = new WeakMap()

function nativeMemoryOf(value) {
  return isObject(value) ? nativeMemories.get(value) : undefined
}

function wrapMemory(nativeMemory) {
  const memory = Object.create(Memory.prototype)
  nativeMemories.set(memory, nativeMemory)
  return memory
}

// WebIDL's [EnforceRange] unsigned long.
function enforceRangeU32(value, what) {
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

const MAX_PAGES = 65536

class Memory {
  constructor(descriptor) {
    if (!isObject(descriptor)) {
      throw new TypeError(`WebAssembly.Memory(): the descriptor must be an object, got ${describe(descriptor)}`)
    }
    const initialValue = descriptor.initial
    if (initialValue === undefined) {
      throw new TypeError('WebAssembly.Memory(): the descriptor needs an initial size')
    }
    const initial = enforceRangeU32(initialValue, 'WebAssembly.Memory(): initial')
    const maximumValue = descriptor.maximum
    const maximum = maximumValue === undefined ? undefined : enforceRangeU32(maximumValue, 'WebAssembly.Memory(): maximum')
    if (descriptor.shared) {
      throw new TypeError('WebAssembly.Memory(): shared memories (threads) are not supported by heron yet')
    }
    if (initial > MAX_PAGES || (maximum !== undefined && maximum > MAX_PAGES)) {
      throw new RangeError(`WebAssembly.Memory(): sizes are limited to ${MAX_PAGES} pages`)
    }
    if (maximum !== undefined && maximum < initial) {
      throw new RangeError('WebAssembly.Memory(): the maximum is below the initial size')
    }
    nativeMemories.set(this, new native.NativeMemory(initial, maximum))
  }

  get buffer() {
    return checkedMemory(this, 'WebAssembly.Memory.buffer').buffer()
  }

  grow(delta) {
    const memory = checkedMemory(this, 'WebAssembly.Memory.grow()')
    return memory.grow(enforceRangeU32(delta, 'WebAssembly.Memory.grow(): delta'))
  }
}
makeEnumerable(Memory.prototype, ['buffer', 'grow'])
defineToStringTag(Memory.prototype, 'WebAssembly.Memory')

function checkedMemory(value, caller) {
  const nativeMemory = nativeMemoryOf(value)
  if (nativeMemory === undefined) {
    throw new TypeError(`${caller}: receiver is not a WebAssembly.Memory`)
  }
  return nativeMemory
}

// --- Instance -------------------------------------------------------------------

// "Read the imports": one import at a time, in the module's import order, with
// ordinary property reads (getters and proxies observe exactly these). Only the
// kind is checked here; the native side checks types when it links.
function readImports(moduleObject, importObject, caller) {
  checkImportObject(importObject, caller)
  const descriptors = importDescriptorsOf(moduleObject)
  if (descriptors.length > 0 && importObject === undefined) {
    throw new TypeError(`${caller}: the module has imports, so an importObject is required`)
  }
  const values = new Array(descriptors.length)
  for (let i = 0; i < descriptors.length; i++) {
    const { module, name, kind } = descriptors[i]
    const namespace = importObject[module]
    if (!isObject(namespace)) {
      throw new TypeError(`import ${module}.${name}: importObject.${module} must be an object, got ${describe(namespace)}`)
    }
    const value = namespace[name]
    if (kind === 'function' && typeof value !== 'function') {
      throw new LinkError(`import ${module}.${name}: expected a function, got ${describe(value)}`)
    }
    if (kind === 'memory') {
      const nativeMemory = nativeMemoryOf(value)
      if (nativeMemory === undefined) {
        throw new LinkError(`import ${module}.${name}: expected a WebAssembly.Memory, got ${describe(value)}`)
      }
      values[i] = nativeMemory.linkId()
      continue
    }
    values[i] = value
  }
  return values
}

// The exports object: built once per instance, null prototype, frozen.
function createExportsObject(moduleObject, values) {
  const exportsObject = Object.create(null)
  const descriptors = exportDescriptorsOf(moduleObject)
  for (let i = 0; i < descriptors.length; i++) {
    // defineProperty rather than assignment, so a name like "__proto__" is an ordinary key.
    const value = values[i] instanceof native.NativeMemory ? wrapMemory(values[i]) : values[i]
    Object.defineProperty(exportsObject, descriptors[i].name, {
      value,
      writable: true,
      enumerable: true,
      configurable: true,
    })
  }
  return Object.freeze(exportsObject)
}

class Instance {
  #exports

  constructor(module, importObject) {
    const nativeModule = nativeModuleOf(module)
    if (nativeModule === undefined) {
      throw new TypeError(`WebAssembly.Instance(): argument must be a WebAssembly.Module, got ${describe(module)}`)
    }
    const imports = ResolvedImports.unwrap(importObject) ?? readImports(module, importObject, 'WebAssembly.Instance()')
    this.#exports = createExportsObject(module, native.instantiate(nativeModule, imports))
  }

  get exports() {
    return this.#exports
  }
}
makeEnumerable(Instance.prototype, ['exports'])
defineToStringTag(Instance.prototype, 'WebAssembly.Instance')

// --- Namespace functions -----------------------------------------------------------

function validate(bytes) {
  return native.validate(copyBufferSource(bytes, 'WebAssembly.validate()'))
}

// The spec's "in parallel" work happens on a later turn of the event loop:
// callers get their promise back before any compiling starts, and every error,
// argument errors included, arrives as a rejection.
function later(work) {
  return new Promise((resolve, reject) => {
    setImmediate(() => {
      try {
        resolve(work())
      } catch (error) {
        reject(error)
      }
    })
  })
}

function compile(bytes) {
  return compileLater(bytes, 'WebAssembly.compile()')
}

function compileLater(bytes, caller, expected) {
  let stableBytes
  try {
    stableBytes = new StableBytes(copyBufferSource(bytes, caller, expected))
  } catch (error) {
    return Promise.reject(error)
  }
  return later(() => new Module(stableBytes))
}

// "Asynchronously instantiate a WebAssembly module": the imports are read now,
// the instance is created on a later turn.
function instantiateModule(moduleObject, importObject) {
  let imports
  try {
    imports = new ResolvedImports(readImports(moduleObject, importObject, 'WebAssembly.instantiate()'))
  } catch (error) {
    return Promise.reject(error)
  }
  return later(() => new Instance(moduleObject, imports))
}

function instantiate(source, importObject) {
  if (nativeModuleOf(source) !== undefined) {
    return instantiateModule(source, importObject)
  }
  try {
    checkImportObject(importObject, 'WebAssembly.instantiate()')
  } catch (error) {
    return Promise.reject(error)
  }
  const compiling = compileLater(source, 'WebAssembly.instantiate()', 'a WebAssembly.Module, an ArrayBuffer, a TypedArray or a DataView')
  return compiling.then(async (module) => ({ module, instance: await instantiateModule(module, importObject) }))
}

// A literal object so Node's ESM loader can see the names (`import { Module } from 'heron'`);
// the property attributes are then set to the namespace's.
module.exports = {
  validate,
  compile,
  instantiate,
  Module,
  Instance,
  Memory,
  CompileError,
  LinkError,
  RuntimeError,
}
// Interfaces and error classes are non-enumerable on the namespace; operations stay enumerable.
for (const name of ['Module', 'Instance', 'Memory', 'CompileError', 'LinkError', 'RuntimeError']) {
  Object.defineProperty(module.exports, name, { enumerable: false })
}
defineToStringTag(module.exports, 'WebAssembly')
