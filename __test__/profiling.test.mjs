// The perf map: with HERON_PERF_MAP=1, or when Node runs with one of V8's perf flags,
// heron lists every function it compiles in /tmp/perf-PID.map (where `perf` looks), as
// `START SIZE wasm:MODULE:FUNCTION`. With a V8 flag, V8 writes the same file: both must
// keep their lines whole. Each case runs in a child process, whose map is read and removed.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { readFileSync, rmSync, existsSync, mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { implementations } from './fixtures/implementations.mjs'
import { watWithNames } from './fixtures/wat-names.mjs'
import profiling from '../lib/profiling.js'

const onHeron = { skip: !implementations.some(([name]) => name === 'heron') && 'heron is not under test' }

const bytes = watWithNames(`(module $profiled
  (func $hot (export "hot") (param i32) (result i32) (i32.mul (local.get 0) (i32.const 3)))
  (func (export "anonymous")))`)

// Compiles the module on heron, then defines and runs a JS function V8 compiles after
// heron has written its lines, and prints its pid.
const script = `
  const heron = require(${JSON.stringify(fileURLToPath(new URL('../index.js', import.meta.url)))})
  const bytes = Buffer.from(${JSON.stringify(Buffer.from(bytes).toString('base64'))}, 'base64')
  const module = new heron.Module(bytes)
  heron.waitForCompilation(module)
  new heron.Instance(module).exports.hot(2)
  const compiledAfterHeron = new Function('return function compiledAfterHeronWroteItsLines(x) { return x + 1 }')()
  for (let i = 0; i < 10; i++) compiledAfterHeron(i)
  console.log(process.pid)`

// The perf map the child wrote (null if none), removed afterwards.
function childPerfMap(nodeArgs, env) {
  // V8's perf flags also write isolate-*.log files into the working directory.
  const cwd = mkdtempSync(join(tmpdir(), 'heron-perf-'))
  const child = spawnSync(process.execPath, [...nodeArgs, '-e', script], {
    cwd,
    encoding: 'utf8',
    env: { ...process.env, HERON_PERF_MAP: '', NODE_OPTIONS: '', ...env },
  })
  rmSync(cwd, { recursive: true })
  assert.equal(child.status, 0, child.stderr)
  const path = `/tmp/perf-${child.stdout.trim()}.map`
  if (!existsSync(path)) return null
  try {
    return readFileSync(path, 'utf8')
  } finally {
    rmSync(path)
  }
}

// The map's lines naming heron's functions; every line of the map is whole.
function heronLines(map) {
  const lines = map.split('\n').filter((line) => line !== '')
  for (const line of lines) assert.match(line, /^[0-9a-f]+ [0-9a-f]+ \S/, `a whole line: ${JSON.stringify(line)}`)
  return lines.filter((line) => line.includes(' wasm:'))
}

function assertNamesWasmFunctions(map) {
  const lines = heronLines(map)
  assert.ok(lines.some((line) => line.endsWith(' wasm:profiled:hot')), lines.join('\n'))
  assert.ok(lines.some((line) => line.endsWith(' wasm:profiled:wasm-function[1]')), lines.join('\n'))
}

test('without HERON_PERF_MAP or a perf flag, no perf map is written', onHeron, () => {
  assert.equal(childPerfMap([], {}), null)
})

test('HERON_PERF_MAP=1 writes the perf map', onHeron, () => {
  assertNamesWasmFunctions(childPerfMap([], { HERON_PERF_MAP: '1' }))
})

for (const flag of ['--perf-basic-prof', '--perf-basic-prof-only-functions', '--perf_basic_prof']) {
  test(`node ${flag}: heron's lines and V8's share the map, none overwritten`, onHeron, () => {
    const map = childPerfMap([flag], {})
    assertNamesWasmFunctions(map)
    // V8 wrote this line after heron's: with both appending, neither overwrote the other.
    assert.match(map, /compiledAfterHeronWroteItsLines/)
  })
}

test('NODE_OPTIONS=--perf-basic-prof turns heron\'s perf map on too', onHeron, () => {
  const map = childPerfMap([], { NODE_OPTIONS: '--perf-basic-prof' })
  assertNamesWasmFunctions(map)
  assert.match(map, /compiledAfterHeronWroteItsLines/)
})

test('a later --no-perf-basic-prof turns it off again', onHeron, () => {
  assert.equal(childPerfMap(['--perf-basic-prof', '--no-perf-basic-prof'], {}), null)
})

test('the perf flags are recognised in execArgv and NODE_OPTIONS, the last of a flag and its --no- form winning', () => {
  const { nodeProfilesWithPerf } = profiling
  for (const flag of ['--perf-basic-prof', '--perf-basic-prof-only-functions', '--perf-prof', '--perf_prof']) {
    assert.equal(nodeProfilesWithPerf([flag], ''), true, flag)
    assert.equal(nodeProfilesWithPerf([], `--max-old-space-size=100 ${flag}`), true, flag)
  }
  assert.equal(nodeProfilesWithPerf(['--perf-prof-unwinding-info', '--inspect'], '--trace-warnings'), false)
  assert.equal(nodeProfilesWithPerf(['--no-perf-basic-prof'], '--perf-basic-prof'), false)
  assert.equal(nodeProfilesWithPerf(['--perf-basic-prof'], '--no-perf-basic-prof'), true)
})
