'use strict'
// AssemblyScript: ChainSafe's SHA-256. It picks its SIMD build only when
// WebAssembly.validate accepts it, so on heron (no SIMD yet) it runs the scalar build.
async function main() {
  const sha = await import('@chainsafe/as-sha256')
  const hex = (bytes) => Buffer.from(bytes).toString('hex')
  for (const size of [0, 3, 55, 56, 64, 1000, 1 << 20]) {
    const input = new Uint8Array(size)
    for (let i = 0; i < size; i++) input[i] = (i * 13 + 7) & 0xff
    console.log(size, hex(sha.digest(input)))
  }
  const a = new Uint8Array(32).fill(1)
  const b = new Uint8Array(32).fill(2)
  console.log('digest2Bytes32', hex(sha.digest2Bytes32(a, b)))
  const inputs = [0, 1, 2, 3].map((k) => new Uint8Array(64).fill(k * 40))
  console.log('batch4', sha.batchHash4UintArray64s(inputs).map(hex).join(' '))
  const hasher = new sha.SHA256()
  let state = new Uint8Array(32)
  for (let i = 0; i < 10000; i++) state = hasher.init().update(state).final()
  console.log('chain', hex(state))
}
main()
