// Rust + wasm-bindgen, `--target web`, initialised the way a browser would be: its
// init() gets a Response with the application/wasm type, which the glue hands to
// WebAssembly.instantiateStreaming. The package's exports map covers only its
// entry points, so the web build is imported by file.
import { readFile } from 'node:fs/promises'
import { createHash } from 'node:crypto'
import { createRequire } from 'node:module'
import path from 'node:path'

const require = createRequire(import.meta.url)
const dir = path.join(path.dirname(require.resolve('brotli-wasm')), 'pkg.web')
const { default: init, compress, decompress, CompressStream, DecompressStream, BrotliStreamResultCode } = await import(path.join(dir, 'brotli_wasm.js'))
const bytes = await readFile(path.join(dir, 'brotli_wasm_bg.wasm'))
await init(new Response(bytes, { headers: { 'content-type': 'application/wasm' } }))

const sha256 = (b) => createHash('sha256').update(b).digest('hex')
const text = new TextEncoder().encode(Array.from({ length: 20000 }, (_, i) => `line ${i}: ${(i * 7919) % 10007} ünïcödé`).join('\n'))
for (const quality of [0, 5, 11]) {
  const packed = compress(text, { quality })
  const back = decompress(packed)
  console.log('quality', quality, packed.length, sha256(packed), back.length === text.length && sha256(back) === sha256(text))
}
// Streaming in 4 KiB input chunks with a 1 KiB output buffer.
const cs = new CompressStream(9)
const parts = []
for (let off = 0; off < text.length; off += 4096) {
  let input = text.subarray(off, off + 4096)
  for (;;) {
    const r = cs.compress(input, 1024)
    parts.push(r.buf)
    input = input.subarray(r.input_offset)
    if (r.code === BrotliStreamResultCode.NeedsMoreInput) break
  }
}
for (;;) {
  const r = cs.compress(undefined, 1024)
  parts.push(r.buf)
  if (r.code === BrotliStreamResultCode.ResultSuccess) break
}
const streamed = Buffer.concat(parts)
console.log('stream', parts.length, streamed.length, sha256(streamed))
const ds = new DecompressStream()
const out = []
let input = streamed
for (;;) {
  const r = ds.decompress(input, 8192)
  out.push(r.buf)
  input = input.subarray(r.input_offset)
  if (r.code === BrotliStreamResultCode.ResultSuccess) break
}
console.log('unstream', sha256(Buffer.concat(out)) === sha256(text))
try {
  decompress(new Uint8Array([1, 2, 3, 4]))
  console.log('garbage accepted')
} catch (e) {
  console.log('garbage rejected', String(e))
}
