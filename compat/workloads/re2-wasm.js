'use strict'
// Emscripten C++ with embind: Google's RE2 exposed as a class through embind.
const { RE2 } = require('re2-wasm')

const text = 'The quick brown fox jumps over the lazy dog; Ünïcödé ÿ 42 times, 1999-12-31 and 2024-02-29.'
const dates = new RE2('(\\d{4})-(\\d{2})-(\\d{2})', 'gu')
console.log('match', JSON.stringify(text.match(dates)))
console.log('exec', JSON.stringify(new RE2('(\\w+) (\\w+)', 'u').exec(text)))
console.log('replace', text.replace(dates, '$3/$2/$1'))
console.log('split', JSON.stringify('a1b22c333d'.split(new RE2('\\d+', 'u'))))
console.log('search', text.search(new RE2('lazy', 'u')))
console.log('unicode', JSON.stringify(text.match(new RE2('\\p{Lu}\\p{Ll}+', 'gu'))))
console.log('ignorecase', new RE2('FOX', 'iu').test(text))
let count = 0
const word = new RE2('[a-z]+', 'gu')
const long = 'lorem ipsum dolor sit amet '.repeat(200)
while (word.exec(long) !== null) count++
console.log('words', count, word.lastIndex)
try {
  new RE2('(?<=x)y', 'u')
  console.log('lookbehind accepted')
} catch (e) {
  console.log('lookbehind rejected', e.constructor.name)
}
