'use strict'
// The cost of the execution controls (README "Controls"): the shared suite's compute kernels
// run by heron with `HERON_TIMEOUT` (or `HERON_FUEL`) set against heron without, each run a
// fresh process, the two sides interleaved, both compiled by the optimizing tier up front
// (`HERON_COMPILATION=eager`). Each kernel is timed by its own harness, whose clock is made
// this process's CPU time (user + system, all threads, so the ticker thread counts), so time
// spent descheduled by other work on a loaded machine does not count; cache and core sharing
// still do. Prints, per kernel and as a geomean, the ratio of minimums and of medians.
//
//   node bench/controls-cost.js timeout|fuel [runs] [kernel,...]   (needs ../shared/bench)

const { execFileSync } = require('node:child_process')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')

const suite = path.resolve(__dirname, '../../shared/bench')
const heron = path.resolve(__dirname, '..')
const control = process.argv[2]
const runs = Number(process.argv[3] ?? 3)
const kernels = (process.argv[4] ?? 'fannkuch,hashmap,interp,lz77,mandelbrot,matmul,modpow,nbody,quicksort,sha256,simd').split(',')
const settings = { timeout: { HERON_TIMEOUT: '100000000' }, fuel: { HERON_FUEL: '9000000000000000000' } }
if (!settings[control]) throw new Error('usage: node bench/controls-cost.js timeout|fuel [runs] [kernel,...]')

// A package whose index.js sets `env` and re-exports heron, as the suite's --impl expects.
function packageWith(env) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'heron-controls-cost-'))
  const sets = Object.entries({ HERON_COMPILATION: 'eager', ...env }).map(([k, v]) => `process.env.${k} = ${JSON.stringify(v)}\n`)
  fs.writeFileSync(path.join(dir, 'index.js'), `${sets.join('')}module.exports = require(${JSON.stringify(heron)})\n`)
  return dir
}

// One run of `kernel` in a fresh process: the milliseconds of CPU time its harness measured.
const child = `
  performance.now = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1000 }
  const [file, name, impl] = process.argv.slice(1)
  require(${JSON.stringify(path.join(suite, 'lib/preload'))}).installImplementation(impl)
  const { loadBenchmarks } = require(${JSON.stringify(path.join(suite, 'lib/child'))})
  const { def } = loadBenchmarks(file).find((b) => b.name.endsWith(name))
  def.run({ quick: false, sessionNonce: 'controls-cost', impl }).then((r) => {
    if (r.checksum !== r.expected) throw new Error(name + ': wrong checksum ' + r.checksum)
    process.stdout.write(JSON.stringify(r.value))
  })
`
function measure(kernel, impl) {
  const file = path.join(suite, 'benchmarks/compute', `${kernel}.js`)
  return JSON.parse(execFileSync(process.execPath, ['-e', child, file, kernel, impl], { encoding: 'utf8' }))
}

const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1]
const checked = packageWith(settings[control])
const plain = packageWith({})
try {
  const samples = Object.fromEntries(kernels.map((k) => [k, { checked: [], plain: [] }]))
  for (let run = 0; run < runs; run++) {
    for (const kernel of kernels) {
      // Alternating which side goes first, so neither always runs on a warmer machine.
      const order = run % 2 ? ['plain', 'checked'] : ['checked', 'plain']
      for (const side of order) samples[kernel][side].push(measure(kernel, side === 'plain' ? plain : checked))
    }
  }
  let logMin = 0
  let logMedian = 0
  console.log(`${control} vs plain, ${runs} runs per side, CPU time; load average ${os.loadavg()[0].toFixed(1)} on ${os.cpus().length} CPUs`)
  for (const kernel of kernels) {
    const { checked: c, plain: p } = samples[kernel]
    const byMin = Math.min(...c) / Math.min(...p)
    const byMedian = median(c) / median(p)
    logMin += Math.log(byMin)
    logMedian += Math.log(byMedian)
    console.log(`${kernel.padEnd(12)} min ${byMin.toFixed(3)}  median ${byMedian.toFixed(3)}  (ms: ${c.map(Math.round).join(' ')} | ${p.map(Math.round).join(' ')})`)
  }
  const geomean = (sum) => Math.exp(sum / kernels.length).toFixed(3)
  console.log(`geomean      min ${geomean(logMin)}  median ${geomean(logMedian)}`)
} finally {
  fs.rmSync(checked, { recursive: true, force: true })
  fs.rmSync(plain, { recursive: true, force: true })
}
