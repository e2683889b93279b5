'use strict'
// Emscripten C: the QuickJS interpreter, evaluating JavaScript inside wasm.
const { newQuickJSWASMModuleFromVariant } = require('quickjs-emscripten-core')
const variant = require('@jitl/quickjs-wasmfile-release-sync')

async function main() {
  const QuickJS = await newQuickJSWASMModuleFromVariant(variant)
  const vm = QuickJS.newContext()
  const programs = [
    '1 + 2 * 3',
    'JSON.stringify([...Array(10).keys()].map((x) => x * x))',
    "let s = 0; for (let i = 0; i < 2e6; i++) s = (s + i * i) % 1000003; s",
    "function fib(n) { return n < 2 ? n : fib(n - 1) + fib(n - 2) } fib(25)",
    "(0.1 + 0.2).toString() + ' ' + Math.sqrt(2) + ' ' + (2 ** 53 + 1) + ' ' + 1e21.toFixed(2)",
    "'Ünïcödé 🦀'.normalize('NFD').length + ':' + [...'🦀🦀'].length",
    "new Date(Date.UTC(2020, 1, 29)).toISOString()",
    "String(12345678901234567890n * 98765432109876543210n)",
    "let a = []; for (let i = 0; i < 200000; i++) a.push({ i, s: 'x' + i }); a.filter((o) => o.i % 7 === 0).length",
    "/(\\d+)-(\\d+)/.exec('abc 123-456 def').slice(1).join('|')",
    "throw new RangeError('boom')",
  ]
  for (const code of programs) {
    const result = vm.evalCode(code)
    if (result.error) {
      console.log('error', JSON.stringify(vm.dump(result.error)))
      result.error.dispose()
    } else {
      console.log('ok', JSON.stringify(vm.dump(result.value)))
      result.value.dispose()
    }
  }
  const add = vm.newFunction('hostAdd', (a, b) => vm.newNumber(vm.getNumber(a) + vm.getNumber(b)))
  vm.setProp(vm.global, 'hostAdd', add)
  add.dispose()
  const r = vm.unwrapResult(vm.evalCode('let t = 0; for (let i = 0; i < 1000; i++) t = hostAdd(t, i); t'))
  console.log('host calls', vm.getNumber(r))
  r.dispose()
  const rt = vm.runtime
  rt.setMemoryLimit(8 << 20)
  const oom = vm.evalCode("let big = []; for (;;) big.push('y'.repeat(1000))")
  console.log('memory limit', oom.error ? vm.dump(oom.error).message ?? 'error' : 'no error')
  oom.error?.dispose()
  oom.value?.dispose()
  vm.dispose()
}
main()
