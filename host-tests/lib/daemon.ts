// A honeytrap daemon as a child process, in the test's own network namespace or
// inside a namespace of a Netns: temp config and store, JSON log lines parsed
// as they arrive, readiness (the log lines a suite waits for), the control
// socket (/status, /attacks: a unix socket, reachable from any namespace),
// SIGTERM and cleanup.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { getJson } from '../../core/src/control/client.js';
import type { DaemonStats } from '../../core/src/daemon.js';
import type { Attack } from './cli.js';
import { sleep, waitUntil } from './clients.js';
import type { Netns } from './netns.js';
import { LOOPBACK } from './ports.js';
import { onExit } from './on-exit.js';

export type { DaemonStats };

export const REPO = fileURLToPath(new URL('../..', import.meta.url));
export const BIN = join(REPO, 'core', 'bin', 'honeytrap.js');
export const BUILTIN_TEMPLATES = join(REPO, 'core', 'templates');

/** How long a GET on the control socket may take. */
const CONTROL_TIMEOUT_MS = 10_000;

export interface LogLine {
  level: number;
  msg: string;
  [key: string]: unknown;
}

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

const tempDirs = new Set<string>();
const running = new Set<HoneytrapDaemon>();

// Last resort if the test process dies without its hooks: no daemon outlives it.
onExit(() => {
  for (const d of running) d.kill();
});

export async function makeTempDir(prefix = 'honeytrap-host-'): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  tempDirs.add(dir);
  return dir;
}

/**
 * Stops every daemon still running with `stop` (SIGKILL if that fails): by
 * default SIGTERM and 5 s to exit.
 */
export async function stopAll(
  stop: (d: HoneytrapDaemon) => Promise<unknown> = (d) => d.stop('SIGTERM', 5_000),
): Promise<void> {
  await Promise.all(
    [...running].map(async (d) => {
      try {
        await stop(d);
      } catch {
        d.kill();
        await d.exited;
      }
    }),
  );
}

/** Stops every daemon still running (see stopAll) and removes temp dirs. */
export async function cleanup(): Promise<void> {
  await stopAll();
  await Promise.all([...tempDirs].map((d) => rm(d, { recursive: true, force: true })));
  tempDirs.clear();
}

export interface PortEntry {
  port: number | string;
  proto?: 'tcp' | 'udp';
  mode?: 'normal' | 'ignore';
  template?: string;
  readLimit?: number;
  idleTimeoutMs?: number;
  sessionTimeoutMs?: number;
}

export interface TestConfig {
  ports: PortEntry[];
  defaults?: Record<string, unknown>;
  store?: Record<string, unknown>;
  templates?: Record<string, unknown>;
  capture?: Record<string, unknown>;
}

/** A full config for a test: loopback only, JSON logs, the store in `dir`. */
export function testConfig(dir: string, c: TestConfig): Record<string, unknown> {
  return {
    sensor: 'host-test',
    capture: { type: 'listen', addresses: [LOOPBACK], ...c.capture },
    defaults: { mode: 'normal', ...c.defaults },
    ports: c.ports,
    templates: { dirs: [], builtin: true, ...c.templates },
    store: { path: join(dir, 'store'), ...c.store },
    log: { level: 'info', format: 'json' },
  };
}

/** A full config, made for the folder it is written to. */
export type ConfigFor = (dir: string) => Record<string, unknown> | Promise<Record<string, unknown>>;

/** Writes `config` to `<dir>/config.json` (a fresh temp dir unless given) and returns its path. */
export async function writeConfig(
  config: ConfigFor,
  dir?: string,
  tempPrefix?: string,
): Promise<{ dir: string; configPath: string; storeDir: string }> {
  const d = dir ?? (await makeTempDir(tempPrefix));
  const full = await config(d);
  const configPath = join(d, 'config.json');
  await writeFile(configPath, JSON.stringify(full, null, 2));
  return { dir: d, configPath, storeDir: String((full.store as { path: string }).path) };
}

export interface StartOptions<S extends DaemonStats = DaemonStats> {
  /** Reuse this folder (and the store in it) instead of a fresh temp folder. */
  dir?: string;
  /** Name prefix of the fresh temp folder. */
  tempPrefix?: string;
  /** Run inside `node`'s namespace of `net` instead of the test's own namespace. */
  netns?: { net: Netns; node: string };
  /** Log lines (their msg's start) to wait for, one after the other; default "honeytrap ready". */
  readyLines?: string[];
  /** How long to wait for each ready line (default 15 s). */
  readyTimeoutMs?: number;
  /** Once ready, fail unless /status says every port is bound. */
  requireBound?: boolean;
  /** The default timeout of waitForAttacks (15 s unless given). */
  attacksTimeoutMs?: number;
  /** Checks what /status answers (throws when it lacks what the suite reads). */
  checkStatus?: (s: DaemonStats) => S;
}

type Waiter = { pred: (l: LogLine) => boolean; resolve: (l: LogLine) => void };

/** Resolves with `p`, or fails with `message` after `ms`. */
async function within<T>(p: Promise<T>, ms: number, message: () => string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(message())), ms);
  });
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

export class HoneytrapDaemon<S extends DaemonStats = DaemonStats> {
  stdout = '';
  stderr = '';
  readonly logs: LogLine[] = [];
  readonly exited: Promise<Exit>;
  exit: Exit | undefined;
  private partial = '';
  private waiters: Waiter[] = [];

  private constructor(
    readonly child: ChildProcess,
    readonly dir: string,
    readonly configPath: string,
    readonly storeDir: string,
    private readonly opts: StartOptions<S>,
  ) {
    child.stdout?.setEncoding('utf8');
    child.stderr?.setEncoding('utf8');
    child.stdout?.on('data', (s: string) => this.onStdout(s));
    child.stderr?.on('data', (s: string) => (this.stderr += s));
    this.exited = new Promise((resolve) =>
      child.once('exit', (code, signal) => {
        this.exit = { code, signal };
        running.delete(this);
        resolve(this.exit);
      }),
    );
    running.add(this);
  }

  /**
   * Writes the config to `<dir>/config.json`, starts `honeytrap run` (inside
   * the namespace if given: `ip netns exec` execs node, so the child's pid is
   * the daemon's) and waits for the ready lines.
   */
  static async start<S extends DaemonStats = DaemonStats>(
    config: TestConfig | ConfigFor,
    opts: StartOptions<S> = {},
  ): Promise<HoneytrapDaemon<S>> {
    const { dir, configPath, storeDir } = await writeConfig(
      typeof config === 'function' ? config : (d) => testConfig(d, config),
      opts.dir,
      opts.tempPrefix,
    );
    const cmd = [process.execPath, BIN, 'run', '--config', configPath];
    const [bin, ...args] = opts.netns ? opts.netns.net.wrap(opts.netns.node, cmd) : cmd;
    const child = spawn(bin!, args, {
      cwd: REPO,
      env: { ...process.env, HONEYTRAP_DATA_DIR: storeDir },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const daemon = new HoneytrapDaemon(child, dir, configPath, storeDir, opts);
    for (const line of opts.readyLines ?? ['honeytrap ready'])
      await daemon.waitForLog(
        (l) => l.msg.startsWith(line),
        opts.readyTimeoutMs ?? 15_000,
        `the "${line}" log line`,
      );
    if (opts.requireBound) {
      const failed = (await daemon.status()).ports.filter((p) => p.error);
      if (failed.length) throw new Error(`ports not bound: ${JSON.stringify(failed)}`);
    }
    return daemon;
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  get controlSocket(): string {
    return join(this.storeDir, 'control.sock');
  }

  private onStdout(text: string): void {
    this.stdout += text;
    if (this.stdout.length > 4_000_000) this.stdout = this.stdout.slice(-1_000_000);
    const lines = (this.partial + text).split('\n');
    this.partial = lines.pop() ?? '';
    for (const raw of lines) {
      if (!raw.trim()) continue;
      let line: LogLine;
      try {
        line = JSON.parse(raw) as LogLine;
      } catch {
        line = { level: -1, msg: raw };
      }
      this.logs.push(line);
      this.waiters = this.waiters.filter((w) => {
        if (!w.pred(line)) return true;
        w.resolve(line);
        return false;
      });
    }
  }

  /** Resolves with the first log line (already seen or to come) that matches. */
  waitForLog(pred: (l: LogLine) => boolean, timeoutMs: number, what: string): Promise<LogLine> {
    const seen = this.logs.find(pred);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const fail = (why: string) =>
        reject(
          new Error(
            `waiting for ${what}: ${why}\n--- stdout (tail)\n${this.stdout.slice(-3000)}\n--- stderr\n${this.stderr}`,
          ),
        );
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        fail(`not seen after ${timeoutMs} ms`);
      }, timeoutMs);
      const waiter: Waiter = {
        pred,
        resolve: (l) => {
          clearTimeout(timer);
          resolve(l);
        },
      };
      this.waiters.push(waiter);
      void this.exited.then((e) => {
        if (!this.waiters.includes(waiter)) return;
        clearTimeout(timer);
        this.waiters = this.waiters.filter((w) => w !== waiter);
        fail(`daemon exited (code ${e.code}, signal ${e.signal})`);
      });
    });
  }

  /** The "attack" log lines: one per attack string the store accepted. */
  attackLogs(): LogLine[] {
    return this.logs.filter((l) => l.msg === 'attack');
  }

  /** Log lines at error level (50) or above. */
  errorLogs(): LogLine[] {
    return this.logs.filter((l) => l.level >= 50);
  }

  /** Waits until at least `n` attacks have been stored (logged after the store accepted them). */
  async waitForAttacks(n: number, timeoutMs = this.opts.attacksTimeoutMs ?? 15_000): Promise<void> {
    let count = 0;
    await this.waitForLog(
      (l) => l.msg === 'attack' && ++count >= n,
      timeoutMs,
      `${n} stored attacks (have ${this.attackLogs().length})`,
    );
  }

  /** GET `path` on the control socket (core's client), failing after 10 s. */
  control(path: string): Promise<{ status: number; body: unknown }> {
    return within(
      getJson(this.controlSocket, path),
      CONTROL_TIMEOUT_MS,
      () => `control socket timed out: GET ${path} took more than ${CONTROL_TIMEOUT_MS} ms`,
    );
  }

  async status(): Promise<S> {
    const r = await this.control('/status');
    if (r.status !== 200) throw new Error(`/status answered ${r.status}`);
    const s = r.body as DaemonStats;
    return this.opts.checkStatus ? this.opts.checkStatus(s) : (s as S);
  }

  /** Every stored attack (newest first), read through the control socket. */
  async attacks(): Promise<Attack[]> {
    const r = await this.control('/attacks?limit=5000');
    if (r.status !== 200)
      throw new Error(`/attacks answered ${r.status}: ${JSON.stringify(r.body)}`);
    return r.body as Attack[];
  }

  /**
   * Waits until a stored attack matches `pred` (attack log lines are watched,
   * the store is read when one arrived) and returns it.
   */
  async waitForAttack(
    pred: (a: Attack) => boolean,
    what: string,
    timeoutMs = 15_000,
  ): Promise<Attack> {
    let found: Attack | undefined;
    let seen = -1;
    await waitUntil(
      async () => {
        if (this.exit) return true;
        const n = this.attackLogs().length;
        if (n === seen) return false;
        seen = n;
        found = (await this.attacks()).find(pred);
        return found !== undefined;
      },
      timeoutMs,
      `an attack: ${what}`,
    ).catch((err: Error) => {
      throw new Error(
        `${err.message}; stored: ${this.attackLogs().length}; stderr: ${this.stderr}`,
      );
    });
    if (!found)
      throw new Error(`daemon exited before the attack (${what}) was stored: ${this.stderr}`);
    return found;
  }

  /**
   * Waits until no session is open (every splice released) and every attack
   * is stored: nothing pending and the stored count steady for 150 ms (the
   * store writes in batches every 20 ms).
   */
  async waitIdle(timeoutMs = 10_000): Promise<void> {
    let last: DaemonStats | undefined;
    let steadySince = 0;
    let stored = -1;
    await waitUntil(
      async () => {
        last = await this.status();
        const idle =
          last.activeSessions === 0 &&
          last.splices.mirrors === 0 &&
          last.splices.proxies === 0 &&
          last.pendingWrites === 0;
        if (!idle || last.attacksStored !== stored) {
          stored = idle ? last.attacksStored : -1;
          steadySince = Date.now();
          return false;
        }
        return Date.now() - steadySince >= 150;
      },
      timeoutMs,
      'the daemon to have no open session and nothing left to store',
    ).catch((err: Error) => {
      throw new Error(`${err.message}: ${JSON.stringify(last)}`);
    });
  }

  /** Resident memory in bytes (VmRSS of /proc/<pid>/status). */
  rssBytes(): number {
    const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${this.pid}/status`, 'utf8'));
    if (!m) throw new Error(`no VmRSS for pid ${this.pid}`);
    return Number(m[1]) * 1024;
  }

  /** Sends `signal` and waits for the exit; throws if it takes longer than `timeoutMs`. */
  async stop(signal: NodeJS.Signals = 'SIGTERM', timeoutMs = 10_000): Promise<Exit> {
    if (this.exit) return this.exit;
    this.child.kill(signal);
    return within(
      this.exited,
      timeoutMs,
      () => `daemon ${this.pid} did not exit ${timeoutMs} ms after ${signal}`,
    );
  }

  kill(): void {
    if (!this.exit) this.child.kill('SIGKILL');
  }

  /**
   * Graceful stop: SIGTERM, wait for "honeytrap stopped" (sessions ended, store
   * flushed and closed), then for the exit. A daemon still alive `lingerMs`
   * after that line gets a second SIGTERM (its "exit without finishing" path)
   * and `lingered` says so: with the nfqueue capture the queue's poll handle
   * keeps the process alive after a clean stop (see the lifecycle test).
   */
  async shutdown(lingerMs = 3_000): Promise<{ exit: Exit; lingered: boolean }> {
    if (this.exit) return { exit: this.exit, lingered: false };
    this.child.kill('SIGTERM');
    await this.waitForLog((l) => l.msg === 'honeytrap stopped', 15_000, '"honeytrap stopped"');
    const quick = await Promise.race([this.exited, sleep(lingerMs).then(() => undefined)]);
    if (quick) return { exit: quick, lingered: false };
    return { exit: await this.stop('SIGTERM', 10_000), lingered: true };
  }
}
