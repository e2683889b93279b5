'use strict'
// Startup to the first result of a real workload, for heron and for Node's own WebAssembly:
// each run is a fresh process that requires @swc/wasm (an 18 MB module, compiled when the
// package loads) and transforms a few lines of TypeScript. The time runs from just before
// the require to the transform's output. The shared suite's compile benchmarks time `new
// Module` alone; this adds instantiation and the first calls, where lazy compilation pays.
//
//   node bench/first-result.js [runs]      (needs ../shared/bench/node_modules: npm run bench once)

const { execFileSync } = require('node:child_process')
const path = require('node:path')

const swc = path.resolve(__dirname, '../../shared/bench/node_modules/@swc/wasm')
const register = path.resolve(__dirname, '../register.js')
const runs = Number(process.argv[2] ?? 5)

const child = `
  const start = process.hrtime.bigint()
  const swc = require(${JSON.stringify(swc)})
  const out = swc.transformSync('const f = (a: number): string => \`\${a}\`', { jsc: { parser: { syntax: 'typescript' } } })
  const ms = Number(process.hrtime.bigint() - start) / 1e6
  process.stdout.write(JSON.stringify({ ms, out: out.code.length }))
`

function measure(side) {
  const args = side === 'heron' ? ['--require', register, '-e', child] : ['-e', child]
  return JSON.parse(execFileSync(process.execPath, args, { encoding: 'utf8' }))
}

const samples = { heron: [], v8: [] }
for (let i = 0; i < runs; i++) {
  for (const side of ['heron', 'v8']) samples[side].push(measure(side))
}
const outputs = new Set([...samples.heron, ...samples.v8].map((s) => s.out))
if (outputs.size !== 1) throw new Error(`outputs differ: ${[...outputs]}`)
const stats = (list) => {
  const ms = list.map((s) => s.ms).sort((a, b) => a - b)
  return { min: ms[0], median: ms[Math.floor(ms.length / 2)] }
}
const heron = stats(samples.heron)
const v8 = stats(samples.v8)
console.log(`first @swc/wasm transform in a fresh process, ${runs} runs each (ms):`)
console.log(`  heron  min ${heron.min.toFixed(1)}  median ${heron.median.toFixed(1)}`)
console.log(`  v8     min ${v8.min.toFixed(1)}  median ${v8.median.toFixed(1)}`)
console.log(`  ratio (min) ${(heron.min / v8.min).toFixed(2)}`)
