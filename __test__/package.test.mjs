// The installable package: `npm pack` of heron and of its linux-x64-gnu platform package
// (npm/linux-x64-gnu with the built addon copied in, as `napi artifacts` does before
// publishing), installed from those tarballs alone into a scratch project with cargo and rustc
// off PATH, then used as users would: require, import, and the heron command.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync, spawnSync } from 'node:child_process'
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { delimiter, dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('..', import.meta.url))
const addon = 'heron.linux-x64-gnu.node'
const supported = process.platform === 'linux' && process.arch === 'x64'

// PATH without any directory holding cargo or rustc, but with this node and its npm.
function pathWithoutRust() {
  const entries = [dirname(process.execPath), ...(process.env.PATH ?? '').split(delimiter)]
  return [...new Set(entries)]
    .filter((entry) => entry !== '' && !['cargo', 'rustc'].some((tool) => existsSync(join(entry, tool))))
    .join(delimiter)
}

let scratch
let tarballs
const npmEnv = () => ({
  ...process.env,
  PATH: pathWithoutRust(),
  // Keep npm away from the network and from the user's cache: everything comes from the tarballs.
  npm_config_cache: join(scratch, 'npm-cache'),
  npm_config_offline: 'true',
  npm_config_audit: 'false',
  npm_config_fund: 'false',
  npm_config_update_notifier: 'false',
})

function npm(args, cwd) {
  return spawnSync('npm', args, { cwd, env: npmEnv(), encoding: 'utf8' })
}

function pack(directory) {
  const result = npm(['pack', '--json', '--pack-destination', scratch], directory)
  assert.equal(result.status, 0, result.stderr)
  const [{ filename, files }] = JSON.parse(result.stdout)
  return { path: join(scratch, filename), files: files.map((file) => file.path) }
}

// A new project with the given tarballs installed; returns its directory and npm's result.
function installInto(name, ...packages) {
  const project = join(scratch, name)
  mkdirSync(project)
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name, version: '1.0.0', private: true }))
  return { project, result: npm(['install', ...packages], project) }
}

before(() => {
  if (!supported) return
  scratch = mkdtempSync(join(tmpdir(), 'heron-package-'))
  const platformDir = join(scratch, 'linux-x64-gnu')
  mkdirSync(platformDir)
  for (const file of ['package.json', 'README.md']) copyFileSync(join(root, 'npm/linux-x64-gnu', file), join(platformDir, file))
  copyFileSync(join(root, addon), join(platformDir, addon))
  tarballs = { main: pack(root), platform: pack(platformDir) }
})
after(() => scratch && rmSync(scratch, { recursive: true, force: true }))

test('the main tarball has the JS API, the command and the Rust sources, and no binary', { skip: !supported }, () => {
  const { files } = tarballs.main
  for (const file of ['index.js', 'index.mjs', 'index.d.ts', 'index.d.mts', 'binding.js', 'bin/heron.js', 'lib/cli/run.js',
    'scripts/install.js', 'Cargo.toml', 'Cargo.lock', 'src/lib.rs', 'crates/engine/Cargo.toml', 'crates/engine/src/lib.rs',
    // cargo reads the engine's manifest only with the test targets it declares present.
    'crates/engine/tests/spec.rs']) {
    assert.ok(files.includes(file), `${file} is in the tarball`)
  }
  assert.deepEqual(files.filter((file) => file.endsWith('.node') || file.startsWith('target/') || file.startsWith('__test__/')), [])
  assert.deepEqual(tarballs.platform.files.sort(), ['README.md', addon, 'package.json'])
})

test('installed from the tarballs without cargo, the MDN example runs through require, import and npx heron', { skip: !supported }, () => {
  assert.equal(spawnSync('cargo', ['--version'], { env: npmEnv() }).error?.code, 'ENOENT', 'cargo is off PATH')
  const { project, result } = installInto('app', tarballs.main.path, tarballs.platform.path)
  assert.equal(result.status, 0, result.stderr)
  // The binary comes from the platform package; heron's own directory has none.
  assert.ok(existsSync(join(project, 'node_modules/heron-linux-x64-gnu', addon)))
  assert.deepEqual(readdirSync(join(project, 'node_modules/heron')).filter((file) => file.endsWith('.node')), [])

  copyFileSync(join(root, 'examples/demo.wasm'), join(project, 'demo.wasm'))
  // The MDN example for WebAssembly.Instance, synchronously (CommonJS) and asynchronously (ESM).
  writeFileSync(join(project, 'mdn.cjs'), `
    const heron = require('heron')
    const bytes = require('node:fs').readFileSync(__dirname + '/demo.wasm')
    const importObject = { imports: { imported_func: (arg) => console.log(arg) } }
    const instance = new heron.Instance(new heron.Module(bytes), importObject)
    instance.exports.exported_func()
  `)
  writeFileSync(join(project, 'mdn.mjs'), `
    import heron, { instantiate, Module } from 'heron'
    import { readFile } from 'node:fs/promises'
    const bytes = await readFile(new URL('./demo.wasm', import.meta.url))
    const importObject = { imports: { imported_func: (arg) => console.log(arg) } }
    const { module, instance } = await instantiate(bytes, importObject)
    instance.exports.exported_func()
    console.log(module instanceof Module, heron.Module === Module)
  `)
  const run = (...args) => execFileSync(process.execPath, args, { cwd: project, env: npmEnv(), encoding: 'utf8' })
  assert.equal(run('mdn.cjs'), '42\n')
  assert.equal(run('mdn.mjs'), '42\ntrue true\n')
  assert.equal(run(join(project, 'node_modules/.bin/heron'), 'validate', 'demo.wasm'), 'demo.wasm: valid\n')
})

test('without a prebuilt binary or cargo, installing fails with one line saying what is needed', { skip: !supported }, () => {
  const { result } = installInto('no-binary', tarballs.main.path)
  assert.notEqual(result.status, 0)
  assert.match(
    result.stderr,
    /heron: no prebuilt binary for linux-x64 \(.*\); building one from source needs Rust 1\.95 or later \(cargo on PATH, see https:\/\/rustup\.rs\), then reinstall/,
  )
})
