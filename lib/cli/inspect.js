'use strict'
// `heron inspect FILE`: a report of FILE's structure (from wasm-binary.js), its features (from
// features.js) and whether heron accepts it.

const { CliError } = require('./errors.js')
const { readModuleFile, compileModule } = require('./module-file.js')
const { parseModule, functionType, MalformedModule } = require('./wasm-binary.js')
const { detectFeatures } = require('./features.js')

function formatFunctionType(type) {
  if (type === undefined) return 'func (unknown type)'
  const params = type.params.length > 0 ? ` (param ${type.params.join(' ')})` : ''
  const results = type.results.length > 0 ? ` (result ${type.results.join(' ')})` : ''
  return `func${params}${results}`
}

function formatLimits({ min, max }, unit) {
  return max === undefined ? `min ${min} ${unit}` : `min ${min} max ${max} ${unit}`
}

function formatMemory(memory) {
  const flags = [memory.shared && 'shared', memory.memory64 && 'i64'].filter(Boolean)
  return ['memory', ...flags, formatLimits(memory.limits, 'pages')].join(' ')
}

// The type of import or export `entry` as a short text-format-like description.
function describeEntity(structure, entry) {
  switch (entry.kind) {
    case 'function':
      return formatFunctionType(entry.module === undefined ? functionType(structure, entry.index) : structure.types[entry.typeIndex])
    case 'table': {
      const table = entry.table ?? structure.tables[entry.index]
      return table === undefined ? 'table' : `table ${table.element} ${formatLimits(table.limits, 'elements')}`
    }
    case 'memory': {
      const memory = entry.memory ?? structure.memories[entry.index]
      return memory === undefined ? 'memory' : formatMemory(memory)
    }
    case 'global': {
      const global = entry.global ?? structure.globals[entry.index]
      return global === undefined ? 'global' : `global ${global.mutable ? 'mut ' : ''}${global.type}`
    }
    default:
      return entry.kind
  }
}

function formatReport(path, bytes, structure, verdict) {
  const lines = [`${path}: WebAssembly binary module, version ${structure.version}, ${bytes.length} bytes`, verdict, '']
  lines.push('sections:')
  const names = structure.sections.map((section) => section.id === 0 ? `custom ${JSON.stringify(section.customName)}` : section.name)
  const nameWidth = Math.max(4, ...names.map((name) => name.length))
  lines.push(`  id  ${'name'.padEnd(nameWidth)}     offset       size`)
  structure.sections.forEach((section, i) => {
    lines.push(`  ${String(section.id).padStart(2)}  ${names[i].padEnd(nameWidth)} ${String(section.offset).padStart(10)} ${String(section.size).padStart(10)}`)
  })
  for (const [title, entries, label] of [
    ['imports', structure.imports, (entry) => `${entry.module}.${entry.name}`],
    ['exports', structure.exports, (entry) => entry.name],
  ]) {
    lines.push('', `${title} (${entries.length}):`)
    const width = Math.max(0, ...entries.map((entry) => label(entry).length))
    for (const entry of entries) lines.push(`  ${label(entry).padEnd(width)}  ${describeEntity(structure, entry)}`)
  }
  const imported = structure.functions.filter((func) => func.imported).length
  lines.push('', `functions: ${structure.functions.length - imported} defined, ${imported} imported`)
  lines.push(`custom sections: ${structure.customSections.map((name) => JSON.stringify(name)).join(', ') || 'none'}`)
  const features = detectFeatures(structure)
  lines.push('features used (detected from declarations, not from instructions):')
  lines.push(...(features.length > 0 ? features.map((feature) => `  ${feature}`) : ['  none beyond WebAssembly 1.0']))
  if (structure.targetFeatures !== undefined) {
    lines.push(`features the toolchain declares (target_features section): ${structure.targetFeatures.join(' ') || 'none'}`)
  }
  return lines.join('\n') + '\n'
}

function inspect(heron, path, write) {
  const bytes = readModuleFile(path)
  let structure
  try {
    structure = parseModule(bytes)
  } catch (error) {
    if (!(error instanceof MalformedModule)) throw error
    // heron's own message is the authority on what is wrong; ours only if heron accepts it.
    compileModule(heron, bytes, path)
    throw new CliError(`cannot inspect ${path}: ${error.message}`)
  }
  let rejection
  try {
    compileModule(heron, bytes, path)
  } catch (error) {
    if (!(error instanceof CliError)) throw error
    rejection = error
  }
  const verdict = rejection === undefined ? 'valid: yes (heron accepts it)' : 'valid: no (heron rejects it, see below)'
  write(formatReport(path, bytes, structure, verdict))
  if (rejection !== undefined) throw rejection
  return 0
}

module.exports = { inspect }
