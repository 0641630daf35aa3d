// Reads what the WebAssembly JS API does not tell in Node 20 (type reflection
// is still behind a flag): the limits of an imported memory, whether the
// module defines a memory of its own, and the signature of an exported
// function. Runs on bytes WebAssembly.compile has already validated; anything
// it does not understand (GC type forms) is reported as unknown, never guessed.

/** Limits of a memory, in 64 KiB pages. */
export interface MemoryLimits {
  min: number;
  max?: number;
  shared: boolean;
  memory64: boolean;
}

export interface MemoryImport extends MemoryLimits {
  module: string;
  name: string;
}

export interface FuncSignature {
  params: string[];
  results: string[];
}

export interface ModuleInfo {
  /** Every imported memory (an AssemblyScript module built with --importMemory has one: env.memory). */
  memoryImports: MemoryImport[];
  /** Memories the module defines itself (memory section). */
  definedMemories: number;
  /** Signature of each exported function, by export name; undefined when the type could not be read. */
  exportedFunctions: Map<string, FuncSignature | undefined>;
}

const SECTION_TYPE = 1;
const SECTION_IMPORT = 2;
const SECTION_FUNCTION = 3;
const SECTION_MEMORY = 5;
const SECTION_EXPORT = 7;

const VALTYPES: Record<number, string> = {
  0x7f: 'i32',
  0x7e: 'i64',
  0x7d: 'f32',
  0x7c: 'f64',
  0x7b: 'v128',
  0x70: 'funcref',
  0x6f: 'externref',
};

class Reader {
  pos: number;
  constructor(
    private readonly bytes: Uint8Array,
    start: number,
    readonly end: number,
  ) {
    this.pos = start;
  }

  byte(): number {
    if (this.pos >= this.end) throw new Error('unexpected end of section');
    return this.bytes[this.pos++] as number;
  }

  /** Unsigned LEB128; values past 2^53 lose precision, which only matters for sizes we reject anyway. */
  uleb(): number {
    let result = 0;
    let mul = 1;
    for (;;) {
      const b = this.byte();
      result += (b & 0x7f) * mul;
      if ((b & 0x80) === 0) return result;
      mul *= 128;
    }
  }

  /** Signed LEB128 (s33 heap types, block types): only skipped, the sign is kept for completeness. */
  sleb(): number {
    let result = 0;
    let mul = 1;
    let b: number;
    do {
      b = this.byte();
      result += (b & 0x7f) * mul;
      mul *= 128;
    } while (b & 0x80);
    if (b & 0x40) result -= mul;
    return result;
  }

  name(): string {
    const len = this.uleb();
    if (this.pos + len > this.end) throw new Error('name runs past the section');
    const s = Buffer.from(this.bytes.buffer, this.bytes.byteOffset + this.pos, len).toString(
      'utf8',
    );
    this.pos += len;
    return s;
  }

  /** A value type; reference types with a heap type (0x63, 0x64) are read whole. */
  valtype(): string {
    const b = this.byte();
    if (b === 0x63 || b === 0x64) {
      this.sleb();
      return b === 0x63 ? 'ref null' : 'ref';
    }
    return VALTYPES[b] ?? `0x${b.toString(16)}`;
  }

  limits(): MemoryLimits {
    const flags = this.byte();
    const min = this.uleb();
    const max = flags & 0x01 ? this.uleb() : undefined;
    return {
      min,
      ...(max === undefined ? {} : { max }),
      shared: (flags & 0x02) !== 0,
      memory64: (flags & 0x04) !== 0,
    };
  }
}

/** Parses the sections the wasm engine needs. Throws on bytes that are not a wasm module. */
export function readModuleInfo(bytes: Uint8Array): ModuleInfo {
  if (
    bytes.length < 8 ||
    bytes[0] !== 0x00 ||
    bytes[1] !== 0x61 ||
    bytes[2] !== 0x73 ||
    bytes[3] !== 0x6d
  ) {
    throw new Error('not a WebAssembly module (bad magic)');
  }
  const info: ModuleInfo = {
    memoryImports: [],
    definedMemories: 0,
    exportedFunctions: new Map(),
  };
  // undefined entries: a type form this reader does not decode (GC rec groups).
  const types: (FuncSignature | undefined)[] = [];
  const funcTypes: number[] = []; // type index of every function, imported first
  const funcExports: [string, number][] = [];

  const top = new Reader(bytes, 8, bytes.length);
  while (top.pos < top.end) {
    const id = top.byte();
    const size = top.uleb();
    const r = new Reader(bytes, top.pos, top.pos + size);
    top.pos += size;
    switch (id) {
      case SECTION_TYPE: {
        const count = r.uleb();
        for (let i = 0; i < count; i++) {
          const form = r.byte();
          if (form !== 0x60) {
            // A GC type form (rec, sub, struct, array): stop decoding types;
            // signatures that point here stay unknown.
            break;
          }
          const params = Array.from({ length: r.uleb() }, () => r.valtype());
          const results = Array.from({ length: r.uleb() }, () => r.valtype());
          types[i] = { params, results };
        }
        break;
      }
      case SECTION_IMPORT: {
        const count = r.uleb();
        for (let i = 0; i < count; i++) {
          const module = r.name();
          const name = r.name();
          const kind = r.byte();
          if (kind === 0x00) funcTypes.push(r.uleb());
          else if (kind === 0x01) {
            r.valtype();
            r.limits();
          } else if (kind === 0x02) info.memoryImports.push({ module, name, ...r.limits() });
          else if (kind === 0x03) {
            r.valtype();
            r.byte();
          } else if (kind === 0x04) {
            r.byte();
            r.uleb();
          } else throw new Error(`unknown import kind 0x${kind.toString(16)}`);
        }
        break;
      }
      case SECTION_FUNCTION: {
        const count = r.uleb();
        for (let i = 0; i < count; i++) funcTypes.push(r.uleb());
        break;
      }
      case SECTION_MEMORY:
        info.definedMemories = r.uleb();
        break;
      case SECTION_EXPORT: {
        const count = r.uleb();
        for (let i = 0; i < count; i++) {
          const name = r.name();
          const kind = r.byte();
          const index = r.uleb();
          if (kind === 0x00) funcExports.push([name, index]);
        }
        break;
      }
      default:
        break;
    }
  }
  for (const [name, index] of funcExports) {
    const typeIndex = funcTypes[index];
    info.exportedFunctions.set(name, typeIndex === undefined ? undefined : types[typeIndex]);
  }
  return info;
}

/** "(param i32) (result i32)", as the text format writes a signature. */
export function formatSignature(sig: FuncSignature): string {
  const parts: string[] = [];
  if (sig.params.length) parts.push(`(param ${sig.params.join(' ')})`);
  if (sig.results.length) parts.push(`(result ${sig.results.join(' ')})`);
  return parts.length ? parts.join(' ') : '(no params, no result)';
}
