// heron.WASI keeps every path inside the directory descriptor it is resolved from:
// `..` cannot rise above it, absolute paths are refused, and symlinks are resolved
// by heron (never by the host) with the same rules, so a link to / or outside,
// absolute or relative, created by the host or by the guest, leads nowhere. uvwasi
// lets the host follow symlinks in the middle of a path, so these tests run on
// heron.WASI only. Also here: socket calls on descriptors that are not sockets.
import { describe, test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { createRequire } from 'node:module'
import { Guest, errno, oflags, rights } from './fixtures/wasi-guest.mjs'

const require = createRequire(import.meta.url)
const onV8Only = process.env.HERON_TEST_ONLY === 'v8'
const engine = onV8Only ? WebAssembly : require('../index.js')
const { WASI } = onV8Only ? require('../lib/wasi/index.js') : engine

describe('WASI confinement', () => {
  let top
  let guest
  before(() => {
    // top/outside/secret.txt is what the guest must never reach; top/root is its "/".
    top = fs.mkdtempSync(path.join(os.tmpdir(), 'heron-wasi-confinement-'))
    const root = path.join(top, 'root')
    fs.mkdirSync(path.join(top, 'outside'))
    fs.writeFileSync(path.join(top, 'outside', 'secret.txt'), 'secret')
    fs.mkdirSync(path.join(root, 'a', 'b'), { recursive: true })
    fs.writeFileSync(path.join(root, 'file.txt'), 'inside')
    fs.symlinkSync('/etc', path.join(root, 'etc'))
    fs.symlinkSync('..', path.join(root, 'up'))
    fs.symlinkSync('../../outside', path.join(root, 'a', 'out'))
    fs.symlinkSync('loop2', path.join(root, 'loop1'))
    fs.symlinkSync('loop1', path.join(root, 'loop2'))
    fs.symlinkSync('a/b', path.join(root, 'inside-link'))
    fs.symlinkSync('../file.txt', path.join(root, 'a', 'file-link'))
    fs.symlinkSync(path.join(root, 'file.txt'), path.join(root, 'absolute-inside'))
    fs.symlinkSync('../outside/created.txt', path.join(root, 'dangling'))
    const wasi = new WASI({ version: 'preview1', preopens: { '/': root } })
    const memory = new engine.Memory({ initial: 1 })
    wasi.initialize({ exports: { memory } })
    guest = new Guest(wasi, memory)
  })
  after(() => fs.rmSync(top, { recursive: true, force: true }))

  const escapes = {
    '../outside/secret.txt': errno.NOTCAPABLE,
    'a/../../outside/secret.txt': errno.NOTCAPABLE,
    'a/b/../../../outside/secret.txt': errno.NOTCAPABLE,
    '/etc/passwd': errno.NOTCAPABLE,
    'etc/passwd': errno.NOTCAPABLE, // etc -> /etc
    'up/outside/secret.txt': errno.NOTCAPABLE, // up -> ..
    'a/out/secret.txt': errno.NOTCAPABLE, // a/out -> ../../outside
    'loop1': errno.LOOP,
    'loop1/x': errno.LOOP,
    'absolute-inside': errno.NOTCAPABLE, // an absolute target is refused even when it points inside
  }

  for (const [guestPath, expected] of Object.entries(escapes)) {
    test(`${guestPath} cannot be opened or inspected`, () => {
      assert.equal(guest.open(3, guestPath, { base: rights.FD_READ })[0], expected)
      assert.equal(guest.stat(3, guestPath, true)[0], expected)
    })
  }

  test('paths that stay inside work, through .. and symlinks alike', () => {
    for (const guestPath of ['file.txt', './file.txt', 'a/../file.txt', 'a/b/../../file.txt', 'inside-link/../../file.txt', 'a/file-link']) {
      const [code, fd] = guest.open(3, guestPath, { base: rights.FD_READ })
      assert.equal(code, errno.SUCCESS, guestPath)
      assert.deepEqual(guest.read(fd, 16), [0, 'inside'], guestPath)
      assert.equal(guest.call.fd_close(fd), 0)
    }
    assert.deepEqual(guest.stat(3, 'inside-link', true), [0, { filetype: 3, size: guest.stat(3, 'a/b')[1].size }])
  })

  test('without symlink_follow the last component is the link itself, and opening it is ELOOP', () => {
    assert.equal(guest.stat(3, 'etc', false)[1].filetype, 7)
    assert.equal(guest.open(3, 'etc', { base: rights.FD_READ, follow: false })[0], errno.LOOP)
  })

  test('a directory descriptor is a root too: .. cannot rise above it', () => {
    const [code, directory] = guest.open(3, 'a', { oflags: oflags.DIRECTORY, base: rights.FD_READDIR | rights.PATH_OPEN })
    assert.equal(code, 0)
    assert.equal(guest.open(directory, 'b', { oflags: oflags.DIRECTORY, base: rights.FD_READDIR })[0], errno.SUCCESS)
    assert.equal(guest.open(directory, '../file.txt', { base: rights.FD_READ })[0], errno.NOTCAPABLE)
    assert.equal(guest.open(directory, 'file-link', { base: rights.FD_READ })[0], errno.NOTCAPABLE)
    assert.equal(guest.open(directory, 'b/..', { oflags: oflags.DIRECTORY, base: rights.FD_READDIR })[0], errno.SUCCESS)
  })

  test('a link the guest creates to outside can be created and read, but not followed', () => {
    assert.equal(guest.call.path_symlink(...guest.string('../outside/secret.txt'), 3, ...guest.string('made')), 0)
    assert.equal(guest.call.path_symlink(...guest.string('/etc/passwd'), 3, ...guest.string('made-absolute')), 0)
    const target = guest.alloc(64)
    const used = guest.alloc(4)
    assert.equal(guest.call.path_readlink(3, ...guest.string('made'), target, 64, used), 0)
    assert.equal(guest.text(target, guest.u32(used)), '../outside/secret.txt')
    for (const link of ['made', 'made-absolute']) {
      assert.equal(guest.open(3, link, { base: rights.FD_READ })[0], errno.NOTCAPABLE, link)
      assert.equal(guest.stat(3, link, true)[0], errno.NOTCAPABLE, link)
      // Nor can a hard link to its target be made through it.
      assert.equal(guest.call.path_link(3, 1, ...guest.string(link), 3, ...guest.string(`${link}-hard`)), errno.NOTCAPABLE, link)
    }
  })

  test('creating, renaming and removing outside is refused too', () => {
    assert.equal(guest.call.path_create_directory(3, ...guest.string('../made-outside')), errno.NOTCAPABLE)
    assert.equal(guest.call.path_create_directory(3, ...guest.string('up/made-outside')), errno.NOTCAPABLE)
    assert.equal(guest.open(3, 'a/out/new.txt', { oflags: oflags.CREAT, base: rights.FD_WRITE })[0], errno.NOTCAPABLE)
    assert.equal(guest.call.path_rename(3, ...guest.string('file.txt'), 3, ...guest.string('../stolen.txt')), errno.NOTCAPABLE)
    assert.equal(guest.call.path_unlink_file(3, ...guest.string('a/out/secret.txt')), errno.NOTCAPABLE)
    // A dangling link to outside: creating through it is refused, followed or not.
    assert.equal(guest.open(3, 'dangling', { oflags: oflags.CREAT, base: rights.FD_WRITE })[0], errno.NOTCAPABLE)
    assert.equal(guest.open(3, 'dangling', { oflags: oflags.CREAT, base: rights.FD_WRITE, follow: false })[0], errno.LOOP)
    assert.deepEqual(fs.readdirSync(top).sort(), ['outside', 'root'])
    assert.deepEqual(fs.readdirSync(path.join(top, 'outside')), ['secret.txt'])
    assert.equal(fs.readFileSync(path.join(top, 'root', 'file.txt'), 'utf8'), 'inside')
  })

  test('the empty path is ENOENT, a NUL byte EINVAL, invalid UTF-8 EILSEQ', () => {
    assert.equal(guest.open(3, '')[0], errno.NOENT)
    assert.equal(guest.open(3, 'file.txt\0../x')[0], errno.INVAL)
    const pointer = guest.alloc(2)
    guest.bytes.set([0xff, 0xfe], pointer)
    const fd = guest.alloc(4)
    assert.equal(guest.call.path_open(3, 1, pointer, 2, 0, rights.FD_READ, 0n, 0, fd), 25)
  })

  test('sockets: a descriptor that is not a socket is ENOTSOCK, a missing one EBADF', () => {
    assert.equal(guest.call.sock_shutdown(1, 1), errno.NOTSOCK)
    assert.equal(guest.call.sock_shutdown(99, 1), errno.BADF)
    assert.equal(guest.call.sock_shutdown(1, 4), errno.INVAL)
    assert.equal(guest.call.sock_accept(3, 0, guest.alloc(4)), errno.NOTSOCK)
    assert.equal(guest.call.sock_accept(99, 0, guest.alloc(4)), errno.BADF)
    assert.equal(guest.call.sock_recv(1, 0, 0, 0, guest.alloc(4), guest.alloc(4)), errno.NOTSOCK)
    assert.equal(guest.call.sock_send(1, 0, 0, 0, guest.alloc(4)), errno.NOTSOCK)
  })
})
