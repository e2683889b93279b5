'use strict'
// The drop-in proof: published npm packages that ship .wasm, each driven by a
// deterministic workload in compat/workloads/, run under heron installed as
// globalThis.WebAssembly and compared line by line with the output recorded once
// under Node's own WebAssembly (compat/expected/<name>.txt).
//
// Every workload runs in a child process whose NODE_OPTIONS preloads heron's
// register.js, so the child processes and worker threads a package starts itself
// (esbuild-wasm does both) run on heron too; probe.js makes each of them prove it.
//
//   node compat/run.js [name...]            compare under heron (npm run compat)
//   node compat/run.js --record [name...]   rewrite expected/ under Node's WebAssembly
//
// A package listed with `knownFail` prints `known-fail` and counts as neither
// passed nor failed while it fails; once it passes, the run fails until the entry
// is removed, so the list cannot go stale.

const { spawnSync } = require('node:child_process')
const fs = require('node:fs')
const path = require('node:path')

const root = path.join(__dirname, '..')
const TIMEOUT_MS = 10 * 60 * 1000

const packages = [
  { name: 'sql.js', toolchain: 'emscripten-c', workload: 'sql.js.js' },
  { name: 'web-tree-sitter', toolchain: 'emscripten-c-dylink', workload: 'web-tree-sitter.js' },
  { name: '@jitl/quickjs-wasmfile-release-sync', toolchain: 'emscripten-c', workload: 'quickjs.js' },
  { name: 're2-wasm', toolchain: 'emscripten-c++-embind', workload: 're2-wasm.js' },
  { name: 'lz4-wasm-nodejs', toolchain: 'rust-wasm-bindgen-nodejs', workload: 'lz4-wasm-nodejs.js' },
  { name: 'tiktoken', toolchain: 'rust-wasm-bindgen-nodejs', workload: 'tiktoken.js' },
  { name: '@resvg/resvg-wasm', toolchain: 'rust-wasm-bindgen-web', workload: 'resvg-wasm.js' },
  { name: 'brotli-wasm', toolchain: 'rust-wasm-bindgen-web-streaming', workload: 'brotli-wasm.mjs' },
  { name: 'esbuild-wasm', toolchain: 'go-wasm_exec', workload: 'esbuild-wasm.js' },
  { name: '@chainsafe/as-sha256', toolchain: 'assemblyscript', workload: 'as-sha256.js' },
  { name: 'xxhash-wasm', toolchain: 'hand-written-wat', workload: 'xxhash-wasm.js' },
  { name: 'hash-wasm', toolchain: 'clang-c', workload: 'hash-wasm.js' },
  // Emscripten -pthread: a pool of Workers sharing the module and the memory, posted to
  // them by Emscripten's own runtime; the workload checks that Workers ran wasm.
  { name: '@squoosh/lib', toolchain: 'emscripten-c++-pthread', workload: 'squoosh-avif-mt.js' },
  // Not a package: Node's own fetch, whose HTTP parser (undici's llhttp) is wasm
  // compiled through globalThis.WebAssembly.
  { name: 'fetch', builtin: true, toolchain: 'undici-llhttp', workload: 'node-fetch.js' },
]

function version(pkg) {
  if (pkg.builtin) {
    return `node-${process.version}`
  }
  const manifest = path.join(__dirname, 'node_modules', pkg.name, 'package.json')
  return JSON.parse(fs.readFileSync(manifest, 'utf8')).version
}

function expectedPath(pkg) {
  return path.join(__dirname, 'expected', `${pkg.name.replace(/^@/, '').replace(/\//g, '__')}.txt`)
}

// Installs compat/node_modules when it is missing or lacks a package of package.json (one
// added since the last install).
function ensureInstalled() {
  const { dependencies } = JSON.parse(fs.readFileSync(path.join(__dirname, 'package.json'), 'utf8'))
  const installed = (name) => fs.existsSync(path.join(__dirname, 'node_modules', name, 'package.json'))
  if (fs.existsSync(path.join(__dirname, 'node_modules', '.package-lock.json')) && Object.keys(dependencies).every(installed)) {
    return
  }
  console.log('installing compat/node_modules (npm ci --ignore-scripts)')
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm'
  const result = spawnSync(npm, ['ci', '--ignore-scripts', '--prefix', __dirname], { stdio: 'inherit', cwd: root })
  if (result.status !== 0) {
    console.error('npm ci failed')
    process.exit(1)
  }
}

// Runs one workload; heron=true preloads register.js and the probe in every
// process and thread of the workload.
function runWorkload(pkg, heron) {
  const env = { ...process.env }
  const preloads = heron
    ? [path.join(root, 'register.js'), path.join(__dirname, 'probe.js')]
    : [path.join(__dirname, 'probe.js')]
  env.NODE_OPTIONS = [env.NODE_OPTIONS, ...preloads.map((p) => `--require ${JSON.stringify(p)}`)]
    .filter(Boolean)
    .join(' ')
  env.HERON_COMPAT_EXPECT = heron ? 'heron' : 'v8'
  const started = process.hrtime.bigint()
  const result = spawnSync(process.execPath, [path.join(__dirname, 'workloads', pkg.workload)], {
    cwd: __dirname,
    env,
    encoding: 'utf8',
    timeout: TIMEOUT_MS,
    maxBuffer: 64 * 1024 * 1024,
  })
  const seconds = Number(process.hrtime.bigint() - started) / 1e9
  return { ...result, seconds }
}

function clip(text, max = 160) {
  const s = String(text)
  return s.length > max ? `${s.slice(0, max)}…` : s
}

// Why a run does not match, as one line, or null when it matches.
function mismatch(result, expected) {
  if (result.error) {
    return result.error.code === 'ETIMEDOUT' ? `timed out after ${TIMEOUT_MS / 1000} s` : result.error.message
  }
  if (result.status !== 0) {
    const stderr = result.stderr.trim().split('\n')
    const reason = stderr.find((l) => /Error|error:|Assertion|panicked/.test(l)) ?? stderr.at(-1) ?? ''
    return `exit ${result.status ?? result.signal}: ${clip(reason)}`
  }
  const got = result.stdout.split('\n')
  const want = expected.split('\n')
  for (let i = 0; i < Math.max(got.length, want.length); i++) {
    if (got[i] !== want[i]) {
      return `line ${i + 1}: expected ${JSON.stringify(clip(want[i] ?? '<end>', 80))}, got ${JSON.stringify(clip(got[i] ?? '<end>', 80))}`
    }
  }
  return null
}

function main() {
  const args = process.argv.slice(2)
  const record = args.includes('--record')
  const names = args.filter((a) => a !== '--record')
  const unknown = names.filter((n) => !packages.some((p) => p.name === n))
  if (unknown.length > 0) {
    console.error(`unknown package: ${unknown.join(', ')}`)
    process.exit(2)
  }
  ensureInstalled()
  const selected = names.length > 0 ? packages.filter((p) => names.includes(p.name)) : packages
  let passed = 0
  let failed = 0
  let knownFailed = 0
  for (const pkg of selected) {
    const label = `${pkg.name} ${version(pkg)} ${pkg.toolchain}`
    const result = runWorkload(pkg, !record)
    const time = `(${result.seconds.toFixed(1)} s)`
    if (record) {
      const why = mismatch(result, result.stdout ?? '')
      if (why) {
        console.log(`FAIL ${label}: ${why}`)
        failed++
      } else {
        fs.mkdirSync(path.dirname(expectedPath(pkg)), { recursive: true })
        fs.writeFileSync(expectedPath(pkg), result.stdout)
        console.log(`recorded ${label} ${time}`)
        passed++
      }
      continue
    }
    const why = mismatch(result, fs.readFileSync(expectedPath(pkg), 'utf8'))
    if (pkg.knownFail && why) {
      console.log(`known-fail ${label}: ${pkg.knownFail} [${why}]`)
      knownFailed++
    } else if (pkg.knownFail) {
      console.log(`FAIL ${label}: passes now; remove its knownFail entry in compat/run.js`)
      failed++
    } else if (why) {
      console.log(`FAIL ${label}: ${why}`)
      failed++
    } else {
      console.log(`ok ${label} ${time}`)
      passed++
    }
  }
  if (knownFailed > 0) {
    console.log(`${knownFailed} known-fail (not counted as passed)`)
  }
  console.log(`${passed} passed, ${failed} failed`)
  process.exitCode = failed > 0 ? 1 : 0
}

main()
