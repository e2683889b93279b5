'use strict'
// Emscripten -pthread (C++, libaom behind libavif): @squoosh/lib's multithreaded AVIF
// encoder for Node. Its Emscripten runtime starts a pool of worker_threads Workers and posts
// each the compiled WebAssembly.Module and the shared WebAssembly.Memory; the encoder's
// threads then run wasm in those Workers, blocking in memory.atomic.wait32 / Atomics.wait
// when idle. The module is loaded through its own file, as @squoosh/lib's codecs table does
// (the library's entry point assigns globalThis.navigator, which Node 21+ makes read-only),
// and given its bytes as wasmBinary (its Node path would fetch() a file path otherwise).
// Under heron the workload also checks that the encoder started threads in Workers
// (Emscripten posts a Worker {cmd: 'run'} for each thread it starts there; libaom starts
// one per core beyond the first) and that at least two Workers ran wasm
// (heron.threadsThatRanWasm() counts the threads that entered compiled code).
const fs = require('node:fs')
const path = require('node:path')
const crypto = require('node:crypto')

const build = path.dirname(require.resolve('@squoosh/lib'))
const file = (pattern) => path.join(build, fs.readdirSync(build).find((name) => pattern.test(name)))

// The pool size Emscripten reads, as a browser gives it (Node 20 has no navigator).
globalThis.navigator ??= { hardwareConcurrency: require('node:os').availableParallelism() }

function image(width, height, alpha) {
  const pixels = new Uint8Array(width * height * 4)
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 4
      pixels[i] = (x * 255) / width
      pixels[i + 1] = (y * 255) / height
      pixels[i + 2] = ((x ^ y) * 7) & 255
      pixels[i + 3] = alpha ? (x + y) & 255 : 255
    }
  }
  return pixels
}

const options = {
  cqLevel: 33, cqAlphaLevel: -1, denoiseLevel: 0, tileColsLog2: 1, tileRowsLog2: 1, speed: 6,
  subsample: 1, chromaDeltaQ: false, sharpness: 0, tune: 0,
}

// The Workers Emscripten's runtime starts threads in.
const threadWorkers = new Set()
const { Worker } = require('node:worker_threads')
const postMessage = Worker.prototype.postMessage
Worker.prototype.postMessage = function (message, ...rest) {
  if (message?.cmd === 'run') threadWorkers.add(this)
  return Reflect.apply(postMessage, this, [message, ...rest])
}

async function main() {
  const factory = require(file(/^avif_node_enc_mt-.*\.js$/)).default
  const encoder = await factory({
    wasmBinary: fs.readFileSync(file(/^avif_node_enc_mt-.*\.wasm$/)),
    locateFile: (name) => (name.endsWith('.worker.js') ? file(/^avif_node_enc_mt\.worker-.*\.js$/) : name),
  })
  const heron = process.env.HERON_COMPAT_EXPECT === 'heron' ? globalThis.WebAssembly : null
  for (const [width, height, alpha, extra] of [
    [256, 256, false, {}],
    [320, 200, true, { cqAlphaLevel: 20 }],
    [512, 384, false, { speed: 8, subsample: 3 }],
  ]) {
    const encoded = encoder.encode(image(width, height, alpha), width, height, { ...options, ...extra })
    console.log(`avif ${width}x${height}${alpha ? ' alpha' : ''}`, encoded.length, crypto.createHash('sha256').update(encoded).digest('hex'))
  }
  if (heron !== null) {
    const workersRanWasm = heron.threadsThatRanWasm() - 1
    if (threadWorkers.size < 1 || workersRanWasm < 2) {
      console.error(`squoosh-avif-mt: threads ran in ${threadWorkers.size} Worker(s) and ${workersRanWasm} Worker(s) ran wasm; expected at least 1 and 2`)
      process.exit(1)
    }
  }
  // The pool's Workers wait for work forever: end the process as the package's CLI does.
  process.exit(0)
}
main()
