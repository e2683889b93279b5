// Types for heron's WebAssembly namespace (index.js), following the shape
// TypeScript's lib.dom.d.ts gives the built-in `WebAssembly`, plus heron's
// install()/uninstall() for drop-in use.

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

/** A value that can satisfy an import. Numbers and BigInts stand for immutable globals. */
export type ImportValue = ExportValue | number | bigint
/** A value an instance exports. */
export type ExportValue = Function | Global | Memory | Table | Tag
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
  constructor(bytes: BufferSource, options?: CompileOptions)
  static exports(moduleObject: Module): ModuleExportDescriptor[]
  static imports(moduleObject: Module): ModuleImportDescriptor[]
  /** The payloads of the custom sections called `sectionName`, each copied into a new ArrayBuffer. */
  static customSections(moduleObject: Module, sectionName: string): ArrayBuffer[]
  readonly [Symbol.toStringTag]: 'WebAssembly.Module'
}

/** A module instantiated with its imports: its own state and callable exports. */
export declare class Instance {
  /** Links and instantiates synchronously, running the start function if there is one. */
  constructor(module: Module, importObject?: Imports, options?: InstanceOptions)
  /** Frozen, null-prototype object holding the exports by name. */
  readonly exports: Exports
  readonly [Symbol.toStringTag]: 'WebAssembly.Instance'
}

/**
 * The type of a memory's or table's addresses: "i64" for memory64's 64-bit memories and tables,
 * whose sizes, indices and `grow` results are BigInts (the JS API's AddressValue).
 */
export type AddressType = 'i32' | 'i64'

/** A Number for an "i32" memory or table, a BigInt for an "i64" one. */
export type AddressValue = number | bigint

export interface MemoryDescriptor {
  /** "i32" when absent. */
  address?: AddressType
  /** Size in 64 KiB pages (a BigInt for "i64", at most 262144 pages then). */
  initial: AddressValue
  maximum?: AddressValue
  /** Shared memories (threads) are not supported yet: `true` is a TypeError. */
  shared?: boolean
}

/** A linear memory, viewed from JS through `buffer`. */
export declare class Memory {
  constructor(descriptor: MemoryDescriptor)
  /** The memory's bytes, without copying. The same object until the memory grows; growth detaches it. */
  readonly buffer: ArrayBuffer
  /** Grows by `delta` pages and returns the old size in pages (BigInts for an "i64" memory). RangeError beyond the maximum. */
  grow(delta: AddressValue): AddressValue
  /** The current buffer: every buffer heron hands out is fixed-length. */
  toFixedLengthBuffer(): ArrayBuffer
  /**
   * Not available in heron: always throws a TypeError (also, as the spec says, for a memory
   * without a maximum). V8's public API cannot make a resizable ArrayBuffer over memory it
   * did not allocate; use `buffer` instead.
   */
  toResizableBuffer(): never
  readonly [Symbol.toStringTag]: 'WebAssembly.Memory'
}

/** "funcref" is accepted as a synonym of "anyfunc". */
export type TableKind = 'anyfunc' | 'funcref' | 'externref'

export interface TableDescriptor {
  /** "i32" when absent. */
  address?: AddressType
  element: TableKind
  initial: AddressValue
  maximum?: AddressValue
}

/** A table of references: wasm functions (or null) for "anyfunc", any JS value for "externref". */
export declare class Table {
  constructor(descriptor: TableDescriptor, value?: any)
  /** A BigInt for an "i64" table, as are its indices. */
  readonly length: AddressValue
  /** The element at `index`; the same function object every time. RangeError past the end. */
  get(index: AddressValue): any
  /** Only null or a wasm function for "anyfunc" tables (TypeError otherwise). RangeError past the end. */
  set(index: AddressValue, value?: any): void
  /** Grows by `delta` elements set to `value` and returns the old length. */
  grow(delta: AddressValue, value?: any): AddressValue
  readonly [Symbol.toStringTag]: 'WebAssembly.Table'
}

export type ValueType = 'i32' | 'i64' | 'f32' | 'f64' | 'v128' | 'externref' | 'anyfunc' | 'funcref'

export interface GlobalDescriptor<T extends ValueType = ValueType> {
  value: T
  mutable?: boolean
}

/** A global variable; i64 values are BigInts. v128 globals cannot be created or read from JS. */
export declare class Global<T extends ValueType = ValueType> {
  constructor(descriptor: GlobalDescriptor<T>, value?: any)
  /** TypeError when setting an immutable global. */
  value: any
  valueOf(): any
  readonly [Symbol.toStringTag]: 'WebAssembly.Global'
}

export interface TagType {
  parameters: ValueType[]
}

/** An exception tag: exceptions are caught by the tag they were thrown with. */
export declare class Tag {
  constructor(type: TagType)
  readonly [Symbol.toStringTag]: 'WebAssembly.Tag'
}

export interface ExceptionOptions {
  /** Gives the exception an own `stack` property, as V8 does. */
  traceStack?: boolean
}

/** A wasm exception: a tag and its payload. Not an Error. */
export declare class Exception {
  /** TypeError for `JSTag` or a payload whose length is not the tag's. */
  constructor(exceptionTag: Tag, payload: any[], options?: ExceptionOptions)
  /** Payload value `index`; TypeError if `exceptionTag` is not the exception's, RangeError past the end. */
  getArg(exceptionTag: Tag, index: number): any
  is(exceptionTag: Tag): boolean
  /** Undefined unless made with `traceStack: true`. */
  readonly stack: string | undefined
  readonly [Symbol.toStringTag]: 'WebAssembly.Exception'
}

/** The tag of JS exceptions in wasm: one externref, the thrown value. */
export declare const JSTag: Tag

/** Whether `bytes` are a valid module for heron. Throws TypeError if they are not a BufferSource. */
export declare function validate(bytes: BufferSource): boolean

/** Compiles a copy of `bytes` off the main thread; every failure is a rejection. */
export declare function compile(bytes: BufferSource, options?: CompileOptions): Promise<Module>

/** Compiles and instantiates a copy of `bytes`. */
export declare function instantiate(
  bytes: BufferSource,
  importObject?: Imports,
  options?: InstanceOptions & CompileOptions,
): Promise<WebAssemblyInstantiatedSource>
/** Instantiates an already compiled module. */
export declare function instantiate(moduleObject: Module, importObject?: Imports, options?: InstanceOptions): Promise<Instance>

/** Compiles the body of a Response (or a promise of one) served as application/wasm. */
export declare function compileStreaming(source: Response | PromiseLike<Response>): Promise<Module>

/** Compiles and instantiates the body of a Response served as application/wasm. */
export declare function instantiateStreaming(
  source: Response | PromiseLike<Response>,
  importObject?: Imports,
): Promise<WebAssemblyInstantiatedSource>

/** heron's compile options (README "Controls"). */
export interface CompileOptions {
  /**
   * Every NaN a float instruction produces is the canonical NaN, and the relaxed SIMD
   * instructions follow the spec's deterministic profile: bit-identical results on every machine.
   */
  deterministic?: boolean
}

/** heron's execution controls for an instance (README "Controls"). */
export interface InstanceOptions {
  /** Milliseconds: each call from JS into the instance that runs longer throws (code `ERR_HERON_TIMEOUT`). */
  timeout?: number
  /** Ctrl-C while the instance runs wasm throws (code `ERR_HERON_INTERRUPTED`) instead of ending the process. */
  breakOnSigint?: boolean
  /** Compile interrupt checks without a timeout, for `interruptHandle`. */
  interruptible?: boolean
  /** Budget of wasm instructions for the instance's lifetime (code `ERR_HERON_OUT_OF_FUEL`). */
  fuel?: number | bigint
  /** Bytes: the most each memory the instance defines may hold. */
  memoryLimit?: number
  /** Elements: the most each table the instance defines may hold. */
  tableLimit?: number
}

/** Interrupts one instance's running call, from any thread. Posts to a Worker as `{ id }`. */
export declare class InterruptHandle {
  readonly id: number
  /** The running call throws at its next check; true if the instance still exists. */
  interrupt(): boolean
}

/** The fuel an instance created with `fuel` has left. */
export declare function remainingFuel(instance: Instance): bigint
/** Adds fuel to an instance created with `fuel`. */
export declare function addFuel(instance: Instance, fuel: number | bigint): void
/** A handle for an interruptible instance, or re-wraps a handle posted from another thread. */
export declare function interruptHandle(source: Instance | { id: number }): InterruptHandle

/**
 * Puts heron in place of `globalThis.WebAssembly` (same property attributes); returns the
 * namespace. `options` become the defaults of every instance created until uninstall().
 */
export declare function install(options?: InstanceOptions): typeof import('./index')

/** Restores the `globalThis.WebAssembly` that install() replaced. */
export declare function uninstall(): void

/**
 * Blocks until every function of `module` is compiled. heron's `new Module()` returns once
 * the module is validated; its functions compile on background threads, and any function
 * called before the background reaches it compiles on its first call. Call this to take the
 * whole cost up front (e.g. before timing). Set `HERON_COMPILATION=eager` in the environment
 * to compile every module completely inside `new Module()` instead (`on-demand`: no
 * background threads, each function compiles on its first call). Throws `CompileError` if a
 * function cannot be compiled.
 */
export declare function waitForCompilation(module: Module): void
/**
 * heron's own: how many threads of the process (the main thread and Workers) have run wasm
 * code so far (instantiating alone does not count).
 */
export declare function threadsThatRanWasm(): number

/** The persistent code cache's contents and this process's use of it. */
export interface CodeCacheStats {
  /** The cache directory. */
  directory: string
  /** The most bytes its entries may take (HERON_CACHE_MAX_SIZE, default 1 GiB). */
  maxSize: number
  /** Entries in the directory now, and their total size in bytes. */
  entries: number
  bytes: number
  /** Modules this process found in the cache, did not find, and entries it wrote. */
  hits: number
  misses: number
  writes: number
}

/**
 * The persistent code cache (README "Code cache"): compiled code is kept between processes
 * in `HERON_CACHE_DIR`, else `$XDG_CACHE_HOME/heron`, else `~/.cache/heron`; `HERON_CACHE=off`
 * turns it off. Fixed when heron loads.
 */
export declare const cache: {
  /** The cache directory, or null when the cache is off. */
  readonly directory: string | null
  /** Whether modules are looked up in and stored to the cache. */
  readonly enabled: boolean
  /** What the cache holds and how this process used it; null when it is off. */
  stats(): CodeCacheStats | null
  /** Removes every entry of the cache directory (heron's files only). */
  clear(): void
  /** Writes now the compiled code the cache lacks (heron does after a quiet second, when background compilation ends, and at exit). */
  flush(): void
}

export interface WASIOptions {
  /** Required: 'preview1' (imports under `wasi_snapshot_preview1`) or 'unstable' (`wasi_unstable`), as node:wasi. */
  version: 'preview1' | 'unstable'
  /** The guest's argv; each converted with String(). */
  args?: readonly unknown[]
  /** The guest's environment; entries whose value is undefined are left out. */
  env?: Record<string, unknown>
  /** Guest path => host directory. Only these directories (and what they contain) are reachable. */
  preopens?: Record<string, string>
  /** Default true: proc_exit makes start() return the code. false: proc_exit ends the process. */
  returnOnExit?: boolean
  /** Host file descriptors behind the guest's 0, 1 and 2 (default 0, 1, 2). */
  stdin?: number
  stdout?: number
  stderr?: number
}

/** What start() and initialize() need of an instance: its exports, with a `memory` (heron's or V8's). */
export interface WASIInstance {
  exports: Record<string, unknown>
}

/**
 * WASI preview1 with the API of Node's `node:wasi` WASI class, for instances of heron (or of
 * V8's WebAssembly). File access is confined to the preopened directories. While heron is
 * installed, `require('node:wasi').WASI` and `import { WASI } from 'node:wasi'` are this class.
 */
export declare class WASI {
  constructor(options: WASIOptions)
  /** The preview1 functions, to import under `wasi_snapshot_preview1`. */
  readonly wasiImport: Record<string, (...args: any[]) => number>
  /** `{ wasi_snapshot_preview1: wasiImport }` (or `wasi_unstable` for version 'unstable'). */
  getImportObject(): Record<string, Record<string, (...args: any[]) => number>>
  /**
   * Runs a command: calls `_start` (which must be exported; `_initialize` must not be) and
   * returns the exit code. Throws ERR_WASI_ALREADY_STARTED when called a second time.
   */
  start(instance: WASIInstance): number
  /** Prepares a reactor: calls `_initialize` if exported (`_start` must not be). Once only. */
  initialize(instance: WASIInstance): void
  /** Binds the memory (default `instance.exports.memory`) without running anything. Once only. */
  finalizeBindings(instance: WASIInstance, options?: { memory?: Memory | WebAssembly.Memory }): void
}
