// The wasm engine: AssemblyScript modules in worker threads, the strong
// sandbox. The module is compiled once, its imports are checked against the
// manifest before it is ever instantiated, its memory is created by the host
// with limits.memoryMb as the maximum, and every task runs in a worker thread
// that is terminated when the task's timeout passes. See docs/plugin-wasm.md.
import { readFile, stat } from 'node:fs/promises';
import { Worker } from 'node:worker_threads';
import type { ErrorCode } from '../../../errors.js';
import {
  PLUGIN_NICE,
  PluginError,
  type Engine,
  type LoadedPlugin,
  type NetworkBroker,
  type PluginRunner,
  type PluginTaskInput,
} from '../../engine.js';
import { checkImports, planModule, type MemoryPlan } from './imports.js';
import { readModuleInfo } from './module-info.js';
import type { RunMessage, WorkerBoot, WorkerMessage } from './protocol.js';
import { WebAssemblyApi, type WasmModule } from './wasm-api.js';
import { WORKER_SOURCE } from './worker.js';

export interface WasmLogEntry {
  plugin: string;
  /** The attack the task was working on; absent for lines written while the module started. */
  attack?: string;
  message: string;
}

export interface WasmEngineOptions {
  /** Where honeytrap.log() and trace() lines go. Default: dropped. */
  onLog?: (entry: WasmLogEntry) => void;
  /** Longest a worker may take to instantiate the module (its start function included). Default 10 s. */
  bootTimeoutMs?: number;
  /** Log lines kept per task (default 100) and characters kept per line (default 1000). */
  maxLogLines?: number;
  maxLogChars?: number;
  /** Largest .wasm file accepted. Default 32 MiB. */
  maxModuleBytes?: number;
}

const DEFAULTS = {
  bootTimeoutMs: 10_000,
  maxLogLines: 100,
  maxLogChars: 1000,
  maxModuleBytes: 32 * 1024 * 1024,
};

export class WasmEngine implements Engine {
  readonly name = 'wasm' as const;
  private readonly options: Required<Omit<WasmEngineOptions, 'onLog'>> &
    Pick<WasmEngineOptions, 'onLog'>;

  constructor(options: WasmEngineOptions = {}) {
    this.options = { ...DEFAULTS, ...options };
  }

  /**
   * Compiles the module, checks its imports and shape, and instantiates it
   * once in a worker (the probe). Rejects with HT_PLUGIN_LOAD. The broker is
   * not used: wasm plugins get no network in plugin API v1.
   */
  async start(plugin: LoadedPlugin, _broker: NetworkBroker): Promise<PluginRunner> {
    const { manifest } = plugin;
    const load = (message: string, cause?: unknown): PluginError =>
      new PluginError('HT_PLUGIN_LOAD', manifest.name, message, cause);
    if (manifest.engine !== 'wasm') throw load(`engine is ${manifest.engine}, not wasm`);
    if (manifest.capabilities.network) {
      throw load(
        'capabilities.network is not available to wasm plugins in plugin API v1 (use the worker engine for network egress)',
      );
    }

    let bytes: Buffer;
    try {
      const { size } = await stat(plugin.entryPath);
      if (size > this.options.maxModuleBytes) {
        throw load(
          `${manifest.entry} is ${size} bytes; the wasm engine loads at most ${this.options.maxModuleBytes}`,
        );
      }
      bytes = await readFile(plugin.entryPath);
    } catch (err) {
      if (err instanceof PluginError) throw err;
      throw load(`cannot read ${manifest.entry}: ${errorText(err)}`, err);
    }

    let module: WasmModule;
    try {
      module = await WebAssemblyApi.compile(bytes);
    } catch (err) {
      throw load(`${manifest.entry} is not a valid WebAssembly module: ${errorText(err)}`, err);
    }
    checkImports(manifest, WebAssemblyApi.Module.imports(module));
    let plan: MemoryPlan;
    try {
      plan = planModule(manifest, readModuleInfo(bytes), WebAssemblyApi.Module.exports(module));
    } catch (err) {
      if (err instanceof PluginError) throw err;
      throw load(`cannot read ${manifest.entry}: ${errorText(err)}`, err);
    }

    const runner = new WasmRunner(plugin, module, plan, this.options);
    await runner.probe();
    return runner;
  }
}

type Outcome = { ok: true; output: string } | { ok: false; code: ErrorCode; message: string };

interface Task {
  input: PluginTaskInput;
  resolve: (result: unknown) => void;
  reject: (err: PluginError) => void;
}

interface RunnerOptions {
  onLog?: (entry: WasmLogEntry) => void;
  bootTimeoutMs: number;
  maxLogLines: number;
  maxLogChars: number;
}

/**
 * One plugin's tasks: at most limits.concurrency at once, each in a worker
 * thread of its own (kept for later tasks unless it had to be terminated),
 * the rest queued in order. A task's timeout starts when it is posted to a
 * ready worker; starting a worker has its own bound (bootTimeoutMs).
 */
class WasmRunner implements PluginRunner {
  private readonly name: string;
  private readonly idle: WasmWorker[] = [];
  private readonly workers = new Set<WasmWorker>();
  private readonly queue: Task[] = [];
  private running = 0;
  private closed = false;
  private nextId = 1;
  private oomFunctions: number[] = [];

  constructor(
    private readonly plugin: LoadedPlugin,
    private readonly module: WasmModule,
    private readonly plan: MemoryPlan,
    private readonly options: RunnerOptions,
  ) {
    this.name = plugin.manifest.name;
  }

  /** Instantiates the module once, in the worker that will take the first task. */
  async probe(): Promise<void> {
    const worker = this.spawn(true);
    try {
      this.oomFunctions = await worker.ready;
    } catch (err) {
      await worker.kill();
      const why = err instanceof StartFailure ? err.message : errorText(err);
      throw new PluginError(
        'HT_PLUGIN_LOAD',
        this.name,
        `the module cannot be instantiated: ${why}`,
      );
    }
    this.idle.push(worker);
  }

  run(input: PluginTaskInput): Promise<unknown> {
    if (this.closed) {
      return Promise.reject(new PluginError('HT_PLUGIN_EXIT', this.name, 'the plugin is unloaded'));
    }
    return new Promise<unknown>((resolve, reject) => {
      this.queue.push({ input, resolve, reject });
      this.pump();
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const task of this.queue.splice(0)) {
      task.reject(
        new PluginError('HT_PLUGIN_EXIT', this.name, 'the plugin was unloaded before the task ran'),
      );
    }
    this.idle.length = 0;
    await Promise.all(
      [...this.workers].map((w) => w.kill('the plugin was unloaded while the task ran')),
    );
  }

  private pump(): void {
    while (!this.closed && this.running < this.plugin.manifest.limits.concurrency) {
      const task = this.queue.shift();
      if (!task) return;
      this.running++;
      void this.execute(task).finally(() => {
        this.running--;
        this.pump();
      });
    }
  }

  /** Runs one task to its end; never rejects (a task always settles). */
  private async execute(task: Task): Promise<void> {
    try {
      const input = JSON.stringify(task.input);
      const attack = String(task.input.attack?.id);
      const worker = this.takeIdle() ?? (await this.startWorker());
      const outcome = await worker.run(
        this.nextId++,
        input,
        attack,
        this.plugin.manifest.limits.timeoutMs,
      );
      this.settle(task, outcome);
      if (worker.dead || this.closed) {
        // The slot stays taken until the thread is really gone.
        this.workers.delete(worker);
        await worker.kill();
      } else {
        this.idle.push(worker);
      }
    } catch (err) {
      task.reject(
        err instanceof PluginError
          ? err
          : new PluginError('HT_PLUGIN_THREW', this.name, `task failed: ${errorText(err)}`, err),
      );
    }
  }

  /** An idle worker whose thread is still alive, if any. */
  private takeIdle(): WasmWorker | undefined {
    for (let w = this.idle.pop(); w; w = this.idle.pop()) {
      if (!w.dead) return w;
      this.workers.delete(w);
    }
    return undefined;
  }

  private settle(task: Task, outcome: Outcome): void {
    if (!outcome.ok) {
      task.reject(new PluginError(outcome.code, this.name, outcome.message));
      return;
    }
    let result: unknown;
    try {
      result = JSON.parse(outcome.output);
    } catch (err) {
      task.reject(
        new PluginError(
          'HT_PLUGIN_RESULT',
          this.name,
          `analyze returned text that is not JSON: ${errorText(err)}`,
        ),
      );
      return;
    }
    task.resolve(result);
  }

  private async startWorker(): Promise<WasmWorker> {
    const worker = this.spawn(false);
    try {
      await worker.ready;
      return worker;
    } catch (err) {
      this.workers.delete(worker);
      await worker.kill();
      if (err instanceof StartFailure) {
        throw new PluginError(err.code, this.name, `worker failed to start: ${err.message}`);
      }
      throw err;
    }
  }

  private spawn(probe: boolean): WasmWorker {
    const boot: WorkerBoot = {
      plugin: this.name,
      module: this.module,
      initial: this.plan.initial,
      maximum: this.plan.maximum,
      nice: PLUGIN_NICE,
      requireFrom: import.meta.url,
      probe,
      oomFunctions: this.oomFunctions,
      maxLogLines: this.options.maxLogLines,
      maxLogChars: this.options.maxLogChars,
    };
    const { onLog } = this.options;
    const worker = new WasmWorker(
      boot,
      this.options.bootTimeoutMs,
      onLog
        ? (message, attack) =>
            onLog({ plugin: this.name, message, ...(attack === undefined ? {} : { attack }) })
        : undefined,
    );
    this.workers.add(worker);
    return worker;
  }
}

/** Why a worker did not become ready. */
class StartFailure extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
  }
}

interface Current {
  id: number;
  attack: string;
  settle: (outcome: Outcome) => void;
}

/** One worker thread with one instance of the module. */
class WasmWorker {
  /** Resolves with the probe's OOM sites once the instance is ready; rejects with a StartFailure. */
  readonly ready: Promise<number[]>;
  dead = false;
  private readonly thread: Worker;
  private current: Current | undefined;
  private terminated: Promise<unknown> | undefined;

  constructor(
    boot: WorkerBoot,
    bootTimeoutMs: number,
    private readonly onLog: ((message: string, attack?: string) => void) | undefined,
  ) {
    this.thread = new Worker(WORKER_SOURCE, { eval: true, workerData: boot, env: {} });
    let booted = false;
    let bootFailed: (err: StartFailure) => void = () => {};
    this.ready = new Promise<number[]>((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(
          new StartFailure(
            'HT_PLUGIN_TIMEOUT',
            `it did not finish instantiating within ${bootTimeoutMs} ms`,
          ),
        );
        void this.kill();
      }, bootTimeoutMs);
      const done = (): void => {
        booted = true;
        clearTimeout(timer);
      };
      bootFailed = (err) => {
        done();
        reject(err);
      };
      this.thread.on('message', (msg: WorkerMessage) => {
        if (msg.type === 'ready') {
          done();
          resolve(msg.oomFunctions);
        } else if (msg.type === 'boot-failed') {
          bootFailed(new StartFailure(msg.code, msg.message));
        }
      });
    });
    // A probe failure is read by whoever awaits ready; never an unhandled rejection.
    this.ready.catch(() => {});

    this.thread.on('message', (msg: WorkerMessage) => {
      if (msg.type === 'log') {
        const attack =
          msg.id !== null && msg.id === this.current?.id ? this.current.attack : undefined;
        this.onLog?.(msg.message, attack);
      } else if ((msg.type === 'done' || msg.type === 'fail') && msg.id === this.current?.id) {
        this.current.settle(
          msg.type === 'done'
            ? { ok: true, output: msg.output }
            : { ok: false, code: msg.code, message: msg.message },
        );
      }
    });
    this.thread.on('error', (err: Error & { code?: string }) => {
      this.dead = true;
      const memory = err.code === 'ERR_WORKER_OUT_OF_MEMORY';
      const code: ErrorCode = memory ? 'HT_PLUGIN_MEMORY' : 'HT_PLUGIN_THREW';
      const message = `worker thread failed: ${err.message}`;
      if (!booted) bootFailed(new StartFailure(code, message));
      this.current?.settle({ ok: false, code, message });
    });
    this.thread.on('exit', (exitCode) => {
      this.dead = true;
      const message = `worker thread exited (code ${exitCode})`;
      if (!booted) bootFailed(new StartFailure('HT_PLUGIN_EXIT', message));
      this.current?.settle({ ok: false, code: 'HT_PLUGIN_EXIT', message });
    });
  }

  /** Runs one task; the outcome arrives by the timeout at the latest. */
  run(id: number, input: string, attack: string, timeoutMs: number): Promise<Outcome> {
    return new Promise<Outcome>((resolve) => {
      const timer = setTimeout(() => {
        current.settle({
          ok: false,
          code: 'HT_PLUGIN_TIMEOUT',
          message: `the task did not finish within ${timeoutMs} ms (limits.timeoutMs)`,
        });
        void this.kill();
      }, timeoutMs);
      const current: Current = {
        id,
        attack,
        settle: (outcome) => {
          if (this.current !== current) return;
          this.current = undefined;
          clearTimeout(timer);
          resolve(outcome);
        },
      };
      this.current = current;
      const msg: RunMessage = { type: 'run', id, input };
      this.thread.postMessage(msg);
    });
  }

  /** Terminates the thread; a task still running settles with HT_PLUGIN_EXIT and `why`. */
  kill(why = 'the worker thread was stopped'): Promise<unknown> {
    this.dead = true;
    this.current?.settle({ ok: false, code: 'HT_PLUGIN_EXIT', message: why });
    this.terminated ??= this.thread.terminate();
    return this.terminated;
  }
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
