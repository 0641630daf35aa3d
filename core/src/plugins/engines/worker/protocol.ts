// Messages between the worker engine (host thread) and its worker entry.
// Types only: the worker entry must not import host code at run time, since
// the worker may read only its plugin folder and the entry file itself.
import type { MessagePort } from 'node:worker_threads';
import type { HostCall, PluginTaskInput } from '../../engine.js';

/** Given once per worker (piscina's workerData). */
export interface WorkerBoot {
  /** Plugin name, for messages. */
  name: string;
  /** Absolute plugin folder; every module the plugin imports must be inside it. */
  dir: string;
  /** Absolute entry file (inside dir). */
  entryPath: string;
}

/**
 * One task. `stats` is a SharedArrayBuffer of STATS_SLOTS Int32 slots the
 * worker keeps current while the task runs (the host's memory watchdog reads
 * it): STAT_HEARTBEAT counts ticks, STAT_EXTERNAL_MB and STAT_HEAP_MB are
 * the worker's memory outside the V8 heap (ArrayBuffers, WebAssembly
 * memories) and its JS heap. The indices are repeated in
 * worker-entry.ts.
 */
export interface WorkerTask {
  kind: 'probe' | 'run';
  /** Absent for a probe. */
  input?: PluginTaskInput;
  port: MessagePort;
  stats: SharedArrayBuffer;
}

export const STATS_SLOTS = 3;
export const STAT_HEARTBEAT = 0;
export const STAT_EXTERNAL_MB = 1;
export const STAT_HEAP_MB = 2;

/** What the entry resolves with; it never throws for plugin failures. */
export type WorkerReply =
  | { ok: true; /** The plugin's result as JSON text ("null" for a probe). */ json: string }
  /** unavailable: the plugin let a host call's HT_PLUGIN_UNAVAILABLE (its database down) end the task. */
  | { ok: false; kind: 'load' | 'threw' | 'denied' | 'unavailable'; message: string };

/** Worker to host, on the task port. */
export type ToHost =
  | { t: 'log'; message: string }
  /** ctx.fetch, ctx.exchange, ctx.files, ctx.db: answered by a `call` message with the same id. */
  | { t: 'call'; id: number; call: HostCall }
  /** The worker refused something the plugin tried (an import, a process API). */
  | { t: 'denied'; message: string };

/** Host to worker, on the task port. */
export type ToWorker =
  | { t: 'call'; id: number; ok: true; value: unknown }
  | { t: 'call'; id: number; ok: false; code: string; message: string };
