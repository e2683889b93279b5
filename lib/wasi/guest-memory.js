'use strict'
// Views of the guest's linear memory for one WASI call. A memory's ArrayBuffer is
// detached and replaced whenever the memory grows, so each call takes a fresh
// GuestMemory from `memory.buffer` and drops it when it returns. Every access is
// bounds-checked first; out of bounds is EOVERFLOW, as in Node's node:wasi.

const { errno } = require('./constants.js')
const { WasiErrno } = require('./wasi-errno.js')

const utf8 = new TextEncoder()
const utf8Strict = new TextDecoder('utf-8', { fatal: true })

class GuestMemory {
  constructor(buffer) {
    this.view = new DataView(buffer)
    this.bytes = new Uint8Array(buffer)
  }

  check(pointer, length) {
    if (pointer + length > this.bytes.length) throw new WasiErrno(errno.OVERFLOW)
  }

  u8(pointer) {
    this.check(pointer, 1)
    return this.view.getUint8(pointer)
  }

  u16(pointer) {
    this.check(pointer, 2)
    return this.view.getUint16(pointer, true)
  }

  u32(pointer) {
    this.check(pointer, 4)
    return this.view.getUint32(pointer, true)
  }

  u64(pointer) {
    this.check(pointer, 8)
    return this.view.getBigUint64(pointer, true)
  }

  setU8(pointer, value) {
    this.check(pointer, 1)
    this.view.setUint8(pointer, value)
  }

  setU16(pointer, value) {
    this.check(pointer, 2)
    this.view.setUint16(pointer, value, true)
  }

  setU32(pointer, value) {
    this.check(pointer, 4)
    this.view.setUint32(pointer, value, true)
  }

  setU64(pointer, value) {
    this.check(pointer, 8)
    this.view.setBigUint64(pointer, BigInt.asUintN(64, BigInt(value)), true)
  }

  // The guest's bytes at [pointer, pointer + length), not copied.
  slice(pointer, length) {
    this.check(pointer, length)
    return this.bytes.subarray(pointer, pointer + length)
  }

  // A path argument: UTF-8 (EILSEQ otherwise) without NUL bytes (EINVAL).
  path(pointer, length) {
    let text
    try {
      text = utf8Strict.decode(this.slice(pointer, length))
    } catch (error) {
      if (error instanceof WasiErrno) throw error
      throw new WasiErrno(errno.ILSEQ)
    }
    if (text.includes('\0')) throw new WasiErrno(errno.INVAL)
    return text
  }

  // The buffers of an iovec or ciovec array: [{ buf: u32, buf_len: u32 }] * count.
  iovecs(pointer, count) {
    this.check(pointer, count * 8)
    const buffers = []
    for (let i = 0; i < count; i++) {
      const buf = this.view.getUint32(pointer + 8 * i, true)
      const length = this.view.getUint32(pointer + 8 * i + 4, true)
      buffers.push(this.slice(buf, length))
    }
    return buffers
  }

  // Writes NUL-terminated strings into buf and pointers to them at list
  // (args_get and environ_get).
  writeStringList(strings, listPointer, bufPointer) {
    let offset = bufPointer
    strings.forEach((string, i) => {
      this.setU32(listPointer + 4 * i, offset)
      const encoded = utf8.encode(string)
      this.check(offset, encoded.length + 1)
      this.bytes.set(encoded, offset)
      this.bytes[offset + encoded.length] = 0
      offset += encoded.length + 1
    })
  }
}

// The byte size of a string list as args_sizes_get / environ_sizes_get report it.
function stringListSize(strings) {
  return strings.reduce((size, string) => size + utf8.encode(string).length + 1, 0)
}

module.exports = { GuestMemory, stringListSize, utf8 }
