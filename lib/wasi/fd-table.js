'use strict'
// The guest's file descriptor table: 0, 1 and 2 are the host descriptors given as
// `stdin`, `stdout` and `stderr`, 3 onwards the preopened directories in order, then
// whatever the guest opens (the lowest free number, as uvwasi does). Each entry keeps
// its preview1 rights, and every lookup checks them, so a descriptor can never do more
// than it was granted: uvwasi's rules, with its rights sets per file type.

const fs = require('node:fs')
// node:tty (which loads node:net and streams) is required where used: requiring heron stays cheap.
const { errno, filetype, rights, RIGHTS_BY_FILETYPE, TTY_RIGHTS } = require('./constants.js')
const { WasiErrno } = require('./wasi-errno.js')

// The preview1 file type of a node:fs Stats or Dirent. uvwasi reports pipes as stream sockets.
function filetypeOf(stats) {
  if (stats.isFile()) return filetype.REGULAR_FILE
  if (stats.isDirectory()) return filetype.DIRECTORY
  if (stats.isSymbolicLink()) return filetype.SYMBOLIC_LINK
  if (stats.isCharacterDevice()) return filetype.CHARACTER_DEVICE
  if (stats.isBlockDevice()) return filetype.BLOCK_DEVICE
  if (stats.isSocket() || stats.isFIFO()) return filetype.SOCKET_STREAM
  return filetype.UNKNOWN
}

// The most rights a descriptor of this type (opened for reading, writing or both) may have.
function maximumRights(hostFd, type, { read, write }) {
  const [base, inheriting] = type === filetype.CHARACTER_DEVICE && require('node:tty').isatty(hostFd)
    ? TTY_RIGHTS
    : RIGHTS_BY_FILETYPE.get(type) ?? [0n, 0n]
  let allowed = base
  if (!write) allowed &= ~rights.FD_WRITE
  if (!read) allowed &= ~rights.FD_READ
  return [allowed, inheriting]
}

class FdEntry {
  constructor({ hostFd, type, rightsBase, rightsInheriting, flags = 0, hostPath, preopenName, ownsHostFd }) {
    // The host descriptor: reads, writes and fstat go through it.
    this.hostFd = hostFd
    this.type = type
    this.rightsBase = rightsBase
    this.rightsInheriting = rightsInheriting
    // fdflags (append, nonblock, ...), applied in JS.
    this.flags = flags
    // Host path without symlinks: the base for path_* calls on directories.
    this.hostPath = hostPath
    // The guest's name for a preopened directory (fd_prestat_dir_name).
    this.preopenName = preopenName
    // Stdio descriptors belong to the host process and are never closed.
    this.ownsHostFd = ownsHostFd
    // Regular files opened by the guest keep their offset here, so that seeks need no
    // lseek (node:fs has none): reads and writes are positional. Stdio uses the host's offset.
    this.position = ownsHostFd && type === filetype.REGULAR_FILE ? 0n : undefined
  }
}

class FdTable {
  #entries = new Map()

  constructor(stdio, preopens) {
    for (let guestFd = 0; guestFd < 3; guestFd++) {
      const hostFd = stdio[guestFd]
      const type = filetypeOf(fstatOrInitError(hostFd))
      const [rightsBase, rightsInheriting] = maximumRights(hostFd, type, { read: true, write: true })
      this.#entries.set(guestFd, new FdEntry({ hostFd, type, rightsBase, rightsInheriting, ownsHostFd: false }))
    }
    for (const [guestName, hostDirectory] of preopens) {
      let hostPath
      try {
        hostPath = fs.realpathSync(hostDirectory)
      } catch (error) {
        throw initError(error.code)
      }
      const hostFd = openOrInitError(hostPath)
      if (!fs.fstatSync(hostFd).isDirectory()) {
        fs.closeSync(hostFd)
        throw initError('ENOTDIR')
      }
      const [rightsBase, rightsInheriting] = RIGHTS_BY_FILETYPE.get(filetype.DIRECTORY)
      this.#entries.set(this.#entries.size, new FdEntry({
        hostFd, type: filetype.DIRECTORY, rightsBase, rightsInheriting, hostPath, preopenName: guestName, ownsHostFd: true,
      }))
    }
  }

  // The entry for `fd`, which must hold every right in `base` and `inheriting`.
  get(fd, base = 0n, inheriting = 0n) {
    const entry = this.#entries.get(fd)
    if (entry === undefined) throw new WasiErrno(errno.BADF)
    if ((entry.rightsBase & base) !== base || (entry.rightsInheriting & inheriting) !== inheriting) {
      throw new WasiErrno(errno.NOTCAPABLE)
    }
    return entry
  }

  // Adds an entry for a host descriptor the guest opened; returns its number.
  insert(fields) {
    let fd = 3
    while (this.#entries.has(fd)) fd++
    if (fd > 0x7fffffff) throw new WasiErrno(errno.MFILE)
    this.#entries.set(fd, new FdEntry({ ...fields, ownsHostFd: true }))
    return fd
  }

  close(fd) {
    const entry = this.get(fd)
    this.#entries.delete(fd)
    if (entry.ownsHostFd) fs.closeSync(entry.hostFd)
  }

  renumber(from, to) {
    const entry = this.get(from)
    this.get(to)
    if (from === to) return
    this.close(to)
    this.#entries.delete(from)
    this.#entries.set(to, entry)
  }

  // Closes every host descriptor the table opened (once its WASI object is collected).
  closeAll() {
    for (const entry of this.#entries.values()) {
      if (entry.ownsHostFd) fs.close(entry.hostFd, () => {})
    }
    this.#entries.clear()
  }
}

// The error Node's WASI constructor throws when uvwasi_init fails.
function initError(code) {
  const name = typeof code === 'string' && code.startsWith('E') ? code : 'EINVAL'
  const error = new Error(`UVWASI_${name}, uvwasi_init`)
  error.code = `UVWASI_${name}`
  return error
}

function fstatOrInitError(hostFd) {
  try {
    return fs.fstatSync(hostFd)
  } catch (error) {
    throw initError(error.code)
  }
}

function openOrInitError(hostPath) {
  try {
    return fs.openSync(hostPath, fs.constants.O_RDONLY)
  } catch (error) {
    throw initError(error.code)
  }
}

module.exports = { FdTable, filetypeOf, maximumRights }
