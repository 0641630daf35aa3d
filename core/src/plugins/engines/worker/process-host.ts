// The child process that holds one plugin's worker pool when the engine runs
// with isolation "process" (the default). A worker thread that exhausts its
// heap with one large allocation aborts the whole process it lives in
// (measured on Node 20.20; see docs/plugin-isolation.md), so the pool lives
// here and such a crash takes down this process, not the daemon. The daemon
// side is process-runner.ts; the messages are in ipc.ts.
import { setPriority } from 'node:os';
import type { Attack } from '../../../generated/attack.js';
import { PLUGIN_NICE, type HostCall, type HostServices, type PluginRunner } from '../../engine.js';
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
/** The run each attack object belongs to, so a call names its run, not an attack of its choosing. */
const runOf = new WeakMap<Attack, number>();
const calls = new Map<number, { resolve(value: unknown): void; reject(e: Error): void }>();
let nextCall = 0;

/** Forwards a host call to the daemon, which serves it (after its own checks). */
function forward<T>(attack: Attack, call: HostCall): Promise<T> {
  const run = runOf.get(attack);
  if (run === undefined) return Promise.reject(new Error(`ctx.${call.kind} outside a task`));
  const fid = ++nextCall;
  return new Promise<T>((resolve, reject) => {
    calls.set(fid, { resolve: (v) => resolve(v as T), reject });
    send({ t: 'call', fid, run, call });
  });
}

const host: Required<HostServices> = {
  fetch: (_plugin, attack, req) => forward(attack, { kind: 'fetch', req }),
  exchange: (_plugin, attack, req) => forward(attack, { kind: 'exchange', req }),
  files: (_plugin, attack, call) => forward(attack, { kind: 'files', call }),
  db: (_plugin, attack, call) => forward(attack, { kind: 'db', call }),
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
        runner = await engine.start(msg.plugin, host);
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
    case 'call-result': {
      const pending = calls.get(msg.fid);
      if (!pending) return;
      calls.delete(msg.fid);
      if (msg.ok) pending.resolve(msg.value);
      else pending.reject(Object.assign(new Error(msg.message), { code: msg.code }));
      return;
    }
    case 'close':
      await runner?.close();
      process.exit(0);
  }
}

process.on('message', (msg: ToChild) => void onMessage(msg));
