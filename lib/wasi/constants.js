'use strict'
// The numbers of WASI preview1 (wasi_snapshot_preview1.witx): errno values,
// file types, rights, flags, and the rights sets uvwasi (Node's node:wasi)
// grants each kind of file. Every other file of lib/wasi takes them from here,
// and the mapping from Node's `err.code` strings to errno lives here too.

// errno, in witx order: the index is the value.
const ERRNO_NAMES = [
  'SUCCESS', '2BIG', 'ACCES', 'ADDRINUSE', 'ADDRNOTAVAIL', 'AFNOSUPPORT', 'AGAIN', 'ALREADY', 'BADF',
  'BADMSG', 'BUSY', 'CANCELED', 'CHILD', 'CONNABORTED', 'CONNREFUSED', 'CONNRESET', 'DEADLK',
  'DESTADDRREQ', 'DOM', 'DQUOT', 'EXIST', 'FAULT', 'FBIG', 'HOSTUNREACH', 'IDRM', 'ILSEQ',
  'INPROGRESS', 'INTR', 'INVAL', 'IO', 'ISCONN', 'ISDIR', 'LOOP', 'MFILE', 'MLINK', 'MSGSIZE',
  'MULTIHOP', 'NAMETOOLONG', 'NETDOWN', 'NETRESET', 'NETUNREACH', 'NFILE', 'NOBUFS', 'NODEV', 'NOENT',
  'NOEXEC', 'NOLCK', 'NOLINK', 'NOMEM', 'NOMSG', 'NOPROTOOPT', 'NOSPC', 'NOSYS', 'NOTCONN', 'NOTDIR',
  'NOTEMPTY', 'NOTRECOVERABLE', 'NOTSOCK', 'NOTSUP', 'NOTTY', 'NXIO', 'OVERFLOW', 'OWNERDEAD', 'PERM',
  'PIPE', 'PROTO', 'PROTONOSUPPORT', 'PROTOTYPE', 'RANGE', 'ROFS', 'SPIPE', 'SRCH', 'STALE',
  'TIMEDOUT', 'TXTBSY', 'XDEV', 'NOTCAPABLE',
]
const errno = Object.freeze(Object.fromEntries(ERRNO_NAMES.map((name, value) => [name, value])))

// Node's system error codes ('ENOENT', ...) to errno: the same names with an E.
const ERRNO_BY_NODE_CODE = new Map(ERRNO_NAMES.slice(1).map((name, value) => [`E${name}`, value + 1]))
// Host codes that preview1 spells differently.
ERRNO_BY_NODE_CODE.set('EWOULDBLOCK', errno.AGAIN)
ERRNO_BY_NODE_CODE.set('EOPNOTSUPP', errno.NOTSUP)
ERRNO_BY_NODE_CODE.set('ENOTCAPABLE', errno.NOTCAPABLE)

// The errno for an error thrown by node:fs, or undefined if it is not a system error.
function errnoFromNodeError(error) {
  if (error === null || typeof error !== 'object' || typeof error.code !== 'string' || typeof error.syscall !== 'string') {
    return undefined
  }
  return ERRNO_BY_NODE_CODE.get(error.code) ?? errno.IO
}

const filetype = Object.freeze({
  UNKNOWN: 0,
  BLOCK_DEVICE: 1,
  CHARACTER_DEVICE: 2,
  DIRECTORY: 3,
  REGULAR_FILE: 4,
  SOCKET_DGRAM: 5,
  SOCKET_STREAM: 6,
  SYMBOLIC_LINK: 7,
})

// Rights bits, in witx order (bit i is the i-th right), as BigInts.
const RIGHT_NAMES = [
  'FD_DATASYNC', 'FD_READ', 'FD_SEEK', 'FD_FDSTAT_SET_FLAGS', 'FD_SYNC', 'FD_TELL', 'FD_WRITE',
  'FD_ADVISE', 'FD_ALLOCATE', 'PATH_CREATE_DIRECTORY', 'PATH_CREATE_FILE', 'PATH_LINK_SOURCE',
  'PATH_LINK_TARGET', 'PATH_OPEN', 'FD_READDIR', 'PATH_READLINK', 'PATH_RENAME_SOURCE',
  'PATH_RENAME_TARGET', 'PATH_FILESTAT_GET', 'PATH_FILESTAT_SET_SIZE', 'PATH_FILESTAT_SET_TIMES',
  'FD_FILESTAT_GET', 'FD_FILESTAT_SET_SIZE', 'FD_FILESTAT_SET_TIMES', 'PATH_SYMLINK',
  'PATH_REMOVE_DIRECTORY', 'PATH_UNLINK_FILE', 'POLL_FD_READWRITE', 'SOCK_SHUTDOWN', 'SOCK_ACCEPT',
]
const rights = Object.freeze(Object.fromEntries(RIGHT_NAMES.map((name, bit) => [name, 1n << BigInt(bit)])))
const any = (...names) => names.reduce((set, name) => set | rights[name], 0n)

// The rights uvwasi gives each file type (uvwasi's wasi_rights.h): a new descriptor
// gets at most these.
const ALL_RIGHTS = (1n << BigInt(RIGHT_NAMES.length)) - 1n
const REGULAR_FILE_BASE = any('FD_DATASYNC', 'FD_READ', 'FD_SEEK', 'FD_FDSTAT_SET_FLAGS', 'FD_SYNC', 'FD_TELL',
  'FD_WRITE', 'FD_ADVISE', 'FD_ALLOCATE', 'FD_FILESTAT_GET', 'FD_FILESTAT_SET_SIZE', 'FD_FILESTAT_SET_TIMES',
  'POLL_FD_READWRITE')
const DIRECTORY_BASE = any('FD_FDSTAT_SET_FLAGS', 'FD_SYNC', 'FD_ADVISE', 'PATH_CREATE_DIRECTORY',
  'PATH_CREATE_FILE', 'PATH_LINK_SOURCE', 'PATH_LINK_TARGET', 'PATH_OPEN', 'FD_READDIR', 'PATH_READLINK',
  'PATH_RENAME_SOURCE', 'PATH_RENAME_TARGET', 'PATH_FILESTAT_GET', 'PATH_FILESTAT_SET_SIZE',
  'PATH_FILESTAT_SET_TIMES', 'FD_FILESTAT_GET', 'FD_FILESTAT_SET_TIMES', 'PATH_SYMLINK',
  'PATH_REMOVE_DIRECTORY', 'PATH_UNLINK_FILE', 'POLL_FD_READWRITE')
const SOCKET_BASE = any('FD_READ', 'FD_FDSTAT_SET_FLAGS', 'FD_WRITE', 'FD_FILESTAT_GET', 'POLL_FD_READWRITE',
  'SOCK_SHUTDOWN', 'SOCK_ACCEPT')
const TTY_BASE = any('FD_READ', 'FD_FDSTAT_SET_FLAGS', 'FD_WRITE', 'FD_FILESTAT_GET', 'POLL_FD_READWRITE')

// [base, inheriting] per file type; a terminal is a character device with TTY rights.
const RIGHTS_BY_FILETYPE = new Map([
  [filetype.REGULAR_FILE, [REGULAR_FILE_BASE, 0n]],
  [filetype.DIRECTORY, [DIRECTORY_BASE, DIRECTORY_BASE | REGULAR_FILE_BASE]],
  [filetype.SOCKET_STREAM, [SOCKET_BASE, ALL_RIGHTS]],
  [filetype.SOCKET_DGRAM, [SOCKET_BASE, ALL_RIGHTS]],
  [filetype.CHARACTER_DEVICE, [ALL_RIGHTS, ALL_RIGHTS]],
  [filetype.BLOCK_DEVICE, [ALL_RIGHTS, ALL_RIGHTS]],
])
const TTY_RIGHTS = [TTY_BASE, 0n]

const fdflags = Object.freeze({ APPEND: 1, DSYNC: 2, NONBLOCK: 4, RSYNC: 8, SYNC: 16 })
const oflags = Object.freeze({ CREAT: 1, DIRECTORY: 2, EXCL: 4, TRUNC: 8 })
const lookupflags = Object.freeze({ SYMLINK_FOLLOW: 1 })
const fstflags = Object.freeze({ ATIM: 1, ATIM_NOW: 2, MTIM: 4, MTIM_NOW: 8 })
const whence = Object.freeze({ SET: 0, CUR: 1, END: 2 })
const clockid = Object.freeze({ REALTIME: 0, MONOTONIC: 1, PROCESS_CPUTIME_ID: 2, THREAD_CPUTIME_ID: 3 })
const eventtype = Object.freeze({ CLOCK: 0, FD_READ: 1, FD_WRITE: 2 })
const subclockflags = Object.freeze({ ABSTIME: 1 })
const sdflags = Object.freeze({ RD: 1, WR: 2 })
const preopentype = Object.freeze({ DIR: 0 })

// preview1 signal numbers (the index) to Node's signal names; SIGNONE is 0.
const SIGNAL_NAMES = [
  undefined, 'SIGHUP', 'SIGINT', 'SIGQUIT', 'SIGILL', 'SIGTRAP', 'SIGABRT', 'SIGBUS', 'SIGFPE', 'SIGKILL',
  'SIGUSR1', 'SIGSEGV', 'SIGUSR2', 'SIGPIPE', 'SIGALRM', 'SIGTERM', 'SIGCHLD', 'SIGCONT', 'SIGSTOP',
  'SIGTSTP', 'SIGTTIN', 'SIGTTOU', 'SIGURG', 'SIGXCPU', 'SIGXFSZ', 'SIGVTALRM', 'SIGPROF', 'SIGWINCH',
  'SIGPOLL', 'SIGPWR', 'SIGSYS',
]

module.exports = {
  errno,
  errnoFromNodeError,
  filetype,
  rights,
  ALL_RIGHTS,
  RIGHTS_BY_FILETYPE,
  TTY_RIGHTS,
  fdflags,
  oflags,
  lookupflags,
  fstflags,
  whence,
  clockid,
  eventtype,
  subclockflags,
  sdflags,
  preopentype,
  SIGNAL_NAMES,
}
