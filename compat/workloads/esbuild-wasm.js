'use strict'
// Go (GOOS=js, wasm_exec.js): esbuild's async API runs the .wasm in a child `node`
// process and its sync API in a worker thread; both get heron through NODE_OPTIONS.
const { createHash } = require('node:crypto')
const esbuild = require('esbuild-wasm')

const sha256 = (text) => createHash('sha256').update(text).digest('hex')
const source = `
interface Point { x: number; y: number }
enum Color { Red, Green = 'green', Blue = 4 }
export class Vec implements Point {
  constructor(public x: number, public y: number) {}
  get length(): number { return Math.hypot(this.x, this.y) }
  add(other: Point): Vec { return new Vec(this.x + other.x, this.y + other.y) }
}
export const total = [1, 2, 3].map((n) => n ** 2).reduce((a, b) => a + b, 0)
export async function* gen() { for await (const c of [Color.Red, Color.Green, Color.Blue]) yield c }
const el = <div className="x">{total}</div>
`

async function main() {
  console.log('version', esbuild.version)
  const ts = await esbuild.transform(source, { loader: 'tsx', target: 'es2017', format: 'cjs', jsx: 'transform' })
  console.log('transform', ts.code.length, sha256(ts.code), ts.warnings.length)
  const min = await esbuild.transform(source, { loader: 'tsx', minify: true, target: 'es2020' })
  console.log(min.code.trim())
  const bad = await esbuild.transform('let x = ;', { loader: 'js' }).catch((e) => e.errors.map((m) => `${m.location.line}:${m.location.column} ${m.text}`))
  console.log('error', JSON.stringify(bad))
  await esbuild.stop()
  const built = esbuild.buildSync({
    stdin: { contents: source + '\nconsole.log(new Vec(3, 4).length, total)', loader: 'tsx', sourcefile: 'in.tsx' },
    bundle: true, write: false, format: 'iife', minify: true, jsx: 'transform', logLevel: 'silent',
  })
  const out = built.outputFiles[0]
  console.log('buildSync', out.contents.length, sha256(out.text))
  const sync = esbuild.transformSync('const f = (a = 1, ...r) => ({ a, r, ...{ b: 2 } })', { target: 'es2015', minify: true })
  console.log('transformSync', sync.code.trim())
}

main()
