'use strict'
// Emscripten C with dynamic linking: web-tree-sitter is a MAIN_MODULE and each
// grammar a SIDE_MODULE (dylink.0) linked at run time through a shared table,
// imported globals and GOT entries.
const { createHash } = require('node:crypto')
const { Parser, Language, Query } = require('web-tree-sitter')

const sha256 = (text) => createHash('sha256').update(text).digest('hex')
const source = `
import { readFile } from 'node:fs/promises'
export default async function main(path = './x.json', { retries = 3 } = {}) {
  for (let i = 0; i < retries; i++) {
    try { return JSON.parse(await readFile(path, 'utf8')) } catch (e) { if (i === retries - 1) throw e }
  }
}
const re = /a+(b|c)*/g, tpl = \`x\${1 + 2}y\`
`

async function main() {
  await Parser.init()
  const JavaScript = await Language.load(require.resolve('tree-sitter-javascript/tree-sitter-javascript.wasm'))
  const parser = new Parser()
  parser.setLanguage(JavaScript)
  console.log('abi', JavaScript.abiVersion, 'nodes', JavaScript.nodeTypeCount, 'fields', JavaScript.fieldCount)
  const tree = parser.parse(source)
  const sexp = tree.rootNode.toString()
  console.log('tree', tree.rootNode.descendantCount, tree.rootNode.hasError, sexp.length, sha256(sexp))
  console.log(sexp.slice(0, 200))
  const query = new Query(JavaScript, '(function_declaration name: (identifier) @fn) (string) @str (identifier) @id')
  const captures = query.captures(tree.rootNode).map((c) => `${c.name}:${c.node.text}@${c.node.startPosition.row}`)
  console.log('captures', captures.length, captures.slice(0, 12).join(' '))
  const edited = source.replace('retries = 3', 'retries = 30')
  const at = source.indexOf('3 }')
  const position = (index) => {
    const lines = source.slice(0, index).split('\n')
    return { row: lines.length - 1, column: lines.at(-1).length }
  }
  tree.edit({ startIndex: at, oldEndIndex: at + 1, newEndIndex: at + 2,
    startPosition: position(at), oldEndPosition: position(at + 1), newEndPosition: { ...position(at + 1), column: position(at + 1).column + 1 } })
  const tree2 = parser.parse(edited, tree)
  console.log('reparse', tree2.rootNode.descendantCount, tree.getChangedRanges(tree2).length, sha256(tree2.rootNode.toString()))
  const big = source.repeat(300)
  const tree3 = parser.parse(big)
  console.log('big', big.length, tree3.rootNode.descendantCount, tree3.rootNode.hasError)
  const cursor = tree3.walk()
  let visited = 0
  let depth = 0
  let maxDepth = 0
  for (;;) {
    visited++
    if (cursor.gotoFirstChild()) { depth++; maxDepth = Math.max(maxDepth, depth); continue }
    while (!cursor.gotoNextSibling()) { if (!cursor.gotoParent()) break; depth-- }
    if (depth === 0 && !cursor.gotoNextSibling()) break
  }
  console.log('walk', visited, maxDepth)
  for (const t of [tree, tree2, tree3]) t.delete()
  parser.delete()
}
main()
