// The heron command (bin/heron.js): each subcommand run as a user would, in a child process,
// checking stdout, the one-line errors on stderr and the exit codes README documents.
import { test, describe, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { wat } from './fixtures/wat.mjs'

const heronBin = fileURLToPath(new URL('../bin/heron.js', import.meta.url))
let dir

function heron(...args) {
  const result = spawnSync(process.execPath, [heronBin, ...args], { cwd: dir, encoding: 'utf8' })
  return { code: result.status, stdout: result.stdout, stderr: result.stderr }
}

// Asserts the run failed with exactly one stderr line matching `pattern` and exit code `code`.
function assertOneLineFailure(result, code, pattern) {
  assert.equal(result.code, code, `exit code; stderr: ${result.stderr}`)
  const lines = result.stderr.trimEnd().split('\n')
  assert.equal(lines.length, 1, `expected one line on stderr, got:\n${result.stderr}`)
  assert.match(lines[0], pattern)
}

const modules = {
  'calc.wasm': `(module
    (memory (export "memory") 1 2)
    (global (export "counter") (mut i32) (i32.const 0))
    (func (export "add") (param i32 i32) (result i32) local.get 0 local.get 1 i32.add)
    (func (export "wide") (param i64 f32 f64) (result i64 f32 f64)
      local.get 0 i64.const 1 i64.add local.get 1 local.get 2 f64.neg)
    (func (export "nothing"))
    (func (export "divide") (param i32 i32) (result i32) local.get 0 local.get 1 i32.div_s)
    (func $recurse (export "recurse") call $recurse)
    (func (export "crash") unreachable))`,
  // A runaway loop and a memory grow, for the controls.
  'controls.wasm': `(module
    (memory 1 2)
    (func (export "add") (param i32 i32) (result i32) local.get 0 local.get 1 i32.add)
    (func (export "spin") (loop br 0))
    (func (export "grow") (result i32) (memory.grow (i32.const 1))))`,
  'imports.wasm': `(module
    (import "env" "log" (func $log (param i32)))
    (import "env" "table" (table 1 funcref))
    (import "wasi_snapshot_preview1" "fd_write" (func (param i32 i32 i32 i32) (result i32)))
    (func (export "run") i32.const 1 call $log))`,
  // A WASI command: prints its argument count and first argument's first byte, exits with 7.
  'command.wasm': `(module
    (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
    (import "wasi_snapshot_preview1" "args_sizes_get" (func $args_sizes_get (param i32 i32) (result i32)))
    (import "wasi_snapshot_preview1" "proc_exit" (func $proc_exit (param i32)))
    (memory (export "memory") 1)
    (data (i32.const 16) "argc=?\\n")
    (func (export "_start")
      (drop (call $args_sizes_get (i32.const 0) (i32.const 4)))
      (i32.store8 (i32.const 21) (i32.add (i32.const 48) (i32.load (i32.const 0))))
      (i32.store (i32.const 8) (i32.const 16))
      (i32.store (i32.const 12) (i32.const 7))
      (drop (call $fd_write (i32.const 1) (i32.const 8) (i32.const 1) (i32.const 100)))
      (call $proc_exit (i32.const 7))))`,
  'trapping-command.wasm': `(module
    (import "wasi_snapshot_preview1" "proc_exit" (func (param i32)))
    (memory (export "memory") 1)
    (func (export "_start") unreachable))`,
  // A WASI library (reactor): _initialize sets a global that an export then reads.
  'reactor.wasm': `(module
    (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
    (memory (export "memory") 1)
    (global $ready (mut i32) (i32.const 0))
    (data (i32.const 16) "hello\\n")
    (func (export "_initialize") (global.set $ready (i32.const 1)))
    (func (export "greet") (result i32)
      (i32.store (i32.const 8) (i32.const 16))
      (i32.store (i32.const 12) (i32.const 6))
      (drop (call $fd_write (i32.const 1) (i32.const 8) (i32.const 1) (i32.const 100)))
      global.get $ready))`,
  'features.wasm': `(module
    (type (func (param v128) (result i32 i64)))
    (table 1 externref)
    (table 1 funcref)
    (memory 1)
    (global (export "g") (mut f64) (f64.const 0))
    (data "passive")
    (func (export "f") (type 0) i32.const 0 i64.const 0))`,
}

// `bytes` with a custom section appended (wabt's parser has no custom-section annotation).
function withCustomSection(bytes, name, payload) {
  const content = Buffer.concat([Buffer.from([name.length]), Buffer.from(name), Buffer.from(payload)])
  return Buffer.concat([bytes, Buffer.from([0, content.length]), content])
}

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'heron-cli-'))
  for (const [name, text] of Object.entries(modules)) writeFileSync(join(dir, name), wat(text))
  const targetFeatures = Buffer.from([2, 0x2b, 7, ...Buffer.from('simd128'), 0x2d, 7, ...Buffer.from('atomics')])
  const features = withCustomSection(wat(modules['features.wasm']), 'extra', 'payload')
  writeFileSync(join(dir, 'features.wasm'), withCustomSection(features, 'target_features', targetFeatures))
  // i32.add with one operand: well-formed bytes that fail validation.
  writeFileSync(join(dir, 'invalid.wasm'), Buffer.from('0061736d010000000105016000017f030201000a0701050041006a0b', 'hex'))
  writeFileSync(join(dir, 'garbage.wasm'), 'not wasm at all')
  // Proposals heron does not run (wabt here assembles none of them), in bytes: a type () -> (),
  // a shared memory (limits flags 3), a 64-bit memory (flags 4) and a tag (section 13).
  writeFileSync(join(dir, 'proposals.wasm'), Buffer.from('0061736d01000000' + '010401600000' + '0506020301020401' + '0d03010000', 'hex'))
  // A struct type: the GC proposal, whose objects heron does not implement.
  writeFileSync(join(dir, 'gc.wasm'), Buffer.from('0061736d01000000' + '0106026000005f00', 'hex'))
  writeFileSync(join(dir, 'text.wat'), '(module)')
})
after(() => rmSync(dir, { recursive: true, force: true }))

describe('usage', () => {
  test('no command prints the usage to stderr and exits 1', () => {
    const result = heron()
    assert.equal(result.code, 1)
    assert.match(result.stderr, /^Usage: heron <command>/)
    assert.match(result.stderr, /heron: error: no command given/)
  })

  test('an unknown command prints the usage and one error line, exit 1', () => {
    const result = heron('frobnicate', 'x.wasm')
    assert.equal(result.code, 1)
    assert.match(result.stderr, /^Usage: heron <command>/)
    assert.match(result.stderr, /\nheron: error: unknown command "frobnicate" \(commands: run, validate, inspect, compile\)\n$/)
  })

  test('--help and help <command> print help on stdout and exit 0', () => {
    const overview = heron('--help')
    assert.equal(overview.code, 0)
    assert.match(overview.stdout, /Commands:\n {2}run FILE/)
    assert.match(overview.stdout, /134 \(128 \+ SIGABRT/)
    for (const args of [['run', '--help'], ['help', 'run']]) {
      const result = heron(...args)
      assert.equal(result.code, 0)
      assert.match(result.stdout, /^Usage: heron run \[options\] FILE/)
      assert.match(result.stdout, /--dir HOST\[::GUEST\]/)
    }
    assert.match(heron('compile', '-h').stdout, /will fill it/)
    // run's own --help, after options that take values; after FILE it belongs to the program.
    assert.match(heron('run', '--dir', '.', '--help').stdout, /^Usage: heron run/)
    assertOneLineFailure(heron('run', 'calc.wasm', '--help'), 1, /has no _start export/)
  })

  test('--version prints the package version', () => {
    const result = heron('--version')
    assert.equal(result.code, 0)
    assert.match(result.stdout, /^heron \d+\.\d+\.\d+\n$/)
  })

  test('a missing or extra file argument is one line, exit 1', () => {
    assertOneLineFailure(heron('validate'), 1, /^heron: error: validate takes one module file: heron validate FILE$/)
    assertOneLineFailure(heron('inspect', 'a.wasm', 'b.wasm'), 1, /^heron: error: inspect takes one module file/)
    assertOneLineFailure(heron('run'), 1, /^heron: error: run needs a module file/)
    assertOneLineFailure(heron('run', '--bogus', 'calc.wasm'), 1, /^heron: error: unknown option '--bogus' \(see heron run --help\)$/)
    assertOneLineFailure(heron('validate', '--strict', 'calc.wasm'), 1, /^heron: error: unknown option '--strict' \(see heron validate --help\)$/)
  })
})

describe('validate', () => {
  test('a valid module prints "FILE: valid" and exits 0', () => {
    assert.deepEqual(heron('validate', 'calc.wasm'), { code: 0, stdout: 'calc.wasm: valid\n', stderr: '' })
  })

  test('an invalid module is one line with heron\'s reason, exit 1', () => {
    assertOneLineFailure(heron('validate', 'invalid.wasm'), 1, /^heron: error: invalid\.wasm is not a valid module: .*type mismatch/)
    assertOneLineFailure(heron('validate', 'garbage.wasm'), 1, /^heron: error: garbage\.wasm is not a valid module: /)
  })

  test('a missing file, a directory, a text file: one line each, exit 1', () => {
    assertOneLineFailure(heron('validate', 'missing.wasm'), 1, /^heron: error: cannot read missing\.wasm: no such file$/)
    assertOneLineFailure(heron('validate', '.'), 1, /^heron: error: cannot read \.: it is a directory$/)
    assertOneLineFailure(heron('validate', 'text.wat'), 1, /^heron: error: text\.wat is WebAssembly text, not a binary module/)
  })
})

describe('inspect', () => {
  test('lists sections, imports and exports with types, and counts', () => {
    const result = heron('inspect', 'imports.wasm')
    assert.equal(result.code, 0, result.stderr)
    const lines = result.stdout.split('\n')
    assert.match(lines[0], /^imports\.wasm: WebAssembly binary module, version 1, \d+ bytes$/)
    assert.equal(lines[1], 'valid: yes (heron accepts it)')
    const sections = lines.filter((line) => /^ {2}[ \d]\d {2}\S/.test(line)).map((line) => line.trim().split(/\s+/).slice(0, 2))
    assert.deepEqual(sections, [['1', 'type'], ['2', 'import'], ['3', 'function'], ['7', 'export'], ['10', 'code']])
    assert.match(result.stdout, /\nimports \(3\):\n {2}env\.log +func \(param i32\)\n {2}env\.table +table funcref min 1 elements\n {2}wasi_snapshot_preview1\.fd_write +func \(param i32 i32 i32 i32\) \(result i32\)\n/)
    assert.match(result.stdout, /\nexports \(1\):\n {2}run {2}func\n/)
    assert.match(result.stdout, /\nfunctions: 1 defined, 2 imported\n/)
    assert.match(result.stdout, /\nfeatures used \(detected from declarations, not from instructions\):\n {2}none beyond WebAssembly 1\.0\n$/)
  })

  test('section sizes add up to the file size', () => {
    const result = heron('inspect', 'calc.wasm')
    const total = Number(result.stdout.match(/, (\d+) bytes\n/)[1])
    const rows = result.stdout.split('\n').filter((line) => /^ {2}[ \d]\d {2}\S/.test(line))
    const sizes = rows.map((line) => line.trim().split(/\s+/).map(Number))
    // Each section: 1 id byte, its size as LEB128, then `size` bytes, after the 8-byte header.
    const leb128Length = (n) => Math.max(1, Math.ceil(Math.log2(n + 1) / 7))
    const sum = sizes.reduce((bytes, row) => bytes + 1 + leb128Length(row.at(-1)) + row.at(-1), 8)
    assert.equal(sum, total)
    assert.match(result.stdout, /\n {2}memory +memory min 1 max 2 pages\n/)
    assert.match(result.stdout, /\n {2}counter +global mut i32\n/)
    assert.match(result.stdout, /\n {2}wide +func \(param i64 f32 f64\) \(result i64 f32 f64\)\n/)
  })

  test('reports custom sections and the features the declarations use', () => {
    const result = heron('inspect', 'features.wasm')
    assert.equal(result.code, 0, result.stderr)
    assert.match(result.stdout, /\n {2} 0 {2}custom "extra" /)
    assert.match(result.stdout, /\ncustom sections: "extra", "target_features"\n/)
    const [detected, declared] = result.stdout.split('not from instructions):\n')[1].trimEnd().split('\nfeatures the toolchain declares')
    assert.equal(declared, ' (target_features section): +simd128 -atomics')
    const features = detected.split('\n').map((line) => line.trim())
    assert.deepEqual(features, [
      'multi-value (functions with several results)',
      'reference types (externref, several tables, element expressions or declared elements)',
      'bulk memory (data count section or passive segments)',
      'SIMD (v128 values)',
      'mutable globals imported or exported',
    ])
  })

  test('features of the post-2.0 proposals heron implements are reported, and the module is valid', () => {
    const result = heron('inspect', 'proposals.wasm')
    assert.equal(result.code, 0, result.stderr)
    assert.match(result.stdout, /\nvalid: yes \(heron accepts it\)\n/)
    const features = result.stdout.split('not from instructions):\n')[1].trimEnd().split('\n').map((line) => line.trim())
    assert.deepEqual(features, [
      'threads (shared memory)',
      'memory64 (64-bit memory)',
      'multiple memories',
      'exception handling (tags)',
    ])
  })

  test('a module heron rejects (GC struct types) is one error line naming the GC proposal, exit 1', () => {
    const result = heron('inspect', 'gc.wasm')
    assertOneLineFailure(result, 1, /^heron: error: gc\.wasm is not a valid module: .*the GC proposal/)
  })

  test('an invalid module gets its report, then one error line and exit 1', () => {
    const result = heron('inspect', 'invalid.wasm')
    assertOneLineFailure(result, 1, /^heron: error: invalid\.wasm is not a valid module: /)
    assert.match(result.stdout, /\nvalid: no \(heron rejects it, see below\)\n/)
  })

  test('bytes that are not a module: one line, exit 1', () => {
    assertOneLineFailure(heron('inspect', 'garbage.wasm'), 1, /^heron: error: garbage\.wasm is not a valid module: /)
  })
})

describe('compile', () => {
  test('compiles every function and says how many', () => {
    const result = heron('compile', 'calc.wasm')
    assert.equal(result.code, 0, result.stderr)
    assert.match(result.stdout, /^calc\.wasm: compiled 6 function\(s\) in \d+\.\d ms; code cache( off|: .+)\n$/)
  })

  test('an invalid module is one line, exit 1', () => {
    assertOneLineFailure(heron('compile', 'invalid.wasm'), 1, /^heron: error: invalid\.wasm is not a valid module: /)
  })
})

describe('run --invoke', () => {
  test('parses arguments per parameter type and prints each result on its own line', () => {
    assert.deepEqual(heron('run', '--invoke', 'add', 'calc.wasm', '40', '2'), { code: 0, stdout: '42\n', stderr: '' })
    // i32 accepts the unsigned spelling and hex, and wraps like the wasm operation.
    assert.equal(heron('run', '--invoke', 'add', 'calc.wasm', '4294967295', '0x10').stdout, '15\n')
    assert.equal(heron('run', '--invoke', 'add', 'calc.wasm', '2147483647', '1').stdout, '-2147483648\n')
    assert.equal(
      heron('run', '--invoke', 'wide', 'calc.wasm', '9223372036854775807', '1.5', '-inf').stdout,
      '-9223372036854775808\n1.5\ninf\n',
    )
    // f32 arguments round to single precision.
    assert.equal(heron('run', '--invoke', 'wide', 'calc.wasm', '0', '0.1', 'nan').stdout, '1\n0.10000000149011612\nnan\n')
    assert.deepEqual(heron('run', '--invoke', 'nothing', 'calc.wasm'), { code: 0, stdout: '', stderr: '' })
  })

  test('argument errors are one line, exit 1', () => {
    assertOneLineFailure(heron('run', '--invoke', 'add', 'calc.wasm', '1'), 1, /^heron: error: add takes 2 argument\(s\) \(i32, i32\), got 1$/)
    assertOneLineFailure(
      heron('run', '--invoke', 'add', 'calc.wasm', '1', 'x'),
      1,
      /^heron: error: argument 2 of add is an i32: expected an integer from -2\^31 to 2\^32-1, got "x"$/,
    )
    assertOneLineFailure(heron('run', '--invoke', 'add', 'calc.wasm', '4294967296', '0'), 1, /argument 1 of add is an i32/)
    assertOneLineFailure(heron('run', '--invoke', 'sub', 'calc.wasm'), 1, /^heron: error: calc\.wasm has no export named "sub" \(exported functions: add, wide, nothing, divide, recurse, crash\)$/)
    assertOneLineFailure(heron('run', '--invoke', 'memory', 'calc.wasm'), 1, /^heron: error: export "memory" of calc\.wasm is a memory, not a function$/)
  })

  test('a trap is "heron: wasm trap: <message>" and exit code 134', () => {
    assertOneLineFailure(heron('run', '--invoke', 'divide', 'calc.wasm', '1', '0'), 134, /^heron: wasm trap: integer divide by zero$/)
    assertOneLineFailure(heron('run', '--invoke', 'crash', 'calc.wasm'), 134, /^heron: wasm trap: unreachable/)
    assertOneLineFailure(heron('run', '--invoke', 'recurse', 'calc.wasm'), 134, /^heron: wasm trap: Maximum call stack size exceeded$/)
  })

  test('imports other than WASI functions cannot be provided: one line, exit 1', () => {
    assertOneLineFailure(heron('run', '--invoke', 'run', 'imports.wasm'), 1, /^heron: error: imports\.wasm imports function env\.log, which heron run cannot provide \(only WASI functions\)$/)
  })
})

describe('run', () => {
  test('--timeout and --fuel stop a runaway export as a trap; --max-memory caps memory.grow', () => {
    assertOneLineFailure(heron('run', '--timeout', '50ms', '--invoke', 'spin', 'controls.wasm'), 134, /^heron: wasm trap: wasm execution timed out after 50 ms$/)
    assertOneLineFailure(heron('run', '--fuel', '1000', '--invoke', 'spin', 'controls.wasm'), 134, /^heron: wasm trap: .*fuel/)
    // controls.wasm's memory is 1 page of at most 2: a 64K cap refuses the second page (-1).
    assert.deepEqual(heron('run', '--max-memory', '64K', '--invoke', 'grow', 'controls.wasm'), { code: 0, stdout: '-1\n', stderr: '' })
    assert.deepEqual(heron('run', '--max-memory', '128K', '--invoke', 'grow', 'controls.wasm'), { code: 0, stdout: '1\n', stderr: '' })
    assert.deepEqual(heron('run', '--fuel', '1000000', '--invoke', 'add', 'controls.wasm', '1', '2'), { code: 0, stdout: '3\n', stderr: '' })
  })

  test('malformed control values are one-line errors', () => {
    for (const [option, value] of [['--timeout', 'soon'], ['--fuel', '1.5'], ['--max-memory', '1T']]) {
      assertOneLineFailure(heron('run', option, value, '--invoke', 'add', 'controls.wasm', '1', '2'), 1, new RegExp(`^heron: error: ${option} ${value}: expected `))
    }
  })

  test('a WASI command gets its arguments, writes to stdout and exits with its exit code', () => {
    assert.deepEqual(heron('run', 'command.wasm', 'a', '--b'), { code: 7, stdout: 'argc=3\n', stderr: '' })
    assert.deepEqual(heron('run', '--', 'command.wasm'), { code: 7, stdout: 'argc=1\n', stderr: '' })
  })

  test('a trap in a WASI command is one line and exit code 134', () => {
    assertOneLineFailure(heron('run', 'trapping-command.wasm'), 134, /^heron: wasm trap: unreachable/)
  })

  test('--invoke on a WASI library runs _initialize first and lets the export use WASI', () => {
    assert.deepEqual(heron('run', '--invoke', 'greet', 'reactor.wasm'), { code: 0, stdout: 'hello\n1\n', stderr: '' })
  })

  test('a module without _start is not a command: one line, exit 1', () => {
    assertOneLineFailure(heron('run', 'calc.wasm'), 1, /^heron: error: calc\.wasm has no _start export, so it is not a WASI command; use --invoke NAME to call an export$/)
  })

  test('--dir must name a directory', () => {
    assertOneLineFailure(heron('run', '--dir', 'nowhere::/data', '--invoke', 'nothing', 'calc.wasm'), 1, /--dir nowhere::\/data: nowhere is not a directory$/)
  })

  test('a missing module file is one line, exit 1', () => {
    assertOneLineFailure(heron('run', 'missing.wasm', 'arg'), 1, /^heron: error: cannot read missing\.wasm: no such file$/)
  })
})
