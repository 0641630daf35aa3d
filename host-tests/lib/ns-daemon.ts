// A honeytrap daemon with the listen capture, run inside a namespace of an
// HtsNet: config (mirror/proxy ports, splice and UDP limits), JSON log lines,
// readiness ("honeytrap ready"), the control socket's /status (a unix socket:
// reachable from the test's namespace), resident memory, SIGTERM and cleanup.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { join } from 'node:path';
import type { Attack } from './cli.js';
import { waitUntil } from './clients.js';
import { BIN, REPO, makeTempDir, type Exit, type LogLine } from './daemon.js';
import type { HtsNet } from './hts-net.js';

export interface SplicePort {
  port: number | string;
  proto?: 'tcp' | 'udp';
  mode?: 'normal' | 'ignore' | 'mirror' | 'proxy';
  template?: string;
  readLimit?: number;
  idleTimeoutMs?: number;
  sessionTimeoutMs?: number;
  proxy?: { target: string; routes?: { from: string; target: string }[] };
}

export interface SpliceDaemonOptions {
  /** Addresses the listen capture binds (the namespace's own addresses). */
  addresses: string[];
  ports: SplicePort[];
  sensor?: string;
  defaults?: Record<string, unknown>;
  splice?: {
    connectTimeoutMs?: number;
    mirrorPerSource?: number;
    mirrorTotal?: number;
    proxyTotal?: number;
  };
  udp?: Record<string, unknown>;
  /** Template files (name -> content) written to a folder searched before the built-in one. */
  templates?: Record<string, string | Buffer>;
  logLevel?: 'debug' | 'info' | 'warn' | 'error';
}

/** UDP reply limits high enough that they never cut a test's replies. */
export const OPEN_UDP_LIMITS = {
  maxReplyBytes: 65507,
  amplification: 100,
  repliesPerSecond: 100_000,
  perSourcePerMinute: 100_000,
};

/** What GET /status answers (the parts these tests read). */
export interface SpliceStatus {
  activeSessions: number;
  attacksStored: number;
  attacksFailed: number;
  pendingWrites: number;
  splices: { mirrors: number; proxies: number };
  ports: { key: string; address: string; error?: string }[];
}

type Waiter = { pred: (l: LogLine) => boolean; resolve: (l: LogLine) => void };
const running = new Set<NsDaemon>();

export class NsDaemon {
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

  /** Writes the config, starts `honeytrap run` inside `node` and waits for "honeytrap ready". */
  static async start(net: HtsNet, node: string, o: SpliceDaemonOptions): Promise<NsDaemon> {
    const dir = await makeTempDir('honeytrap-splice-');
    const storeDir = join(dir, 'store');
    let templateDirs: string[] = [];
    if (o.templates) {
      const tdir = join(dir, 'templates');
      await mkdir(tdir);
      for (const [name, content] of Object.entries(o.templates))
        await writeFile(join(tdir, name), content);
      templateDirs = [tdir];
    }
    const config = {
      sensor: o.sensor ?? `hts-${node}`,
      capture: { type: 'listen', addresses: o.addresses },
      defaults: { mode: 'normal', ...o.defaults },
      ports: o.ports,
      ...(o.splice ? { splice: o.splice } : {}),
      ...(o.udp ? { udp: o.udp } : {}),
      templates: { dirs: templateDirs, builtin: true },
      store: { path: storeDir },
      log: { level: o.logLevel ?? 'info', format: 'json' },
    };
    const configPath = join(dir, 'config.json');
    await writeFile(configPath, JSON.stringify(config, null, 2));
    const [bin, ...args] = net.wrap(node, [process.execPath, BIN, 'run', '--config', configPath]);
    const child = spawn(bin!, args, {
      cwd: REPO,
      env: { ...process.env, HONEYTRAP_DATA_DIR: storeDir },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const daemon = new NsDaemon(child, dir, storeDir);
    await daemon.waitForLog(
      (l) => l.msg.startsWith('honeytrap ready'),
      20_000,
      'the "honeytrap ready" log line',
    );
    const failed = (await daemon.status()).ports.filter((p) => p.error);
    if (failed.length) throw new Error(`ports not bound: ${JSON.stringify(failed)}`);
    return daemon;
  }

  /** The daemon's pid (`ip netns exec` execs node). */
  get pid(): number {
    return this.child.pid ?? -1;
  }

  get controlSocket(): string {
    return join(this.storeDir, 'control.sock');
  }

  private onStdout(text: string): void {
    this.stdout = (this.stdout + text).slice(-200_000);
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

  /** GET `path` on the control socket. */
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

  async status(): Promise<SpliceStatus> {
    const r = await this.control('/status');
    if (r.status !== 200) throw new Error(`/status answered ${r.status}`);
    return r.body as SpliceStatus;
  }

  /**
   * Waits until no session is open (every splice released) and every attack
   * is stored: nothing pending and the stored count steady for 150 ms (the
   * store writes in batches every 20 ms).
   */
  async waitIdle(timeoutMs = 10_000): Promise<void> {
    let last: SpliceStatus | undefined;
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

  /** Sends `signal` and waits for the exit; throws after `timeoutMs`. */
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

/** Stops every namespace daemon still running (SIGKILL if SIGTERM is not enough). */
export async function stopAllNsDaemons(): Promise<void> {
  await Promise.all(
    [...running].map(async (d) => {
      try {
        await d.stop('SIGTERM', 10_000);
      } catch {
        d.kill();
        await d.exited;
      }
    }),
  );
}
