// Messages between the wasm engine (host thread) and its worker threads.
import type { WasmModule } from './wasm-api.js';

/** What the host hands a worker when it starts it. */
export interface WorkerBoot {
  /** Plugin name, for messages. */
  plugin: string;
  /** Compiled once by the host; a worker only instantiates it. */
  module: WasmModule;
  /** Memory limits in 64 KiB pages. */
  initial: number;
  maximum: number;
  /** Nice value the worker thread sets for itself (PLUGIN_NICE). */
  nice: number;
  /** Where the worker resolves @assemblyscript/loader from (the engine module's URL). */
  requireFrom: string;
  /**
   * True for the load-time probe: also find where the allocator traps when
   * memory cannot grow (see oomFunctions).
   */
  probe: boolean;
  /**
   * Indices of the wasm functions in which an `unreachable` trap means the
   * allocator could not grow memory, as found by the probe.
   */
  oomFunctions: number[];
  /** Caps on honeytrap.log / trace per task. */
  maxLogLines: number;
  maxLogChars: number;
}

export type FailCode = 'HT_PLUGIN_MEMORY' | 'HT_PLUGIN_THREW' | 'HT_PLUGIN_RESULT';

export interface RunMessage {
  type: 'run';
  id: number;
  /** JSON of the PluginTaskInput. */
  input: string;
}

export type WorkerMessage =
  /** The instance is ready for tasks; from a probe, with the OOM sites it found. */
  | { type: 'ready'; oomFunctions: number[] }
  /** Instantiation failed (the module's start function trapped or aborted). */
  | { type: 'boot-failed'; code: FailCode; message: string }
  /** A task finished; output is what analyze returned (JSON text, parsed by the host). */
  | { type: 'done'; id: number; output: string }
  | { type: 'fail'; id: number; code: FailCode; message: string }
  /** A log line from honeytrap.log or trace; id is null during instantiation. */
  | { type: 'log'; id: number | null; message: string };
