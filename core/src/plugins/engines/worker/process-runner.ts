// The daemon side of isolation "process": one child process per plugin
// (process-host.ts) holds the plugin's piscina pool. This runner keeps the
// concurrency gate, so only tasks that are really running are lost when the
// child dies; queued ones go to a fresh child. Timeouts, the memory watchdog
// and error mapping happen in the child (the thread runner); this side adds
// what only it can see: the child dying (a V8 fatal out-of-memory) and a
// backstop timer in case the child stops answering.
import { fork, type ChildProcess } from 'node:child_process';
import type { ErrorCode } from '../../../errors.js';
import {
  PluginError,
  type HostServices,
  type LoadedPlugin,
  type PluginRunner,
  type PluginTaskInput,
} from '../../engine.js';
import { TaskCalls, callFailure } from './host-calls.js';
import type { ChildOptions, ToChild, ToParent } from './ipc.js';

/** How long past its own timeout a task may go unanswered before the child is killed. */
const BACKSTOP_MS = 5000;
const CLOSE_GRACE_MS = 2000;
const STDERR_TAIL = 4096;
const CODES = new Set<ErrorCode>([
  'HT_PLUGIN_TIMEOUT',
  'HT_PLUGIN_MEMORY',
  'HT_PLUGIN_EXIT',
  'HT_PLUGIN_THREW',
  'HT_PLUGIN_DENIED',
  'HT_PLUGIN_UNAVAILABLE',
]);

interface Task {
  id: number;
  input: PluginTaskInput;
  /** Its host calls, checked again here: the child holds plugin code. */
  calls: TaskCalls;
  resolve(value: unknown): void;
  reject(err: Error): void;
  backstop?: NodeJS.Timeout;
}

interface Child {
  proc: ChildProcess;
  /** Settles when the plugin answered its probe in this child. */
  ready: Promise<void>;
  stderr: string;
  exited: boolean;
}

export class ProcessRunner implements PluginRunner {
  private readonly name: string;
  private child: Child | undefined;
  private readonly queue: Task[] = [];
  private readonly running = new Map<number, Task>();
  private nextId = 0;
  private closed = false;

  constructor(
    private readonly plugin: LoadedPlugin,
    private readonly host: HostServices,
    private readonly hostFile: string,
    private readonly childOptions: ChildOptions,
    private readonly log: ((plugin: string, message: string) => void) | undefined,
  ) {
    this.name = plugin.manifest.name;
  }

  /** Starts the child and probes the plugin there; rejects with HT_PLUGIN_LOAD. */
  async start(): Promise<void> {
    try {
      await this.spawn().ready;
    } catch (err) {
      await this.close();
      throw err;
    }
  }

  run(input: PluginTaskInput): Promise<unknown> {
    if (this.closed) return Promise.reject(this.error('HT_PLUGIN_EXIT', 'the plugin was stopped'));
    return new Promise((resolve, reject) => {
      const calls = new TaskCalls(this.host, this.plugin, input.attack);
      this.queue.push({
        id: ++this.nextId,
        input,
        calls,
        resolve: (v) => {
          calls.end();
          resolve(v);
        },
        reject: (e: Error) => {
          calls.end();
          reject(e);
        },
      });
      this.pump();
    });
  }

  get load(): { queued: number; running: number } {
    return { queued: this.queue.length, running: this.running.size };
  }

  /** The plugin's process, while it has one. */
  get pid(): number | undefined {
    return this.child?.exited === false ? this.child.proc.pid : undefined;
  }

  async close(): Promise<void> {
    if (this.closed && !this.child) return;
    this.closed = true;
    const stopped = this.error('HT_PLUGIN_EXIT', 'the plugin was stopped');
    for (const t of this.queue.splice(0)) t.reject(stopped);
    this.failRunning(stopped);
    const child = this.child;
    if (!child || child.exited) return;
    const gone = new Promise<void>((resolve) => child.proc.once('close', () => resolve()));
    this.send(child, { t: 'close' });
    const kill = setTimeout(() => child.proc.kill('SIGKILL'), CLOSE_GRACE_MS);
    await gone;
    clearTimeout(kill);
  }

  private error(code: ErrorCode, message: string, cause?: unknown): PluginError {
    return new PluginError(code, this.name, message, cause);
  }

  private send(child: Child, msg: ToChild): void {
    try {
      child.proc.send(msg);
    } catch {
      // The child is gone; its 'close' handler fails what it held.
    }
  }

  private spawn(): Child {
    const proc = fork(this.hostFile, [], {
      // Nothing of the daemon's environment or flags (a test runner's loaders,
      // an inspector port) reaches the plugin's process.
      env: {},
      execArgv: [],
      serialization: 'advanced',
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    });
    let onReady!: () => void;
    let onFail!: (err: unknown) => void;
    const child: Child = {
      proc,
      ready: new Promise<void>((resolve, reject) => {
        onReady = resolve;
        onFail = reject;
      }),
      stderr: '',
      exited: false,
    };
    // A failed restart is reported by the tasks waiting for it.
    child.ready.catch(() => {});
    this.child = child;
    proc.stderr?.setEncoding('utf8');
    proc.stderr?.on('data', (chunk: string) => {
      child.stderr = (child.stderr + chunk).slice(-STDERR_TAIL);
    });
    proc.on('message', (msg: ToParent) => {
      if (msg.t === 'started') onReady();
      else if (msg.t === 'start-failed') {
        onFail(this.error('HT_PLUGIN_LOAD', msg.message.replace(`plugin ${this.name}: `, '')));
        proc.kill('SIGKILL');
      } else this.onMessage(child, msg);
    });
    proc.on('error', () => {
      // Spawn or IPC failure: 'close' follows and reports it.
    });
    // 'close', not 'exit': stderr (a V8 fatal error's text) has been read by then.
    proc.on('close', (code, signal) => {
      child.exited = true;
      if (this.child === child) this.child = undefined;
      const fatal = this.describeDeath(child, code, signal);
      onFail(this.error('HT_PLUGIN_LOAD', `its process died while loading: ${fatal.message}`));
      this.failRunning(fatal);
      this.pump();
    });
    this.send(child, { t: 'start', plugin: this.plugin, options: this.childOptions });
    return child;
  }

  /** Why a child died, as the error its running tasks get. */
  private describeDeath(child: Child, code: number | null, signal: string | null): PluginError {
    const how = signal ? `signal ${signal}` : `code ${code}`;
    const lines = child.stderr.split('\n').map((l) => l.replace(/^#\s*/, '').trim());
    const oom = lines.find((l) => /out of memory|Allocation failed|invalid size error/i.test(l));
    if (oom) return this.error('HT_PLUGIN_MEMORY', `its process ran out of memory (${oom})`);
    const line = lines.find((l) => /fatal/i.test(l));
    return this.error('HT_PLUGIN_EXIT', `its process exited (${how}${line ? `: ${line}` : ''})`);
  }

  private failRunning(err: PluginError): void {
    for (const t of this.running.values()) {
      clearTimeout(t.backstop);
      t.reject(err);
    }
    this.running.clear();
  }

  private pump(): void {
    const { concurrency } = this.plugin.manifest.limits;
    while (!this.closed && this.running.size < concurrency && this.queue.length > 0) {
      const child = this.child ?? this.spawn();
      const task = this.queue.shift()!;
      this.running.set(task.id, task);
      child.ready.then(
        () => this.dispatch(child, task),
        (err: unknown) => {
          // The plugin no longer loads in a fresh process: fail this task, try again for the next.
          if (!this.running.delete(task.id)) return;
          const why = err instanceof Error ? err.message.replace(`plugin ${this.name}: `, '') : '';
          task.reject(this.error('HT_PLUGIN_EXIT', `could not restart: ${why}`, err));
          this.pump();
        },
      );
    }
  }

  private dispatch(child: Child, task: Task): void {
    if (!this.running.has(task.id)) return;
    const { timeoutMs } = this.plugin.manifest.limits;
    task.backstop = setTimeout(() => {
      // The child's own timeout did not answer: it is wedged; kill it.
      child.proc.kill('SIGKILL');
    }, timeoutMs + BACKSTOP_MS);
    this.send(child, { t: 'run', id: task.id, input: task.input });
  }

  private onMessage(child: Child, msg: ToParent): void {
    switch (msg.t) {
      case 'result': {
        const task = this.running.get(msg.id);
        if (!task) return;
        this.running.delete(msg.id);
        clearTimeout(task.backstop);
        if (msg.ok) task.resolve(msg.value);
        else {
          const code = CODES.has(msg.code as ErrorCode)
            ? (msg.code as ErrorCode)
            : 'HT_PLUGIN_THREW';
          task.reject(this.error(code, msg.message.replace(`plugin ${this.name}: `, '')));
        }
        this.pump();
        return;
      }
      case 'call':
        void this.serveCall(child, msg.fid, msg.run, msg.call);
        return;
      case 'log':
        try {
          this.log?.(this.name, String(msg.message));
        } catch {
          // A failing log sink must not fail the plugin.
        }
        return;
      default:
        return;
    }
  }

  private async serveCall(child: Child, fid: number, run: number, call: unknown): Promise<void> {
    // Only a task this plugin is working on right now: the child names a run,
    // never an attack (an escaped plugin could forge one to aim "attacker" egress).
    const task = this.running.get(run);
    if (!task) {
      this.send(child, {
        t: 'call-result',
        fid,
        ok: false,
        code: 'HT_PLUGIN_DENIED',
        message: 'no such task',
      });
      return;
    }
    try {
      const value = await task.calls.serve(call);
      this.send(child, { t: 'call-result', fid, ok: true, value });
    } catch (err) {
      this.send(child, { t: 'call-result', fid, ok: false, ...callFailure(err) });
    }
  }
}
