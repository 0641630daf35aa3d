// Two network namespaces joined by a veth pair, made for one test file: an
// attacker (10.99.x.1) and a honeypot (10.99.x.2). Traffic stays between them.
// Teardown kills what still runs inside them and deletes both namespaces (the
// veth pair and every iptables rule go with them); it also runs on process exit
// and removes namespaces left behind by a test process that died.
import { execFileSync } from 'node:child_process';
import { runProgram, type RunOptions, type RunResult } from './cli.js';
import { waitUntil } from './clients.js';

const PREFIX = 'htt-';
const live = new Set<string>();
let counter = 0;

/** Fails with a clear message when the host cannot run namespace/NFQUEUE tests. */
export function requireRoot(what: string): void {
  if (process.getuid?.() !== 0)
    throw new Error(
      `${what} needs root (network namespaces, iptables, NFQUEUE); run the host tests as root`,
    );
}

function ip(args: string[]): void {
  execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

function pidsIn(ns: string): number[] {
  try {
    return execFileSync('ip', ['netns', 'pids', ns], { encoding: 'utf8' })
      .split(/\s+/)
      .filter(Boolean)
      .map(Number);
  } catch {
    return [];
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Kills what runs inside `ns` (only processes our tests started there) and deletes it. */
function destroy(ns: string): void {
  for (const pid of pidsIn(ns)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* already gone */
    }
  }
  try {
    ip(['netns', 'del', ns]);
  } catch {
    /* already gone */
  }
  live.delete(ns);
}

process.on('exit', () => {
  for (const ns of [...live]) destroy(ns);
});

/** Namespaces of ours whose test process is gone (it was killed before its teardown). */
function removeStale(): void {
  let names: string[] = [];
  try {
    names = execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' })
      .split('\n')
      .map((l) => l.split(' ')[0] ?? '');
  } catch {
    return;
  }
  for (const name of names) {
    const m = /^htt-.*-p(\d+)-\d+-[ah]$/.exec(name);
    if (m && Number(m[1]) !== process.pid && !alive(Number(m[1]))) destroy(name);
  }
}

export interface QueueRow {
  queue: number;
  peerPortId: number;
  /** Packets waiting for a verdict. */
  waiting: number;
  queueDropped: number;
  userDropped: number;
  idSequence: number;
}

export class NetnsPair {
  readonly attackerIp: string;
  readonly honeypotIp: string;

  private constructor(
    readonly attacker: string,
    readonly honeypot: string,
    readonly subnet: number,
  ) {
    this.attackerIp = `10.99.${subnet}.1`;
    this.honeypotIp = `10.99.${subnet}.2`;
  }

  /** Creates the pair; `tag` names the test file (letters, digits and dashes). */
  static create(tag: string): NetnsPair {
    requireRoot('creating network namespaces');
    removeStale();
    const n = ++counter;
    const base = `${PREFIX}${tag}-p${process.pid}-${n}`;
    // 10.99.x.0/24: the addresses only exist inside these two namespaces.
    const subnet = ((process.pid * 7 + n) % 250) + 1;
    const pair = new NetnsPair(`${base}-a`, `${base}-h`, subnet);
    const id = `${(process.pid % 100000).toString(36)}${n.toString(36)}`;
    const va = `hta${id}`;
    const vh = `hth${id}`;
    try {
      for (const ns of [pair.attacker, pair.honeypot]) {
        ip(['netns', 'add', ns]);
        live.add(ns);
        ip(['-n', ns, 'link', 'set', 'lo', 'up']);
      }
      // Both ends are created inside their namespaces: nothing appears on the host.
      ip([
        'link',
        'add',
        va,
        'netns',
        pair.attacker,
        'type',
        'veth',
        'peer',
        'name',
        vh,
        'netns',
        pair.honeypot,
      ]);
      ip(['-n', pair.attacker, 'addr', 'add', `${pair.attackerIp}/24`, 'dev', va]);
      ip(['-n', pair.honeypot, 'addr', 'add', `${pair.honeypotIp}/24`, 'dev', vh]);
      ip(['-n', pair.attacker, 'link', 'set', va, 'up']);
      ip(['-n', pair.honeypot, 'link', 'set', vh, 'up']);
    } catch (err) {
      pair.teardown();
      const e = err as { stderr?: Buffer; message: string };
      throw new Error(
        `cannot create the test namespaces: ${e.stderr?.toString().trim() || e.message}`,
      );
    }
    return pair;
  }

  /** The command line that runs `cmd` inside `ns`. */
  static wrap(ns: string, cmd: string[]): string[] {
    return ['ip', 'netns', 'exec', ns, ...cmd];
  }

  /** Runs `cmd` to completion inside `ns`. */
  exec(ns: string, cmd: string[], opts: RunOptions = {}): Promise<RunResult> {
    const [bin, ...args] = NetnsPair.wrap(ns, cmd);
    return runProgram(bin!, args, opts);
  }

  /** Runs `cmd` inside `ns` and fails (with its stderr) unless it exits 0. */
  async mustExec(ns: string, cmd: string[], opts: RunOptions = {}): Promise<RunResult> {
    const r = await this.exec(ns, cmd, opts);
    if (r.code !== 0)
      throw new Error(`${cmd.join(' ')} (in ${ns}) exited ${r.code}: ${r.stderr || r.stdout}`);
    return r;
  }

  /** The rows of /proc/net/netfilter/nfnetlink_queue as the honeypot namespace sees them. */
  async queueRows(): Promise<QueueRow[]> {
    const r = await this.exec(this.honeypot, [
      'sh',
      '-c',
      'cat /proc/net/netfilter/nfnetlink_queue 2>/dev/null || true',
    ]);
    return r.stdout
      .split('\n')
      .map((l) => l.trim().split(/\s+/).map(Number))
      .filter((f) => f.length >= 8 && f.every((x) => Number.isFinite(x)))
      .map((f) => ({
        queue: f[0]!,
        peerPortId: f[1]!,
        waiting: f[2]!,
        queueDropped: f[5]!,
        userDropped: f[6]!,
        idSequence: f[7]!,
      }));
  }

  /** Waits until no queue in the honeypot namespace holds a packet without a verdict. */
  async expectQueueDrained(timeoutMs = 5_000): Promise<QueueRow[]> {
    let rows: QueueRow[] = [];
    try {
      await waitUntil(
        async () => {
          rows = await this.queueRows();
          return rows.every((r) => r.waiting === 0);
        },
        timeoutMs,
        'the NFQUEUE to drain',
      );
    } catch {
      throw new Error(
        `packets left in NFQUEUE without a verdict ${timeoutMs} ms later: ${JSON.stringify(rows)}`,
      );
    }
    return rows;
  }

  /** Kills what still runs in both namespaces and deletes them. Safe to call twice. */
  teardown(): void {
    for (const ns of [this.attacker, this.honeypot]) if (live.has(ns)) destroy(ns);
  }
}
