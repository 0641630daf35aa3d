// Named network namespaces for the host tests, one set per test file, joined
// by veth pairs as the file needs them: the attacker/honeypot pair of the
// nfqueue tests (NetnsPair) or the splice tests' attacker, honeypot, targets
// and two honeypots (Netns.create). Programs run inside them to completion
// (exec) or in the background (spawn: peer servers, agents). Teardown stops the
// background programs, kills what is left in the namespaces and deletes them
// (veth pairs and iptables rules go with them); it also runs on process exit,
// and namespaces left by a test process that died are removed the next time
// namespaces are created.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { runProgram, type RunOptions, type RunResult } from './cli.js';
import { waitUntil } from './clients.js';
import { REPO, type Exit } from './daemon.js';
import { onExit } from './on-exit.js';

const PREFIX = 'htt-';
const STALE = /^htt-.+-p(\d+)-\d+-[a-z0-9]+$/;
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

/** Kills what still runs inside `ns` (only our test's programs run there) and deletes it. */
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

onExit(() => {
  for (const ns of [...live]) destroy(ns);
});

/** Our namespaces whose test process is gone (killed before its teardown). */
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
    const m = STALE.exec(name);
    if (m && Number(m[1]) !== process.pid && !alive(Number(m[1]))) destroy(name);
  }
}

function errText(err: unknown): string {
  const e = err as { stderr?: Buffer; message?: string };
  return e.stderr?.toString().trim() || e.message || String(err);
}

/** A program running inside a namespace until the test stops it. */
export class Background {
  output = '';
  exit: Exit | undefined;
  readonly exited: Promise<Exit>;

  constructor(
    readonly name: string,
    readonly child: ChildProcess,
  ) {
    const keep = (s: string) => {
      this.output = (this.output + s).slice(-20_000);
    };
    child.stdout?.setEncoding('utf8');
    child.stderr?.setEncoding('utf8');
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        this.exit = { code, signal };
        resolve(this.exit);
      });
      child.once('error', (err) => {
        this.output += `\n${err.message}`;
        this.exit = { code: -1, signal: null };
        resolve(this.exit);
      });
    });
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  /** Waits until the program printed a line matching `re`; fails if it exits first. */
  async waitForOutput(re: RegExp, timeoutMs = 10_000): Promise<void> {
    await waitUntil(
      () => re.test(this.output) || this.exit !== undefined,
      timeoutMs,
      `${this.name}: ${re}`,
    );
    if (!re.test(this.output))
      throw new Error(`${this.name} exited (${JSON.stringify(this.exit)}): ${this.output}`);
  }

  /** SIGTERM, then SIGKILL after `timeoutMs`; resolves once it exited. */
  async stop(timeoutMs = 3_000): Promise<Exit> {
    if (this.exit) return this.exit;
    this.child.kill('SIGTERM');
    const t = setTimeout(() => this.child.kill('SIGKILL'), timeoutMs);
    try {
      return await this.exited;
    } finally {
      clearTimeout(t);
    }
  }
}

export interface Link {
  /** Interface names on each side. */
  aDev: string;
  bDev: string;
}

/** Namespaces named by node ("att", "hp", ...), each with loopback up. */
export class Netns {
  private readonly names = new Map<string, string>();
  private readonly background = new Set<Background>();
  private links = 0;
  /** Tells this set's interfaces apart (names stay within the 15 characters Linux allows). */
  private readonly id: string;

  protected constructor(
    readonly tag: string,
    /** This set's number in the test process. */
    readonly n: number,
  ) {
    this.id = `${(process.pid % 1_000_000).toString(36)}${n.toString(36)}`;
  }

  /**
   * Creates one namespace per node name (lowercase letters and digits), each
   * with loopback up. `tag` names the test file (letters, digits and dashes).
   */
  static create(tag: string, nodes: string[]): Netns {
    const net = new Netns(tag, Netns.begin());
    net.addNodes(nodes);
    return net;
  }

  /** Checks for root, removes stale namespaces and numbers a new set. */
  protected static begin(): number {
    requireRoot('creating network namespaces');
    removeStale();
    return ++counter;
  }

  protected addNodes(nodes: string[]): void {
    try {
      for (const node of nodes) {
        const ns = `${PREFIX}${this.tag}-p${process.pid}-${this.n}-${node}`;
        ip(['netns', 'add', ns]);
        live.add(ns);
        this.names.set(node, ns);
        ip(['-n', ns, 'link', 'set', 'lo', 'up']);
      }
    } catch (err) {
      this.destroyNamespaces();
      throw new Error(`cannot create the test namespaces: ${errText(err)}`);
    }
  }

  /** The namespace name of `node`. */
  ns(node: string): string {
    const ns = this.names.get(node);
    if (!ns) throw new Error(`no namespace for node "${node}"`);
    return ns;
  }

  /**
   * A veth pair between `a` and `b` with the given addresses ("10.99.40.1/24").
   * Both ends are created inside their namespaces: nothing appears on the host.
   */
  link(a: string, aCidr: string, b: string, bCidr: string): Link {
    const k = ++this.links;
    const aDev = `ht${this.id}a${k}`;
    const bDev = `ht${this.id}b${k}`;
    if (aDev.length > 15) throw new Error(`interface name ${aDev} is too long`);
    try {
      ip([
        'link',
        'add',
        aDev,
        'netns',
        this.ns(a),
        'type',
        'veth',
        'peer',
        'name',
        bDev,
        'netns',
        this.ns(b),
      ]);
      ip(['-n', this.ns(a), 'addr', 'add', aCidr, 'dev', aDev]);
      ip(['-n', this.ns(b), 'addr', 'add', bCidr, 'dev', bDev]);
      ip(['-n', this.ns(a), 'link', 'set', aDev, 'up']);
      ip(['-n', this.ns(b), 'link', 'set', bDev, 'up']);
    } catch (err) {
      throw new Error(`cannot link ${a} and ${b}: ${errText(err)}`);
    }
    return { aDev, bDev };
  }

  /** Adds another address to an interface of `node`. */
  addAddress(node: string, dev: string, cidr: string): void {
    ip(['-n', this.ns(node), 'addr', 'add', cidr, 'dev', dev]);
  }

  /** The command line that runs `cmd` inside `node`'s namespace (`ip netns exec` execs it). */
  wrap(node: string, cmd: string[]): string[] {
    return ['ip', 'netns', 'exec', this.ns(node), ...cmd];
  }

  /** Runs `cmd` to completion inside `node`. */
  exec(node: string, cmd: string[], opts: RunOptions = {}): Promise<RunResult> {
    const [bin, ...args] = this.wrap(node, cmd);
    return runProgram(bin!, args, opts);
  }

  /** Runs `cmd` inside `node` and fails (with its output) unless it exits 0. */
  async mustExec(node: string, cmd: string[], opts: RunOptions = {}): Promise<RunResult> {
    const r = await this.exec(node, cmd, opts);
    if (r.code !== 0)
      throw new Error(`${cmd.join(' ')} (in ${node}) exited ${r.code}: ${r.stderr || r.stdout}`);
    return r;
  }

  /**
   * Starts `cmd` inside `node` in the background (the child's pid is the
   * program's). Stopped at teardown at the latest.
   */
  spawn(node: string, name: string, cmd: string[], opts: { cwd?: string } = {}): Background {
    const [bin, ...args] = this.wrap(node, cmd);
    const child = spawn(bin!, args, {
      cwd: opts.cwd ?? REPO,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    child.stdin?.on('error', () => undefined);
    const bg = new Background(`${name} (in ${node})`, child);
    this.background.add(bg);
    void bg.exited.then(() => this.background.delete(bg));
    return bg;
  }

  /** Waits until something listens on `port` inside `node` (TCP listen or bound UDP). */
  async waitListening(
    node: string,
    proto: 'tcp' | 'udp',
    port: number,
    timeoutMs = 10_000,
  ): Promise<void> {
    const flag = proto === 'tcp' ? '-Hltn' : '-Hlun';
    await waitUntil(
      async () => {
        const r = await this.exec(node, ['ss', flag, `sport = :${port}`]);
        return r.code === 0 && r.stdout.trim().length > 0;
      },
      timeoutMs,
      `${proto} port ${port} listening in ${node}`,
    );
  }

  /** Stops the background programs, kills what is left, deletes the namespaces. Safe twice. */
  async teardown(): Promise<void> {
    await Promise.all([...this.background].map((b) => b.stop(2_000)));
    this.destroyNamespaces();
  }

  protected destroyNamespaces(): void {
    for (const ns of this.names.values()) if (live.has(ns)) destroy(ns);
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

/**
 * Two namespaces joined by a veth pair: an attacker (node "a", 10.99.x.1) and
 * a honeypot (node "h", 10.99.x.2). Traffic stays between them.
 */
export class NetnsPair extends Netns {
  /** The node names of the two sides. */
  readonly attacker = 'a';
  readonly honeypot = 'h';
  readonly attackerIp: string;
  readonly honeypotIp: string;

  private constructor(tag: string, n: number) {
    super(tag, n);
    // 10.99.x.0/24: the addresses only exist inside these two namespaces.
    const subnet = ((process.pid * 7 + n) % 250) + 1;
    this.attackerIp = `10.99.${subnet}.1`;
    this.honeypotIp = `10.99.${subnet}.2`;
  }

  /** Creates the pair; `tag` names the test file (letters, digits and dashes). */
  static override create(tag: string): NetnsPair {
    const pair = new NetnsPair(tag, Netns.begin());
    pair.addNodes([pair.attacker, pair.honeypot]);
    try {
      pair.link(pair.attacker, `${pair.attackerIp}/24`, pair.honeypot, `${pair.honeypotIp}/24`);
    } catch (err) {
      pair.destroyNamespaces();
      throw err;
    }
    return pair;
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
}
