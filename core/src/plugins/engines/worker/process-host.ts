// The child process that holds one plugin's worker pool when the engine runs
// with isolation "process" (the default). A worker thread that exhausts its
// heap with one large allocation aborts the whole process it lives in
// (measured on Node 20.20; see docs/plugin-isolation.md), so the pool lives
// here and such a crash takes down this process, not the daemon. The daemon
// side is process-runner.ts; the messages are in ipc.ts.
import { setPriority } from 'node:os';
import type { Attack } from '../../../generated/attack.js';
import {
  PLUGIN_NICE,
  type FetchRequest,
  type FetchResponse,
  type NetworkBroker,
  type PluginRunner,
} from '../../engine.js';
import { WorkerEngine } from './engine.js';
import type { ToChild, ToParent } from './ipc.js';

function send(msg: ToParent): void {
  // The daemon went away: nothing to report to; 'disconnect' ends us.
  if (process.connected) process.send?.(msg);
}

// Never outlive the daemon.
process.on('disconnect', () => process.exit(0));

// Plugins yield the CPU to capture when the two compete. Set before the pool
// starts its threads, which inherit it (Linux nice values are per thread).
try {
  setPriority(0, PLUGIN_NICE);
} catch {
  /* not allowed here: run at normal priority */
}

let runner: PluginRunner | undefined;
/** The run each attack object belongs to, so a fetch names its run, not an attack of its choosing. */
const runOf = new WeakMap<Attack, number>();
const fetches = new Map<number, { resolve(r: FetchResponse): void; reject(e: Error): void }>();
let nextFetch = 0;

const broker: NetworkBroker = {
  fetch(_plugin, attack: Attack, req: FetchRequest): Promise<FetchResponse> {
    const run = runOf.get(attack);
    if (run === undefined) return Promise.reject(new Error('ctx.fetch outside a task'));
    const fid = ++nextFetch;
    return new Promise((resolve, reject) => {
      fetches.set(fid, { resolve, reject });
      send({ t: 'fetch', fid, run, req });
    });
  },
  exchange(): Promise<never> {
    return Promise.reject(new Error('ctx.exchange is not built yet'));
  },
};

async function onMessage(msg: ToChild): Promise<void> {
  switch (msg.t) {
    case 'start': {
      const engine = new WorkerEngine({
        ...msg.options,
        isolation: 'thread',
        exclusiveProcess: true,
        log: (_plugin, message) => send({ t: 'log', message }),
      });
      try {
        runner = await engine.start(msg.plugin, broker);
        send({ t: 'started' });
      } catch (err) {
        send({ t: 'start-failed', message: err instanceof Error ? err.message : String(err) });
      }
      return;
    }
    case 'run': {
      if (!runner) {
        send({
          t: 'result',
          id: msg.id,
          ok: false,
          code: 'HT_PLUGIN_EXIT',
          message: 'not started',
        });
        return;
      }
      runOf.set(msg.input.attack, msg.id);
      try {
        const value = await runner.run(msg.input);
        send({ t: 'result', id: msg.id, ok: true, value });
      } catch (err) {
        const e = err as { code?: unknown; message?: unknown };
        send({
          t: 'result',
          id: msg.id,
          ok: false,
          code: typeof e.code === 'string' ? e.code : 'HT_PLUGIN_THREW',
          message: String(e.message ?? err),
        });
      }
      return;
    }
    case 'fetch-result': {
      const pending = fetches.get(msg.fid);
      if (!pending) return;
      fetches.delete(msg.fid);
      if (msg.ok) pending.resolve(msg.res);
      else pending.reject(Object.assign(new Error(msg.message), { code: msg.code }));
      return;
    }
    case 'close':
      await runner?.close();
      process.exit(0);
  }
}

process.on('message', (msg: ToChild) => void onMessage(msg));
