// `heron run` on WASI commands: every program of the WASI preview1 testsuite
// (../shared/wasi-testsuite, see its README) run through the heron command, with its
// arguments, environment and root directory given as heron run's own options, checking the
// exit code and output its .json expects.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

const heronBin = fileURLToPath(new URL('../bin/heron.js', import.meta.url))
const suite = fileURLToPath(new URL('../../shared/wasi-testsuite', import.meta.url))
const skip = !existsSync(suite) && `no WASI testsuite at ${suite}`

function programs() {
  if (skip) return []
  return ['assemblyscript', 'c'].flatMap((folder) =>
    readdirSync(join(suite, folder))
      .filter((file) => file.endsWith('.wasm'))
      .map((file) => join(folder, file)),
  )
}

function expectations(program) {
  const json = join(suite, program.replace(/\.wasm$/, '.json'))
  return { args: [], env: {}, root: null, exit_code: 0, ...(existsSync(json) ? JSON.parse(readFileSync(json, 'utf8')) : {}) }
}

for (const program of programs()) {
  test(`heron run ${program}`, { skip }, (t) => {
    const expected = expectations(program)
    const options = Object.entries(expected.env).flatMap(([name, value]) => ['--env', `${name}=${value}`])
    const cwd = mkdtempSync(join(tmpdir(), 'heron-wasi-'))
    t.after(() => rmSync(cwd, { recursive: true, force: true }))
    if (expected.root !== null) {
      // A copy, since the programs write into their root.
      cpSync(join(suite, program, '..', expected.root), join(cwd, 'root'), { recursive: true })
      options.push('--dir', `${join(cwd, 'root')}::/`)
    }
    const result = spawnSync(process.execPath, [heronBin, 'run', ...options, join(suite, program), ...expected.args], {
      cwd,
      encoding: 'utf8',
    })
    assert.equal(result.status, expected.exit_code, `exit code; stderr: ${result.stderr}`)
    if (expected.stdout !== undefined) assert.equal(result.stdout, expected.stdout)
    if (expected.stderr !== undefined) assert.equal(result.stderr, expected.stderr)
  })
}

test('the WASI testsuite runs through heron run', { skip }, () => {
  assert.ok(programs().length > 0)
})
