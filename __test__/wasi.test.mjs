// heron.WASI against Node's node:wasi: the same options, methods, errors and preview1
// results. Each behaviour that node:wasi has runs on both (heron.WASI on heron's
// memories, node:wasi on V8's) and the tests compare; behaviours where heron is
// deliberately stricter (confinement, sockets) are in wasi-confinement.test.mjs.
// HERON_TEST_ONLY=v8 runs heron.WASI on V8's memories (no binding needed).
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { createRequire } from 'node:module'
import { fileURLToPath } from 'node:url'
import { wat } from './fixtures/wat.mjs'
import { Guest, errno, oflags, rights } from './fixtures/wasi-guest.mjs'

const require = createRequire(import.meta.url)
const { WASI: NodeWASI } = require('node:wasi')
const v8 = WebAssembly
const onV8Only = process.env.HERON_TEST_ONLY === 'v8'
const heron = onV8Only ? undefined : require('../index.js')
const HeronWASI = onV8Only ? require('../lib/wasi/index.js').WASI : heron.WASI
const heronEngine = onV8Only ? v8 : heron
const runner = fileURLToPath(new URL('./fixtures/wasi-run.cjs', import.meta.url))

// [name, WASI class, the WebAssembly it runs on]
const implementations = [['heron', HeronWASI, heronEngine], ['node:wasi', NodeWASI, v8]]

// The error a function throws, as the fields Node users look at.
function thrown(work) {
  try {
    work()
  } catch (error) {
    return { name: error?.name, code: error?.code, message: error?.message }
  }
  return 'nothing thrown'
}

// A WASI object bound to a fresh memory, ready for calls from JS.
function reactor(WASI, engine, options = {}) {
  const wasi = new WASI({ version: 'preview1', ...options })
  const memory = new engine.Memory({ initial: 1, maximum: 4 })
  wasi.initialize({ exports: { memory } })
  return new Guest(wasi, memory)
}

function temporaryDirectory(t) {
  const directory = fs.mkdtempSync(path.join(os.tmpdir(), 'heron-wasi-'))
  t.after(() => fs.rmSync(directory, { recursive: true, force: true }))
  return directory
}

const writeHello = wat(`(module
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $proc_exit (param i32)))
  (memory (export "memory") 1)
  (data (i32.const 16) "hello, wasi\\n")
  (func (export "_start")
    (i32.store (i32.const 0) (i32.const 16))
    (i32.store (i32.const 4) (i32.const 12))
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))
    (call $proc_exit (i32.const 7))
    unreachable))`)

const reactorModule = wat(`(module
  (memory (export "memory") 1)
  (global $ready (mut i32) (i32.const 0))
  (func (export "_initialize") (global.set $ready (i32.const 1)))
  (func (export "ready") (result i32) (global.get $ready)))`)

describe('heron.WASI', () => {
  test('is a non-enumerable member of the namespace', { skip: onV8Only }, () => {
    const descriptor = Object.getOwnPropertyDescriptor(heron, 'WASI')
    assert.equal(descriptor.enumerable, false)
    assert.equal(typeof heron.WASI, 'function')
  })

  test('the constructor validates its options as node:wasi does', () => {
    const cases = [
      undefined, null, 1, [], {}, { version: 1 }, { version: 'preview2' },
      { version: 'preview1', args: 'a' }, { version: 'preview1', args: {} },
      { version: 'preview1', env: 1 }, { version: 'preview1', env: [] },
      { version: 'preview1', preopens: 'x' },
      { version: 'preview1', stdin: -1 }, { version: 'preview1', stdout: 1.5 }, { version: 'preview1', stderr: '2' },
      { version: 'preview1', returnOnExit: 1 },
      { version: 'preview1', preopens: { '/': '/nonexistent/heron-wasi' } },
    ]
    for (const options of cases) {
      assert.deepEqual(thrown(() => new HeronWASI(options)), thrown(() => new NodeWASI(options)), `options ${JSON.stringify(options)}`)
    }
  })

  test('wasiImport has every preview1 function, with its parameter count', () => {
    const ours = new HeronWASI({ version: 'preview1' })
    const nodes = new NodeWASI({ version: 'preview1' })
    assert.deepEqual(Object.keys(ours.wasiImport).sort(), Object.keys(nodes.wasiImport).sort())
    for (const name of Object.keys(nodes.wasiImport)) {
      assert.equal(ours.wasiImport[name].length, nodes.wasiImport[name].length, name)
    }
    assert.deepEqual(Object.keys(ours), ['wasiImport'])
    assert.deepEqual(Object.keys(ours.getImportObject()), ['wasi_snapshot_preview1'])
    assert.equal(ours.getImportObject().wasi_snapshot_preview1, ours.wasiImport)
    assert.deepEqual(Object.keys(new HeronWASI({ version: 'unstable' }).getImportObject()), ['wasi_unstable'])
  })

  // Node 20 and 22 count a WASI as started before checking the instance, so after a bad
  // instance or memory a second call fails with ERR_WASI_ALREADY_STARTED; Node 24 and later
  // (where finalizeBindings is public) check them first and fail the same way again, as
  // heron.WASI does on every Node. The exports start() and initialize() check come after.
  const nodeCountsStartedFirst = typeof NodeWASI.prototype.finalizeBindings !== 'function'

  test('start() and initialize() check the instance as node:wasi does, and run once', () => {
    for (const [method, exports, badBinding] of [
      ['start', undefined, true], ['start', { exports: 1 }, true], ['start', { exports: {} }, true],
      ['start', { exports: { memory: {} } }, true],
      ['start', { exports: { memory: 'memory' } }], ['start', { exports: { memory: 'memory', _start() {}, _initialize() {} } }],
      ['initialize', { exports: { memory: 'memory', _start() {} } }], ['initialize', { exports: { memory: 'memory', _initialize: 1 } }],
    ]) {
      const [heron, node] = implementations.map(([, WASI, engine]) => {
        const instance = exports?.exports?.memory === 'memory'
          ? { exports: { ...exports.exports, memory: new engine.Memory({ initial: 1 }) } }
          : exports
        const wasi = new WASI({ version: 'preview1' })
        return [thrown(() => wasi[method](instance)), thrown(() => wasi[method](instance))]
      })
      const label = `${method}(${JSON.stringify(exports)})`
      if (badBinding && nodeCountsStartedFirst) {
        assert.equal(node[1].code, 'ERR_WASI_ALREADY_STARTED', label)
        assert.deepEqual(heron, [node[0], node[0]], label)
      } else {
        assert.deepEqual(heron, node, label)
      }
    }
  })

  test('initialize() runs _initialize once; a second start or initialize fails', () => {
    for (const [, WASI, engine] of implementations) {
      const instance = new engine.Instance(new engine.Module(reactorModule), {})
      const wasi = new WASI({ version: 'preview1' })
      assert.equal(wasi.initialize(instance), undefined)
      assert.equal(instance.exports.ready(), 1)
      assert.equal(thrown(() => wasi.initialize(instance)).code, 'ERR_WASI_ALREADY_STARTED')
      assert.equal(thrown(() => wasi.start(instance)).code, 'ERR_WASI_ALREADY_STARTED')
    }
  })

  test('calls before start throw ERR_WASI_NOT_STARTED; bad arguments are EINVAL; out of bounds is EOVERFLOW', () => {
    for (const [name, WASI, engine] of implementations) {
      const unstarted = new WASI({ version: 'preview1' })
      assert.equal(thrown(() => unstarted.wasiImport.fd_write(1, 0, 0, 0)).code, 'ERR_WASI_NOT_STARTED', name)
      assert.equal(unstarted.wasiImport.fd_write(1, 0), errno.INVAL, name)
      const guest = reactor(WASI, engine)
      assert.equal(guest.call.clock_time_get(0, 0, 0), errno.INVAL, name)
      assert.equal(guest.call.clock_time_get(0, 0n, 0), errno.SUCCESS, name)
      assert.equal(guest.call.fd_write('1', 0, 0, 0), errno.INVAL, name)
      assert.equal(guest.call.args_sizes_get(65535, 0), errno.OVERFLOW, name)
      assert.equal(guest.call.fd_prestat_get(1, 0), errno.INVAL, name)
      assert.equal(guest.call.fd_prestat_get(99, 0), errno.BADF, name)
      assert.equal(guest.call.clock_res_get(9, 0), errno.INVAL, name)
    }
  })

  test('args and environ reach the guest as node:wasi passes them', () => {
    const options = { args: ['prog', 'ünï', 3], env: { A: 'x=y', B: undefined, EMPTY: '' } }
    const results = implementations.map(([, WASI, engine]) => {
      const guest = reactor(WASI, engine, options)
      const read = (sizes, get) => {
        const count = guest.alloc(4)
        const size = guest.alloc(4)
        assert.equal(guest.call[sizes](count, size), 0)
        const list = guest.alloc(4 * guest.u32(count))
        const buffer = guest.alloc(guest.u32(size))
        assert.equal(guest.call[get](list, buffer), 0)
        return { size: guest.u32(size), text: guest.text(buffer, guest.u32(size)) }
      }
      return [read('args_sizes_get', 'args_get'), read('environ_sizes_get', 'environ_get')]
    })
    assert.deepEqual(results[0], results[1])
    assert.equal(results[0][1].text, 'A=x=y\0EMPTY=\0')
  })

  test('clocks: monotonic time advances, realtime is the wall clock, resolutions are reported', () => {
    for (const [name, WASI, engine] of implementations) {
      const guest = reactor(WASI, engine)
      const time = (id) => {
        const pointer = guest.alloc(8)
        assert.equal(guest.call.clock_time_get(id, 1n, pointer), 0, name)
        return guest.u64(pointer)
      }
      const first = time(1)
      assert.ok(time(1) >= first, name)
      const wall = BigInt(Date.now()) * 1000000n
      const realtime = time(0)
      assert.ok(realtime > wall - 1000000000n && realtime < wall + 1000000000n, name)
      assert.ok(time(2) > 0n && time(3) > 0n, name)
      for (const id of [0, 1, 2, 3]) {
        const pointer = guest.alloc(8)
        assert.equal(guest.call.clock_res_get(id, pointer), 0, name)
        assert.ok(guest.u64(pointer) > 0n, name)
      }
    }
  })

  test('random_get fills the buffer', () => {
    for (const [name, WASI, engine] of implementations) {
      const guest = reactor(WASI, engine)
      const pointer = guest.alloc(256)
      assert.equal(guest.call.random_get(pointer, 256), 0, name)
      assert.ok(guest.bytes.subarray(pointer, pointer + 256).some((byte) => byte !== 0), name)
      assert.equal(guest.call.random_get(pointer, 0), 0, name)
    }
  })

  test('poll_oneoff sleeps for a relative clock subscription and reports it', () => {
    for (const [name, WASI, engine] of implementations) {
      const guest = reactor(WASI, engine)
      const subscription = guest.alloc(48)
      const view = guest.view
      view.setBigUint64(subscription, 0x1234n, true)
      view.setUint8(subscription + 8, 0) // clock
      view.setUint32(subscription + 16, 1, true) // monotonic
      view.setBigUint64(subscription + 24, 30000000n, true) // 30 ms
      const event = guest.alloc(32)
      const count = guest.alloc(4)
      const started = process.hrtime.bigint()
      assert.equal(guest.call.poll_oneoff(subscription, event, 1, count), 0, name)
      assert.ok(process.hrtime.bigint() - started >= 29000000n, name)
      assert.equal(guest.u32(count), 1, name)
      assert.equal(guest.u64(event), 0x1234n, name)
      assert.equal(guest.view.getUint16(event + 8, true), 0, name)
    }
  })

  test('the same file-system calls give the same results as node:wasi', (t) => {
    const results = implementations.map(([, WASI, engine]) => {
      const root = temporaryDirectory(t)
      fs.mkdirSync(path.join(root, 'sub'))
      fs.writeFileSync(path.join(root, 'sub', 'existing.txt'), 'existing')
      const guest = reactor(WASI, engine, { preopens: { '/sandbox': root } })
      const log = []
      const record = (label, value) => log.push([label, value])
      const prestat = guest.alloc(8)
      record('prestat', [guest.call.fd_prestat_get(3, prestat), guest.u32(prestat + 4)])
      const name = guest.alloc(16)
      record('prestat name', [guest.call.fd_prestat_dir_name(3, name, 16), guest.text(name, 8)])
      const [created, fd] = guest.open(3, 'sub/new.txt', { oflags: oflags.CREAT | oflags.EXCL })
      record('create', created)
      record('create again', guest.open(3, 'sub/new.txt', { oflags: oflags.CREAT | oflags.EXCL })[0])
      record('write', guest.write(fd, 'hello world'))
      record('seek', guest.seek(fd, 6n, 0))
      record('read', guest.read(fd, 100))
      record('tell at end', guest.seek(fd, 0n, 1))
      record('seek from end', guest.seek(fd, -5n, 2))
      record('seek before start', guest.seek(fd, -100n, 1)[0])
      record('stat', guest.stat(3, 'sub/new.txt'))
      record('stat dir', guest.stat(3, 'sub'))
      record('stat missing', guest.stat(3, 'sub/missing')[0])
      record('close', guest.call.fd_close(fd))
      record('closed', guest.write(fd, 'x')[0])
      const [, readOnly] = guest.open(3, 'sub/existing.txt', { base: rights.FD_READ | rights.FD_SEEK })
      record('write without the right', guest.write(readOnly, 'x')[0])
      record('read with the right', guest.read(readOnly, 3))
      record('open file as directory', guest.open(3, 'sub/existing.txt', { oflags: oflags.DIRECTORY })[0])
      record('open missing', guest.open(3, 'nope/file')[0])
      record('mkdir', guest.call.path_create_directory(3, ...guest.string('sub/dir')))
      record('mkdir again', guest.call.path_create_directory(3, ...guest.string('sub/dir')))
      record('rename', guest.call.path_rename(3, ...guest.string('sub/new.txt'), 3, ...guest.string('sub/dir/moved.txt')))
      record('rmdir not empty', guest.call.path_remove_directory(3, ...guest.string('sub/dir')))
      record('unlink dir', guest.call.path_unlink_file(3, ...guest.string('sub/dir')))
      record('symlink', guest.call.path_symlink(...guest.string('dir/moved.txt'), 3, ...guest.string('sub/link')))
      const target = guest.alloc(64)
      const used = guest.alloc(4)
      record('readlink', [guest.call.path_readlink(3, ...guest.string('sub/link'), target, 64, used), guest.text(target, guest.u32(used))])
      record('stat link, nofollow', guest.stat(3, 'sub/link', false)[1].filetype)
      record('stat link, follow', guest.stat(3, 'sub/link', true)[1])
      const [, directory] = guest.open(3, 'sub', { oflags: oflags.DIRECTORY, base: rights.FD_READDIR })
      record('readdir', guest.readdir(directory).map((value) => (Array.isArray(value) ? value.sort() : value)))
      record('read a directory', guest.read(directory, 4)[0])
      record('unlink', guest.call.path_unlink_file(3, ...guest.string('sub/dir/moved.txt')))
      record('rmdir', guest.call.path_remove_directory(3, ...guest.string('sub/dir')))
      record('fdstat of a preopen', (() => {
        const pointer = guest.alloc(24)
        return [guest.call.fd_fdstat_get(3, pointer), guest.bytes[pointer], guest.u64(pointer + 8), guest.u64(pointer + 16)]
      })())
      record('stdio types and rights', [0, 1, 2].map((stdioFd) => {
        const pointer = guest.alloc(24)
        return [guest.call.fd_fdstat_get(stdioFd, pointer), guest.bytes[pointer], guest.u64(pointer + 8), guest.u64(pointer + 16)]
      }))
      record('errors', [
        guest.call.fd_seek(1, 0n, 1, guest.alloc(8)), guest.call.fd_tell(1, guest.alloc(8)),
        guest.call.proc_raise(99), guest.call.fd_readdir(1, 0, 0, 0n, 0), guest.call.fd_advise(1, 0n, 0n, 9),
        guest.call.fd_allocate(1, 0n, 1n), guest.call.fd_renumber(1, 99), guest.call.fd_close(99),
      ])
      record('renumber', [guest.call.fd_renumber(readOnly, directory), guest.read(directory, 3), guest.read(readOnly, 1)[0]])
      return log
    })
    assert.deepEqual(results[0], results[1])
    // And the results are the right ones, not a failure both share.
    const log = new Map(results[0])
    assert.deepEqual(log.get('prestat name'), [0, '/sandbox'])
    assert.equal(log.get('create'), errno.SUCCESS)
    assert.equal(log.get('create again'), errno.EXIST)
    assert.deepEqual(log.get('read'), [0, 'world'])
    assert.deepEqual(log.get('tell at end'), [0, 11n])
    assert.deepEqual(log.get('seek from end'), [0, 6n])
    assert.deepEqual(log.get('stat'), [0, { filetype: 4, size: 11n }])
    assert.equal(log.get('closed'), errno.BADF)
    assert.equal(log.get('write without the right'), errno.NOTCAPABLE)
    assert.deepEqual(log.get('read with the right'), [0, 'exi'])
    assert.equal(log.get('open file as directory'), errno.NOTDIR)
    assert.equal(log.get('rmdir not empty'), errno.NOTEMPTY)
    assert.deepEqual(log.get('readlink'), [0, 'dir/moved.txt'])
    assert.equal(log.get('stat link, nofollow'), 7)
    assert.deepEqual(log.get('stat link, follow'), { filetype: 4, size: 11n })
    assert.deepEqual(log.get('readdir'), [0, ['dir', 'existing.txt', 'link']])
    assert.equal(log.get('rmdir'), errno.SUCCESS)
    assert.deepEqual(log.get('renumber'), [0, [0, 'sti'], errno.BADF])
  })

  test('sizes, times, append, positional I/O and links give the same results as node:wasi', (t) => {
    const results = implementations.map(([, WASI, engine]) => {
      const guest = reactor(WASI, engine, { preopens: { sandbox: temporaryDirectory(t) } })
      const log = []
      const record = (label, value) => log.push([label, value])
      const stat = guest.alloc(64)
      const [, fd] = guest.open(3, 'f.txt', { oflags: oflags.CREAT, fdflags: 1 })
      record('append', [guest.write(fd, 'abc'), guest.seek(fd, 0n, 0), guest.write(fd, 'def'), guest.seek(fd, 0n, 1)])
      record('set size', [guest.call.fd_filestat_set_size(fd, 10n), guest.call.fd_filestat_get(fd, stat), guest.u64(stat + 32)])
      record('set times', [guest.call.fd_filestat_set_times(fd, 5000000000n, 7000000000n, 1 | 4), guest.call.fd_filestat_get(fd, stat), guest.u64(stat + 40), guest.u64(stat + 48)])
      record('set mtime by path', [guest.call.path_filestat_set_times(3, 0, ...guest.string('f.txt'), 0n, 9000000000n, 4), guest.call.fd_filestat_get(fd, stat), guest.u64(stat + 40), guest.u64(stat + 48)])
      record('set time and now', guest.call.fd_filestat_set_times(fd, 0n, 0n, 1 | 2))
      record('drop rights', [guest.call.fd_fdstat_set_rights(fd, rights.FD_READ, 0n), guest.write(fd, 'x')[0], guest.call.fd_fdstat_set_rights(fd, rights.FD_READ | rights.FD_WRITE, 0n)])
      const [, other] = guest.open(3, 'g.txt', { oflags: oflags.CREAT })
      const count = guest.alloc(4)
      const [text, length] = guest.string('hello')
      const iovec = guest.alloc(8)
      guest.view.setUint32(iovec, text, true)
      guest.view.setUint32(iovec + 4, length, true)
      record('pwrite', [guest.call.fd_pwrite(other, iovec, 1, 3n, count), guest.u32(count), guest.seek(other, 0n, 1)])
      record('pread', [guest.call.fd_pread(other, iovec, 1, 4n, count), guest.u32(count), guest.text(text, 4)])
      record('link', [guest.call.path_link(3, 0, ...guest.string('g.txt'), 3, ...guest.string('h.txt')), guest.stat(3, 'h.txt')])
      record('sync, allocate', [guest.call.fd_datasync(other), guest.call.fd_sync(other), guest.call.fd_allocate(other, 0n, 100n), guest.stat(3, 'g.txt')])
      record('truncate on open', [guest.open(3, 'g.txt', { oflags: oflags.TRUNC })[0], guest.stat(3, 'g.txt')])
      record('result pointer out of bounds', [guest.call.path_open(3, 1, ...guest.string('new'), oflags.CREAT, rights.FD_READ, 0n, 0, 999999), guest.stat(3, 'new')[0]])
      return log
    })
    assert.deepEqual(results[0], results[1])
    const log = new Map(results[0])
    assert.deepEqual(log.get('append'), [[0, 3], [0, 0n], [0, 3], [0, 6n]])
    assert.deepEqual(log.get('set mtime by path'), [0, 0, 5000000000n, 9000000000n])
    assert.deepEqual(log.get('pread'), [0, 4, 'ello'])
    assert.deepEqual(log.get('result pointer out of bounds'), [errno.OVERFLOW, errno.NOENT])
  })

  test('preopened directories are named exactly as given', () => {
    const names = ['/', '/a/', 'a/../b', './x', 'x/./y', '.', '']
    const results = implementations.map(([, WASI, engine]) => {
      const guest = reactor(WASI, engine, { preopens: Object.fromEntries(names.map((name) => [name, os.tmpdir()])) })
      return names.map((_, i) => {
        const prestat = guest.alloc(8)
        const code = guest.call.fd_prestat_get(3 + i, prestat)
        const buffer = guest.alloc(64)
        guest.call.fd_prestat_dir_name(3 + i, buffer, guest.u32(prestat + 4))
        return [code, guest.text(buffer, guest.u32(prestat + 4))]
      })
    })
    assert.deepEqual(results[0], results[1])
    assert.deepEqual(results[0].map(([, name]) => name), names)
  })

  test('start() returns the code given to proc_exit, after the output', () => {
    for (const [name, WASI, engine] of implementations) {
      const wasi = new WASI({ version: 'preview1', stdout: fs.openSync(os.devNull, 'w') })
      const instance = new engine.Instance(new engine.Module(writeHello), wasi.getImportObject())
      assert.equal(wasi.start(instance), 7, name)
    }
  })

  test('with returnOnExit: false, proc_exit ends the process with its code', (t) => {
    const directory = temporaryDirectory(t)
    const wasm = path.join(directory, 'hello.wasm')
    fs.writeFileSync(wasm, writeHello)
    const outcomes = [['heron', onV8Only ? 'v8' : 'heron'], ['node', 'v8']].map(([wasi, engine]) => {
      const run = spawnSync(process.execPath, [runner, JSON.stringify({ wasm, wasi, engine, returnOnExit: false })], { encoding: 'utf8' })
      return { status: run.status, stdout: run.stdout }
    })
    assert.deepEqual(outcomes[0], { status: 7, stdout: 'hello, wasi\n' })
    assert.deepEqual(outcomes[0], outcomes[1])
  })

  test('a program copying stdin to stdout behaves as under node:wasi', (t) => {
    const directory = temporaryDirectory(t)
    const wasm = path.join(directory, 'cat.wasm')
    // Reads 7 bytes at a time until fd_read returns 0 bytes, writing each chunk out.
    fs.writeFileSync(wasm, wat(`(module
      (import "wasi_snapshot_preview1" "fd_read" (func $fd_read (param i32 i32 i32 i32) (result i32)))
      (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
      (memory (export "memory") 1)
      (func (export "_start")
        (loop $copy
          (i32.store (i32.const 0) (i32.const 64))
          (i32.store (i32.const 4) (i32.const 7))
          (if (call $fd_read (i32.const 0) (i32.const 0) (i32.const 1) (i32.const 8)) (then unreachable))
          (if (i32.eqz (i32.load (i32.const 8))) (then return))
          (i32.store (i32.const 4) (i32.load (i32.const 8)))
          (if (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)) (then unreachable))
          (br $copy))))`))
    const input = 'line one\nline two, somewhat longer\n'
    const outcomes = [['heron', onV8Only ? 'v8' : 'heron'], ['node', 'v8']].map(([wasi, engine]) => {
      const run = spawnSync(process.execPath, [runner, JSON.stringify({ wasm, wasi, engine })], { input, encoding: 'utf8' })
      return { status: run.status, stdout: run.stdout }
    })
    assert.deepEqual(outcomes[0], { status: 0, stdout: input })
    assert.deepEqual(outcomes[0], outcomes[1])
  })

  test('descriptors are closed once the WASI object is collected, not while its imports live', { skip: process.platform !== 'linux' && 'counts /proc/self/fd' }, () => {
    const script = `
      const { WASI } = require(${JSON.stringify(fileURLToPath(new URL('../lib/wasi/index.js', import.meta.url)))})
      const open = () => require('fs').readdirSync('/proc/self/fd').length
      const before = open()
      for (let i = 0; i < 20; i++) new WASI({ version: 'preview1', preopens: { '/': '.' } })
      const kept = new WASI({ version: 'preview1', preopens: { '/': '.' } }).wasiImport
      const during = open()
      const settle = (then) => setTimeout(() => { gc(); setTimeout(then, 20) }, 20)
      settle(() => settle(() => console.log(during - before, open() - before, typeof kept.fd_close)))`
    const run = spawnSync(process.execPath, ['--expose-gc', '-e', script], { encoding: 'utf8' })
    assert.equal(run.stdout, '21 1 function\n')
  })

  test('a memory that grows between calls is read through its new buffer', { skip: onV8Only }, () => {
    const guest = reactor(HeronWASI, heron)
    const oldBuffer = guest.memory.buffer
    guest.memory.grow(1)
    assert.equal(oldBuffer.byteLength, 0)
    const pointer = 65536 + 8
    assert.equal(guest.call.random_get(pointer, 32), 0)
    assert.ok(guest.bytes.subarray(pointer, pointer + 32).some((byte) => byte !== 0))
  })
})
