'use strict'
// Which WebAssembly features a module uses, as far as its declarations show: value types in
// signatures, locals, globals and tables; memory flags; the number of memories and tables;
// segment kinds; the tag and data count sections. Instructions are not decoded, so a feature
// used only by instructions (say, a SIMD operation on values that never appear in a
// declaration) is not listed. `heron inspect` says so next to the list.

/** Returns the names of the features `module` (from parseModule) declares, in a fixed order. */
function detectFeatures(module) {
  const declaredTypes = new Set(module.localTypes)
  for (const type of module.types) {
    for (const t of [...type.params, ...type.results]) declaredTypes.add(t)
  }
  for (const global of module.globals) declaredTypes.add(global.type)
  for (const table of module.tables) declaredTypes.add(table.element)

  const features = []
  const add = (condition, name) => condition && features.push(name)
  add(module.types.some((type) => type.results.length > 1), 'multi-value (functions with several results)')
  add(
    declaredTypes.has('externref') || module.tables.length > 1 ||
      module.elementSegmentFlags.some((flags) => flags >= 4 || (flags & 0x03) === 0x03),
    'reference types (externref, several tables, element expressions or declared elements)',
  )
  add(
    module.sections.some((section) => section.id === 12) ||
      module.dataSegments.some((segment) => segment.passive) ||
      module.elementSegmentFlags.some((flags) => (flags & 0x03) === 0x01),
    'bulk memory (data count section or passive segments)',
  )
  add(declaredTypes.has('v128'), 'SIMD (v128 values)')
  add(module.memories.some((memory) => memory.shared), 'threads (shared memory)')
  add(module.memories.some((memory) => memory.memory64), 'memory64 (64-bit memory)')
  add(
    module.memories.length > 1 || module.dataSegments.some((segment) => segment.memoryIndex !== 0),
    'multiple memories',
  )
  add(module.tags.length > 0, 'exception handling (tags)')
  add(
    module.imports.some((entry) => entry.kind === 'global' && entry.global.mutable) ||
      module.exports.some((entry) => entry.kind === 'global' && module.globals[entry.index]?.mutable),
    'mutable globals imported or exported',
  )
  return features
}

module.exports = { detectFeatures }
