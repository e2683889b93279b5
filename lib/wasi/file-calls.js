'use strict'
// The preview1 functions on descriptors and paths (fd_*, path_*), over node:fs's
// synchronous calls. Each takes a GuestMemory first, then the guest's arguments
// already converted (u32 as numbers, u64 as BigInts); it returns nothing on success
// and throws WasiErrno or a node:fs error otherwise (imports.js turns both into the
// errno the guest sees). Rights are checked as uvwasi checks them; every path goes
// through resolveConfined. Result pointers are checked before anything is done, so an
// out-of-bounds one (EOVERFLOW) never leaves a write or an open behind.

const fs = require('node:fs')
const path = require('node:path')
const {
  errno, filetype, rights, fdflags, oflags, lookupflags, fstflags, whence, preopentype,
} = require('./constants.js')
const { WasiErrno } = require('./wasi-errno.js')
const { filetypeOf, maximumRights } = require('./fd-table.js')
const { resolveConfined } = require('./paths.js')
const { utf8 } = require('./guest-memory.js')

const FILESTAT_SIZE = 64
const DIRENT_HEADER_SIZE = 24
const MAX_ADVICE = 5

const fail = (code) => {
  throw new WasiErrno(code)
}

// A guest offset as a node:fs position (a Number: fs.writeSync ignores BigInt positions).
function hostPosition(position) {
  if (position > BigInt(Number.MAX_SAFE_INTEGER)) fail(errno.OVERFLOW)
  return Number(position)
}

// Blocks the thread for `ms` milliseconds.
const sleeper = new Int32Array(new SharedArrayBuffer(4))
function sleep(ms) {
  Atomics.wait(sleeper, 0, 0, ms)
}

// Runs a host read or write, retrying while a non-blocking host descriptor (a pipe
// Node made non-blocking) is not ready, unless the guest asked for non-blocking I/O.
function blocking(entry, io) {
  for (;;) {
    try {
      return io()
    } catch (error) {
      if (error?.code !== 'EAGAIN' || (entry.flags & fdflags.NONBLOCK) !== 0) throw error
      sleep(1)
    }
  }
}

function readBuffers(entry, buffers, position) {
  let total = 0
  for (const buffer of buffers) {
    if (buffer.length === 0) continue
    const at = position === null ? null : hostPosition(position + BigInt(total))
    const count = blocking(entry, () => fs.readSync(entry.hostFd, buffer, 0, buffer.length, at))
    total += count
    if (count < buffer.length) break
  }
  return total
}

function writeBuffers(entry, buffers, position) {
  let total = 0
  for (const buffer of buffers) {
    let done = 0
    while (done < buffer.length) {
      const at = position === null ? null : hostPosition(position + BigInt(total + done))
      done += blocking(entry, () => fs.writeSync(entry.hostFd, buffer, done, buffer.length - done, at))
    }
    total += done
  }
  return total
}

function writeFilestat(memory, pointer, stats) {
  memory.check(pointer, FILESTAT_SIZE)
  memory.setU64(pointer, stats.dev)
  memory.setU64(pointer + 8, stats.ino)
  memory.setU8(pointer + 16, filetypeOf(stats))
  memory.setU64(pointer + 24, stats.nlink)
  memory.setU64(pointer + 32, stats.size)
  memory.setU64(pointer + 40, stats.atimeNs)
  memory.setU64(pointer + 48, stats.mtimeNs)
  memory.setU64(pointer + 56, stats.ctimeNs)
}

// The [atime, mtime] (seconds, for fs.utimesSync) a *_set_times call asks for;
// `stat()` gives the file's current stats when a time is left unchanged.
function requestedTimes(atim, mtim, flags, stat) {
  const both = (set, now) => (flags & set) !== 0 && (flags & now) !== 0
  if (flags & ~0xf || both(fstflags.ATIM, fstflags.ATIM_NOW) || both(fstflags.MTIM, fstflags.MTIM_NOW)) {
    fail(errno.INVAL)
  }
  const now = Date.now() / 1000
  let current
  const pick = (time, set, setNow, field) => {
    if (flags & setNow) return now
    if (flags & set) return Number(time) / 1e9
    current ??= stat()
    return Number(current[field]) / 1e9
  }
  return [pick(atim, fstflags.ATIM, fstflags.ATIM_NOW, 'atimeNs'), pick(mtim, fstflags.MTIM, fstflags.MTIM_NOW, 'mtimeNs')]
}

// The host path a path argument names, below the directory `entry`.
function hostPathIn(entry, guestPath, follow) {
  if (entry.type !== filetype.DIRECTORY || entry.hostPath === undefined) fail(errno.NOTDIR)
  return resolveConfined(entry.hostPath, guestPath, follow)
}

function fileCalls(table) {
  const follows = (flags) => (flags & lookupflags.SYMLINK_FOLLOW) !== 0

  return {
    fd_advise(memory, fd, offset, length, advice) {
      if (advice > MAX_ADVICE) fail(errno.INVAL)
      table.get(fd, rights.FD_ADVISE)
      // node:fs has no posix_fadvise; advice is only a hint, so accepting it is correct.
    },

    fd_allocate(memory, fd, offset, length) {
      const entry = table.get(fd, rights.FD_ALLOCATE)
      const end = offset + length
      if (end > BigInt(Number.MAX_SAFE_INTEGER)) fail(errno.FBIG)
      // uvwasi's emulation where posix_fallocate is missing: grow the file to the end.
      if (fs.fstatSync(entry.hostFd, { bigint: true }).size < end) fs.ftruncateSync(entry.hostFd, Number(end))
    },

    fd_close(memory, fd) {
      table.close(fd)
    },

    fd_datasync(memory, fd) {
      fs.fdatasyncSync(table.get(fd, rights.FD_DATASYNC).hostFd)
    },

    fd_sync(memory, fd) {
      fs.fsyncSync(table.get(fd, rights.FD_SYNC).hostFd)
    },

    fd_fdstat_get(memory, fd, pointer) {
      const entry = table.get(fd)
      memory.check(pointer, 24)
      memory.setU8(pointer, entry.type)
      memory.setU16(pointer + 2, entry.flags)
      memory.setU64(pointer + 8, entry.rightsBase)
      memory.setU64(pointer + 16, entry.rightsInheriting)
    },

    fd_fdstat_set_flags(memory, fd, flags) {
      const entry = table.get(fd, rights.FD_FDSTAT_SET_FLAGS)
      if (flags & ~0x1f) fail(errno.INVAL)
      entry.flags = flags
    },

    fd_fdstat_set_rights(memory, fd, base, inheriting) {
      const entry = table.get(fd)
      // Rights can only be dropped.
      if ((base & ~entry.rightsBase) !== 0n || (inheriting & ~entry.rightsInheriting) !== 0n) fail(errno.NOTCAPABLE)
      entry.rightsBase = base
      entry.rightsInheriting = inheriting
    },

    fd_filestat_get(memory, fd, pointer) {
      const entry = table.get(fd, rights.FD_FILESTAT_GET)
      writeFilestat(memory, pointer, fs.fstatSync(entry.hostFd, { bigint: true }))
    },

    fd_filestat_set_size(memory, fd, size) {
      const entry = table.get(fd, rights.FD_FILESTAT_SET_SIZE)
      fs.ftruncateSync(entry.hostFd, hostPosition(size))
    },

    fd_filestat_set_times(memory, fd, atim, mtim, flags) {
      const entry = table.get(fd, rights.FD_FILESTAT_SET_TIMES)
      const stat = () => fs.fstatSync(entry.hostFd, { bigint: true })
      fs.futimesSync(entry.hostFd, ...requestedTimes(atim, mtim, flags, stat))
    },

    fd_pread(memory, fd, iovs, iovsLength, offset, nreadPointer) {
      memory.check(nreadPointer, 4)
      const entry = table.get(fd, rights.FD_READ | rights.FD_SEEK)
      if (entry.type === filetype.DIRECTORY) fail(errno.ISDIR)
      memory.setU32(nreadPointer, readBuffers(entry, memory.iovecs(iovs, iovsLength), offset))
    },

    fd_pwrite(memory, fd, iovs, iovsLength, offset, nwrittenPointer) {
      memory.check(nwrittenPointer, 4)
      const entry = table.get(fd, rights.FD_WRITE | rights.FD_SEEK)
      if (entry.type === filetype.DIRECTORY) fail(errno.ISDIR)
      memory.setU32(nwrittenPointer, writeBuffers(entry, memory.iovecs(iovs, iovsLength), offset))
    },

    fd_read(memory, fd, iovs, iovsLength, nreadPointer) {
      memory.check(nreadPointer, 4)
      const entry = table.get(fd, rights.FD_READ)
      if (entry.type === filetype.DIRECTORY) fail(errno.ISDIR)
      const count = readBuffers(entry, memory.iovecs(iovs, iovsLength), entry.position ?? null)
      if (entry.position !== undefined) entry.position += BigInt(count)
      memory.setU32(nreadPointer, count)
    },

    fd_write(memory, fd, iovs, iovsLength, nwrittenPointer) {
      memory.check(nwrittenPointer, 4)
      const entry = table.get(fd, rights.FD_WRITE)
      if (entry.type === filetype.DIRECTORY) fail(errno.ISDIR)
      const buffers = memory.iovecs(iovs, iovsLength)
      if (entry.position !== undefined && (entry.flags & fdflags.APPEND) !== 0) {
        entry.position = fs.fstatSync(entry.hostFd, { bigint: true }).size
      }
      const count = writeBuffers(entry, buffers, entry.position ?? null)
      if (entry.position !== undefined) entry.position += BigInt(count)
      memory.setU32(nwrittenPointer, count)
    },

    fd_prestat_get(memory, fd, pointer) {
      const entry = table.get(fd)
      if (entry.preopenName === undefined) fail(errno.INVAL)
      memory.check(pointer, 8)
      memory.setU8(pointer, preopentype.DIR)
      memory.setU32(pointer + 4, utf8.encode(entry.preopenName).length)
    },

    fd_prestat_dir_name(memory, fd, pointer, length) {
      const entry = table.get(fd)
      if (entry.preopenName === undefined) fail(errno.INVAL)
      const name = utf8.encode(entry.preopenName)
      if (length < name.length) fail(errno.NOBUFS)
      memory.slice(pointer, name.length).set(name)
    },

    fd_readdir(memory, fd, buf, bufLength, cookie, bufusedPointer) {
      memory.check(bufusedPointer, 4)
      const entry = table.get(fd, rights.FD_READDIR)
      if (entry.hostPath === undefined) fail(errno.NOTDIR)
      const output = memory.slice(buf, bufLength)
      // The cookie of an entry is its index plus one; the listing is re-read on each
      // call, so cookies stay valid while the directory is unchanged.
      const names = fs.readdirSync(entry.hostPath, { withFileTypes: true })
      let used = 0
      for (let index = Number(cookie); index < names.length && used < bufLength; index++) {
        const dirent = names[index]
        const name = utf8.encode(dirent.name)
        const record = new Uint8Array(DIRENT_HEADER_SIZE + name.length)
        const view = new DataView(record.buffer)
        let inode = 0n
        try {
          inode = fs.lstatSync(path.join(entry.hostPath, dirent.name), { bigint: true }).ino
        } catch {}
        view.setBigUint64(0, BigInt(index + 1), true)
        view.setBigUint64(8, inode, true)
        view.setUint32(16, name.length, true)
        view.setUint8(20, filetypeOf(dirent))
        record.set(name, DIRENT_HEADER_SIZE)
        // A record that does not fit is cut: a full buffer tells the guest to call again.
        const fitting = Math.min(record.length, bufLength - used)
        output.set(record.subarray(0, fitting), used)
        used += fitting
      }
      memory.setU32(bufusedPointer, used)
    },

    fd_renumber(memory, from, to) {
      table.renumber(from, to)
    },

    fd_seek(memory, fd, offset, whenceValue, newOffsetPointer) {
      memory.check(newOffsetPointer, 8)
      const entry = table.get(fd, rights.FD_SEEK)
      if (entry.position === undefined) fail(entry.type === filetype.DIRECTORY ? errno.ISDIR : errno.SPIPE)
      let base
      if (whenceValue === whence.SET) base = 0n
      else if (whenceValue === whence.CUR) base = entry.position
      else if (whenceValue === whence.END) base = fs.fstatSync(entry.hostFd, { bigint: true }).size
      else fail(errno.INVAL)
      const position = base + offset
      if (position < 0n) fail(errno.INVAL)
      entry.position = position
      memory.setU64(newOffsetPointer, position)
    },

    fd_tell(memory, fd, pointer) {
      const entry = table.get(fd, rights.FD_TELL)
      if (entry.position === undefined) fail(errno.SPIPE)
      memory.setU64(pointer, entry.position)
    },

    path_create_directory(memory, fd, pathPointer, pathLength) {
      const entry = table.get(fd, rights.PATH_CREATE_DIRECTORY)
      fs.mkdirSync(hostPathIn(entry, memory.path(pathPointer, pathLength), false))
    },

    path_filestat_get(memory, fd, flags, pathPointer, pathLength, pointer) {
      const entry = table.get(fd, rights.PATH_FILESTAT_GET)
      const hostPath = hostPathIn(entry, memory.path(pathPointer, pathLength), follows(flags))
      // The path is resolved already: only a last component left unfollowed can be a link.
      writeFilestat(memory, pointer, fs.lstatSync(hostPath, { bigint: true }))
    },

    path_filestat_set_times(memory, fd, flags, pathPointer, pathLength, atim, mtim, fstFlags) {
      const entry = table.get(fd, rights.PATH_FILESTAT_SET_TIMES)
      const hostPath = hostPathIn(entry, memory.path(pathPointer, pathLength), follows(flags))
      const stat = () => fs.lstatSync(hostPath, { bigint: true })
      fs.lutimesSync(hostPath, ...requestedTimes(atim, mtim, fstFlags, stat))
    },

    path_link(memory, oldFd, oldFlags, oldPathPointer, oldPathLength, newFd, newPathPointer, newPathLength) {
      const oldEntry = table.get(oldFd, rights.PATH_LINK_SOURCE)
      const newEntry = table.get(newFd, rights.PATH_LINK_TARGET)
      const source = hostPathIn(oldEntry, memory.path(oldPathPointer, oldPathLength), follows(oldFlags))
      const target = hostPathIn(newEntry, memory.path(newPathPointer, newPathLength), false)
      fs.linkSync(source, target)
    },

    path_open(memory, fd, dirFlags, pathPointer, pathLength, oFlags, rightsBase, rightsInheriting, fdFlags, fdPointer) {
      memory.check(fdPointer, 4)
      const read = (rightsBase & (rights.FD_READ | rights.FD_READDIR)) !== 0n
      const write = (rightsBase & (rights.FD_DATASYNC | rights.FD_WRITE | rights.FD_ALLOCATE | rights.FD_FILESTAT_SET_SIZE)) !== 0n
      const { constants } = fs
      let hostFlags = write ? (read ? constants.O_RDWR : constants.O_WRONLY) : constants.O_RDONLY
      let neededBase = rights.PATH_OPEN
      let neededInheriting = rightsBase | rightsInheriting
      if (oFlags & oflags.CREAT) {
        hostFlags |= constants.O_CREAT
        neededBase |= rights.PATH_CREATE_FILE
      }
      if (oFlags & oflags.DIRECTORY) hostFlags |= constants.O_DIRECTORY
      if (oFlags & oflags.EXCL) hostFlags |= constants.O_EXCL
      if (oFlags & oflags.TRUNC) {
        hostFlags |= constants.O_TRUNC
        neededBase |= rights.PATH_FILESTAT_SET_SIZE
      }
      if (fdFlags & fdflags.DSYNC) {
        hostFlags |= constants.O_DSYNC
        neededBase |= rights.FD_DATASYNC
      }
      if (fdFlags & (fdflags.RSYNC | fdflags.SYNC)) {
        hostFlags |= constants.O_SYNC
        neededBase |= rights.FD_SYNC
      }
      if (write && (fdFlags & fdflags.APPEND) === 0 && (oFlags & oflags.TRUNC) === 0) neededInheriting |= rights.FD_SEEK
      const directory = table.get(fd, neededBase, neededInheriting)
      const follow = follows(dirFlags)
      const hostPath = hostPathIn(directory, memory.path(pathPointer, pathLength), follow)
      // Never let the host follow a link the guest did not ask to follow.
      if (!follow) hostFlags |= constants.O_NOFOLLOW
      const hostFd = fs.openSync(hostPath, hostFlags, 0o666)
      let type
      try {
        type = filetypeOf(fs.fstatSync(hostFd))
        if ((oFlags & oflags.DIRECTORY) !== 0 && type !== filetype.DIRECTORY) fail(errno.NOTDIR)
      } catch (error) {
        fs.closeSync(hostFd)
        throw error
      }
      const [maximumBase, maximumInheriting] = maximumRights(hostFd, type, { read, write })
      const newFd = table.insert({
        hostFd,
        type,
        rightsBase: rightsBase & maximumBase,
        rightsInheriting: rightsInheriting & maximumInheriting,
        flags: fdFlags & 0x1f,
        hostPath: type === filetype.DIRECTORY ? hostPath.replace(/\/$/, '') : hostPath,
      })
      memory.setU32(fdPointer, newFd)
    },

    path_readlink(memory, fd, pathPointer, pathLength, buf, bufLength, bufusedPointer) {
      memory.check(buf, bufLength)
      memory.check(bufusedPointer, 4)
      const entry = table.get(fd, rights.PATH_READLINK)
      const target = fs.readlinkSync(hostPathIn(entry, memory.path(pathPointer, pathLength), false), { encoding: 'buffer' })
      const count = Math.min(target.length, bufLength)
      memory.slice(buf, count).set(target.subarray(0, count))
      memory.setU32(bufusedPointer, count)
    },

    path_remove_directory(memory, fd, pathPointer, pathLength) {
      const entry = table.get(fd, rights.PATH_REMOVE_DIRECTORY)
      fs.rmdirSync(hostPathIn(entry, memory.path(pathPointer, pathLength), false))
    },

    path_rename(memory, fd, oldPathPointer, oldPathLength, newFd, newPathPointer, newPathLength) {
      const oldEntry = table.get(fd, rights.PATH_RENAME_SOURCE)
      const newEntry = table.get(newFd, rights.PATH_RENAME_TARGET)
      fs.renameSync(
        hostPathIn(oldEntry, memory.path(oldPathPointer, oldPathLength), false),
        hostPathIn(newEntry, memory.path(newPathPointer, newPathLength), false),
      )
    },

    path_symlink(memory, oldPathPointer, oldPathLength, fd, newPathPointer, newPathLength) {
      const entry = table.get(fd, rights.PATH_SYMLINK)
      // The link's text is stored as given: following it later is what is confined.
      const target = memory.path(oldPathPointer, oldPathLength)
      fs.symlinkSync(target, hostPathIn(entry, memory.path(newPathPointer, newPathLength), false))
    },

    path_unlink_file(memory, fd, pathPointer, pathLength) {
      const entry = table.get(fd, rights.PATH_UNLINK_FILE)
      const hostPath = hostPathIn(entry, memory.path(pathPointer, pathLength), false)
      if (hostPath.endsWith('/')) fail(errno.ISDIR)
      fs.unlinkSync(hostPath)
    },
  }
}

module.exports = { fileCalls }
