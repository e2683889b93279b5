'use strict'
// `node -r heron/register app.js`: runs app.js with heron as globalThis.WebAssembly.
require('./index.js').install()
