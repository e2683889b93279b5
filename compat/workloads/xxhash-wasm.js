'use strict'
// Hand-written WebAssembly (xxhash.wat, embedded as bytes in the JS).
const xxhash = require('xxhash-wasm')

xxhash().then(({ h32, h32ToString, h32Raw, h64, h64ToString, h64Raw, create32, create64 }) => {
  for (const s of ['', 'a', 'hello world', 'ünïcödé 🦀', 'x'.repeat(1000)]) {
    console.log(JSON.stringify(s.slice(0, 12)), h32ToString(s), h64ToString(s), h32(s, 0xdeadbeef), h64(s, 42n))
  }
  const big = new Uint8Array(4 << 20)
  for (let i = 0; i < big.length; i++) big[i] = (i ^ (i >>> 8)) & 0xff
  console.log('raw', h32Raw(big), h64Raw(big))
  const s32 = create32(7)
  const s64 = create64(7n)
  for (let i = 0; i < 1000; i++) {
    s32.update(`chunk ${i};`)
    s64.update(big.subarray(i * 1000, i * 1000 + 777))
  }
  console.log('streaming', s32.digest(), s64.digest())
})
