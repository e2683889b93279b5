'use strict'
// `heron validate FILE`: decodes and validates FILE with heron (new WebAssembly.Module).

const { readModuleFile, compileModule } = require('./module-file.js')

function validate(heron, path, write) {
  compileModule(heron, readModuleFile(path), path)
  write(`${path}: valid\n`)
  return 0
}

module.exports = { validate }
