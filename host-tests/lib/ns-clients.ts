// Clients run from the attacker namespace: ncat, nmap, hping3, socat, and a
// small Node client for many TCP connections at once (timings and errors per
// port). Each runs as a child inside the namespace and is waited for.
import { execFileSync } from 'node:child_process';
import type { RunResult } from './cli.js';
import type { NetnsPair } from './netns.js';

/** Fails with a clear message when a program the tests drive is not installed. */
export function requireTools(tools: string[]): void {
  const missing = tools.filter((t) => {
    try {
      execFileSync('sh', ['-c', `command -v ${t}`], { stdio: 'ignore' });
      return false;
    } catch {
      return true;
    }
  });
  if (missing.length)
    throw new Error(
      `missing programs: ${missing.join(', ')} (./scripts/setup.sh install installs them)`,
    );
}

/** `ncat HOST PORT` from the attacker namespace: sends `input`, half-closes, reads until close. */
export function ncat(
  net: NetnsPair,
  port: number,
  input: Buffer | string,
  opts: { udp?: boolean; timeoutMs?: number; host?: string } = {},
): Promise<RunResult> {
  const wait = String(Math.ceil((opts.timeoutMs ?? 10_000) / 1000));
  return net.exec(
    net.attacker,
    ['ncat', ...(opts.udp ? ['-u'] : []), '-w', wait, opts.host ?? net.honeypotIp, String(port)],
    { input, timeoutMs: (opts.timeoutMs ?? 10_000) + 5_000 },
  );
}

export interface ConnectResult {
  port: number;
  connected: boolean;
  /** Error code (ECONNREFUSED, ECONNRESET, CONNECT_TIMEOUT, TIMEOUT) or null. */
  error: string | null;
  connectMs: number;
  totalMs: number;
  /** What the server sent, base64. */
  received: string;
}

export interface ConnectOptions {
  concurrency?: number;
  /** Sent right after connect; then the client half-closes unless `keepOpen`. */
  payload?: string;
  keepOpen?: boolean;
  /** Per connection, connect included. */
  timeoutMs?: number;
}

// Plain JavaScript: it runs in a separate `node -e` inside the attacker namespace.
const CLIENT = `
const net = require('node:net');
const o = JSON.parse(process.argv[1]);
const out = [];
let next = 0;
function one(port) {
  return new Promise((resolve) => {
    const t0 = performance.now();
    let connectMs = -1;
    let err = null;
    const chunks = [];
    const s = net.connect({ host: o.host, port });
    const timer = setTimeout(() => {
      err = err || (connectMs < 0 ? 'CONNECT_TIMEOUT' : 'TIMEOUT');
      s.destroy();
    }, o.timeoutMs);
    s.on('connect', () => {
      connectMs = performance.now() - t0;
      if (o.keepOpen) s.write(o.payload || '');
      else s.end(o.payload || '');
    });
    s.on('data', (c) => chunks.push(c));
    s.on('error', (e) => { err = err || e.code || e.message; });
    s.on('close', () => {
      clearTimeout(timer);
      resolve({ port, connected: connectMs >= 0, error: err, connectMs,
        totalMs: performance.now() - t0, received: Buffer.concat(chunks).toString('base64') });
    });
  });
}
async function worker() {
  while (next < o.ports.length) out.push(await one(o.ports[next++]));
}
Promise.all(Array.from({ length: Math.min(o.concurrency, o.ports.length) }, worker)).then(() =>
  process.stdout.write(JSON.stringify(out)));
`;

/** Connects from the attacker namespace to each of `ports` on the honeypot. */
export async function connectMany(
  net: NetnsPair,
  ports: number[],
  opts: ConnectOptions = {},
): Promise<ConnectResult[]> {
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const args = {
    host: net.honeypotIp,
    ports,
    concurrency: opts.concurrency ?? 16,
    payload: opts.payload ?? '',
    keepOpen: opts.keepOpen ?? false,
    timeoutMs,
  };
  const r = await net.exec(net.attacker, [process.execPath, '-e', CLIENT, JSON.stringify(args)], {
    timeoutMs: timeoutMs * Math.ceil(ports.length / args.concurrency) + 15_000,
  });
  if (r.code !== 0) throw new Error(`attacker client exited ${r.code}: ${r.stderr}`);
  return (JSON.parse(r.stdout) as ConnectResult[]).sort((a, b) => a.port - b.port);
}

export interface NmapPorts {
  /** port -> state ("open", "closed", "filtered", "open|filtered") for listed ports. */
  listed: Map<number, string>;
  /** The state nmap did not list port by port, and how many ports had it. */
  ignored: { state: string; count: number }[];
  raw: RunResult;
}

/** Runs nmap from the attacker namespace with greppable output and parses the port states. */
export async function nmap(net: NetnsPair, args: string[], timeoutMs: number): Promise<NmapPorts> {
  const raw = await net.exec(
    net.attacker,
    ['nmap', '-n', '-Pn', ...args, '-oG', '-', net.honeypotIp],
    { timeoutMs },
  );
  if (raw.code !== 0) throw new Error(`nmap ${args.join(' ')} exited ${raw.code}: ${raw.stderr}`);
  const listed = new Map<number, string>();
  const ignored: { state: string; count: number }[] = [];
  for (const line of raw.stdout.split('\n')) {
    const ports = /\tPorts: (.*?)(\t|$)/.exec(line)?.[1];
    if (ports)
      for (const entry of ports.split(', ')) {
        const [port, state] = entry.split('/');
        listed.set(Number(port), state ?? '');
      }
    for (const m of line.matchAll(/Ignored State: ([a-z|]+) \((\d+)\)/g))
      ignored.push({ state: m[1]!, count: Number(m[2]) });
  }
  return { listed, ignored, raw };
}

/** How many ports nmap reported in `state`, listed or summarized. */
export function countState(r: NmapPorts, state: string): number {
  let n = 0;
  for (const s of r.listed.values()) if (s === state) n++;
  for (const i of r.ignored) if (i.state === state) n += i.count;
  return n;
}
