// The WASI preview1 conformance tests (../shared/wasi-testsuite: C and AssemblyScript
// programs with their expected exit code and output) on heron.WASI and heron. Each
// program runs in a child process, so that proc_exit or a crash cannot end the test
// runner and its stdout and stderr are captured exactly. The test folders are copied
// to a temporary directory first (the shared copy is read-only) and left-over
// `*.cleanup` files are deleted before each run, as the suite's SPECIFICATION.md asks.
// HERON_TEST_ONLY=v8 runs heron.WASI on V8's WebAssembly instead (no binding needed).
import { describe, test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const suite = fileURLToPath(new URL('../../shared/wasi-testsuite', import.meta.url))
const runner = fileURLToPath(new URL('./fixtures/wasi-run.cjs', import.meta.url))
const engine = process.env.HERON_TEST_ONLY === 'v8' ? 'v8' : 'heron'
const FOLDERS = ['c', 'assemblyscript']

// The legacy specification with its defaults (SPECIFICATION.md, "Configuration Spec").
function specificationOf(wasmPath) {
  const jsonPath = wasmPath.replace(/\.wasm$/, '.json')
  const given = fs.existsSync(jsonPath) ? JSON.parse(fs.readFileSync(jsonPath, 'utf8')) : {}
  return { args: [], env: {}, root: null, exit_code: 0, stdout: '', stderr: '', ...given }
}

function removeCleanupFiles(directory) {
  for (const entry of fs.readdirSync(directory, { withFileTypes: true })) {
    const entryPath = path.join(directory, entry.name)
    if (entry.name.endsWith('.cleanup')) fs.rmSync(entryPath, { recursive: true, force: true })
    else if (entry.isDirectory()) removeCleanupFiles(entryPath)
  }
}

function makeWritable(directory) {
  fs.chmodSync(directory, 0o755)
  for (const entry of fs.readdirSync(directory, { withFileTypes: true })) {
    const entryPath = path.join(directory, entry.name)
    if (entry.isDirectory()) makeWritable(entryPath)
    else fs.chmodSync(entryPath, 0o644)
  }
}

describe(`wasi-testsuite on heron.WASI (${engine})`, { skip: !fs.existsSync(suite) && `${suite} is missing` }, () => {
  let work
  before(() => {
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'heron-wasi-testsuite-'))
    for (const folder of FOLDERS) fs.cpSync(path.join(suite, folder), path.join(work, folder), { recursive: true })
    makeWritable(work)
  })
  after(() => fs.rmSync(work, { recursive: true, force: true }))

  const programs = fs.existsSync(suite)
    ? FOLDERS.flatMap((folder) => fs.readdirSync(path.join(suite, folder)).filter((name) => name.endsWith('.wasm')).map((name) => [folder, name]))
    : []

  test('the suite has its 26 programs', () => {
    assert.equal(programs.length, 26)
  })

  for (const [folder, name] of programs) {
    test(`${folder}/${name}`, () => {
      const directory = path.join(work, folder)
      removeCleanupFiles(directory)
      const wasm = path.join(directory, name)
      const specification = specificationOf(wasm)
      const run = {
        wasm,
        args: specification.args,
        env: specification.env,
        root: specification.root === null ? null : path.join(directory, specification.root),
        wasi: 'heron',
        engine,
      }
      const result = spawnSync(process.execPath, [runner, JSON.stringify(run)], { cwd: directory, encoding: 'utf8', timeout: 60000 })
      assert.equal(result.error, undefined)
      assert.deepEqual(
        { exitCode: result.status, stdout: result.stdout, stderr: result.stderr },
        { exitCode: specification.exit_code, stdout: specification.stdout, stderr: specification.stderr },
      )
    })
  }
})
