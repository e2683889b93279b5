'use strict'
// Confinement: turns a guest path, relative to a directory descriptor, into a host
// path that cannot lie outside that directory. The path is walked one component at a
// time: an absolute path is refused, `..` may never rise above the directory, and every
// symlink met on the way (and at the end, when the call follows symlinks) is read with
// readlink and its target walked the same way, so that the host never follows a link
// itself: an absolute target or one that climbs out is refused, and more than 32 links
// (uvwasi's limit) is ELOOP. The result contains no symlink except possibly its last
// component when the call does not follow it (the host calls then act on the link).

const fs = require('node:fs')
const path = require('node:path')
const { errno, errnoFromNodeError } = require('./constants.js')
const { WasiErrno } = require('./wasi-errno.js')

const MAX_SYMLINK_FOLLOWS = 32

// `base` is the directory's host path (without symlinks); `followFinal` says whether
// a symlink as the last component is followed (lookupflags.SYMLINK_FOLLOW).
function resolveConfined(base, guestPath, followFinal) {
  if (guestPath.length === 0) throw new WasiErrno(errno.NOENT)
  if (guestPath.startsWith('/')) throw new WasiErrno(errno.NOTCAPABLE)
  // "dir/" names a directory: its last component is followed and must be one.
  const mustBeDirectory = guestPath.endsWith('/')
  // Components still to walk, the next one last.
  const pending = guestPath.split('/').reverse()
  // Components below `base` walked so far; none is a symlink.
  const walked = []
  let follows = 0
  while (pending.length > 0) {
    const component = pending.pop()
    if (component === '' || component === '.') continue
    if (component === '..') {
      if (walked.length === 0) throw new WasiErrno(errno.NOTCAPABLE)
      walked.pop()
      continue
    }
    const isLast = pending.every((rest) => rest === '' || rest === '.')
    if (isLast && !followFinal && !mustBeDirectory) {
      walked.push(component)
      continue
    }
    const hostPath = path.join(base, ...walked, component)
    let stats
    try {
      stats = fs.lstatSync(hostPath)
    } catch (error) {
      // A missing last component is fine: the call may be about to create it.
      if (isLast && error.code === 'ENOENT') {
        walked.push(component)
        continue
      }
      throw new WasiErrno(errnoFromNodeError(error) ?? errno.IO)
    }
    if (stats.isSymbolicLink()) {
      if (++follows > MAX_SYMLINK_FOLLOWS) throw new WasiErrno(errno.LOOP)
      const target = fs.readlinkSync(hostPath)
      if (target.startsWith('/')) throw new WasiErrno(errno.NOTCAPABLE)
      if (target.length === 0) throw new WasiErrno(errno.NOENT)
      pending.push(...target.split('/').reverse())
      continue
    }
    if (!isLast && !stats.isDirectory()) throw new WasiErrno(errno.NOTDIR)
    walked.push(component)
  }
  const resolved = path.join(base, ...walked)
  // Keep the trailing slash, so the host reports ENOTDIR if the result is not a directory.
  return mustBeDirectory && walked.length > 0 ? `${resolved}/` : resolved
}

module.exports = { resolveConfined, MAX_SYMLINK_FOLLOWS }
