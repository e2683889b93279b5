// Stack traces: an error leaving wasm, a trap's RuntimeError, a stack overflow's RangeError
// or an exception thrown by a JS import, lists the wasm frames among the JS frames exactly
// as V8 lists them: `    at NAME (wasm://wasm/HASH:wasm-function[INDEX]:0xOFFSET)`. Each
// test makes the same error on every implementation, from the same code, and compares the
// stacks line by line (JS frames included) down to the test's own frame; each also checks
// the wasm lines' shape, so a run against one implementation still tests something.
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { implementations } from './fixtures/implementations.mjs'
import { wat } from './fixtures/wat.mjs'
import { watWithNames } from './fixtures/wat-names.mjs'

const source = `(module $mymod
  (import "js" "call" (func $call_js))
  (func $inner (param i32) (if (local.get 0) (then (call $call_js))) unreachable)
  (func $outer (export "outer") (param i32) nop (call $inner (local.get 0)))
  (func (export "anonymous") unreachable)
  (func $recurse (export "recurse") (call $recurse)))`
const named = watWithNames(source)
const unnamed = wat(source)
const functionsOnly = watWithNames(source.replace('$mymod', ''))

const hash = '[0-9a-f]{8}'
const offset = '0x[0-9a-f]+'

function instantiate(WebAssembly, bytes, imports) {
  return new WebAssembly.Instance(new WebAssembly.Module(bytes), imports).exports
}

// What `run` throws. Every stack compared is made through this function, so the JS frames
// of heron's and V8's stacks are the same lines.
function thrown(run) {
  try {
    run()
  } catch (error) {
    return error
  }
  assert.fail('expected an exception')
}

// The stack's lines down to `thrown`'s frame (node:test's frames follow).
function stackLines(error) {
  const lines = error.stack.split('\n')
  const end = lines.findIndex((line) => line.startsWith('    at thrown '))
  return end === -1 ? lines : lines.slice(0, end + 1)
}

// The stack lines of the error `make(WebAssembly)` returns, per implementation; heron's
// must equal V8's.
function stacksLikeV8(make) {
  const stacks = new Map(implementations.map(([name, WebAssembly]) => [name, stackLines(make(WebAssembly))]))
  if (stacks.has('heron') && stacks.has('v8')) {
    assert.deepEqual(stacks.get('heron'), stacks.get('v8'))
  }
  return [...stacks.values()]
}

function withStackTraceLimit(limit, run) {
  const saved = Error.stackTraceLimit
  Error.stackTraceLimit = limit
  try {
    return run()
  } finally {
    Error.stackTraceLimit = saved
  }
}

const throwing = { js: { call: () => { throw new Error('from JS') } } }

describe('a trap lists the wasm frames in V8 format', () => {
  test('named module and functions: MODULE.FUNCTION (wasm://wasm/MODULE-HASH:...)', () => {
    for (const lines of stacksLikeV8((WebAssembly) => thrown(() => instantiate(WebAssembly, named, throwing).outer(0)))) {
      assert.equal(lines[0], 'RuntimeError: unreachable')
      assert.match(lines[1], new RegExp(`^    at mymod\\.inner \\(wasm://wasm/mymod-${hash}:wasm-function\\[1\\]:${offset}\\)$`))
      assert.match(lines[2], new RegExp(`^    at mymod\\.outer \\(wasm://wasm/mymod-${hash}:wasm-function\\[2\\]:${offset}\\)$`))
      assert.match(lines[3], /^    at .*stack-traces\.test\.mjs:\d+:\d+\)?$/)
    }
  })

  test('a function without a name in a named module: MODULE (URL)', () => {
    for (const lines of stacksLikeV8((WebAssembly) => thrown(() => instantiate(WebAssembly, named, throwing).anonymous()))) {
      assert.match(lines[1], new RegExp(`^    at mymod \\(wasm://wasm/mymod-${hash}:wasm-function\\[3\\]:${offset}\\)$`))
    }
  })

  test('no name section: the bare URL, without parentheses', () => {
    for (const lines of stacksLikeV8((WebAssembly) => thrown(() => instantiate(WebAssembly, unnamed, throwing).outer(0)))) {
      assert.match(lines[1], new RegExp(`^    at wasm://wasm/${hash}:wasm-function\\[1\\]:${offset}$`))
      assert.match(lines[2], new RegExp(`^    at wasm://wasm/${hash}:wasm-function\\[2\\]:${offset}$`))
    }
  })

  test('function names without a module name: FUNCTION (wasm://wasm/HASH:...)', () => {
    for (const lines of stacksLikeV8((WebAssembly) => thrown(() => instantiate(WebAssembly, functionsOnly, throwing).outer(0)))) {
      assert.match(lines[1], new RegExp(`^    at inner \\(wasm://wasm/${hash}:wasm-function\\[1\\]:${offset}\\)$`))
    }
  })

  test('the function called on its own, not as a method of exports', () => {
    stacksLikeV8((WebAssembly) => {
      const { outer } = instantiate(WebAssembly, named, throwing)
      return thrown(() => outer(0))
    })
  })

  test('offsets are those of the trapping instruction and of the calls', () => {
    for (const [, WebAssembly] of implementations) {
      const lines = stackLines(thrown(() => instantiate(WebAssembly, named, throwing).outer(0)))
      const byteAt = (line) => named[Number(line.match(/:(0x[0-9a-f]+)\)$/)[1])]
      assert.equal(byteAt(lines[1]), 0x00, 'the opcode of unreachable')
      assert.equal(byteAt(lines[2]), 0x10, 'the opcode of call')
    }
  })
})

test('a stack overflow RangeError lists the innermost wasm frames, up to Error.stackTraceLimit', () => {
  for (const lines of stacksLikeV8((WebAssembly) => thrown(() => instantiate(WebAssembly, named, throwing).recurse()))) {
    assert.equal(lines[0], 'RangeError: Maximum call stack size exceeded')
    assert.equal(lines.length, 1 + Error.stackTraceLimit)
    for (const line of lines.slice(1)) {
      assert.match(line, new RegExp(`^    at mymod\\.recurse \\(wasm://wasm/mymod-${hash}:wasm-function\\[4\\]:${offset}\\)$`))
    }
  }
})

describe('an error thrown by a JS import', () => {
  test('gets the wasm frames between the import and its caller, and stays the same object', () => {
    const errors = []
    const imports = { js: { call: () => { const error = new TypeError('from JS'); errors.push(error); throw error } } }
    const stacks = stacksLikeV8((WebAssembly) => {
      const error = thrown(() => instantiate(WebAssembly, named, imports).outer(1))
      assert.equal(error, errors.at(-1))
      return error
    })
    for (const lines of stacks) {
      assert.equal(lines[0], 'TypeError: from JS')
      assert.match(lines[1], /^    at call \(.*stack-traces\.test\.mjs:\d+:\d+\)$/)
      assert.match(lines[2], new RegExp(`^    at mymod\\.inner \\(wasm://wasm/mymod-${hash}:wasm-function\\[1\\]:${offset}\\)$`))
      assert.match(lines[3], new RegExp(`^    at mymod\\.outer \\(wasm://wasm/mymod-${hash}:wasm-function\\[2\\]:${offset}\\)$`))
    }
  })

  test('values that are not Error objects are thrown untouched', () => {
    const fake = { stack: 'Error: fake\n    at 2 (heron:exported-function:3:5)' }
    for (const value of [fake, 'text', 42, undefined]) {
      for (const [, WebAssembly] of implementations) {
        const exports = instantiate(WebAssembly, named, { js: { call: () => { throw value } } })
        assert.equal(thrown(() => exports.outer(1)), value)
      }
      if (value === fake) assert.equal(fake.stack, 'Error: fake\n    at 2 (heron:exported-function:3:5)')
    }
  })
})

test('nested calls JS -> wasm -> JS -> wasm interleave the frames', () => {
  const inner = watWithNames(`(module $second (func $fails (export "fails") unreachable))`)
  stacksLikeV8((WebAssembly) => {
    const { fails } = instantiate(WebAssembly, inner)
    const outer = instantiate(WebAssembly, named, { js: { call: () => fails() } })
    const lines = stackLines(thrown(() => outer.outer(1)))
    assert.match(lines[1], new RegExp(`^    at second\\.fails \\(wasm://wasm/second-${hash}:wasm-function\\[0\\]:${offset}\\)$`))
    assert.match(lines[2], /^    at call \(.*stack-traces\.test\.mjs:\d+:\d+\)$/)
    assert.match(lines[3], /mymod\.inner/)
    assert.match(lines[4], /mymod\.outer/)
    return thrown(() => outer.outer(1))
  })
})

test('frames of several modules in one call: a wasm function imported from another module', () => {
  const callee = watWithNames(`(module $callee (func $trap (export "trap") (param i32) unreachable))`)
  const caller = watWithNames(`(module $caller
    (import "callee" "trap" (func $imported (param i32)))
    (func $run (export "run") (call $imported (i32.const 7))))`)
  for (const lines of stacksLikeV8((WebAssembly) => {
    const { trap } = instantiate(WebAssembly, callee)
    return thrown(() => instantiate(WebAssembly, caller, { callee: { trap } }).run())
  })) {
    assert.match(lines[1], /^    at callee\.trap \(wasm:\/\/wasm\/callee-/)
    assert.match(lines[2], /^    at caller\.run \(wasm:\/\/wasm\/caller-/)
  }
})

describe('a start function', () => {
  const starting = watWithNames(`(module $starting
    (import "js" "call" (func $call_js (param i32)))
    (func $start (call $call_js (i32.const 0)) unreachable)
    (start $start))`)

  test('that traps lists its frames below the caller of new Instance', () => {
    for (const lines of stacksLikeV8((WebAssembly) =>
      thrown(() => new WebAssembly.Instance(new WebAssembly.Module(starting), { js: { call() {} } })))) {
      assert.match(lines[1], new RegExp(`^    at starting\\.start \\(wasm://wasm/starting-${hash}:wasm-function\\[1\\]:${offset}\\)$`))
      assert.match(lines[2], /^    at .*stack-traces\.test\.mjs:\d+:\d+\)?$/)
    }
  })

  test('whose import throws lists its frames below the import', () => {
    const imports = { js: { call: () => { throw new Error('from JS') } } }
    for (const lines of stacksLikeV8((WebAssembly) =>
      thrown(() => new WebAssembly.Instance(new WebAssembly.Module(starting), imports)))) {
      assert.match(lines[1], /^    at call \(/)
      assert.match(lines[2], /^    at starting\.start \(wasm:\/\/wasm\/starting-/)
    }
  })
})

describe('Error.stackTraceLimit and Error.prepareStackTrace', () => {
  test('the limit counts wasm frames too', () => {
    for (const limit of [0, 1, 2, 3]) {
      for (const lines of stacksLikeV8((WebAssembly) =>
        withStackTraceLimit(limit, () => thrown(() => instantiate(WebAssembly, named, throwing).outer(0))))) {
        assert.equal(lines.length, 1 + limit)
      }
    }
  })

  test('without a numeric limit there is no stack, and nothing is added', () => {
    for (const [, WebAssembly] of implementations) {
      const error = withStackTraceLimit(undefined, () => thrown(() => instantiate(WebAssembly, named, throwing).outer(0)))
      assert.equal(error.stack, undefined)
    }
  })

  test('a hook that formats as V8 does gets the wasm frames in its result', () => {
    const saved = Error.prepareStackTrace
    Error.prepareStackTrace = (error, callSites) => [String(error), ...callSites.map((site) => `    at ${site}`)].join('\n')
    try {
      stacksLikeV8((WebAssembly) => thrown(() => instantiate(WebAssembly, named, throwing).outer(0)))
    } finally {
      Error.prepareStackTrace = saved
    }
  })

  test('a hook that returns something else keeps its result (heron adds no frames to it)', () => {
    const saved = Error.prepareStackTrace
    Error.prepareStackTrace = (error, callSites) => callSites.map((site) => site.getFileName())
    try {
      for (const [, WebAssembly] of implementations) {
        const error = thrown(() => instantiate(WebAssembly, named, throwing).outer(0))
        assert.ok(Array.isArray(error.stack))
      }
    } finally {
      Error.prepareStackTrace = saved
    }
  })
})

const onHeron = { skip: !implementations.some(([name]) => name === 'heron') && 'heron is not under test' }

test('exported functions made without compiling source (--disallow-code-generation-from-strings) list wasm frames', onHeron, () => {
  const script = `
    const heron = require(${JSON.stringify(fileURLToPath(new URL('../index.js', import.meta.url)))})
    const bytes = Buffer.from(${JSON.stringify(Buffer.from(named).toString('base64'))}, 'base64')
    const { outer } = new heron.Instance(new heron.Module(bytes), { js: { call() {} } }).exports
    try { outer(0) } catch (error) { console.log(error.stack) }`
  const child = spawnSync(process.execPath, ['--disallow-code-generation-from-strings', '-e', script], { encoding: 'utf8' })
  assert.equal(child.status, 0, child.stderr)
  const lines = child.stdout.split('\n')
  assert.equal(lines[0], 'RuntimeError: unreachable')
  assert.match(lines[1], /^    at mymod\.inner \(wasm:\/\/wasm\/mymod-/)
  assert.match(lines[2], /^    at mymod\.outer \(wasm:\/\/wasm\/mymod-/)
  assert.match(lines[3], /^    at \[eval\]/)
})
