'use strict'
// `node -r heron/register app.js`: runs app.js with heron as globalThis.WebAssembly
// and heron.WASI as node:wasi's WASI.
require('./index.js').install()
