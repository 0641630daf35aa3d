// The parts of the WebAssembly JS API the wasm engine uses. The project
// compiles without the DOM lib (where TypeScript keeps these types), so they
// are declared here as local types rather than as globals that could clash
// with a lib added later.

/** A compiled module: opaque, structured-cloneable to worker threads. */
export interface WasmModule {
  readonly __wasmModule?: never;
}

export type ExternKind = 'function' | 'table' | 'memory' | 'global' | 'tag';

export interface ImportDescriptor {
  module: string;
  name: string;
  kind: ExternKind;
}

export interface ExportDescriptor {
  name: string;
  kind: ExternKind;
}

export interface WasmMemory {
  readonly buffer: ArrayBuffer;
  grow(deltaPages: number): number;
}

type ErrorClass = abstract new (message?: string) => Error;

export interface WasmApi {
  compile(bytes: Uint8Array): Promise<WasmModule>;
  Module: {
    imports(module: WasmModule): ImportDescriptor[];
    exports(module: WasmModule): ExportDescriptor[];
  };
  Memory: new (descriptor: { initial: number; maximum?: number }) => WasmMemory;
  CompileError: ErrorClass;
  LinkError: ErrorClass;
  RuntimeError: ErrorClass;
}

export const WebAssemblyApi = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;
