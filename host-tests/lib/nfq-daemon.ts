// A honeytrap daemon with the nfqueue capture, run inside the honeypot
// namespace of a NetnsPair: config, JSON log lines, readiness ("Trapping
// attacks via NFQ" and "honeytrap ready"), the control socket's /status, the
// project's own `honeytrap iptables` command, SIGTERM and cleanup.
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { join } from 'node:path';
import { runProgram, type RunResult } from './cli.js';
import { sleep, waitUntil } from './clients.js';
import { BIN, REPO, makeTempDir, type Exit, type LogLine } from './daemon.js';
import { NetnsPair } from './netns.js';

export interface TableStats {
  listeners: number;
  opened: number;
  evicted: number;
  idleClosed: number;
  throttled: number;
  failed: number;
  excluded: number;
}

export interface NfqStats {
  packets: number;
  accepted: number;
  dropped: number;
  unparsed: number;
  late: number;
  errors: number;
  table: TableStats;
}

/** What GET /status answers with the nfqueue capture. */
export interface NfqStatus {
  capture: string;
  activeSessions: number;
  attacksStored: number;
  attacksFailed: number;
  pendingWrites: number;
  udpRepliesSuppressed: number;
  fdLimit?: { soft: number; hard: number; raised: boolean };
  nfqueue: NfqStats;
}

export interface NfqOptions {
  queue: number;
  nfqueue?: Record<string, unknown>;
  portTable?: Record<string, unknown>;
  udp?: Record<string, unknown>;
  defaults?: Record<string, unknown>;
  ports?: Record<string, unknown>[];
  privileges?: { user?: string; group?: string };
  logLevel?: 'debug' | 'info' | 'warn' | 'error';
}

/** A full config with the nfqueue capture, JSON logs and the store in `dir`. */
export function nfqConfig(dir: string, o: NfqOptions): Record<string, unknown> {
  return {
    sensor: 'host-test-nfq',
    capture: {
      type: 'nfqueue',
      nfqueue: { queue: o.queue, ...o.nfqueue },
      ...(o.portTable ? { portTable: o.portTable } : {}),
    },
    defaults: { mode: 'normal', ...o.defaults },
    ports: o.ports ?? [],
    ...(o.udp ? { udp: o.udp } : {}),
    templates: { dirs: [], builtin: true },
    store: { path: join(dir, 'store') },
    log: { level: o.logLevel ?? 'info', format: 'json' },
    ...(o.privileges ? { privileges: o.privileges } : {}),
  };
}

/** Writes `config` to `<dir>/config.json` (a fresh temp dir unless given) and returns its path. */
export async function writeConfig(
  config: (dir: string) => Record<string, unknown>,
  dir?: string,
): Promise<{ dir: string; configPath: string; storeDir: string }> {
  const d = dir ?? (await makeTempDir('honeytrap-nfq-'));
  const full = config(d);
  const configPath = join(d, 'config.json');
  await writeFile(configPath, JSON.stringify(full, null, 2));
  return { dir: d, configPath, storeDir: String((full.store as { path: string }).path) };
}

/** The environment without SSH_CONNECTION: the rules go to a test namespace, not to our SSH session's. */
export function envWithoutSsh(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env.SSH_CONNECTION;
  return env;
}

/** `honeytrap iptables ARGS --config F` inside `ns`. */
export function iptablesCommand(
  ns: string,
  configPath: string,
  args: string[],
  env: NodeJS.ProcessEnv = envWithoutSsh(),
): Promise<RunResult> {
  const [bin, ...rest] = NetnsPair.wrap(ns, [
    process.execPath,
    BIN,
    'iptables',
    ...args,
    '--config',
    configPath,
  ]);
  return runProgram(bin!, rest, { env, timeoutMs: 30_000 });
}

const running = new Set<NfqDaemon>();

type Waiter = { pred: (l: LogLine) => boolean; resolve: (l: LogLine) => void };

export interface NfqStartOptions {
  /** Reuse this folder (and its store). */
  dir?: string;
  readyTimeoutMs?: number;
  /** Apply the rules with `honeytrap iptables --apply` once the daemon is ready (default true). */
  applyRules?: boolean;
}

export class NfqDaemon {
  stdout = '';
  stderr = '';
  readonly logs: LogLine[] = [];
  readonly exited: Promise<Exit>;
  exit: Exit | undefined;
  rulesApplied = false;
  private partial = '';
  private waiters: Waiter[] = [];

  private constructor(
    readonly net: NetnsPair,
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

  /**
   * Starts `honeytrap run` inside the honeypot namespace, waits for "Trapping
   * attacks via NFQ" and "honeytrap ready", then applies the rules with the
   * project's own command.
   */
  static async start(
    net: NetnsPair,
    config: (dir: string) => Record<string, unknown>,
    opts: NfqStartOptions = {},
  ): Promise<NfqDaemon> {
    const { dir, configPath, storeDir } = await writeConfig(config, opts.dir);
    // `ip netns exec` execs the program: the child's pid is the daemon's.
    const [bin, ...args] = NetnsPair.wrap(net.honeypot, [
      process.execPath,
      BIN,
      'run',
      '--config',
      configPath,
    ]);
    const child = spawn(bin!, args, {
      cwd: REPO,
      env: { ...process.env, HONEYTRAP_DATA_DIR: storeDir },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const daemon = new NfqDaemon(net, child, dir, configPath, storeDir);
    const timeout = opts.readyTimeoutMs ?? 20_000;
    await daemon.waitForLog(
      (l) => l.msg === 'Trapping attacks via NFQ',
      timeout,
      'the "Trapping attacks via NFQ" log line',
    );
    await daemon.waitForLog(
      (l) => l.msg.startsWith('honeytrap ready'),
      timeout,
      'the "honeytrap ready" log line',
    );
    if (opts.applyRules ?? true) await daemon.applyRules();
    return daemon;
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  get controlSocket(): string {
    return join(this.storeDir, 'control.sock');
  }

  async applyRules(): Promise<void> {
    const r = await iptablesCommand(this.net.honeypot, this.configPath, ['--apply']);
    if (r.code !== 0)
      throw new Error(`honeytrap iptables --apply exited ${r.code}: ${r.stderr}${r.stdout}`);
    this.rulesApplied = true;
  }

  async removeRules(): Promise<void> {
    if (!this.rulesApplied) return;
    const r = await iptablesCommand(this.net.honeypot, this.configPath, ['--remove']);
    if (r.code !== 0)
      throw new Error(`honeytrap iptables --remove exited ${r.code}: ${r.stderr}${r.stdout}`);
    this.rulesApplied = false;
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

  /** The "attack" log lines (one per attack string the store accepted). */
  attackLogs(): LogLine[] {
    return this.logs.filter((l) => l.msg === 'attack');
  }

  /** Log lines at error level (50) or above. */
  errorLogs(): LogLine[] {
    return this.logs.filter((l) => l.level >= 50);
  }

  /** Waits until at least `n` attacks were stored in total. */
  async waitForAttacks(n: number, timeoutMs = 20_000): Promise<void> {
    await waitUntil(
      () => this.attackLogs().length >= n || this.exit !== undefined,
      timeoutMs,
      `${n} stored attacks (have ${this.attackLogs().length})`,
    ).catch((err: Error) => {
      throw new Error(`${err.message} (have ${this.attackLogs().length})`);
    });
    if (this.attackLogs().length < n)
      throw new Error(`daemon exited before ${n} attacks were stored: ${this.stderr}`);
  }

  /** GET `path` on the control socket (a unix socket: reachable from any namespace). */
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

  async status(): Promise<NfqStatus> {
    const r = await this.control('/status');
    if (r.status !== 200) throw new Error(`/status answered ${r.status}`);
    const s = r.body as NfqStatus;
    if (!s.nfqueue) throw new Error(`/status has no nfqueue section: ${JSON.stringify(s)}`);
    return s;
  }

  /** Sends `signal` and waits for the exit; throws after `timeoutMs`. */
  async stop(signal: NodeJS.Signals = 'SIGTERM', timeoutMs = 15_000): Promise<Exit> {
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

/** Stops every nfqueue daemon still running (SIGKILL if SIGTERM is not enough). */
export async function stopAllNfqDaemons(): Promise<void> {
  await Promise.all(
    [...running].map(async (d) => {
      try {
        await d.shutdown();
      } catch {
        d.kill();
        await d.exited;
      }
    }),
  );
}
