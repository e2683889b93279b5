'use strict'
// Whether Node runs with one of V8's perf flags, `--perf-basic-prof`,
// `--perf-basic-prof-only-functions` or `--perf-prof` (on the command line or in
// NODE_OPTIONS): then index.js turns heron's perf map on too (crates/engine/src/runtime/
// perf_map.rs), so `perf report` names wasm functions next to V8's JS without
// HERON_PERF_MAP=1. V8 accepts `_` for `-` in flag names, and a later `--no-` form
// turns a flag off.

const PERF_FLAGS = new Set(['perf-basic-prof', 'perf-basic-prof-only-functions', 'perf-prof'])

function nodeProfilesWithPerf(execArgv = process.execArgv, nodeOptions = process.env.NODE_OPTIONS ?? '') {
  let on = false
  for (const arg of [...nodeOptions.split(/\s+/), ...execArgv]) {
    if (!arg.startsWith('--')) continue
    const name = arg.slice(2).replaceAll('_', '-')
    if (PERF_FLAGS.has(name)) on = true
    else if (name.startsWith('no-') && PERF_FLAGS.has(name.slice(3))) on = false
  }
  return on
}

module.exports = { nodeProfilesWithPerf }
