// A honeytrap daemon as a child process: temp config and store, JSON log lines
// parsed as they arrive, readiness, SIGTERM and cleanup.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LOOPBACK } from './ports.js';

export const REPO = fileURLToPath(new URL('../..', import.meta.url));
export const BIN = join(REPO, 'core', 'bin', 'honeytrap.js');
export const BUILTIN_TEMPLATES = join(REPO, 'core', 'templates');

export interface LogLine {
  level: number;
  msg: string;
  [key: string]: unknown;
}

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** What GET /status on the control socket answers (DaemonStats). */
export interface DaemonStatus {
  activeSessions: number;
  attacksStored: number;
  attacksFailed: number;
  pendingWrites: number;
  ports: { key: string; address: string; error?: string }[];
}

const tempDirs = new Set<string>();
const running = new Set<HoneytrapDaemon>();

// Last resort if the test process dies without its hooks: no daemon outlives it.
process.once('exit', () => {
  for (const d of running) d.kill();
});

export async function makeTempDir(prefix = 'honeytrap-host-'): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  tempDirs.add(dir);
  return dir;
}

/** Stops every daemon still running (SIGKILL if SIGTERM is not enough) and removes temp dirs. */
export async function cleanup(): Promise<void> {
  await Promise.all(
    [...running].map(async (d) => {
      try {
        await d.stop('SIGTERM', 5_000);
      } catch {
        d.kill();
        await d.exited;
      }
    }),
  );
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

export interface StartOptions {
  /** Reuse this folder (and the store in it) instead of a fresh temp folder. */
  dir?: string;
  readyTimeoutMs?: number;
}

type Waiter = { pred: (l: LogLine) => boolean; resolve: (l: LogLine) => void };

export class HoneytrapDaemon {
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

  /** Writes the config to `<dir>/config.json`, starts `honeytrap run` and waits for "honeytrap ready". */
  static async start(
    config: TestConfig | ((dir: string) => Record<string, unknown>),
    opts: StartOptions = {},
  ): Promise<HoneytrapDaemon> {
    const dir = opts.dir ?? (await makeTempDir());
    const full = typeof config === 'function' ? config(dir) : testConfig(dir, config);
    const configPath = join(dir, 'config.json');
    await writeFile(configPath, JSON.stringify(full, null, 2));
    const storeDir = String((full.store as { path: string }).path);
    const child = spawn(process.execPath, [BIN, 'run', '--config', configPath], {
      cwd: REPO,
      env: { ...process.env, HONEYTRAP_DATA_DIR: storeDir },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const daemon = new HoneytrapDaemon(child, dir, configPath, storeDir);
    await daemon.waitForLog(
      (l) => l.msg.startsWith('honeytrap ready'),
      opts.readyTimeoutMs ?? 15_000,
      'the "honeytrap ready" log line',
    );
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

  /** The "attack" log lines: one per attack string LevelDB accepted. */
  attackLogs(): LogLine[] {
    return this.logs.filter((l) => l.msg === 'attack');
  }

  /** Waits until at least `n` attacks have been stored (logged after LevelDB accepted them). */
  async waitForAttacks(n: number, timeoutMs = 15_000): Promise<void> {
    let count = 0;
    await this.waitForLog(
      (l) => l.msg === 'attack' && ++count >= n,
      timeoutMs,
      `${n} stored attacks (have ${this.attackLogs().length})`,
    );
  }

  /** GET on the control socket. */
  control(path: string): Promise<{ status: number; body: unknown }> {
    return new Promise((resolve, reject) => {
      const req = request(
        { socketPath: this.controlSocket, path, method: 'GET', timeout: 10_000 },
        (res) => {
          const parts: Buffer[] = [];
          res.on('data', (c: Buffer) => parts.push(c));
          res.on('end', () => {
            try {
              resolve({
                status: res.statusCode ?? 0,
                body: JSON.parse(Buffer.concat(parts).toString('utf8')),
              });
            } catch (err) {
              reject(err instanceof Error ? err : new Error(String(err)));
            }
          });
        },
      );
      req.on('timeout', () => req.destroy(new Error('control socket timed out')));
      req.on('error', reject);
      req.end();
    });
  }

  async status(): Promise<DaemonStatus> {
    const r = await this.control('/status');
    if (r.status !== 200) throw new Error(`/status answered ${r.status}`);
    return r.body as DaemonStatus;
  }

  /** Sends `signal` and waits for the exit; throws if it takes longer than `timeoutMs`. */
  async stop(signal: NodeJS.Signals = 'SIGTERM', timeoutMs = 10_000): Promise<Exit> {
    if (this.exit) return this.exit;
    this.child.kill(signal);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`daemon ${this.pid} did not exit ${timeoutMs} ms after ${signal}`)),
        timeoutMs,
      );
    });
    try {
      return await Promise.race([this.exited, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  kill(): void {
    if (!this.exit) this.child.kill('SIGKILL');
  }
}
