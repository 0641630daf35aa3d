// Messages between the daemon and a plugin's child process (isolation
// "process"), sent over Node IPC with the advanced (structured clone) serialization.
import type { FetchRequest, FetchResponse, LoadedPlugin, PluginTaskInput } from '../../engine.js';

/** The thread-engine options the child needs (everything else stays in the daemon). */
export interface ChildOptions {
  entryFile?: string;
  loadTimeoutMs?: number;
  watchdogMs?: number;
}

export type ToChild =
  | { t: 'start'; plugin: LoadedPlugin; options: ChildOptions }
  | { t: 'run'; id: number; input: PluginTaskInput }
  | { t: 'fetch-result'; fid: number; ok: true; res: FetchResponse }
  | { t: 'fetch-result'; fid: number; ok: false; code: string; message: string }
  | { t: 'close' };

export type ToParent =
  | { t: 'started' }
  | { t: 'start-failed'; message: string }
  | { t: 'result'; id: number; ok: true; value: unknown }
  | { t: 'result'; id: number; ok: false; code: string; message: string }
  /** A ctx.fetch of run `run`; the daemon looks the attack up itself. */
  | { t: 'fetch'; fid: number; run: number; req: FetchRequest }
  | { t: 'log'; message: string };
