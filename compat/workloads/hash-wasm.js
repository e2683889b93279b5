'use strict'
// C compiled with clang alone (no Emscripten runtime), hand-tuned, embedded as bytes.
// Argon2id with memorySize 64 MiB grows its module's memory from a few pages to 64 MiB.
const h = require('hash-wasm')

async function main() {
  const data = new Uint8Array(1 << 20)
  for (let i = 0; i < data.length; i++) data[i] = (i * 2654435761) >>> 24
  for (const name of ['md5', 'sha1', 'sha256', 'sha512', 'sha3', 'keccak', 'blake2b', 'blake2s', 'blake3', 'xxhash64', 'xxhash128', 'crc32', 'crc64', 'ripemd160', 'whirlpool', 'sm3']) {
    console.log(name, await h[name](data))
  }
  const salt = new Uint8Array(16).fill(7)
  console.log('argon2id', await h.argon2id({ password: 'password', salt, parallelism: 1, iterations: 2, memorySize: 65536, hashLength: 32, outputType: 'hex' }))
  console.log('pbkdf2', await h.pbkdf2({ password: 'pw', salt, iterations: 2000, hashLength: 32, hashFunction: h.createSHA256(), outputType: 'hex' }))
  console.log('bcrypt', await h.bcrypt({ password: 'pw', salt, costFactor: 6, outputType: 'encoded' }))
  console.log('scrypt', await h.scrypt({ password: 'pw', salt, costFactor: 1024, blockSize: 8, parallelism: 1, hashLength: 32, outputType: 'hex' }))
  const hmac = await h.createHMAC(h.createSHA256(), 'key')
  hmac.init()
  for (let i = 0; i < 100; i++) hmac.update(data.subarray(i * 1000, i * 1000 + 999))
  console.log('hmac', hmac.digest('hex'))
}
main()
