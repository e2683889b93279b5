'use strict'
// The help text of the heron command, one string per command and one for the whole tool.

const OVERVIEW = `Usage: heron <command> [options] FILE [args...]

Runs and examines WebAssembly modules on heron (the WebAssembly JS API on Cranelift).

Commands:
  run FILE [args...]   run a WASI command, or call one export with --invoke
  validate FILE        check that FILE is a module heron accepts
  inspect FILE         list sections and their sizes, imports, exports, custom sections
                       and the features the module's declarations use
  compile FILE         validate and compile every function (fills heron's code cache
                       once heron has one; today it checks that everything compiles)

Options:
  -h, --help           show help (also: heron help <command>)
  -v, --version        show heron's version

Exit status: 0 on success; 1 for a usage error, an unreadable or invalid module or a link
error (one line on stderr: "heron: error: ..."); for run, the program's own exit code, or
134 (128 + SIGABRT, as wasmtime) when wasm code traps ("heron: wasm trap: ...").
`

const RUN = `Usage: heron run [options] FILE [args...]

Runs FILE as a WASI (preview1) command: calls its _start export with args as argv[1..],
and exits with the program's exit code. Options go before FILE; everything after FILE is
passed to the program.

Options:
  --dir HOST[::GUEST]   give the program the host directory HOST, seen as GUEST (default:
                        HOST as written); repeatable
  --env NAME=VALUE      set an environment variable for the program; --env NAME passes
                        heron's own value of NAME; repeatable. Nothing else is passed.
  --invoke NAME         call the export NAME instead of _start, with args converted to its
                        parameter types (i32, i64, f32, f64: decimal, 0x hex for integers,
                        nan and inf for floats) and print its results, one per line
  --timeout DURATION    stop each call into wasm that runs longer than DURATION (500,
                        500ms, 2s)
  --fuel N              stop the program after N wasm instructions
  --max-memory BYTES    the most each memory of the program may hold (65536, 64K, 16M)

A trap, a timeout or running out of fuel prints "heron: wasm trap: <message>" and exits
with 134. A module that imports
anything besides WASI functions cannot be run (there is nothing to provide it).
`

const VALIDATE = `Usage: heron validate FILE

Checks that FILE is a WebAssembly module heron accepts (decoding and validation, no code is
compiled). Prints "FILE: valid" and exits 0, or prints the reason and exits 1.
`

const INSPECT = `Usage: heron inspect FILE

Prints FILE's sections (id, name, offset and size in bytes), imports and exports with their
types, custom section names, function counts, and the features its declarations use (value
types, memory and table declarations, segments, tags). Features used only inside function
bodies (e.g. sign-extension or SIMD instructions on values never declared) are not detected.
Exits 1 after the report when heron rejects the module.
`

const COMPILE = `Usage: heron compile FILE

Validates FILE and compiles every function with heron's optimizing compiler, waiting until
all are compiled. heron has no code cache yet, so this only checks that the whole module
compiles and reports how long it took; once heron has a cache, this will fill it.
`

module.exports = { OVERVIEW, RUN, VALIDATE, INSPECT, COMPILE }
