// The wasm import policy: what a module may import, checked against the
// manifest before the module is ever instantiated. A module can do exactly
// what its imports allow, so this list is the whole of a wasm plugin's reach.
import type { ResolvedManifest } from '../../../generated/plugin-manifest-resolved.js';
import { PluginError } from '../../engine.js';
import { formatSignature, type ModuleInfo } from './module-info.js';
import type { ExportDescriptor, ExternKind, ImportDescriptor } from './wasm-api.js';

export interface ImportGrant {
  module: string;
  name: string;
  kind: ExternKind;
  /** Why it is granted, for the docs and for `plugins list`. */
  why: string;
}

/**
 * Granted to every wasm plugin: what the AssemblyScript runtime itself
 * imports, and the host functions every plugin may call. Everything in the
 * standard library's JS bindings (console.log, Date.now, Math.* with
 * --use Math=JSMath, process.*, crypto.*) is deliberately absent.
 */
export const ALWAYS_GRANTED: readonly ImportGrant[] = [
  {
    module: 'env',
    name: 'memory',
    kind: 'memory',
    why: 'linear memory, created by the host with limits.memoryMb as its maximum',
  },
  {
    module: 'env',
    name: 'abort',
    kind: 'function',
    why: 'AssemblyScript runtime: a thrown error or failed assertion ends the task',
  },
  {
    module: 'env',
    name: 'trace',
    kind: 'function',
    why: "AssemblyScript runtime: trace() goes to the plugin's log",
  },
  {
    module: 'env',
    name: 'seed',
    kind: 'function',
    why: 'AssemblyScript runtime: seeds Math.random',
  },
  {
    module: 'honeytrap',
    name: 'log',
    kind: 'function',
    why: "honeytrap.log(message: string): one line in the plugin's log (bounded per task)",
  },
];

/**
 * The imports this manifest grants. In v1 no capability adds a wasm import:
 * findings and artifacts travel in analyze's return value, and network egress
 * is not offered to wasm plugins (start() refuses a wasm manifest that asks).
 */
export function grantedImports(_manifest: ResolvedManifest): readonly ImportGrant[] {
  return ALWAYS_GRANTED;
}

/**
 * Refuses a module that imports anything the manifest does not grant, by
 * name and kind, before it is instantiated:
 * `plugin NAME: wasm import env.foo (function) is not granted`.
 */
export function checkImports(
  manifest: ResolvedManifest,
  imports: readonly ImportDescriptor[],
): void {
  const granted = new Set(grantedImports(manifest).map((g) => `${g.module}\0${g.name}\0${g.kind}`));
  const refused = imports
    .filter((i) => !granted.has(`${i.module}\0${i.name}\0${i.kind}`))
    .map((i) => `${i.module}.${i.name} (${i.kind})`);
  const [first, ...more] = refused;
  if (first === undefined) return;
  const also = more.length ? `; also not granted: ${more.join(', ')}` : '';
  throw new PluginError(
    'HT_PLUGIN_LOAD',
    manifest.name,
    `wasm import ${first} is not granted${also}`,
  );
}

/** The runtime exports the host's glue calls (build with --exportRuntime). */
const RUNTIME_EXPORTS = ['__new', '__pin', '__unpin'] as const;

export interface MemoryPlan {
  /** Pages the memory starts with: the module's declared minimum. */
  initial: number;
  /** Pages it may grow to: limits.memoryMb, or the module's own lower maximum. */
  maximum: number;
}

export const PAGE_BYTES = 65536;

/**
 * Checks the module's shape (imported memory, analyze, the runtime exports)
 * and computes the memory the host creates for it. Throws HT_PLUGIN_LOAD.
 */
export function planModule(
  manifest: ResolvedManifest,
  info: ModuleInfo,
  exports: readonly ExportDescriptor[],
): MemoryPlan {
  const fail = (msg: string): never => {
    throw new PluginError('HT_PLUGIN_LOAD', manifest.name, msg);
  };
  if (info.definedMemories > 0 || info.memoryImports.length === 0) {
    fail(
      'the module defines its own memory; build it with --importMemory so the host sets the limit',
    );
  }
  const mem = info.memoryImports[0];
  if (info.memoryImports.length !== 1 || mem === undefined) {
    return fail(
      `the module imports ${info.memoryImports.length} memories; one (env.memory) is allowed`,
    );
  }
  if (mem.shared) fail('the module imports a shared memory; wasm plugins run single-threaded');
  if (mem.memory64) fail('the module imports a 64-bit memory; only 32-bit memories are supported');

  const limitPages = Math.floor((manifest.limits.memoryMb * 1024 * 1024) / PAGE_BYTES);
  const maximum = Math.min(limitPages, mem.max ?? limitPages);
  if (mem.min > maximum) {
    fail(
      `the module needs ${mem.min} pages (${mib(mem.min)}) of memory to start, more than ` +
        (maximum < limitPages
          ? `its own maximum of ${maximum} pages`
          : `limits.memoryMb allows (${manifest.limits.memoryMb} MiB)`),
    );
  }

  const kinds = new Map(exports.map((e) => [e.name, e.kind]));
  if (kinds.get('analyze') !== 'function') {
    fail(
      'the module does not export a function analyze (export function analyze(input: string): string)',
    );
  }
  const sig = info.exportedFunctions.get('analyze');
  if (sig && (sig.params.join() !== 'i32' || sig.results.join() !== 'i32')) {
    fail(
      `analyze must be analyze(input: string): string, (param i32) (result i32) in wasm; it is ${formatSignature(sig)}`,
    );
  }
  const missing = RUNTIME_EXPORTS.filter((n) => kinds.get(n) !== 'function');
  if (missing.length) {
    fail(
      `the module does not export the AssemblyScript runtime (${missing.join(', ')}); build it with --exportRuntime`,
    );
  }
  if (kinds.get('memory') !== 'memory') {
    fail('the module does not export its memory; do not build it with --noExportMemory');
  }
  return { initial: mem.min, maximum };
}

function mib(pages: number): string {
  return `${((pages * PAGE_BYTES) / 1048576).toFixed(pages % 16 ? 2 : 0)} MiB`;
}
