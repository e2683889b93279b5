'use strict'
// Rust + wasm-bindgen, `--target nodejs`: the glue instantiates the .wasm at require time.
const { createHash } = require('node:crypto')
const lz4 = require('lz4-wasm-nodejs')

const sha256 = (bytes) => createHash('sha256').update(bytes).digest('hex')
for (const size of [0, 1, 1000, 1 << 20, 5 << 20]) {
  const input = new Uint8Array(size)
  let x = 12345
  for (let i = 0; i < size; i++) {
    x = (x * 1103515245 + 12345) >>> 0
    input[i] = (x >>> 24) % 16 + (i % 97 === 0 ? 100 : 0) // compressible, not trivial
  }
  const packed = lz4.compress(input)
  const unpacked = lz4.decompress(packed)
  console.log(size, packed.length, sha256(packed), unpacked.length === size && sha256(unpacked) === sha256(input))
}
