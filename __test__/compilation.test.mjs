// heron compiles lazily: new Module() only validates, functions compile in the background
// and on first call. heron.waitForCompilation() waits for all of it; a spawned process with
// HERON_COMPILATION=eager compiles inside the constructor. Behaviour is the same either way.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { createRequire } from 'node:module'
import { wat } from './fixtures/wat.mjs'

const require = createRequire(import.meta.url)
const heron = require('..')

const fib = wat(`(module
  (func $fib (export "fib") (param i32) (result i32)
    local.get 0 i32.const 2 i32.lt_u
    if (result i32) local.get 0
    else local.get 0 i32.const 1 i32.sub call $fib local.get 0 i32.const 2 i32.sub call $fib i32.add end)
  (func (export "trap") unreachable))`)

test('waitForCompilation is heron-only, non-enumerable and checks its argument', () => {
  assert.equal(Object.keys(heron).includes('waitForCompilation'), false)
  assert.throws(() => heron.waitForCompilation({}), TypeError)
  const module = new heron.Module(fib)
  heron.waitForCompilation(module)
  heron.waitForCompilation(module)
  const { exports } = new heron.Instance(module)
  assert.equal(exports.fib(20), 6765)
})

test('calls before compilation finished compile on the spot, traps included', () => {
  const { exports } = new heron.Instance(new heron.Module(fib))
  assert.throws(() => exports.trap(), heron.RuntimeError)
  assert.equal(exports.fib(15), 610)
})

for (const mode of ['eager', 'on-demand', 'baseline']) {
  test(`HERON_COMPILATION=${mode} gives the same results`, () => {
    const script = `const heron = require(${JSON.stringify(require.resolve('..'))})
      const bytes = new Uint8Array(${JSON.stringify(Array.from(fib))})
      const { exports } = new heron.Instance(new heron.Module(bytes))
      let trapped = false
      try { exports.trap() } catch (e) { trapped = e instanceof heron.RuntimeError }
      console.log(exports.fib(20), trapped)`
    const child = spawnSync(process.execPath, ['-e', script], {
      env: { ...process.env, HERON_COMPILATION: mode },
      encoding: 'utf8',
    })
    assert.equal(child.stderr, '')
    assert.equal(child.stdout.trim(), '6765 true')
  })
}
