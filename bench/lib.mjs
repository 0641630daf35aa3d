// What the benchmarks share (bench/run.mjs, bench/plugins.mjs): running
// programs, the namespace pairs they measure in, the C tools from
// ../shared/bench (attackload, ceiling), the daemon and its control socket,
// cleanup on every way out, and the table they print.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const OUT = join(REPO, '.bench');
export const SHARED = resolve(process.env.BENCH_SHARED ?? join(REPO, '..', 'shared', 'bench'));
export const BIN = join(REPO, 'core', 'bin', 'honeytrap.js');

export const say = (msg) => process.stderr.write(`bench: ${msg}\n`);
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------- cleanup
// Everything a benchmark starts or makes is registered here and removed on
// every way out: normal end, an error, SIGINT/SIGTERM.

const namespaces = new Set();
const children = new Set();
const tempDirs = new Set();

export function cleanup() {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  children.clear();
  for (const ns of namespaces) {
    try {
      const pids = execFileSync('ip', ['netns', 'pids', ns], { encoding: 'utf8' });
      for (const pid of pids.split(/\s+/).filter(Boolean)) {
        try {
          process.kill(Number(pid), 'SIGKILL');
        } catch {
          /* gone */
        }
      }
      execFileSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
    } catch {
      /* already gone */
    }
  }
  namespaces.clear();
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
  tempDirs.clear();
}
process.on('exit', cleanup);
for (const sig of ['SIGINT', 'SIGTERM'])
  process.on(sig, () => {
    cleanup();
    process.exit(130);
  });

/** A child process killed at cleanup if it is still running. */
export function track(child) {
  children.add(child);
  child.once('close', () => children.delete(child));
  return child;
}

/** A fresh temporary folder, removed at cleanup. */
export function tempDir(prefix) {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  tempDirs.add(dir);
  return dir;
}

/** Ends a benchmark's main(): prints the error, cleans up, exits 1. */
export function fail(err) {
  process.stderr.write(`bench failed: ${err instanceof Error ? err.message : String(err)}\n`);
  cleanup();
  process.exit(1);
}

// ---------------------------------------------------------------- programs

export function sh(cmd, args, opts = {}) {
  return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], ...opts });
}

/** Runs a program to completion; resolves with its output and wall time. */
export function run(cmd, args, timeoutMs) {
  const started = performance.now();
  return new Promise((resolvePromise, reject) => {
    const child = track(spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] }));
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c) => (stdout += c));
    child.stderr.on('data', (c) => (stderr += c));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${cmd} ${args.join(' ')} did not finish in ${timeoutMs} ms`));
    }, timeoutMs);
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolvePromise({ code, stdout, stderr, wallMs: performance.now() - started });
    });
  });
}

export const inNs = (ns, cmd) => ['netns', 'exec', ns, ...cmd];

/** Two namespaces joined by veth: attacker 10.99.SUBNET.1, honeypot 10.99.SUBNET.2. */
export function makePair(tag, subnet) {
  const a = `htb-${tag}-${process.pid}-a`;
  const h = `htb-${tag}-${process.pid}-h`;
  const va = `hba${tag}${process.pid % 10000}`.slice(0, 15);
  const vh = `hbh${tag}${process.pid % 10000}`.slice(0, 15);
  for (const ns of [a, h]) {
    sh('ip', ['netns', 'add', ns]);
    namespaces.add(ns);
    sh('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
  }
  sh('ip', ['link', 'add', va, 'netns', a, 'type', 'veth', 'peer', 'name', vh, 'netns', h]);
  sh('ip', ['-n', a, 'addr', 'add', `10.99.${subnet}.1/24`, 'dev', va]);
  sh('ip', ['-n', h, 'addr', 'add', `10.99.${subnet}.2/24`, 'dev', vh]);
  sh('ip', ['-n', a, 'link', 'set', va, 'up']);
  sh('ip', ['-n', h, 'link', 'set', vh, 'up']);
  return { attacker: a, honeypot: h, target: `10.99.${subnet}.2` };
}

// ---------------------------------------------------------------- setup

/** Fails unless run as root with these programs installed and ../shared/bench present. */
export function checkPrerequisites(tools) {
  if (process.getuid?.() !== 0)
    throw new Error('the benchmark needs root (network namespaces, iptables)');
  for (const f of ['attackload.c', 'ceiling.c'])
    if (!existsSync(join(SHARED, f)))
      throw new Error(`${join(SHARED, f)} not found (set BENCH_SHARED)`);
  for (const tool of tools)
    try {
      sh('sh', ['-c', `command -v ${tool}`]);
    } catch {
      throw new Error(`${tool} is not installed (./scripts/setup.sh install)`);
    }
}

/** Builds core (tsc -b) and attackload and ceiling (gcc -O2) into .bench/. */
export function buildAll() {
  mkdirSync(OUT, { recursive: true });
  say('building core (tsc -b) and the C tools');
  try {
    sh('npx', ['tsc', '-b', 'core'], { cwd: REPO });
  } catch (err) {
    throw new Error(
      `building core failed (npx tsc -b core):\n${err.stdout ?? ''}${err.stderr ?? ''}`,
    );
  }
  for (const name of ['attackload', 'ceiling'])
    sh('gcc', ['-O2', '-o', join(OUT, name), join(SHARED, `${name}.c`)]);
}

/** Where and when a run happened. */
export function runMeta(extra = {}) {
  return {
    date: new Date().toISOString(),
    cpus: cpus().length,
    loadavg: loadavg(),
    node: process.version,
    commit: (() => {
      try {
        return sh('git', ['rev-parse', '--short', 'HEAD'], { cwd: REPO }).trim();
      } catch {
        return 'unknown';
      }
    })(),
    ...extra,
  };
}

// ---------------------------------------------------------------- attackload

/** Parses attackload's `RESULT key=value ...` line. */
export function parseResult(stdout) {
  const line = stdout.split('\n').find((l) => l.startsWith('RESULT '));
  if (!line) throw new Error(`attackload printed no RESULT line:\n${stdout}`);
  const out = {};
  for (const kv of line.slice(7).trim().split(/\s+/)) {
    const [k, v] = kv.split('=');
    out[k] = Number.isNaN(Number(v)) ? v : Number(v);
  }
  return out;
}

/** Runs attackload in the pair's attacker namespace; resolves with its RESULT. */
export async function attackload(pair, args, timeoutMs) {
  const r = await run(
    'ip',
    inNs(pair.attacker, [join(OUT, 'attackload'), '-q', ...args]),
    timeoutMs,
  );
  if (r.code !== 0) throw new Error(`attackload ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
  return parseResult(r.stdout);
}

/** Bytes as an attackload -P argument (\xHH for everything but printable ASCII). */
export function payloadArg(bytes) {
  let out = '';
  for (const b of bytes)
    out +=
      b >= 0x20 && b < 0x7f && b !== 0x5c
        ? String.fromCharCode(b)
        : `\\x${b.toString(16).padStart(2, '0')}`;
  return out;
}

// ---------------------------------------------------------------- ceiling

/** Starts `ceiling` on PORTSPEC in the pair's honeypot namespace. */
export async function startCeiling(pair, portSpec) {
  const c = track(
    spawn('ip', inNs(pair.honeypot, [join(OUT, 'ceiling'), '-q', portSpec]), {
      stdio: 'ignore',
    }),
  );
  await sleep(500);
  if (c.exitCode !== null) throw new Error(`ceiling exited at start (${c.exitCode})`);
  const stop = async () => {
    c.kill('SIGTERM');
    for (let i = 0; i < 50 && c.exitCode === null && c.signalCode === null; i++) await sleep(100);
    if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    return {};
  };
  return { name: 'ceiling', pair, pid: c.pid, stop };
}

// ---------------------------------------------------------------- the daemon

/** GET (or POST) PATH on the daemon's control socket; resolves with the parsed JSON. */
export function control(sock, path, { method = 'GET', timeoutMs = 5000 } = {}) {
  return new Promise((resolvePromise, reject) => {
    const req = request({ socketPath: sock, path, method, timeout: timeoutMs }, (res) => {
      const parts = [];
      res.on('data', (c) => parts.push(c));
      res.on('end', () => {
        try {
          const body = JSON.parse(Buffer.concat(parts).toString('utf8'));
          if (res.statusCode !== 200)
            reject(new Error(`${path}: ${res.statusCode} ${JSON.stringify(body)}`));
          else resolvePromise(body);
        } catch (err) {
          reject(err);
        }
      });
    });
    req.on('timeout', () => req.destroy(new Error(`${path} timed out`)));
    req.on('error', reject);
    req.end();
  });
}

export const status = (sock) => control(sock, '/status');

/**
 * Starts `honeytrap run` in the pair's honeypot namespace with CONFIG (its
 * store goes to a fresh folder under `dir`); resolves once the control socket
 * answers (`ip netns exec` execs, so pid is the daemon's). stop() asks for the final status, stops the daemon (SIGTERM, again
 * if it lingers, then SIGKILL) and removes the store.
 */
export async function startDaemon({ name = 'honeytrap-ts', pair, config, dir = OUT, tag = name }) {
  const store = join(dir, `store-${tag}-${process.pid}`);
  rmSync(store, { recursive: true, force: true });
  const configPath = join(dir, `${tag}.json`);
  writeFileSync(configPath, JSON.stringify({ ...config, store: { path: store } }, null, 2));
  const daemon = track(
    spawn('ip', inNs(pair.honeypot, [process.execPath, BIN, 'run', '-c', configPath]), {
      stdio: ['ignore', 'pipe', 'pipe'],
    }),
  );
  let log = '';
  daemon.stdout.on('data', (c) => (log += c));
  daemon.stderr.on('data', (c) => (log += c));
  const sock = join(store, 'control.sock');
  const until = Date.now() + 20_000;
  for (;;) {
    if (daemon.exitCode !== null) throw new Error(`${name} exited at start:\n${log}`);
    try {
      await status(sock);
      break;
    } catch {
      if (Date.now() > until) throw new Error(`${name} not ready after 20 s:\n${log}`);
      await sleep(100);
    }
  }
  const exited = () => daemon.exitCode !== null || daemon.signalCode !== null;
  const stop = async (before = async () => ({})) => {
    const info = { status: await status(sock), ...(await before()) };
    // SIGTERM; a second one if the process lingers (see the lifecycle host test).
    daemon.kill('SIGTERM');
    for (let i = 0; i < 50 && !exited(); i++) await sleep(100);
    info.exitedOnFirstSigterm = exited();
    if (!exited()) daemon.kill('SIGTERM');
    for (let i = 0; i < 50 && !exited(); i++) await sleep(100);
    if (!exited()) daemon.kill('SIGKILL');
    info.errorLines = log.split('\n').filter((l) => /"level":(50|60)/.test(l)).length;
    rmSync(store, { recursive: true, force: true });
    return info;
  };
  return { name, pair, pid: daemon.pid, sock, configPath, store, log: () => log, stop };
}

// ---------------------------------------------------------------- report

export function fmt(n, digits = 2) {
  if (typeof n !== 'number' || !Number.isFinite(n)) return 'n/a';
  return n >= 1000 ? Math.round(n).toLocaleString('en-US') : n.toFixed(digits);
}

/** A number for a table cell: integers as integers, others with 3 decimals. */
export const cell = (n) => fmt(n, Number.isInteger(n) ? 0 : 3);

/** `a` / `b` as "0.42x"; empty when either is missing. */
export function ratio(a, b) {
  const r = b ? a / b : NaN;
  return Number.isFinite(r) ? `${r.toFixed(2)}x` : '';
}

/** A Markdown table: the first column left-aligned, the others right-aligned. */
export function formatTable(head, body) {
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => String(b[i]).length)));
  const line = (cells) =>
    '| ' +
    cells
      .map((c, i) => (i === 0 ? String(c).padEnd(widths[i]) : String(c).padStart(widths[i])))
      .join(' | ') +
    ' |';
  return [
    line(head),
    '|' +
      widths
        .map((w, i) => (i === 0 ? ':' : '-') + '-'.repeat(w) + (i === 0 ? '-' : ':'))
        .join('|') +
      '|',
    ...body.map(line),
  ].join('\n');
}
