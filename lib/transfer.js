'use strict'
// Heron's Module and shared Memory objects across Workers, invisible to standard code.
//
// Node's structured clone cannot clone heron's objects (they wrap native state), so this
// layer rewrites messages on their way: a heron Module or shared Memory becomes a marker
// object holding a carrier (a small SharedArrayBuffer that keeps the engine object alive, see
// src/transfer.rs), and the receiving thread turns the marker back into a heron object over
// the same compiled code or the same memory. A heron Memory that is not shared throws the
// DataCloneError V8 throws for its own.
//
// Sending: Worker.prototype.postMessage, MessagePort.prototype.postMessage (parentPort and
// MessageChannel ports) and the Worker constructor's workerData. Receiving: the Worker's
// 'message' events, MessagePort listeners added with on/once/addListener/prependListener,
// addEventListener or onmessage, receiveMessageOnPort, and workerData in the Worker (read
// when heron loads there). Messages without heron objects pass through untouched (the
// walk copies only the containers on the path to a heron object).
const workerThreads = require('node:worker_threads')
const { syncBuiltinESMExports } = require('node:module')

const MARKER = '__heron_transfer__'

let installed = false

// Whether this thread has made a heron Module or Memory: until it has, no message it sends
// can hold one, and postMessage skips the walk.
let transferables = false
function noteTransferable() {
  transferables = true
}

// `toMarker(value)`: a marker for a heron object, undefined for anything else (throws for
// objects that cannot be sent). `fromMarker(marker)`: the heron object again.
function installTransfer({ toMarker, fromMarker }) {
  if (installed) return
  installed = true

  const encode = (value) => (transferables ? rewrite(value, (v) => toMarker(v), new Map()) : value)
  const decode = (value) => rewrite(value, (v) => (isMarker(v) ? fromMarker(v) : undefined), new Map())

  const { Worker, MessagePort } = workerThreads

  for (const Class of [Worker, MessagePort]) {
    const postMessage = Class.prototype.postMessage
    Object.defineProperty(Class.prototype, 'postMessage', {
      ...Object.getOwnPropertyDescriptor(Class.prototype, 'postMessage'),
      value: {
        postMessage(value, ...rest) {
          return Reflect.apply(postMessage, this, [encode(value), ...rest])
        },
      }.postMessage,
    })
  }

  // The Worker re-emits its port's messages with emit('message', value).
  const emit = Worker.prototype.emit
  Object.defineProperty(Worker.prototype, 'emit', {
    ...Object.getOwnPropertyDescriptor(Worker.prototype, 'emit') ?? { writable: true, configurable: true },
    value: {
      emit(type, ...args) {
        if (type === 'message' && args.length > 0) args[0] = decode(args[0])
        return Reflect.apply(emit, this, [type, ...args])
      },
    }.emit,
  })

  wrapPortListeners(MessagePort, decode)

  const receiveMessageOnPort = workerThreads.receiveMessageOnPort
  workerThreads.receiveMessageOnPort = {
    receiveMessageOnPort(port) {
      const received = receiveMessageOnPort(port)
      return received === undefined ? received : { message: decode(received.message) }
    },
  }.receiveMessageOnPort

  // The Worker constructor: workerData goes through the same rewriting.
  class HeronWorker extends Worker {
    constructor(filename, options) {
      if (isObject(options) && 'workerData' in options) {
        options = { ...options, workerData: encode(options.workerData) }
      }
      super(filename, options)
    }
  }
  Object.defineProperty(HeronWorker, 'name', { value: 'Worker' })
  workerThreads.Worker = HeronWorker

  if (!workerThreads.isMainThread) {
    workerThreads.workerData = decode(workerThreads.workerData)
  }
  syncBuiltinESMExports()
}

// Node-style (`on`) listeners get the message itself; EventTarget-style ones a MessageEvent,
// given here with an own `data` property holding the decoded message.
function wrapPortListeners(MessagePort, decode) {
  const wrappers = new WeakMap()
  const nodeStyle = (listener) => {
    if (typeof listener !== 'function') return listener
    let wrapped = wrappers.get(listener)
    if (wrapped === undefined) {
      wrapped = function (value, ...rest) {
        return Reflect.apply(listener, this, [decode(value), ...rest])
      }
      wrapped.listener = listener // as EventEmitter's once() wrappers, for listeners()
      wrappers.set(listener, wrapped)
    }
    return wrapped
  }
  const eventStyle = (listener) => {
    if (typeof listener !== 'function' && !isObject(listener)) return listener
    let wrapped = wrappers.get(listener)
    if (wrapped === undefined) {
      wrapped = function (event) {
        if (isObject(event) && 'data' in event) {
          Object.defineProperty(event, 'data', { value: decode(event.data), enumerable: true, configurable: true })
        }
        return typeof listener === 'function' ? Reflect.apply(listener, this, [event]) : listener.handleEvent(event)
      }
      wrappers.set(listener, wrapped)
    }
    return wrapped
  }
  const proto = MessagePort.prototype
  for (const name of ['on', 'addListener', 'once', 'prependListener', 'prependOnceListener', 'off', 'removeListener']) {
    const original = proto[name]
    if (typeof original !== 'function') continue
    Object.defineProperty(proto, name, {
      ...Object.getOwnPropertyDescriptor(proto, name),
      value: {
        [name](type, listener, ...rest) {
          const wrapped = type === 'message' ? nodeStyle(listener) : listener
          return Reflect.apply(original, this, [type, wrapped, ...rest])
        },
      }[name],
    })
  }
  for (const name of ['addEventListener', 'removeEventListener']) {
    const original = proto[name]
    if (typeof original !== 'function') continue
    Object.defineProperty(proto, name, {
      ...Object.getOwnPropertyDescriptor(proto, name),
      value: {
        [name](type, listener, ...rest) {
          const wrapped = type === 'message' ? eventStyle(listener) : listener
          return Reflect.apply(original, this, [type, wrapped, ...rest])
        },
      }[name],
    })
  }
  const onmessage = findAccessor(proto, 'onmessage')
  if (onmessage !== undefined) {
    const { owner, descriptor } = onmessage
    const unwrapped = new WeakMap()
    Object.defineProperty(owner, 'onmessage', {
      ...descriptor,
      get() {
        const value = Reflect.apply(descriptor.get, this, [])
        return unwrapped.get(value) ?? value
      },
      set(listener) {
        const wrapped = typeof listener === 'function' ? eventStyle(listener) : listener
        if (wrapped !== listener) unwrapped.set(wrapped, listener)
        Reflect.apply(descriptor.set, this, [wrapped])
      },
    })
  }
}

function findAccessor(object, name) {
  for (let owner = object; owner !== null; owner = Object.getPrototypeOf(owner)) {
    const descriptor = Object.getOwnPropertyDescriptor(owner, name)
    if (descriptor !== undefined) return descriptor.set ? { owner, descriptor } : undefined
  }
  return undefined
}

function isObject(value) {
  return (typeof value === 'object' && value !== null) || typeof value === 'function'
}

function isMarker(value) {
  return isPlainObject(value) && typeof value[MARKER] === 'string'
}

function isPlainObject(value) {
  if (typeof value !== 'object' || value === null) return false
  const proto = Object.getPrototypeOf(value)
  return proto === Object.prototype || proto === null
}

// `value` with every part `replace` maps to something replaced; containers (arrays, plain
// objects, Maps, Sets) are copied only when something inside them changed.
function rewrite(value, replace, seen) {
  if (typeof value !== 'object' || value === null) return value
  if (seen.has(value)) return seen.get(value)
  const replaced = replace(value)
  if (replaced !== undefined) return replaced
  seen.set(value, value)
  if (Array.isArray(value)) {
    let copy
    for (let i = 0; i < value.length; i++) {
      const item = rewrite(value[i], replace, seen)
      if (item !== value[i]) copy ??= value.slice()
      if (copy) copy[i] = item
    }
    return settle(value, copy, seen)
  }
  if (value instanceof Map) {
    let changed = false
    const entries = [...value].map(([k, v]) => {
      const [k2, v2] = [rewrite(k, replace, seen), rewrite(v, replace, seen)]
      changed ||= k2 !== k || v2 !== v
      return [k2, v2]
    })
    return settle(value, changed ? new Map(entries) : undefined, seen)
  }
  if (value instanceof Set) {
    let changed = false
    const items = [...value].map((v) => {
      const v2 = rewrite(v, replace, seen)
      changed ||= v2 !== v
      return v2
    })
    return settle(value, changed ? new Set(items) : undefined, seen)
  }
  if (!isPlainObject(value)) return value
  let copy
  for (const key of Object.keys(value)) {
    const item = rewrite(value[key], replace, seen)
    if (item !== value[key]) copy ??= { ...value }
    if (copy) copy[key] = item
  }
  return settle(value, copy, seen)
}

function settle(value, copy, seen) {
  if (copy === undefined) return value
  seen.set(value, copy)
  return copy
}

module.exports = { installTransfer, noteTransferable, MARKER }
