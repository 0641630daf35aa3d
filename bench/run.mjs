#!/usr/bin/env node
// npm run bench: honeytrap-ts (nfqueue capture) against `ceiling`, the fastest
// honeypot this box can run, measured in the same run with the same client.
//
// Builds ../shared/bench/attackload.c and ceiling.c (gcc -O2) into .bench/,
// makes two namespace pairs of its own (attacker + honeypot joined by veth,
// 10.99.10.0/24 for honeytrap-ts, 10.99.11.0/24 for ceiling), and measures for
// each: first-connection latency on 500 never-used ports, conn/s with a 200 B
// payload and half-close at concurrency 16 and 128, and a full
// `nmap -sS -p- -T4` (wall time, open ports). Prints a table with the ratio to
// ceiling and the issue's targets, and writes the same to .bench/results.json.
// Needs root (namespaces, iptables, NFQUEUE), gcc, nmap and a built core.
//
// Environment: BENCH_SHARED (folder of attackload.c/ceiling.c, default
// ../shared/bench), BENCH_LOAD_SECONDS (default 10).
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { cpus, loadavg } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const OUT = join(REPO, '.bench');
const SHARED = resolve(process.env.BENCH_SHARED ?? join(REPO, '..', 'shared', 'bench'));
const LOAD_SECONDS = Number(process.env.BENCH_LOAD_SECONDS ?? 10);
const BIN = join(REPO, 'core', 'bin', 'honeytrap.js');
const QUEUE = 9;
const FIRST_LO = 40000;
const FIRST_HI = 40499;
const LOAD_PORTS = '20000-20099';
const CEILING_NMAP_PORT = 9999;
const TARGETS = { nmapRatio: 2, connRatio: 0.4, firstP99Ms: 1, nmapOpen: 65535 };

const say = (msg) => process.stderr.write(`bench: ${msg}\n`);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------- cleanup

const namespaces = new Set();
const children = new Set();

function cleanup() {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
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
}
process.on('exit', cleanup);
for (const sig of ['SIGINT', 'SIGTERM'])
  process.on(sig, () => {
    cleanup();
    process.exit(130);
  });

// ---------------------------------------------------------------- helpers

function sh(cmd, args, opts = {}) {
  return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], ...opts });
}

/** Runs a program to completion; resolves with its output and wall time. */
function run(cmd, args, timeoutMs) {
  const started = performance.now();
  return new Promise((resolvePromise, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    children.add(child);
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
      children.delete(child);
      resolvePromise({ code, stdout, stderr, wallMs: performance.now() - started });
    });
  });
}

const inNs = (ns, cmd) => ['netns', 'exec', ns, ...cmd];

function makePair(tag, subnet) {
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

/** Parses attackload's `RESULT key=value ...` line. */
function parseResult(stdout) {
  const line = stdout.split('\n').find((l) => l.startsWith('RESULT '));
  if (!line) throw new Error(`attackload printed no RESULT line:\n${stdout}`);
  const out = {};
  for (const kv of line.slice(7).trim().split(/\s+/)) {
    const [k, v] = kv.split('=');
    out[k] = Number.isNaN(Number(v)) ? v : Number(v);
  }
  return out;
}

async function attackload(pair, args, timeoutMs) {
  const r = await run(
    'ip',
    inNs(pair.attacker, [join(OUT, 'attackload'), '-q', ...args]),
    timeoutMs,
  );
  if (r.code !== 0) throw new Error(`attackload ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
  return parseResult(r.stdout);
}

async function nmapAll(pair) {
  const r = await run(
    'ip',
    inNs(pair.attacker, ['nmap', '-sS', '-p-', '-T4', '-n', '-Pn', '-oG', '-', pair.target]),
    900_000,
  );
  if (r.code !== 0) throw new Error(`nmap exited ${r.code}: ${r.stderr}`);
  let open = 0;
  for (const line of r.stdout.split('\n')) {
    const ports = /\tPorts: (.*?)(\t|$)/.exec(line)?.[1];
    if (ports) open += ports.split(', ').filter((p) => p.split('/')[1] === 'open').length;
    const ignored = /Ignored State: open \((\d+)\)/.exec(line);
    if (ignored) open += Number(ignored[1]);
  }
  const reported = Number(/scanned in ([\d.]+) seconds/.exec(r.stdout)?.[1] ?? NaN);
  return { wallS: r.wallMs / 1000, nmapS: reported, open };
}

function queueWaiting(ns) {
  const text = sh('ip', inNs(ns, ['sh', '-c', 'cat /proc/net/netfilter/nfnetlink_queue || true']));
  return text
    .split('\n')
    .filter(Boolean)
    .reduce((n, l) => n + Number(l.trim().split(/\s+/)[2] ?? 0), 0);
}

function status(sock) {
  return new Promise((resolvePromise, reject) => {
    const req = request({ socketPath: sock, path: '/status', timeout: 5000 }, (res) => {
      let body = '';
      res.on('data', (c) => (body += c));
      res.on('end', () => {
        try {
          resolvePromise(JSON.parse(body));
        } catch (err) {
          reject(err);
        }
      });
    });
    req.on('timeout', () => req.destroy(new Error('status timed out')));
    req.on('error', reject);
    req.end();
  });
}

// ---------------------------------------------------------------- targets
// Each target lives in its own namespace pair and stays up for the whole run;
// every measurement runs against both back to back (honeytrap-ts, then
// ceiling), so a change in the box's load hits both alike.

async function startHoneytrap() {
  const pair = makePair('t', 10);
  const store = join(OUT, `store-${process.pid}`);
  rmSync(store, { recursive: true, force: true });
  const configPath = join(OUT, 'honeytrap.json');
  writeFileSync(
    configPath,
    JSON.stringify(
      {
        sensor: 'bench',
        // Nothing excluded: inside this namespace every one of the 65,535 ports is the honeypot's.
        capture: { type: 'nfqueue', nfqueue: { queue: QUEUE, excludePorts: [] } },
        store: { path: store },
        log: { level: 'warn', format: 'json' },
      },
      null,
      2,
    ),
  );
  const daemon = spawn(
    'ip',
    inNs(pair.honeypot, [process.execPath, BIN, 'run', '-c', configPath]),
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  children.add(daemon);
  let log = '';
  daemon.stdout.on('data', (c) => (log += c));
  daemon.stderr.on('data', (c) => (log += c));
  const sock = join(store, 'control.sock');
  const until = Date.now() + 20_000;
  for (;;) {
    if (daemon.exitCode !== null) throw new Error(`honeytrap exited at start:\n${log}`);
    try {
      await status(sock);
      break;
    } catch {
      if (Date.now() > until) throw new Error(`honeytrap not ready after 20 s:\n${log}`);
      await sleep(100);
    }
  }
  const env = { ...process.env };
  delete env.SSH_CONNECTION; // the rules go to our namespace, not to an SSH session's
  sh('ip', inNs(pair.honeypot, [process.execPath, BIN, 'iptables', '--apply', '-c', configPath]), {
    env,
  });
  const stop = async () => {
    const info = { status: await status(sock), queueWaitingAfter: queueWaiting(pair.honeypot) };
    // SIGTERM; a second one if the process lingers (see the lifecycle host test).
    daemon.kill('SIGTERM');
    const exited = () => daemon.exitCode !== null || daemon.signalCode !== null;
    for (let i = 0; i < 50 && !exited(); i++) await sleep(100);
    info.exitedOnFirstSigterm = exited();
    if (!exited()) daemon.kill('SIGTERM');
    for (let i = 0; i < 50 && !exited(); i++) await sleep(100);
    if (!exited()) daemon.kill('SIGKILL');
    info.errorLines = log.split('\n').filter((l) => /"level":(50|60)/.test(l)).length;
    rmSync(store, { recursive: true, force: true });
    return info;
  };
  return { name: 'honeytrap-ts', pair, stop, beforeNmap: () => undefined };
}

async function startCeiling() {
  const pair = makePair('c', 11);
  // The measured ports, plus one port that all ports are redirected to for nmap.
  const spec = `${FIRST_LO}-${FIRST_HI},${LOAD_PORTS},${CEILING_NMAP_PORT}`;
  const c = spawn('ip', inNs(pair.honeypot, [join(OUT, 'ceiling'), '-q', spec]), {
    stdio: 'ignore',
  });
  children.add(c);
  await sleep(500);
  if (c.exitCode !== null) throw new Error(`ceiling exited at start (${c.exitCode})`);
  const stop = async () => {
    c.kill('SIGTERM');
    for (let i = 0; i < 50 && c.exitCode === null && c.signalCode === null; i++) await sleep(100);
    if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    return {};
  };
  // All ports, as ceiling.c says: every TCP SYN redirected to one listening port.
  const beforeNmap = () =>
    sh(
      'ip',
      inNs(pair.honeypot, [
        'iptables',
        '-t',
        'nat',
        '-A',
        'PREROUTING',
        '-p',
        'tcp',
        '-j',
        'REDIRECT',
        '--to-ports',
        String(CEILING_NMAP_PORT),
      ]),
    );
  return { name: 'ceiling', pair, stop, beforeNmap };
}

/** The measurements, each against every target in turn. */
async function measureAll(targets) {
  const out = new Map(targets.map((t) => [t, { load: {} }]));
  for (const t of targets) {
    say(`${t.name}: first connection on ports ${FIRST_LO}-${FIRST_HI}`);
    out.get(t).first = await attackload(
      t.pair,
      ['--first-syn', String(FIRST_LO), String(FIRST_HI), t.pair.target],
      120_000,
    );
  }
  for (const c of [16, 128])
    for (const t of targets) {
      say(`${t.name}: ${LOAD_SECONDS} s at concurrency ${c}, 200 B + half-close`);
      out.get(t).load[c] = await attackload(
        t.pair,
        ['-c', String(c), '-p', '200', '-H', '-d', String(LOAD_SECONDS), t.pair.target, LOAD_PORTS],
        LOAD_SECONDS * 1000 + 60_000,
      );
      await sleep(1000);
    }
  for (const t of targets) {
    say(`${t.name}: nmap -sS -p- -T4`);
    t.beforeNmap();
    out.get(t).nmap = await nmapAll(t.pair);
  }
  return out;
}

// ---------------------------------------------------------------- report

function fmt(n, digits = 2) {
  if (typeof n !== 'number' || !Number.isFinite(n)) return 'n/a';
  return n >= 1000 ? Math.round(n).toLocaleString('en-US') : n.toFixed(digits);
}

function report(ht, ce, meta) {
  const rows = [];
  const add = (test, ours, ceiling, ratio, target, pass) =>
    rows.push({ test, honeytrap: ours, ceiling, ratio, target, pass });
  const r = (a, b) => (b ? a / b : NaN);
  add(
    'first connection p50 ms (500 unused ports)',
    ht.first.conn_p50,
    ce.first.conn_p50,
    r(ht.first.conn_p50, ce.first.conn_p50),
    '',
    null,
  );
  add(
    'first connection p99 ms',
    ht.first.conn_p99,
    ce.first.conn_p99,
    r(ht.first.conn_p99, ce.first.conn_p99),
    `<= ${TARGETS.firstP99Ms} ms`,
    ht.first.conn_p99 <= TARGETS.firstP99Ms && ht.first.failed === 0,
  );
  add(
    'first connection failures',
    ht.first.failed,
    ce.first.failed,
    NaN,
    '0',
    ht.first.failed === 0,
  );
  for (const c of [16, 128]) {
    const ratio = r(ht.load[c].conn_per_s, ce.load[c].conn_per_s);
    add(
      `conn/s c=${c}, 200 B + half-close`,
      ht.load[c].conn_per_s,
      ce.load[c].conn_per_s,
      ratio,
      `>= ${TARGETS.connRatio * 100}% of ceiling`,
      ratio >= TARGETS.connRatio,
    );
    add(
      `  connect p99 ms c=${c}`,
      ht.load[c].conn_p99,
      ce.load[c].conn_p99,
      r(ht.load[c].conn_p99, ce.load[c].conn_p99),
      '',
      null,
    );
    add(`  failed c=${c}`, ht.load[c].failed, ce.load[c].failed, NaN, '', null);
  }
  const nmapRatio = r(ht.nmap.wallS, ce.nmap.wallS);
  add(
    'nmap -sS -p- -T4 wall s',
    ht.nmap.wallS,
    ce.nmap.wallS,
    nmapRatio,
    `<= ${TARGETS.nmapRatio}x ceiling`,
    nmapRatio <= TARGETS.nmapRatio,
  );
  add(
    'nmap -sS -p- open ports',
    ht.nmap.open,
    ce.nmap.open,
    r(ht.nmap.open, ce.nmap.open),
    `${TARGETS.nmapOpen}`,
    ht.nmap.open === TARGETS.nmapOpen,
  );

  const head = ['test', 'honeytrap-ts', 'ceiling', 'ratio', 'target', 'met'];
  const body = rows.map((x) => [
    x.test,
    fmt(x.honeytrap, Number.isInteger(x.honeytrap) ? 0 : 3),
    fmt(x.ceiling, Number.isInteger(x.ceiling) ? 0 : 3),
    Number.isFinite(x.ratio) ? `${x.ratio.toFixed(2)}x` : '',
    x.target,
    x.pass === null ? '' : x.pass ? 'yes' : 'NO',
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  const line = (cells) =>
    '| ' +
    cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join(' | ') +
    ' |';
  const text = [
    line(head),
    '|' +
      widths
        .map((w, i) => (i === 0 ? ':' : '-') + '-'.repeat(w) + (i === 0 ? '-' : ':'))
        .join('|') +
      '|',
    ...body.map(line),
  ].join('\n');
  const d = ht.daemon;
  const notes = [
    `machine: ${meta.cpus} CPUs, load average at start ${meta.loadavg.map((x) => x.toFixed(2)).join(' ')}`,
    `honeytrap-ts after the run: listeners ${d.status.nfqueue.table.listeners}, opened ${d.status.nfqueue.table.opened}, evicted ${d.status.nfqueue.table.evicted}, throttled ${d.status.nfqueue.table.throttled}, late verdicts ${d.status.nfqueue.late}, verdict errors ${d.status.nfqueue.errors}, packets waiting in the queue ${d.queueWaitingAfter}, error log lines ${d.errorLines}, exited on first SIGTERM: ${d.exitedOnFirstSigterm}`,
    'ceiling sends a 19-byte banner on every port; honeytrap-ts has no template on the load ports (it only reads)',
    "ceiling's nmap run listens on one port with every TCP SYN REDIRECTed to it (iptables nat)",
  ];
  return { rows, text: `${text}\n\n${notes.map((n) => `- ${n}`).join('\n')}` };
}

// ---------------------------------------------------------------- main

async function main() {
  if (process.getuid?.() !== 0)
    throw new Error('the benchmark needs root (namespaces, iptables, NFQUEUE)');
  for (const f of ['attackload.c', 'ceiling.c'])
    if (!existsSync(join(SHARED, f)))
      throw new Error(`${join(SHARED, f)} not found (set BENCH_SHARED)`);
  for (const tool of ['gcc', 'nmap', 'ip', 'iptables'])
    try {
      sh('sh', ['-c', `command -v ${tool}`]);
    } catch {
      throw new Error(`${tool} is not installed (./scripts/setup.sh install)`);
    }
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
  const meta = {
    date: new Date().toISOString(),
    cpus: cpus().length,
    loadavg: loadavg(),
    node: process.version,
    loadSeconds: LOAD_SECONDS,
    commit: (() => {
      try {
        return sh('git', ['rev-parse', '--short', 'HEAD'], { cwd: REPO }).trim();
      } catch {
        return 'unknown';
      }
    })(),
  };
  const honeytrap = await startHoneytrap();
  const ceiling = await startCeiling();
  const results = await measureAll([honeytrap, ceiling]);
  const ht = results.get(honeytrap);
  const ce = results.get(ceiling);
  await sleep(500);
  ht.daemon = await honeytrap.stop();
  await ceiling.stop();
  cleanup();
  const { rows, text } = report(ht, ce, meta);
  process.stdout.write(`\n${text}\n`);
  writeFileSync(
    join(OUT, 'results.json'),
    JSON.stringify({ meta, targets: TARGETS, rows, honeytrap: ht, ceiling: ce }, null, 2) + '\n',
  );
  say(`wrote ${join(OUT, 'results.json')}`);
}

main().catch((err) => {
  process.stderr.write(`bench failed: ${err instanceof Error ? err.message : String(err)}\n`);
  cleanup();
  process.exit(1);
});
