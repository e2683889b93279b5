// Types for `import heron, { Module } from 'heron'` (index.mjs): the names of index.d.ts,
// and the whole namespace as the default export.
import * as heron from './index.js'

export * from './index.js'
export default heron
