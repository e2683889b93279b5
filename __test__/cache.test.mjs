// The persistent code cache (README "Code cache"): heron.cache reports and clears it; a
// second process finds the code the first one compiled (eagerly, in the background or on
// first call) and behaves the same; HERON_CACHE=off turns it off. Every child process gets
// a temporary HERON_CACHE_DIR, never the user's cache.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { createRequire } from 'node:module'
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { wat } from './fixtures/wat.mjs'

const require = createRequire(import.meta.url)
const heron = require('..')
const root = new URL('..', import.meta.url).pathname

const calc = Buffer.from(wat(`(module
  (func $square (param i32) (result i32) (i32.mul (local.get 0) (local.get 0)))
  (func (export "sumSquares") (param i32) (result i32) (local $acc i32)
    (block $done (loop $next
      (br_if $done (i32.eqz (local.get 0)))
      (local.set $acc (i32.add (local.get $acc) (call $square (local.get 0))))
      (local.set 0 (i32.sub (local.get 0) (i32.const 1)))
      (br $next)))
    (local.get $acc))
  (func (export "divide") (param i32 i32) (result i32) (i32.div_s (local.get 0) (local.get 1))))`)).toString('base64')

// Runs `body` (a script with `heron`, `bytes`, `print`) in a child process with `env`, and
// returns what it printed (JSON lines, parsed).
function child(body, env) {
  const script = `
    const heron = require(${JSON.stringify(root)})
    const bytes = Buffer.from(${JSON.stringify(calc)}, 'base64')
    const print = (value) => console.log(JSON.stringify(value))
    ${body}`
  const result = spawnSync(process.execPath, ['-e', script], { env: { ...process.env, ...env }, encoding: 'utf8' })
  assert.equal(result.status, 0, result.stderr)
  return result.stdout.trim().split('\n').filter(Boolean).map((line) => JSON.parse(line))
}

const run = `
  const { exports } = new heron.Instance(new heron.Module(bytes))
  let trap
  try { exports.divide(1, 0) } catch (e) { trap = e.constructor.name + ': ' + e.message }
  print({ sum: exports.sumSquares(100), quotient: exports.divide(7, 2), trap })`

function tempCache() {
  return mkdtempSync(join(tmpdir(), 'heron-cache-js-'))
}

const entries = (dir) => readdirSync(dir).filter((name) => /^[0-9a-f]{64}$/.test(name))

test('heron.cache is heron-only and non-enumerable, and names the directory', () => {
  assert.equal(Object.keys(heron).includes('cache'), false)
  assert.equal(typeof heron.cache.enabled, 'boolean')
  const dir = tempCache()
  try {
    const [info] = child('print({ directory: heron.cache.directory, enabled: heron.cache.enabled, stats: heron.cache.stats() })', { HERON_CACHE_DIR: dir })
    assert.equal(info.directory, dir)
    assert.equal(info.enabled, true)
    assert.deepEqual(info.stats, { directory: dir, maxSize: 2 ** 30, entries: 0, bytes: 0, hits: 0, misses: 0, writes: 0 })
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})

test('a second process finds the code the first compiled and behaves the same', () => {
  const dir = tempCache()
  try {
    const env = { HERON_CACHE_DIR: dir, HERON_COMPILATION: 'eager' }
    const [cold] = child(`${run}; const s = heron.cache.stats(); print([s.hits, s.misses, s.writes])`, env).slice(-1)
    assert.deepEqual(cold, [0, 1, 1])
    assert.equal(entries(dir).length, 1)
    assert.equal(statSync(join(dir, entries(dir)[0])).mode & 0o777, 0o600)
    assert.equal(statSync(dir).mode & 0o777, 0o700)
    const warm = child(`${run}; const s = heron.cache.stats(); print([s.hits, s.misses, s.writes])`, env)
    assert.deepEqual(warm[1], [1, 0, 0])
    const reference = child(run, { HERON_CACHE: 'off' })
    assert.deepEqual(warm[0], reference[0])
    assert.deepEqual(reference[0], { sum: 338350, quotient: 3, trap: 'RuntimeError: integer divide by zero' })
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})

test('functions compiled on first call are written at exit', () => {
  const dir = tempCache()
  try {
    const env = { HERON_CACHE_DIR: dir, HERON_COMPILATION: 'on-demand' }
    child('const { exports } = new heron.Instance(new heron.Module(bytes)); print(exports.divide(9, 3))', env)
    assert.equal(entries(dir).length, 1, 'the exit hook wrote the entry')
    const [hits] = child(`${run}; print(heron.cache.stats().hits)`, env).slice(-1)
    assert.equal(hits, 1)
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})

test('a second Module of the same bytes in one process reuses the first one', () => {
  const dir = tempCache()
  try {
    const [stats] = child('const a = new heron.Module(bytes); const b = new heron.Module(bytes); print(heron.cache.stats())', { HERON_CACHE_DIR: dir })
    assert.equal(stats.misses, 1, 'looked up once')
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})

test('clear() removes the entries', () => {
  const dir = tempCache()
  try {
    const env = { HERON_CACHE_DIR: dir, HERON_COMPILATION: 'eager' }
    child(run, env)
    assert.equal(entries(dir).length, 1)
    const [after] = child('heron.cache.clear(); print(heron.cache.stats().entries)', env)
    assert.equal(after, 0)
    assert.equal(entries(dir).length, 0)
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})

test('HERON_CACHE=off turns the cache off', () => {
  const dir = tempCache()
  try {
    const [info] = child(`${run.replace('print(', 'void (')}; heron.cache.flush(); print({ directory: heron.cache.directory, enabled: heron.cache.enabled, stats: heron.cache.stats() })`, {
      HERON_CACHE: 'off',
      HERON_CACHE_DIR: dir,
      HERON_COMPILATION: 'eager',
    })
    assert.deepEqual(info, { directory: null, enabled: false, stats: null })
    assert.equal(entries(dir).length, 0)
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})
