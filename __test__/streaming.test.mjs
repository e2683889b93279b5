// compileStreaming and instantiateStreaming: Response checks in the spec's order (type,
// Content-Type, status, body use) as rejections, and compiling from the response's bytes.
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { implementations } from './fixtures/implementations.mjs'
import { wat } from './fixtures/wat.mjs'

const bytes = wat(`(module (import "env" "base" (global i32))
  (func (export "add") (param i32) (result i32) (i32.add (global.get 0) (local.get 0))))`)

const wasmResponse = (body = bytes, init = {}) =>
  new Response(body, { headers: { 'Content-Type': 'application/wasm' }, ...init })

for (const [name, WebAssembly] of implementations) {
  describe(name, () => {
    test('compileStreaming compiles a Response or a promise of one', async () => {
      const module = await WebAssembly.compileStreaming(wasmResponse())
      assert.ok(module instanceof WebAssembly.Module)
      const again = await WebAssembly.compileStreaming(Promise.resolve(wasmResponse()))
      assert.deepEqual(WebAssembly.Module.exports(again), [{ name: 'add', kind: 'function' }])
    })

    test('instantiateStreaming resolves to {module, instance}', async () => {
      const { module, instance } = await WebAssembly.instantiateStreaming(wasmResponse(), { env: { base: 40 } })
      assert.ok(module instanceof WebAssembly.Module)
      assert.equal(instance.exports.add(2), 42)
    })

    // The spec compares the MIME type's essence; Node's own implementation compares the whole header.
    const essenceOnly = name === 'v8' && 'Node compares the whole Content-Type header'
    test('a Content-Type with parameters and other case is accepted', { skip: essenceOnly }, async () => {
      const response = new Response(bytes, { headers: { 'Content-Type': 'Application/WASM; charset=binary' } })
      assert.ok((await WebAssembly.compileStreaming(response)) instanceof WebAssembly.Module)
    })

    test('rejects with TypeError for non-Responses, wrong Content-Type, bad status or a used body', async () => {
      await assert.rejects(WebAssembly.compileStreaming(bytes), TypeError)
      await assert.rejects(WebAssembly.compileStreaming(Promise.resolve({})), TypeError)
      await assert.rejects(WebAssembly.compileStreaming(new Response(bytes)), TypeError)
      const html = new Response(bytes, { headers: { 'Content-Type': 'text/html' } })
      await assert.rejects(WebAssembly.compileStreaming(html), TypeError)
      await assert.rejects(WebAssembly.compileStreaming(wasmResponse(bytes, { status: 404 })), TypeError)
      const used = wasmResponse()
      await used.arrayBuffer()
      await assert.rejects(WebAssembly.compileStreaming(used), TypeError)
    })

    test('rejects with CompileError for bad bytes, LinkError for bad imports, and passes on rejected promises', async () => {
      await assert.rejects(WebAssembly.compileStreaming(wasmResponse(new Uint8Array([0, 97, 115, 109]))), WebAssembly.CompileError)
      await assert.rejects(WebAssembly.instantiateStreaming(wasmResponse(), { env: { base: 'x' } }), WebAssembly.LinkError)
      const reason = new Error('network down')
      await assert.rejects(WebAssembly.compileStreaming(Promise.reject(reason)), (error) => error === reason)
    })
  })
}
