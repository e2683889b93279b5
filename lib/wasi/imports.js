'use strict'
// Builds `wasiImport`: one JS function per preview1 function, which checks and
// converts the guest's arguments (the witx signature below), takes a fresh view of
// the memory, runs the implementation and returns its errno. Like Node's: a wrong
// argument count or type is EINVAL, a call before start()/initialize() throws
// ERR_WASI_NOT_STARTED, and node:fs errors become the matching errno.

const { errno, errnoFromNodeError } = require('./constants.js')
const { WasiErrno } = require('./wasi-errno.js')
const { GuestMemory } = require('./guest-memory.js')
const { notStarted } = require('./node-errors.js')

// Parameter types per function: `i` for i32 (pointers, sizes, fds, flags; unsigned),
// `I` for u64, `S` for s64 (fd_seek's filedelta).
const SIGNATURES = {
  args_get: 'ii',
  args_sizes_get: 'ii',
  clock_res_get: 'ii',
  clock_time_get: 'iIi',
  environ_get: 'ii',
  environ_sizes_get: 'ii',
  fd_advise: 'iIIi',
  fd_allocate: 'iII',
  fd_close: 'i',
  fd_datasync: 'i',
  fd_fdstat_get: 'ii',
  fd_fdstat_set_flags: 'ii',
  fd_fdstat_set_rights: 'iII',
  fd_filestat_get: 'ii',
  fd_filestat_set_size: 'iI',
  fd_filestat_set_times: 'iIIi',
  fd_pread: 'iiiIi',
  fd_prestat_get: 'ii',
  fd_prestat_dir_name: 'iii',
  fd_pwrite: 'iiiIi',
  fd_read: 'iiii',
  fd_readdir: 'iiiIi',
  fd_renumber: 'ii',
  fd_seek: 'iSii',
  fd_sync: 'i',
  fd_tell: 'ii',
  fd_write: 'iiii',
  path_create_directory: 'iii',
  path_filestat_get: 'iiiii',
  path_filestat_set_times: 'iiiiIIi',
  path_link: 'iiiiiii',
  path_open: 'iiiiiIIii',
  path_readlink: 'iiiiii',
  path_remove_directory: 'iii',
  path_rename: 'iiiiii',
  path_symlink: 'iiiii',
  path_unlink_file: 'iii',
  poll_oneoff: 'iiii',
  proc_exit: 'i',
  proc_raise: 'i',
  random_get: 'ii',
  sched_yield: '',
  sock_accept: 'iii',
  sock_recv: 'iiiiii',
  sock_send: 'iiiii',
  sock_shutdown: 'ii',
}

const INVALID = Symbol('invalid argument')

function convert(letter, value) {
  if (letter === 'i') return typeof value === 'number' && Number.isInteger(value) ? value >>> 0 : INVALID
  if (typeof value !== 'bigint') return INVALID
  return letter === 'I' ? BigInt.asUintN(64, value) : BigInt.asIntN(64, value)
}

// `calls` maps each name to its implementation (memory, ...arguments); `memoryOf()`
// returns the instance's memory object, or undefined before start.
function makeWasiImport(calls, memoryOf) {
  const wasiImport = {}
  for (const [name, signature] of Object.entries(SIGNATURES)) {
    const implementation = calls[name]
    const needsMemory = name !== 'proc_exit'
    const { [name]: wasiFunction } = {
      [name](...values) {
        if (values.length !== signature.length) return errno.INVAL
        for (let i = 0; i < values.length; i++) {
          const value = convert(signature[i], values[i])
          if (value === INVALID) return errno.INVAL
          values[i] = value
        }
        let memory
        if (needsMemory) {
          const memoryObject = memoryOf()
          if (memoryObject === undefined) throw notStarted()
          memory = new GuestMemory(memoryObject.buffer)
        }
        try {
          implementation(memory, ...values)
          return errno.SUCCESS
        } catch (error) {
          if (error instanceof WasiErrno) return error.errno
          const code = errnoFromNodeError(error)
          if (code !== undefined) return code
          throw error
        }
      },
    }
    Object.defineProperty(wasiFunction, 'length', { value: signature.length })
    wasiImport[name] = wasiFunction
  }
  return wasiImport
}

module.exports = { makeWasiImport, SIGNATURES }
