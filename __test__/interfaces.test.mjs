// The shape WebIDL gives every interface of the JS API (js-api.bs's IDL blocks): each
// constructor's and operation's `length` and `name`, property attributes, accessors, prototype
// chains, and the brand check every operation and accessor makes on its receiver.
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { implementations } from './fixtures/implementations.mjs'
import { wat } from './fixtures/wat.mjs'

// WebIDL's attributes: operations and accessors are writable (operations), enumerable and
// configurable; interface objects on a namespace are writable and configurable but not
// enumerable; `prototype` is none of these; `constructor` is not enumerable.
const OPERATION = { writable: true, enumerable: true, configurable: true }
const INTERFACE = { writable: true, enumerable: false, configurable: true }
const PROTOTYPE = { writable: false, enumerable: false, configurable: false }
const CONSTRUCTOR = { writable: true, enumerable: false, configurable: true }
const TO_STRING_TAG = { writable: false, enumerable: false, configurable: true }

// Per interface: the constructor's length, static operations, and the prototype's
// operations (name -> length) and attributes (name -> whether it has a setter), from the IDL.
const interfaces = {
  Module: { length: 1, statics: { exports: 1, imports: 1, customSections: 2 }, operations: {}, attributes: {} },
  Instance: { length: 1, statics: {}, operations: {}, attributes: { exports: false } },
  Memory: { length: 1, statics: {}, operations: { grow: 1 }, attributes: { buffer: false } },
  Table: { length: 1, statics: {}, operations: { grow: 1, get: 1, set: 1 }, attributes: { length: false } },
  Global: { length: 1, statics: {}, operations: { valueOf: 0 }, attributes: { value: true } },
}
const namespaceOperations = { validate: 1, compile: 1, instantiate: 1, compileStreaming: 1, instantiateStreaming: 1 }
const errorClasses = ['CompileError', 'LinkError', 'RuntimeError']

function attributesOf(descriptor) {
  const { writable, enumerable, configurable } = descriptor
  return { writable, enumerable, configurable }
}

function isConstructor(fn) {
  try {
    // Constructs nothing: it only checks that `fn` could be new.target.
    Reflect.construct(function () {}, [], fn)
    return true
  } catch {
    return false
  }
}

// An operation or accessor: a function with WebIDL's name and length, which (unlike an
// interface object) is not a constructor and has no `prototype`.
function assertFunction(fn, name, length, { constructor = false } = {}) {
  assert.equal(typeof fn, 'function', name)
  assert.equal(fn.name, name)
  assert.equal(fn.length, length, `${name}.length`)
  if (!constructor) {
    assert.equal(isConstructor(fn), false, `${name} is not a constructor`)
    assert.equal(Object.hasOwn(fn, 'prototype'), false, `${name} has no prototype`)
  }
}

const emptyModule = wat('(module)')

for (const [label, WebAssembly] of implementations) {
  // One object of each interface, for the brand checks.
  const objects = () => {
    const module = new WebAssembly.Module(emptyModule)
    return {
      Module: module,
      Instance: new WebAssembly.Instance(module),
      Memory: new WebAssembly.Memory({ initial: 0 }),
      Table: new WebAssembly.Table({ element: 'anyfunc', initial: 0 }),
      Global: new WebAssembly.Global({ value: 'i32', mutable: true }),
    }
  }

  describe(label, () => {
    test('the namespace: operations, interface objects and its toStringTag', () => {
      for (const [name, length] of Object.entries(namespaceOperations)) {
        const descriptor = Object.getOwnPropertyDescriptor(WebAssembly, name)
        assert.deepEqual(attributesOf(descriptor), OPERATION, name)
        assertFunction(descriptor.value, name, length)
      }
      for (const name of [...Object.keys(interfaces), ...errorClasses]) {
        assert.deepEqual(attributesOf(Object.getOwnPropertyDescriptor(WebAssembly, name)), INTERFACE, name)
      }
      const tag = Object.getOwnPropertyDescriptor(WebAssembly, Symbol.toStringTag)
      assert.deepEqual(attributesOf(tag), TO_STRING_TAG)
      assert.equal(tag.value, 'WebAssembly')
      assert.equal(Object.getPrototypeOf(WebAssembly), Object.prototype)
    })

    for (const [name, shape] of Object.entries(interfaces)) {
      test(`${name}: constructor, static operations, prototype members`, () => {
        const constructor = WebAssembly[name]
        assertFunction(constructor, name, shape.length, { constructor: true })
        // V8 from Node 26 (source phase imports) puts AbstractModuleSource between Module and
        // Function.prototype; the JS API spec and heron do not.
        const parent = Object.getPrototypeOf(constructor)
        const moduleSource = label === 'v8' && name === 'Module' && parent.name === 'AbstractModuleSource'
        if (moduleSource) {
          assert.equal(Object.getPrototypeOf(parent), Function.prototype)
        } else {
          assert.equal(parent, Function.prototype)
        }
        assert.throws(() => constructor(), TypeError, `${name} called without new`)
        const prototypeDescriptor = Object.getOwnPropertyDescriptor(constructor, 'prototype')
        assert.deepEqual(attributesOf(prototypeDescriptor), PROTOTYPE)
        const prototype = prototypeDescriptor.value
        assert.equal(Object.getPrototypeOf(prototype), moduleSource ? parent.prototype : Object.prototype)
        assert.deepEqual(attributesOf(Object.getOwnPropertyDescriptor(prototype, 'constructor')), CONSTRUCTOR)
        assert.equal(prototype.constructor, constructor)
        const tag = Object.getOwnPropertyDescriptor(prototype, Symbol.toStringTag)
        assert.deepEqual(attributesOf(tag), TO_STRING_TAG)
        assert.equal(tag.value, `WebAssembly.${name}`)

        for (const [operation, length] of Object.entries(shape.statics)) {
          const descriptor = Object.getOwnPropertyDescriptor(constructor, operation)
          assert.deepEqual(attributesOf(descriptor), OPERATION, `${name}.${operation}`)
          assertFunction(descriptor.value, operation, length)
        }
        for (const [operation, length] of Object.entries(shape.operations)) {
          const descriptor = Object.getOwnPropertyDescriptor(prototype, operation)
          assert.deepEqual(attributesOf(descriptor), OPERATION, `${name}.prototype.${operation}`)
          assertFunction(descriptor.value, operation, length)
        }
        for (const [attribute, writable] of Object.entries(shape.attributes)) {
          const descriptor = Object.getOwnPropertyDescriptor(prototype, attribute)
          assert.equal(descriptor.enumerable, true, `${name}.prototype.${attribute} is enumerable`)
          assert.equal(descriptor.configurable, true, `${name}.prototype.${attribute} is configurable`)
          assertFunction(descriptor.get, `get ${attribute}`, 0)
          if (writable) {
            assertFunction(descriptor.set, `set ${attribute}`, 1)
          } else {
            assert.equal(descriptor.set, undefined, `${name}.prototype.${attribute} is read-only`)
          }
        }
      })

      test(`${name}: every operation and accessor checks its receiver`, () => {
        const prototype = WebAssembly[name].prototype
        const others = Object.entries(objects()).filter(([other]) => other !== name).map(([, object]) => object)
        const wrongReceivers = [undefined, null, 1, {}, prototype, ...others]
        for (const operation of Object.keys(shape.operations)) {
          for (const receiver of wrongReceivers) {
            assert.throws(() => prototype[operation].call(receiver, 0), TypeError, `${name}.prototype.${operation}`)
          }
        }
        for (const [attribute, writable] of Object.entries(shape.attributes)) {
          const { get, set } = Object.getOwnPropertyDescriptor(prototype, attribute)
          for (const receiver of wrongReceivers) {
            assert.throws(() => get.call(receiver), TypeError, `get ${name}.prototype.${attribute}`)
            if (writable) assert.throws(() => set.call(receiver, 0), TypeError, `set ${name}.prototype.${attribute}`)
          }
        }
      })
    }

    test('the error classes: NativeError constructors under WebAssembly', () => {
      for (const name of errorClasses) {
        const ErrorClass = WebAssembly[name]
        assertFunction(ErrorClass, name, 1, { constructor: true })
        assert.equal(Object.getPrototypeOf(ErrorClass), Error)
        assert.deepEqual(attributesOf(Object.getOwnPropertyDescriptor(ErrorClass, 'prototype')), PROTOTYPE)
        const prototype = ErrorClass.prototype
        assert.equal(Object.getPrototypeOf(prototype), Error.prototype)
        for (const [key, value] of [['constructor', ErrorClass], ['name', name], ['message', '']]) {
          const descriptor = Object.getOwnPropertyDescriptor(prototype, key)
          assert.deepEqual(attributesOf(descriptor), CONSTRUCTOR, `${name}.prototype.${key}`)
          assert.equal(descriptor.value, value)
        }
      }
    })
  })
}
