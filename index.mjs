// heron as an ES module: `import heron from 'heron'` is the WebAssembly-shaped namespace of
// index.js, and each of its members is also a named export (`import { Module } from 'heron'`).
// Node cannot see index.js's names statically (module.exports is a variable), hence this list.
import heron from './index.js'

export default heron
export const {
  Module,
  Instance,
  Memory,
  Table,
  Global,
  Tag,
  Exception,
  JSTag,
  CompileError,
  LinkError,
  RuntimeError,
  validate,
  compile,
  instantiate,
  compileStreaming,
  instantiateStreaming,
  install,
  uninstall,
  waitForCompilation,
  cache,
  remainingFuel,
  addFuel,
  interruptHandle,
  InterruptHandle,
  WASI,
} = heron
