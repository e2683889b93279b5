// Drop-in mode for WASI: while heron is installed, `require('node:wasi').WASI` (and
// `require('wasi')`) and `import { WASI } from 'node:wasi'` give heron.WASI, so
// packages that run WASI programs through Node's module run them on heron; uninstall()
// gives Node's back. Installing loads node:wasi without Node's ExperimentalWarning.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { createRequire } from 'node:module'
import { fileURLToPath } from 'node:url'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import * as wasiNamespace from 'node:wasi'
import { wat } from './fixtures/wat.mjs'

const require = createRequire(import.meta.url)
const root = fileURLToPath(new URL('..', import.meta.url))
const skip = process.env.HERON_TEST_ONLY === 'v8' && 'needs the native binding'

function node(args) {
  return spawnSync(process.execPath, args, { cwd: root, encoding: 'utf8', env: { ...process.env, NODE_PATH: '' } })
}

test('install() puts heron.WASI in node:wasi, uninstall() puts Node\'s back', { skip }, (t) => {
  const heron = require('../index.js')
  t.after(() => heron.uninstall())
  const nodeWASI = require('node:wasi').WASI
  assert.notEqual(nodeWASI, heron.WASI)
  heron.install()
  assert.equal(require('node:wasi').WASI, heron.WASI)
  assert.equal(require('wasi').WASI, heron.WASI)
  assert.equal(wasiNamespace.WASI, heron.WASI)
  heron.install()
  heron.uninstall()
  assert.equal(require('node:wasi').WASI, nodeWASI)
  assert.equal(wasiNamespace.WASI, nodeWASI)
})

test('node -r heron/register: CommonJS require gives heron.WASI and runs a program on heron', { skip }, (t) => {
  const directory = fs.mkdtempSync(path.join(os.tmpdir(), 'heron-wasi-install-'))
  t.after(() => fs.rmSync(directory, { recursive: true, force: true }))
  const wasm = path.join(directory, 'hello.wasm')
  fs.writeFileSync(wasm, wat(`(module
    (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
    (import "wasi_snapshot_preview1" "proc_exit" (func $proc_exit (param i32)))
    (memory (export "memory") 1)
    (data (i32.const 16) "hello, wasi\\n")
    (func (export "_start")
      (i32.store (i32.const 0) (i32.const 16))
      (i32.store (i32.const 4) (i32.const 12))
      (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))
      (call $proc_exit (i32.const 7))))`))
  const script = `
    const { WASI } = require('node:wasi')
    const heron = require('heron')
    const wasi = new WASI({ version: 'preview1' })
    const module = new WebAssembly.Module(require('fs').readFileSync(${JSON.stringify(wasm)}))
    const instance = new WebAssembly.Instance(module, wasi.getImportObject())
    console.log(WASI === heron.WASI, module instanceof heron.Module, wasi.start(instance))`
  const run = node(['-r', 'heron/register', '-e', script])
  assert.equal(run.stderr, '')
  assert.equal(run.stdout, 'hello, wasi\ntrue true 7\n')
})

test('node -r heron/register: ESM import { WASI } from node:wasi gives heron.WASI', { skip }, () => {
  const script = `
    import { WASI } from 'node:wasi'
    import wasi from 'node:wasi'
    import heron from 'heron'
    console.log(WASI === heron.WASI, wasi.WASI === heron.WASI)`
  const run = node(['-r', 'heron/register', '--input-type=module', '-e', script])
  assert.equal(run.stderr, '')
  assert.equal(run.stdout, 'true true\n')
})
