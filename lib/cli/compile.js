'use strict'
// `heron compile FILE`: validates FILE and compiles all of its functions, waiting for the
// background compilation to finish, and writes them to the code cache (README "Code
// cache"), so that later processes start without compiling.

const { readModuleFile, compileModule } = require('./module-file.js')
const { parseModule } = require('./wasm-binary.js')

function compile(heron, path, write) {
  const bytes = readModuleFile(path)
  const start = process.hrtime.bigint()
  const module = compileModule(heron, bytes, path)
  heron.waitForCompilation(module)
  heron.cache.flush()
  const milliseconds = Number(process.hrtime.bigint() - start) / 1e6
  const defined = parseModule(bytes).functions.filter((func) => !func.imported).length
  const where = heron.cache.enabled ? `; code cache: ${heron.cache.directory}` : '; code cache off'
  write(`${path}: compiled ${defined} function(s) in ${milliseconds.toFixed(1)} ms${where}\n`)
  return 0
}

module.exports = { compile }
