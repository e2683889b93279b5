'use strict'
// The preview1 functions that are not about files: arguments and environment,
// clocks, randomness, poll_oneoff, process exit and signals, sched_yield, and the
// socket calls (heron's WASI, like Node's, has no way to be handed a socket, so they
// can only report a bad or non-socket descriptor). Same calling convention as
// file-calls.js.

const fs = require('node:fs')
// node:crypto and node:os are required where used: requiring heron stays cheap.
const {
  errno, rights, clockid, eventtype, subclockflags, sdflags, SIGNAL_NAMES,
} = require('./constants.js')
const { WasiErrno } = require('./wasi-errno.js')
const { stringListSize } = require('./guest-memory.js')

const SUBSCRIPTION_SIZE = 48
const EVENT_SIZE = 32

const fail = (code) => {
  throw new WasiErrno(code)
}

// Realtime in nanoseconds: the wall clock read once, advanced by the monotonic clock,
// so it has the monotonic clock's resolution.
const realtimeOrigin = BigInt(Date.now()) * 1000000n - process.hrtime.bigint()

function now(id) {
  switch (id) {
    case clockid.REALTIME:
      return realtimeOrigin + process.hrtime.bigint()
    case clockid.MONOTONIC:
      return process.hrtime.bigint()
    case clockid.PROCESS_CPUTIME_ID:
    case clockid.THREAD_CPUTIME_ID: {
      // Node measures CPU time per process only, in microseconds.
      const { user, system } = process.cpuUsage()
      return BigInt(user + system) * 1000n
    }
    default:
      return fail(errno.INVAL)
  }
}

function resolution(id) {
  now(id) // rejects unknown clocks
  return id === clockid.PROCESS_CPUTIME_ID || id === clockid.THREAD_CPUTIME_ID ? 1000n : 1n
}

const sleeper = new Int32Array(new SharedArrayBuffer(4))

function systemCalls(table, { args, env, exit }) {
  return {
    args_get(memory, argv, argvBuf) {
      memory.writeStringList(args, argv, argvBuf)
    },

    args_sizes_get(memory, argcPointer, sizePointer) {
      memory.setU32(argcPointer, args.length)
      memory.setU32(sizePointer, stringListSize(args))
    },

    environ_get(memory, environ, environBuf) {
      memory.writeStringList(env, environ, environBuf)
    },

    environ_sizes_get(memory, countPointer, sizePointer) {
      memory.setU32(countPointer, env.length)
      memory.setU32(sizePointer, stringListSize(env))
    },

    clock_res_get(memory, id, pointer) {
      memory.setU64(pointer, resolution(id))
    },

    clock_time_get(memory, id, precision, pointer) {
      memory.setU64(pointer, now(id))
    },

    random_get(memory, buf, length) {
      require('node:crypto').randomFillSync(memory.slice(buf, length))
    },

    // Clock subscriptions block the thread until the earliest one expires; descriptor
    // subscriptions are ready at once (files and terminals never make a reader wait
    // longer than a read would), so any of those makes the call return immediately.
    poll_oneoff(memory, inPointer, outPointer, count, neventsPointer) {
      if (count === 0) fail(errno.INVAL)
      memory.check(inPointer, count * SUBSCRIPTION_SIZE)
      memory.check(outPointer, count * EVENT_SIZE)
      const ready = []
      const clocks = []
      for (let i = 0; i < count; i++) {
        const at = inPointer + i * SUBSCRIPTION_SIZE
        const userdata = memory.u64(at)
        const type = memory.u8(at + 8)
        if (type === eventtype.CLOCK) {
          const id = memory.u32(at + 16)
          const timeout = memory.u64(at + 24)
          const flags = memory.u16(at + 40)
          let clockNow
          try {
            clockNow = now(id)
          } catch (error) {
            if (!(error instanceof WasiErrno)) throw error
            ready.push({ userdata, error: error.errno, type, nbytes: 0n })
            continue
          }
          const remaining = (flags & subclockflags.ABSTIME) !== 0 ? timeout - clockNow : timeout
          clocks.push({ userdata, type, remaining })
        } else if (type === eventtype.FD_READ || type === eventtype.FD_WRITE) {
          const fd = memory.u32(at + 16)
          let error = errno.SUCCESS
          let nbytes = 0n
          try {
            const entry = table.get(fd, rights.POLL_FD_READWRITE)
            if (type === eventtype.FD_READ && entry.position !== undefined) {
              const size = fs.fstatSync(entry.hostFd, { bigint: true }).size
              nbytes = size > entry.position ? size - entry.position : 0n
            }
          } catch (caught) {
            if (!(caught instanceof WasiErrno)) throw caught
            error = caught.errno
          }
          ready.push({ userdata, error, type, nbytes })
        } else {
          ready.push({ userdata, error: errno.INVAL, type, nbytes: 0n })
        }
      }
      if (ready.length === 0 && clocks.length > 0) {
        const earliest = clocks.reduce((a, b) => (b.remaining < a.remaining ? b : a))
        if (earliest.remaining > 0n) Atomics.wait(sleeper, 0, 0, Number(earliest.remaining) / 1e6)
        for (const clock of clocks) {
          if (clock.remaining <= earliest.remaining) ready.push({ ...clock, error: errno.SUCCESS, nbytes: 0n })
        }
      } else {
        for (const clock of clocks) {
          if (clock.remaining <= 0n) ready.push({ ...clock, error: errno.SUCCESS, nbytes: 0n })
        }
      }
      ready.forEach((event, i) => {
        const at = outPointer + i * EVENT_SIZE
        memory.bytes.fill(0, at, at + EVENT_SIZE)
        memory.setU64(at, event.userdata)
        memory.setU16(at + 8, event.error)
        memory.setU8(at + 10, event.type)
        memory.setU64(at + 16, event.nbytes)
      })
      memory.setU32(neventsPointer, ready.length)
    },

    proc_exit(memory, code) {
      exit(code)
    },

    proc_raise(memory, signal) {
      if (signal === 0) return
      // uvwasi's answer for a signal the host lacks, or an unknown number.
      const name = SIGNAL_NAMES[signal]
      if (name === undefined || require('node:os').constants.signals[name] === undefined) fail(errno.NOSYS)
      process.kill(process.pid, name)
    },

    sched_yield() {},

    sock_accept(memory, fd, flags, fdPointer) {
      notASocket(table, fd)
    },

    sock_recv(memory, fd, riData, riDataLength, riFlags, roDatalenPointer, roFlagsPointer) {
      notASocket(table, fd)
    },

    sock_send(memory, fd, siData, siDataLength, siFlags, soDatalenPointer) {
      notASocket(table, fd)
    },

    sock_shutdown(memory, fd, how) {
      if (how & ~(sdflags.RD | sdflags.WR)) fail(errno.INVAL)
      notASocket(table, fd)
    },
  }
}

// Descriptors here are never sockets (a pipe that uvwasi types as a stream socket
// included): EBADF for a descriptor that does not exist, ENOTSOCK otherwise.
function notASocket(table, fd) {
  table.get(fd)
  fail(errno.NOTSOCK)
}

module.exports = { systemCalls }
