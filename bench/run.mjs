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
// ../shared/bench), BENCH_LOAD_SECONDS (default 10), BENCH_NFQ_READER: the
// capture.nfqueue.reader to measure, `loop`, `thread` or `both` (one daemon
// of each, measured back to back in the same run; default: the config's default).
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  OUT,
  BIN,
  attackload,
  buildAll,
  cell,
  checkPrerequisites,
  cleanup,
  fail,
  formatTable,
  inNs,
  makePair,
  run,
  runMeta,
  say,
  sh,
  sleep,
  startCeiling,
  startDaemon,
  status,
} from './lib.mjs';

const LOAD_SECONDS = Number(process.env.BENCH_LOAD_SECONDS ?? 10);
const QUEUE = 9;
const FIRST_LO = 40000;
const FIRST_HI = 40499;
const LOAD_PORTS = '20000-20099';
const CEILING_NMAP_PORT = 9999;
const TARGETS = { nmapRatio: 2, connRatio: 0.4, firstP99Ms: 1, nmapOpen: 65535 };
const READER = process.env.BENCH_NFQ_READER ?? '';
if (!['', 'loop', 'thread', 'both'].includes(READER))
  throw new Error(`BENCH_NFQ_READER=${READER}: loop, thread or both`);
/** The readers to measure: undefined is the config's default. */
const READERS = READER === 'both' ? ['loop', 'thread'] : [READER || undefined];

// ---------------------------------------------------------------- helpers

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

// ---------------------------------------------------------------- targets
// Each target lives in its own namespace pair and stays up for the whole run;
// every measurement runs against both back to back (honeytrap-ts, then
// ceiling), so a change in the box's load hits both alike.

async function startHoneytrap(reader, i) {
  const pair = makePair(i === 0 ? 't' : `t${i}`, 10 + 2 * i);
  const d = await startDaemon({
    pair,
    tag: reader ? `honeytrap-${reader}` : 'honeytrap',
    config: {
      sensor: 'bench',
      // Nothing excluded: inside this namespace every one of the 65,535 ports is the honeypot's.
      capture: {
        type: 'nfqueue',
        nfqueue: { queue: QUEUE + i, excludePorts: [], ...(reader ? { reader } : {}) },
      },
      log: { level: 'warn', format: 'json' },
    },
  });
  const env = { ...process.env };
  delete env.SSH_CONNECTION; // the rules go to our namespace, not to an SSH session's
  sh(
    'ip',
    inNs(pair.honeypot, [process.execPath, BIN, 'iptables', '--apply', '-c', d.configPath]),
    { env },
  );
  const stop = () => d.stop(async () => ({ queueWaitingAfter: queueWaiting(pair.honeypot) }));
  const name = reader ? `honeytrap-ts (${reader})` : 'honeytrap-ts';
  return { name, reader, pair, stop, status: () => status(d.sock), beforeNmap: () => undefined };
}

async function startCeilingAllPorts() {
  const pair = makePair('c', 11);
  // The measured ports, plus one port that all ports are redirected to for nmap.
  const c = await startCeiling(pair, `${FIRST_LO}-${FIRST_HI},${LOAD_PORTS},${CEILING_NMAP_PORT}`);
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
  return { ...c, beforeNmap };
}

/** The measurements, each against every target in turn. */
async function measureAll(targets) {
  const out = new Map(targets.map((t) => [t, { load: {} }]));
  for (const t of targets) {
    // Let the previous target finish its work (storing 500 attacks) first: on
    // 2 CPUs it would otherwise run during this target's measurement.
    await sleep(3000);
    say(`${t.name}: first connection on ports ${FIRST_LO}-${FIRST_HI}`);
    out.get(t).first = await attackload(
      t.pair,
      ['--first-syn', String(FIRST_LO), String(FIRST_HI), t.pair.target],
      120_000,
    );
    // The daemon's counts right after it (the reader thread's wait/work histograms).
    if (t.status) out.get(t).firstStatus = (await t.status()).nfqueue;
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

function report(ht, ce, meta, name) {
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

  const head = ['test', name, 'ceiling', 'ratio', 'target', 'met'];
  const body = rows.map((x) => [
    x.test,
    cell(x.honeytrap),
    cell(x.ceiling),
    Number.isFinite(x.ratio) ? `${x.ratio.toFixed(2)}x` : '',
    x.target,
    x.pass === null ? '' : x.pass ? 'yes' : 'NO',
  ]);
  const text = formatTable(head, body);
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
  checkPrerequisites(['gcc', 'nmap', 'ip', 'iptables']);
  buildAll();
  const meta = runMeta({ loadSeconds: LOAD_SECONDS, reader: READER || 'default' });
  const honeytraps = [];
  for (const [i, reader] of READERS.entries()) honeytraps.push(await startHoneytrap(reader, i));
  const ceiling = await startCeilingAllPorts();
  const results = await measureAll([...honeytraps, ceiling]);
  const ce = results.get(ceiling);
  await sleep(500);
  for (const h of honeytraps) results.get(h).daemon = await h.stop();
  await ceiling.stop();
  cleanup();
  const reports = honeytraps.map((h) => ({
    name: h.name,
    reader: h.reader ?? 'default',
    ...report(results.get(h), ce, meta, h.name),
  }));
  process.stdout.write(`\n${reports.map((r) => r.text).join('\n\n')}\n`);
  const json =
    reports.length === 1
      ? { meta, targets: TARGETS, rows: reports[0].rows, honeytrap: results.get(honeytraps[0]) }
      : {
          meta,
          targets: TARGETS,
          readers: reports.map((r, i) => ({
            reader: r.reader,
            rows: r.rows,
            honeytrap: results.get(honeytraps[i]),
          })),
        };
  writeFileSync(
    join(OUT, 'results.json'),
    JSON.stringify({ ...json, ceiling: ce }, null, 2) + '\n',
  );
  say(`wrote ${join(OUT, 'results.json')}`);
}

main().catch(fail);
