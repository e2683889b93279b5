'use strict'
// `heron compile FILE`: validates FILE and compiles all of its functions, waiting for the
// background compilation to finish. heron has no code cache yet; this is where filling it
// belongs once there is one.

const { readModuleFile, compileModule } = require('./module-file.js')
const { parseModule } = require('./wasm-binary.js')

function compile(heron, path, write) {
  const bytes = readModuleFile(path)
  const start = process.hrtime.bigint()
  const module = compileModule(heron, bytes, path)
  heron.waitForCompilation(module)
  const milliseconds = Number(process.hrtime.bigint() - start) / 1e6
  const defined = parseModule(bytes).functions.filter((func) => !func.imported).length
  write(`${path}: compiled ${defined} function(s) in ${milliseconds.toFixed(1)} ms\n`)
  return 0
}

module.exports = { compile }
