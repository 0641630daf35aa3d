// Messages between the daemon and a plugin's child process (isolation
// "process"), sent over Node IPC with the advanced (structured clone) serialization.
import type { HostCall, LoadedPlugin, PluginTaskInput } from '../../engine.js';

/** The thread-engine options the child needs (everything else stays in the daemon). */
export interface ChildOptions {
  entryFile?: string;
  loadTimeoutMs?: number;
  watchdogMs?: number;
}

export type ToChild =
  | { t: 'start'; plugin: LoadedPlugin; options: ChildOptions }
  | { t: 'run'; id: number; input: PluginTaskInput }
  | { t: 'call-result'; fid: number; ok: true; value: unknown }
  | { t: 'call-result'; fid: number; ok: false; code: string; message: string }
  | { t: 'close' };

export type ToParent =
  | { t: 'started' }
  | { t: 'start-failed'; message: string }
  | { t: 'result'; id: number; ok: true; value: unknown }
  | { t: 'result'; id: number; ok: false; code: string; message: string }
  /** A host call (ctx.fetch, exchange, files, db) of run `run`; the daemon looks the attack up itself. */
  | { t: 'call'; fid: number; run: number; call: HostCall }
  | { t: 'log'; message: string };
