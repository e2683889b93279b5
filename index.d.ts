// Types for heron's WebAssembly namespace (index.js), following the shape
// TypeScript's lib.dom.d.ts gives the built-in `WebAssembly`. Memory, Table and
// Global are not implemented yet, so they are absent here too.

/** Bytes of a WebAssembly module: an ArrayBuffer, any TypedArray, or a DataView. */
export type BufferSource = ArrayBufferView | ArrayBuffer

export type ImportExportKind = 'function' | 'table' | 'memory' | 'global' | 'tag'

export interface ModuleExportDescriptor {
  kind: ImportExportKind
  name: string
}

export interface ModuleImportDescriptor {
  kind: ImportExportKind
  module: string
  name: string
}

/** A value heron can supply for an import: only functions so far. */
export type ImportValue = Function
/** A value an instance can export: only functions are usable from JS so far. */
export type ExportValue = Function
export type ModuleImports = Record<string, ImportValue>
export type Imports = Record<string, ModuleImports>
export type Exports = Record<string, ExportValue>

export interface WebAssemblyInstantiatedSource {
  instance: Instance
  module: Module
}

interface ErrorOptions {
  cause?: unknown
}

/** Thrown when bytes are not a valid module (decoding or validation failed). */
export interface CompileError extends Error {}
export declare var CompileError: {
  prototype: CompileError
  new (message?: string, options?: ErrorOptions): CompileError
  (message?: string, options?: ErrorOptions): CompileError
}

/** Thrown when imports do not match what a module declares. */
export interface LinkError extends Error {}
export declare var LinkError: {
  prototype: LinkError
  new (message?: string, options?: ErrorOptions): LinkError
  (message?: string, options?: ErrorOptions): LinkError
}

/** Thrown when WebAssembly code traps; the message is the spec's wording, e.g. "integer divide by zero". */
export interface RuntimeError extends Error {}
export declare var RuntimeError: {
  prototype: RuntimeError
  new (message?: string, options?: ErrorOptions): RuntimeError
  (message?: string, options?: ErrorOptions): RuntimeError
}

/** A compiled, stateless WebAssembly module. */
export declare class Module {
  /** Compiles a copy of `bytes` synchronously. Throws CompileError for invalid bytes. */
  constructor(bytes: BufferSource)
  static exports(moduleObject: Module): ModuleExportDescriptor[]
  static imports(moduleObject: Module): ModuleImportDescriptor[]
  /** The payloads of the custom sections called `sectionName`, each copied into a new ArrayBuffer. */
  static customSections(moduleObject: Module, sectionName: string): ArrayBuffer[]
  readonly [Symbol.toStringTag]: 'WebAssembly.Module'
}

/** A module instantiated with its imports: its own state and callable exports. */
export declare class Instance {
  /** Links and instantiates synchronously, running the start function if there is one. */
  constructor(module: Module, importObject?: Imports)
  /** Frozen, null-prototype object holding the exports by name. */
  readonly exports: Exports
  readonly [Symbol.toStringTag]: 'WebAssembly.Instance'
}

/** Whether `bytes` are a valid module for heron. Throws TypeError if they are not a BufferSource. */
export declare function validate(bytes: BufferSource): boolean

/** Compiles a copy of `bytes`; every failure is a rejection. */
export declare function compile(bytes: BufferSource): Promise<Module>

/** Compiles and instantiates a copy of `bytes`. */
export declare function instantiate(bytes: BufferSource, importObject?: Imports): Promise<WebAssemblyInstantiatedSource>
/** Instantiates an already compiled module. */
export declare function instantiate(moduleObject: Module, importObject?: Imports): Promise<Instance>
