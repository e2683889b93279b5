'use strict'
// Rust + wasm-bindgen (node glue, 5 MiB module with the BPE ranks inside): tokenize and detokenize.
const { get_encoding } = require('tiktoken')

const enc = get_encoding('cl100k_base')
const samples = [
  'Hello, world!',
  'WebAssembly (abbreviated Wasm) is a binary instruction format for a stack-based virtual machine.',
  'function add(a, b) { return a + b } // 🦀 ünïcödé  tabs\tand\nnewlines',
]
for (const text of samples) {
  const tokens = enc.encode(text)
  const back = new TextDecoder().decode(enc.decode(tokens))
  console.log(tokens.length, Array.from(tokens).join(','), back === text)
}
const special = enc.encode('a<|endoftext|>b', 'all')
console.log('special', Array.from(special).join(','))
const long = 'The quick brown fox jumps over the lazy dog. '.repeat(2000)
console.log('long', enc.encode(long).length)
enc.free()
