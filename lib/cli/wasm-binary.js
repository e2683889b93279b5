'use strict'
// A small reader for the WebAssembly binary format, for `heron inspect` and `heron run --invoke`.
// It reads the section layout and the declarations (types, imports, functions, tables,
// memories, globals, exports, tags, element and data segment headers, locals) and nothing of
// the instructions, so it never has to know every opcode. Validation stays heron's job: this
// reader only has to be right about modules heron or another engine would accept, and throws
// a MalformedModule error with the byte offset when the bytes don't follow the format.

const SECTION_NAMES = [
  'custom', 'type', 'import', 'function', 'table', 'memory', 'global',
  'export', 'start', 'element', 'code', 'data', 'data count', 'tag',
]

const VALUE_TYPES = new Map([
  [0x7f, 'i32'], [0x7e, 'i64'], [0x7d, 'f32'], [0x7c, 'f64'], [0x7b, 'v128'],
  [0x70, 'funcref'], [0x6f, 'externref'],
])

const EXTERNAL_KINDS = ['function', 'table', 'memory', 'global', 'tag']

class MalformedModule extends Error {
  constructor(message, offset) {
    super(`${message} at byte offset ${offset}`)
    this.name = 'MalformedModule'
  }
}

// A cursor over one byte range; every read checks the end of that range.
class Reader {
  constructor(bytes, start = 0, end = bytes.length) {
    this.bytes = bytes
    this.offset = start
    this.end = end
  }

  atEnd() {
    return this.offset >= this.end
  }

  byte() {
    if (this.offset >= this.end) throw new MalformedModule('unexpected end', this.offset)
    return this.bytes[this.offset++]
  }

  // Unsigned LEB128 of at most `bits` bits, as a Number (wasm's u32 fits exactly).
  u32() {
    const start = this.offset
    let result = 0
    let shift = 0
    for (;;) {
      const byte = this.byte()
      result += (byte & 0x7f) * 2 ** shift
      if ((byte & 0x80) === 0) break
      shift += 7
      if (shift >= 35) throw new MalformedModule('integer representation too long', start)
    }
    if (result > 0xffffffff) throw new MalformedModule('integer too large', start)
    return result
  }

  // A LEB128 of up to 64 bits whose value only matters as "zero or not" (limits of memory64).
  u64() {
    const start = this.offset
    let result = 0n
    let shift = 0n
    for (;;) {
      const byte = this.byte()
      result |= BigInt(byte & 0x7f) << shift
      if ((byte & 0x80) === 0) return result
      shift += 7n
      if (shift >= 70n) throw new MalformedModule('integer representation too long', start)
    }
  }

  skip(length) {
    if (this.offset + length > this.end) throw new MalformedModule('unexpected end', this.offset)
    this.offset += length
  }

  name() {
    const length = this.u32()
    const start = this.offset
    this.skip(length)
    return new TextDecoder('utf-8', { fatal: true }).decode(this.bytes.subarray(start, start + length))
  }

  valueType() {
    const offset = this.offset
    const code = this.byte()
    const type = VALUE_TYPES.get(code)
    if (type === undefined) {
      // 0x63/0x64 are the typed references of the function-references and GC proposals.
      throw new MalformedModule(`value type 0x${code.toString(16)} is not one this reader knows`, offset)
    }
    return type
  }

  // Skips a constant expression (global initializers, segment offsets): reads to its `end`.
  // Constant expressions hold only simple instructions, whose immediates are read here.
  constantExpression() {
    for (;;) {
      const offset = this.offset
      const opcode = this.byte()
      switch (opcode) {
        case 0x0b: return
        case 0x41: case 0x42: this.u64(); break // i32.const, i64.const (signed LEB, same length)
        case 0x43: this.skip(4); break // f32.const
        case 0x44: this.skip(8); break // f64.const
        case 0x23: case 0xd2: this.u32(); break // global.get, ref.func
        case 0xd0: this.byte(); break // ref.null t
        case 0x6a: case 0x6b: case 0x6c: case 0x7c: case 0x7d: case 0x7e: break // extended constant arithmetic
        case 0xfd: // v128.const
          if (this.u32() !== 12) throw new MalformedModule('unsupported instruction in constant expression', offset)
          this.skip(16)
          break
        default:
          throw new MalformedModule(`unsupported instruction 0x${opcode.toString(16)} in constant expression`, offset)
      }
    }
  }
}

/** Limits of a table or memory: { flags, min, max? }. */
function readLimits(reader) {
  const flags = reader.byte()
  const min = reader.u64()
  const max = flags & 0x01 ? reader.u64() : undefined
  return { flags, min, max }
}

function readTableType(reader) {
  const offset = reader.offset
  if (reader.bytes[offset] === 0x40) {
    throw new MalformedModule('tables with an initializer (function-references proposal) are not read', offset)
  }
  const element = reader.valueType()
  return { element, limits: readLimits(reader) }
}

function readMemoryType(reader) {
  const limits = readLimits(reader)
  return { limits, shared: (limits.flags & 0x02) !== 0, memory64: (limits.flags & 0x04) !== 0 }
}

function readGlobalType(reader) {
  const type = reader.valueType()
  const mutable = reader.byte() === 1
  return { type, mutable }
}

function readFunctionTypes(reader) {
  const types = []
  for (let count = reader.u32(); count > 0; count--) {
    const offset = reader.offset
    const form = reader.byte()
    if (form !== 0x60) {
      throw new MalformedModule(`type form 0x${form.toString(16)} (GC proposal) is not read`, offset)
    }
    const params = []
    for (let n = reader.u32(); n > 0; n--) params.push(reader.valueType())
    const results = []
    for (let n = reader.u32(); n > 0; n--) results.push(reader.valueType())
    types.push({ params, results })
  }
  return types
}

function readImports(reader, module) {
  for (let count = reader.u32(); count > 0; count--) {
    const moduleName = reader.name()
    const name = reader.name()
    const kindOffset = reader.offset
    const kind = EXTERNAL_KINDS[reader.byte()]
    const entry = { module: moduleName, name, kind }
    switch (kind) {
      case 'function': entry.typeIndex = reader.u32(); module.functions.push({ typeIndex: entry.typeIndex, imported: true }); break
      case 'table': entry.table = readTableType(reader); module.tables.push(entry.table); break
      case 'memory': entry.memory = readMemoryType(reader); module.memories.push(entry.memory); break
      case 'global': entry.global = readGlobalType(reader); module.globals.push(entry.global); break
      case 'tag': reader.byte(); entry.typeIndex = reader.u32(); module.tags.push(entry.typeIndex); break
      default: throw new MalformedModule('unknown import kind', kindOffset)
    }
    module.imports.push(entry)
  }
}

function readElementSegments(reader, module) {
  for (let count = reader.u32(); count > 0; count--) {
    const offset = reader.offset
    const flags = reader.u32()
    if (flags > 7) throw new MalformedModule(`unknown element segment flags ${flags}`, offset)
    module.elementSegmentFlags.push(flags)
    const passiveOrDeclared = (flags & 0x01) !== 0
    const explicitTable = (flags & 0x02) !== 0
    const usesExpressions = (flags & 0x04) !== 0
    if (!passiveOrDeclared && explicitTable) reader.u32() // table index
    if (!passiveOrDeclared) reader.constantExpression() // offset
    if (passiveOrDeclared || explicitTable) {
      if (usesExpressions) reader.valueType()
      else reader.byte() // element kind (0x00 = funcref)
    }
    for (let n = reader.u32(); n > 0; n--) {
      if (usesExpressions) reader.constantExpression()
      else reader.u32()
    }
  }
}

function readDataSegments(reader, module) {
  for (let count = reader.u32(); count > 0; count--) {
    const offset = reader.offset
    const flags = reader.u32()
    if (flags > 2) throw new MalformedModule(`unknown data segment flags ${flags}`, offset)
    const memoryIndex = flags === 2 ? reader.u32() : 0
    if (flags !== 1) reader.constantExpression()
    module.dataSegments.push({ passive: flags === 1, memoryIndex })
    reader.skip(reader.u32())
  }
}

// Reads each function body's local declarations (the only declarations inside the code
// section) and skips its instructions.
function readCodeLocals(reader, module) {
  for (let count = reader.u32(); count > 0; count--) {
    const size = reader.u32()
    const bodyEnd = reader.offset + size
    const body = new Reader(reader.bytes, reader.offset, bodyEnd)
    for (let groups = body.u32(); groups > 0; groups--) {
      body.u32()
      module.localTypes.add(body.valueType())
    }
    reader.skip(size)
  }
}

// The target_features custom section (tool-conventions Linking.md): the features the
// toolchain built the module with, each prefixed '+' (used) or '-' (disallowed); '=' (required)
// is an older spelling of '+'.
function readTargetFeatures(reader) {
  const features = []
  for (let count = reader.u32(); count > 0; count--) {
    const prefix = String.fromCharCode(reader.byte())
    features.push(`${prefix === '=' ? '+' : prefix}${reader.name()}`)
  }
  return features
}

/**
 * Parses a module's structure. Returns { sections, types, imports, functions, tables, memories,
 * globals, exports, tags, customSections, targetFeatures, elementSegmentFlags, dataSegments,
 * localTypes }, where
 * functions spans imported and defined functions (the function index space).
 * Throws MalformedModule when the bytes are not a WebAssembly binary module.
 */
function parseModule(bytes) {
  const reader = new Reader(bytes)
  if (bytes.length < 8 || bytes[0] !== 0x00 || bytes[1] !== 0x61 || bytes[2] !== 0x73 || bytes[3] !== 0x6d) {
    throw new MalformedModule('not a WebAssembly module (no \\0asm magic number)', 0)
  }
  const version = bytes[4] | (bytes[5] << 8) | (bytes[6] << 16) | (bytes[7] << 24)
  if (version !== 1) {
    throw new MalformedModule(`binary version ${version} is not 1 (a component or a newer format)`, 4)
  }
  reader.skip(8)

  const module = {
    version,
    sections: [],
    types: [],
    imports: [],
    functions: [],
    tables: [],
    memories: [],
    globals: [],
    exports: [],
    tags: [],
    customSections: [],
    elementSegmentFlags: [],
    dataSegments: [],
    localTypes: new Set(),
    targetFeatures: undefined,
  }
  while (!reader.atEnd()) {
    const headerOffset = reader.offset
    const id = reader.byte()
    const size = reader.u32()
    const start = reader.offset
    reader.skip(size)
    const body = new Reader(bytes, start, start + size)
    const section = { id, name: SECTION_NAMES[id], offset: headerOffset, size }
    if (section.name === undefined) throw new MalformedModule(`unknown section id ${id}`, headerOffset)
    switch (id) {
      case 0:
        section.customName = body.name()
        module.customSections.push(section.customName)
        if (section.customName === 'target_features') module.targetFeatures = readTargetFeatures(body)
        break
      case 1: module.types = readFunctionTypes(body); break
      case 2: readImports(body, module); break
      case 3: for (let n = body.u32(); n > 0; n--) module.functions.push({ typeIndex: body.u32(), imported: false }); break
      case 4: for (let n = body.u32(); n > 0; n--) module.tables.push(readTableType(body)); break
      case 5: for (let n = body.u32(); n > 0; n--) module.memories.push(readMemoryType(body)); break
      case 6:
        for (let n = body.u32(); n > 0; n--) {
          module.globals.push(readGlobalType(body))
          body.constantExpression()
        }
        break
      case 7:
        for (let n = body.u32(); n > 0; n--) {
          const name = body.name()
          const kindOffset = body.offset
          const kind = EXTERNAL_KINDS[body.byte()]
          if (kind === undefined) throw new MalformedModule('unknown export kind', kindOffset)
          module.exports.push({ name, kind, index: body.u32() })
        }
        break
      case 9: readElementSegments(body, module); break
      case 10: readCodeLocals(body, module); break
      case 11: readDataSegments(body, module); break
      case 13: for (let n = body.u32(); n > 0; n--) { body.byte(); module.tags.push(body.u32()) } break
      default: break // start (8) and data count (12) hold one index or count
    }
    module.sections.push(section)
  }
  return module
}

/** The parameter and result types of function `index` (imports first), or undefined. */
function functionType(module, index) {
  const func = module.functions[index]
  return func === undefined ? undefined : module.types[func.typeIndex]
}

module.exports = { parseModule, functionType, MalformedModule }
