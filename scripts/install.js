'use strict'
// npm's install hook for the heron package. Where a prebuilt binary fits (the platform package
// npm picked from optionalDependencies, e.g. heron-linux-x64-gnu), the addon already loads
// and this does nothing. Otherwise it builds the addon from the Rust sources shipped in the
// package with cargo, or, without cargo, fails with one line saying what is needed.
// In a checkout of the repository (not under node_modules) it does nothing: there
// `npm run build` builds the addon, and `npm install` must not build it a second time.

const fs = require('node:fs')
const path = require('node:path')
const { spawnSync } = require('node:child_process')

const root = path.join(__dirname, '..')

function fail(message) {
  console.error(`heron: ${message}`)
  process.exit(1)
}

function firstLine(error) {
  return String(error?.message ?? error).split('\n')[0]
}

// The name binding.js looks for next to itself: heron.<platform>-<arch>[-<abi>].node.
function platformSuffix() {
  const { platform, arch } = process
  if (platform === 'linux') {
    const glibc = process.report?.getReport().header.glibcVersionRuntime
    return `linux-${arch}-${glibc ? 'gnu' : 'musl'}`
  }
  if (platform === 'win32') return `win32-${arch}-msvc`
  return `${platform}-${arch}`
}

function loadError() {
  try {
    require(path.join(root, 'binding.js'))
    return undefined
  } catch (error) {
    return error
  }
}

// Builds the cdylib with cargo and returns the path of the library it wrote.
function cargoBuild() {
  const build = spawnSync('cargo', ['build', '--release', '--lib', '-p', 'heron', '--message-format=json-render-diagnostics'], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'inherit'],
    encoding: 'utf8',
    maxBuffer: 256 * 1024 * 1024,
  })
  if (build.error !== undefined) fail(`could not run cargo: ${firstLine(build.error)}`)
  if (build.status !== 0) fail(`building heron from source failed (cargo exited with ${build.status}; its output is above)`)
  const library = build.stdout
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line))
    .find((message) => message.reason === 'compiler-artifact' && message.target.name === 'heron' && message.target.kind.includes('cdylib'))
    ?.filenames.find((file) => /\.(so|dylib|dll)$/.test(file))
  if (library === undefined) fail('cargo built heron but reported no library file')
  return library
}

function main() {
  if (!root.split(path.sep).includes('node_modules')) return
  const prebuiltError = loadError()
  if (prebuiltError === undefined) return

  const target = `${process.platform}-${process.arch}`
  if (spawnSync('cargo', ['--version']).error !== undefined) {
    fail(
      `no prebuilt binary for ${target} (${firstLine(prebuiltError)}); ` +
        'building one from source needs Rust 1.95 or later (cargo on PATH, see https://rustup.rs), then reinstall',
    )
  }
  console.error(`heron: no prebuilt binary for ${target}; building from source with cargo (this takes a few minutes)`)
  fs.copyFileSync(cargoBuild(), path.join(root, `heron.${platformSuffix()}.node`))
  const builtError = loadError()
  if (builtError !== undefined) fail(`the addon built from source does not load: ${firstLine(builtError)}`)
}

main()
