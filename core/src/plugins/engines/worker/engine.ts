// The `worker` engine: a plugin's JavaScript runs in a piscina pool of its
// own, one worker thread per concurrent task. What it enforces, and what it
// cannot, is measured in docs/plugin-isolation.md.
//
// piscina 5 traps this code works around (DESIGN.md): abortable tasks bypass
// maxQueue and AbortSignal.timeout counts queue time, so the runner keeps its
// own queue and starts each timeout when it hands the task to piscina; a
// worker that fails while booting stops the pool from spawning, so start()
// probes once and destroys the pool when the probe fails.
import { existsSync, realpathSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { MessageChannel, receiveMessageOnPort, type MessagePort } from 'node:worker_threads';
import { Piscina } from 'piscina';
import type { ErrorCode } from '../../../errors.js';
import {
  PluginError,
  type Engine,
  type HostServices,
  type LoadedPlugin,
  type PluginRunner,
  type PluginTaskInput,
} from '../../engine.js';
import { CapabilityDenied, TaskCalls, callFailure } from './host-calls.js';
import { ProcessRunner } from './process-runner.js';
import {
  STATS_SLOTS,
  STAT_EXTERNAL_MB,
  STAT_HEAP_MB,
  STAT_HEARTBEAT,
  type ToHost,
  type ToWorker,
  type WorkerBoot,
  type WorkerReply,
  type WorkerTask,
} from './protocol.js';

export interface WorkerEngineOptions {
  /**
   * "process" (default): each plugin's pool lives in a child process of its
   * own, so a V8 fatal out-of-memory in a plugin kills that process, not the
   * daemon. "thread": the pool lives in the daemon's process (cheaper; one
   * large allocation in a plugin can abort the daemon; measured).
   */
  isolation?: 'process' | 'thread';
  /** Receives the plugins' ctx.log and console output, one line at a time. */
  log?: (plugin: string, message: string) => void;
  /** The compiled worker entry; by default worker-entry.js next to this file (or in core/dist when running from sources). */
  entryFile?: string;
  /** Longest a plugin may take to load at the probe (default: max(timeoutMs, 10 s)). */
  loadTimeoutMs?: number;
  /** How often the memory watchdog looks (default 20 ms). */
  watchdogMs?: number;
  /** Set by process-host.ts: this process runs this one plugin and nothing else. */
  exclusiveProcess?: boolean;
}

/** Log lines one task may write before the rest are dropped (as the wasm engine). */
const MAX_LOG_LINES = 100;
const MAX_LOG_LINE = 1000;
/** A worker whose heartbeat stopped this long is stuck in synchronous code. */
const STALE_MS = 100;
/** Extra process growth tolerated beyond the plugin's heap and external budgets. */
const RSS_SLACK_MB = 64;
/** V8 lets a heap run this far past its limit while it stops the worker. */
const HEAP_SLACK_MB = 16;
const MB = 1024 * 1024;

/** A compiled file of this folder. */
function compiled(file: string): string {
  const sibling = join(dirname(fileURLToPath(import.meta.url)), file);
  if (existsSync(sibling)) return sibling;
  // Running from TypeScript sources (vitest): a worker or child process cannot
  // load .ts, so use the compiled file (npx tsc -b core).
  const i = sibling.lastIndexOf(`${sep}src${sep}`);
  return i < 0 ? sibling : `${sibling.slice(0, i)}${sep}dist${sep}${sibling.slice(i + 5)}`;
}

// Young space is taken on top of the old generation; keep it small next to
// small heaps so memoryMb stays close to the real ceiling.
function youngMb(memoryMb: number): number {
  return Math.min(16, Math.max(2, Math.floor(memoryMb / 4)));
}

function piscinaDir(): string {
  return dirname(createRequire(import.meta.url).resolve('piscina'));
}

function realOr(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    return path;
  }
}

type AbortReason = 'timeout' | 'memory' | 'closed';

interface Running {
  plugin: string;
  memoryMb: number;
  /** Old plus young generation plus the leeway V8 takes while stopping a worker. */
  heapCeilingMb: number;
  /**
   * How far the process may grow while this task is stuck before it is taken
   * for the cause: every task of the plugin at its heap and external memory
   * limits, plus slack.
   */
  rssBudgetMb: number;
  stats: Int32Array;
  lastBeat: number;
  lastBeatAt: number;
  rssAtStart: number;
  abort(reason: AbortReason, message: string): void;
}

/**
 * Watches every running task of every worker plugin. A worker reports its
 * memory outside the V8 heap (ArrayBuffers, WebAssembly memories: the heap
 * limit does not cover them) and its heap (V8 lets one large allocation past
 * the limit) while its event loop turns. A worker stuck in synchronous code
 * cannot report, so when its heartbeat stops and the process has grown past
 * what the plugin may use, the task is taken for the cause. In a process that
 * holds only this plugin (isolation "process"), growth alone is enough.
 */
class MemoryWatchdog {
  private readonly tasks = new Set<Running>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly everyMs: number,
    private readonly exclusive: boolean,
  ) {}

  add(task: Running): void {
    this.tasks.add(task);
    if (!this.timer) {
      this.timer = setInterval(() => this.check(), this.everyMs);
      this.timer.unref();
    }
  }

  delete(task: Running): void {
    this.tasks.delete(task);
    if (this.tasks.size === 0 && this.timer) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
  }

  private check(): void {
    const now = Date.now();
    const rss = process.memoryUsage.rss();
    for (const task of [...this.tasks]) {
      const beat = Atomics.load(task.stats, STAT_HEARTBEAT);
      if (beat !== task.lastBeat) {
        task.lastBeat = beat;
        task.lastBeatAt = now;
      }
      const externalMb = Atomics.load(task.stats, STAT_EXTERNAL_MB);
      if (externalMb > task.memoryMb) {
        task.abort(
          'memory',
          `memory outside the heap (ArrayBuffers, WebAssembly) ${externalMb} MB is over the ${task.memoryMb} MB limit`,
        );
        continue;
      }
      // V8 enforces the heap limit only on gradual growth: one large array
      // can sit far past it (measured: 245 MB in a 32 MB worker).
      const heapMb = Atomics.load(task.stats, STAT_HEAP_MB);
      if (heapMb > task.heapCeilingMb) {
        task.abort('memory', `heap ${heapMb} MB is over the ${task.memoryMb} MB limit`);
        continue;
      }
      const grownMb = Math.round((rss - task.rssAtStart) / MB);
      const stuck = now - task.lastBeatAt > STALE_MS;
      if ((stuck || this.exclusive) && grownMb > task.rssBudgetMb) {
        task.abort(
          'memory',
          `the process grew ${grownMb} MB while the plugin ran${stuck ? ' without yielding' : ''} (limit ${task.memoryMb} MB heap + ${task.memoryMb} MB outside the heap per task)`,
        );
      }
    }
  }
}

export class WorkerEngine implements Engine {
  readonly name = 'worker' as const;
  private readonly entryFile: string;
  private readonly watchdog: MemoryWatchdog;

  constructor(private readonly options: WorkerEngineOptions = {}) {
    this.entryFile = realOr(options.entryFile ?? compiled('worker-entry.js'));
    this.watchdog = new MemoryWatchdog(options.watchdogMs ?? 20, options.exclusiveProcess === true);
  }

  async start(plugin: LoadedPlugin, host: HostServices): Promise<PluginRunner> {
    const name = plugin.manifest.name;
    if (plugin.manifest.engine !== 'worker') {
      throw new PluginError(
        'HT_PLUGIN_LOAD',
        name,
        `engine is ${plugin.manifest.engine}, not worker`,
      );
    }
    if (!existsSync(this.entryFile)) {
      throw new PluginError(
        'HT_PLUGIN_LOAD',
        name,
        `the worker entry ${this.entryFile} is missing (build core first)`,
      );
    }
    if ((this.options.isolation ?? 'process') === 'process') {
      const runner = new ProcessRunner(
        plugin,
        host,
        compiled('process-host.js'),
        {
          entryFile: this.entryFile,
          loadTimeoutMs: this.options.loadTimeoutMs,
          watchdogMs: this.options.watchdogMs,
        },
        this.options.log,
      );
      await runner.start();
      return runner;
    }
    const runner = new WorkerRunner(plugin, host, this.entryFile, this.watchdog, this.options);
    try {
      await runner.probe();
    } catch (err) {
      // A pool whose worker failed stops spawning; never hand it out.
      await runner.close();
      const why = (err instanceof Error ? err.message : String(err))
        .replace(`plugin ${name}: `, '')
        .replace(/^failed to load: /, '');
      throw new PluginError('HT_PLUGIN_LOAD', name, `failed to load: ${why}`, err);
    }
    return runner;
  }
}

interface Queued {
  task: { kind: 'probe' } | { kind: 'run'; input: PluginTaskInput };
  timeoutMs: number;
  resolve(value: unknown): void;
  reject(err: unknown): void;
}

/** Why a task was stopped from the host, or what the worker reported. */
interface Outcome {
  reason: AbortReason | undefined;
  message: string;
  /** Something the plugin was refused by the host (no network capability). */
  denied: string | undefined;
  /** The task settled: late host calls are not served. */
  done: boolean;
  /** The task's host calls (run tasks only). */
  calls: TaskCalls | undefined;
}

class WorkerRunner implements PluginRunner {
  private readonly pool: Piscina<WorkerTask, WorkerReply>;
  private readonly name: string;
  private readonly queue: Queued[] = [];
  private readonly inFlight = new Set<(reason: AbortReason, message: string) => void>();
  private running = 0;
  private closed = false;

  constructor(
    private readonly plugin: LoadedPlugin,
    private readonly host: HostServices,
    entryFile: string,
    private readonly watchdog: MemoryWatchdog,
    private readonly options: WorkerEngineOptions,
  ) {
    const { limits } = plugin.manifest;
    this.name = plugin.manifest.name;
    const dirs = new Set([plugin.dir, realOr(plugin.dir)]);
    const boot: WorkerBoot = { name: this.name, dir: plugin.dir, entryPath: plugin.entryPath };
    this.pool = new Piscina<WorkerTask, WorkerReply>({
      filename: entryFile,
      minThreads: 1,
      maxThreads: limits.concurrency,
      idleTimeout: 30_000,
      concurrentTasksPerWorker: 1,
      env: {},
      workerData: boot,
      resourceLimits: {
        maxOldGenerationSizeMb: limits.memoryMb,
        maxYoungGenerationSizeMb: youngMb(limits.memoryMb),
        stackSizeMb: 4,
      },
      execArgv: [
        // Per-worker permission model: Node 20.20 honours it in execArgv (measured).
        '--experimental-permission',
        ...[...dirs].map((d) => `--allow-fs-read=${d}`),
        `--allow-fs-read=${entryFile}`,
        `--allow-fs-read=${piscinaDir()}`,
        // The entry links the plugin's modules itself (vm.SourceTextModule):
        // module.register hooks would need --allow-worker, which lets a plugin
        // start a worker without the permission model.
        '--experimental-vm-modules',
        '--disable-warning=ExperimentalWarning',
      ],
    });
    // piscina emits 'error' for a worker that fails with no task on it; the
    // tasks themselves report their own failures.
    this.pool.on('error', () => {});
  }

  probe(): Promise<unknown> {
    const { timeoutMs } = this.plugin.manifest.limits;
    return this.enqueue(
      { kind: 'probe' },
      this.options.loadTimeoutMs ?? Math.max(timeoutMs, 10_000),
    );
  }

  run(input: PluginTaskInput): Promise<unknown> {
    return this.enqueue({ kind: 'run', input }, this.plugin.manifest.limits.timeoutMs);
  }

  /** Tasks waiting for a slot, and tasks running. */
  get load(): { queued: number; running: number } {
    return { queued: this.queue.length, running: this.running };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const q of this.queue.splice(0))
      q.reject(this.error('HT_PLUGIN_EXIT', 'the plugin was stopped'));
    for (const abort of [...this.inFlight]) abort('closed', 'the plugin was stopped');
    await this.pool.destroy();
  }

  private enqueue(task: Queued['task'], timeoutMs: number): Promise<unknown> {
    if (this.closed) return Promise.reject(this.error('HT_PLUGIN_EXIT', 'the plugin was stopped'));
    return new Promise((resolve, reject) => {
      this.queue.push({ task, timeoutMs, resolve, reject });
      this.pump();
    });
  }

  private pump(): void {
    while (!this.closed && this.running < this.plugin.manifest.limits.concurrency) {
      const next = this.queue.shift();
      if (!next) return;
      this.running++;
      void this.dispatch(next).finally(() => {
        this.running--;
        this.pump();
      });
    }
  }

  private error(code: ErrorCode, message: string, cause?: unknown): PluginError {
    return new PluginError(code, this.name, message, cause);
  }

  /** Runs one task; the timeout starts now, when it leaves the runner's queue. */
  private async dispatch(q: Queued): Promise<void> {
    const controller = new AbortController();
    const input = q.task.kind === 'run' ? q.task.input : undefined;
    const outcome: Outcome = {
      reason: undefined,
      message: '',
      denied: undefined,
      done: false,
      calls: new TaskCalls(this.host, this.plugin, input?.attack),
    };
    const abort = (reason: AbortReason, message: string): void => {
      if (outcome.reason !== undefined) return;
      outcome.reason = reason;
      outcome.message = message;
      controller.abort(reason);
    };
    const { port1, port2 } = new MessageChannel();
    const stats = new SharedArrayBuffer(STATS_SLOTS * Int32Array.BYTES_PER_ELEMENT);
    const running: Running = {
      plugin: this.name,
      memoryMb: this.plugin.manifest.limits.memoryMb,
      heapCeilingMb:
        this.plugin.manifest.limits.memoryMb +
        youngMb(this.plugin.manifest.limits.memoryMb) +
        HEAP_SLACK_MB,
      rssBudgetMb:
        2 * this.plugin.manifest.limits.memoryMb * this.plugin.manifest.limits.concurrency +
        RSS_SLACK_MB,
      stats: new Int32Array(stats),
      lastBeat: 0,
      lastBeatAt: Date.now(),
      rssAtStart: process.memoryUsage.rss(),
      abort,
    };
    const timer = setTimeout(
      () => abort('timeout', `timed out after ${q.timeoutMs} ms`),
      q.timeoutMs,
    );
    this.inFlight.add(abort);
    this.watchdog.add(running);
    port1.on('message', (msg: ToHost) => this.onWorkerMessage(port1, msg, outcome));
    // Messages the worker sent before its reply (or its death) travel on
    // another channel than piscina's and may not be delivered yet: read them.
    const drain = (): void => {
      for (let m = receiveMessageOnPort(port1); m; m = receiveMessageOnPort(port1)) {
        this.onWorkerMessage(port1, m.message as ToHost, outcome);
      }
    };
    try {
      const reply = await this.pool.run(
        { kind: q.task.kind, input, port: port2, stats },
        { signal: controller.signal, transferList: [port2] },
      );
      drain();
      q.resolve(this.settle(reply, outcome));
    } catch (err) {
      drain();
      q.reject(err instanceof PluginError ? err : this.failure(err, outcome));
    } finally {
      outcome.done = true;
      outcome.calls?.end();
      clearTimeout(timer);
      this.inFlight.delete(abort);
      this.watchdog.delete(running);
      port1.close();
    }
  }

  private settle(reply: WorkerReply, outcome: Outcome): unknown {
    if (outcome.denied !== undefined) throw this.error('HT_PLUGIN_DENIED', outcome.denied);
    // The reply crosses from a thread the plugin runs in: check, don't trust.
    if (typeof reply !== 'object' || reply === null || typeof reply.ok !== 'boolean') {
      throw this.error('HT_PLUGIN_THREW', 'the worker sent a malformed reply');
    }
    if (!reply.ok) {
      const message = String(reply.message);
      if (reply.kind === 'denied') throw this.error('HT_PLUGIN_DENIED', message);
      if (reply.kind === 'unavailable')
        throw this.error('HT_PLUGIN_UNAVAILABLE', message.replace(`plugin ${this.name}: `, ''));
      // A load failure after the probe (a replacement worker) is the plugin throwing.
      throw this.error(
        'HT_PLUGIN_THREW',
        reply.kind === 'load' ? `failed to load: ${message}` : `threw ${message}`,
      );
    }
    try {
      return JSON.parse(String(reply.json)) as unknown;
    } catch (err) {
      throw this.error('HT_PLUGIN_THREW', 'returned a result that is not JSON', err);
    }
  }

  private failure(err: unknown, outcome: Outcome): PluginError {
    switch (outcome.reason) {
      case 'timeout':
        return this.error('HT_PLUGIN_TIMEOUT', outcome.message);
      case 'memory':
        return this.error('HT_PLUGIN_MEMORY', outcome.message);
      case 'closed':
        return this.error('HT_PLUGIN_EXIT', outcome.message);
      case undefined:
        break;
    }
    // A plugin refused something and then crashed its worker: the refusal is the story.
    if (outcome.denied !== undefined) return this.error('HT_PLUGIN_DENIED', outcome.denied, err);
    const code = (err as { code?: unknown } | null)?.code;
    const message = err instanceof Error ? err.message : String(err);
    if (code === 'ERR_WORKER_OUT_OF_MEMORY') {
      return this.error(
        'HT_PLUGIN_MEMORY',
        `ran out of its ${this.plugin.manifest.limits.memoryMb} MB heap`,
        err,
      );
    }
    if (/^worker exited with code/.test(message) || message === 'Terminating worker thread') {
      return this.error('HT_PLUGIN_EXIT', `the worker exited (${message})`, err);
    }
    if (code === 'ERR_WORKER_INIT_FAILED' || code === 'ERR_WORKER_INVALID_EXEC_ARGV') {
      return this.error('HT_PLUGIN_EXIT', `the worker failed to start: ${message}`, err);
    }
    // An exception the plugin left uncaught outside analyze() (a timer, an
    // event) ends its worker and arrives here.
    return this.error('HT_PLUGIN_THREW', `threw ${message}`, err);
  }

  private onWorkerMessage(port: MessagePort, msg: ToHost, outcome: Outcome): void {
    if (typeof msg !== 'object' || msg === null) return;
    if (msg.t === 'log') {
      this.log(outcome, msg.message);
    } else if (msg.t === 'denied') {
      outcome.denied ??= String(msg.message);
    } else if (msg.t === 'call') {
      void this.serveCall(port, msg.id, msg.call, outcome);
    }
  }

  private readonly logCounts = new WeakMap<Outcome, number>();

  private log(outcome: Outcome, message: unknown): void {
    const count = (this.logCounts.get(outcome) ?? 0) + 1;
    this.logCounts.set(outcome, count);
    if (count > MAX_LOG_LINES + 1) return;
    const line =
      count > MAX_LOG_LINES
        ? `(more log lines from this task dropped after ${MAX_LOG_LINES})`
        : String(message).slice(0, MAX_LOG_LINE);
    try {
      this.options.log?.(this.name, line);
    } catch {
      // A failing log sink must not fail the task.
    }
  }

  /** Serves one host call of a running task and answers on the task's port. */
  private async serveCall(
    port: MessagePort,
    id: unknown,
    call: unknown,
    outcome: Outcome,
  ): Promise<void> {
    if (typeof id !== 'number' || !outcome.calls) return;
    const reply = (msg: ToWorker): void => {
      try {
        port.postMessage(msg);
      } catch {
        // Task over: the worker is gone or no longer waiting.
      }
    };
    try {
      const value = await outcome.calls.serve(call);
      if (!outcome.done) reply({ t: 'call', id, ok: true, value });
    } catch (err) {
      // Asking for what the manifest does not grant fails the task, caught or not.
      if (err instanceof CapabilityDenied) outcome.denied ??= outcome.calls.denied;
      if (!outcome.done) reply({ t: 'call', id, ok: false, ...callFailure(err) });
    }
  }
}
