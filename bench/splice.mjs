#!/usr/bin/env node
// npm run bench:splice: mirror and proxy modes of honeytrap-ts, measured from
// outside with attackload, as a ratio to `ceiling` measured in the same run.
//
// One namespace pair (attacker 10.99.30.1, honeypot 10.99.30.2, joined by
// veth). The attacker namespace runs attackload and `ceiling` as the
// attacker's own server (banner "220 ceiling ready\r\n", 19 B, sent at
// accept, so a mirror answers at once: loop protection refuses a mirror to an
// address and port whose earlier mirror has not answered yet): on the
// mirrored ports, and on one more port as the proxy target. The honeypot namespace runs `honeytrap run` (listen capture) with
// ports 20000-20099 and 20100 in mirror mode and 21000-21099 in proxy mode
// (target 10.99.30.1:22000) and, for context, 24000-24099 in normal mode;
// and a second `ceiling` on 23000-23099 that the attacker reaches directly:
// the reference.
//
// 1-3. conn/s at concurrency 16, 200 B payload + half-close, BENCH_LOAD_SECONDS
//    each: ceiling directly, normal mode (context: the daemon without a
//    splice), proxy, mirror; interleaved BENCH_ROUNDS times
//    (medians). Every session of the daemon is read back through the control
//    socket and counted: spliced (peer recorded) or fell back to normal
//    (`fallback`, by reason). Client-side cross-check: a session that reached
//    the attacker's ceiling brings its 19-byte banner back (rx_bytes / 19).
// 4. Mirror sustained for BENCH_SUSTAIN_SECONDS (default 60) on ONE port,
//    20100: every mirror session connects back to the same address and port
//    10.99.30.1:20100, the case where the original honeytrap runs out of
//    source ports (28,232 ephemeral ports / 60 s TIME_WAIT = ~470/s). Run as
//    back-to-back 10 s windows: conn/s, failures and spliced/fallback per
//    window; TIME_WAIT sockets in the honeypot namespace after each window and
//    to 10.99.30.1:20100 at the end; the kernel's TWRecycled and
//    TCPTimeWaitOverflow counters; EADDRNOTAVAIL on either side.
//
// Prints a table and writes it with the raw figures to .bench/splice.json.
// Needs root (namespaces), gcc, ss and a built core (built here, tsc -b).
//
// Environment: BENCH_SHARED (folder of attackload.c/ceiling.c, default
// ../shared/bench), BENCH_LOAD_SECONDS (default 10), BENCH_ROUNDS (default 3),
// BENCH_SUSTAIN_SECONDS (default 60).
import { readFileSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import {
  OUT,
  buildAll,
  cell,
  checkPrerequisites,
  cleanup,
  control,
  fail,
  fmt,
  formatTable,
  inNs,
  makePair,
  parseResult,
  ratio,
  run,
  runMeta,
  say,
  sh,
  sleep,
  startCeiling,
  startDaemon,
  status,
  tempDir,
} from './lib.mjs';

const LOAD_SECONDS = Number(process.env.BENCH_LOAD_SECONDS ?? 10);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const SUSTAIN_SECONDS = Number(process.env.BENCH_SUSTAIN_SECONDS ?? 60);
const WINDOW_SECONDS = 10;
const CONCURRENCY = 16;
const SUBNET = 30;
const MIRROR_PORTS = '20000-20099';
const SUSTAIN_PORT = 20100;
const PROXY_PORTS = '21000-21099';
const PROXY_TARGET_PORT = 22000;
const CEILING_PORTS = '23000-23099';
const NORMAL_PORTS = '24000-24099';
const BANNER_BYTES = 19; // ceiling's default banner, "220 ceiling ready\r\n"
const SPLICE = { connectTimeoutMs: 2000, mirrorPerSource: 64, mirrorTotal: 1024, proxyTotal: 4096 };
const ORIGINAL = { mirrorConnPerS: 1466, sourcePortLimitPerS: 470 };

// ---------------------------------------------------------------- helpers

/** attackload at c=16, 200 B + half-close, in the attacker namespace; also its EADDRNOTAVAIL count. */
async function load(pair, ports, seconds) {
  const args = ['-c', String(CONCURRENCY), '-p', '200', '-H', '-d', String(seconds)];
  const started = Date.now();
  const la = loadavg()[0];
  // Without -q: the human summary carries the EADDRNOTAVAIL warning the RESULT line lacks.
  const r = await run(
    'ip',
    inNs(pair.attacker, [join(OUT, 'attackload'), ...args, pair.target, ports]),
    seconds * 1000 + 60_000,
  );
  if (r.code !== 0) throw new Error(`attackload ${ports} exited ${r.code}: ${r.stderr}`);
  const res = parseResult(r.stdout);
  res.eaddrnotavail = Number(/(\d+) connect\(\) EADDRNOTAVAIL/.exec(r.stdout)?.[1] ?? 0);
  res.banners = res.rx_bytes / BANNER_BYTES;
  return { ...res, started, ended: Date.now(), loadavg1: la };
}

/** Waits until the daemon has no session open and nothing left to write. */
async function settle(sock) {
  for (let i = 0; i < 300; i++) {
    const s = await status(sock);
    if (s.activeSessions === 0 && s.pendingWrites === 0) return s;
    await sleep(100);
  }
  throw new Error('the daemon still has sessions open 30 s after the load ended');
}

/**
 * The attacks stored since `sinceMs`, read through the control socket. No
 * `port` filter: with it the daemon answers 500 "Maximum call stack size
 * exceeded" beyond ~125,000 attacks (AttackStore.list spreads the ids into
 * push()).
 */
function attacksSince(sock, sinceMs) {
  return control(sock, `/attacks?sinceMs=${sinceMs}&limit=10000000`, { timeoutMs: 300_000 });
}

/** "mirror connect to 10.99.30.1:20100 failed: EADDRNOTAVAIL" -> "connect to ADDR failed: EADDRNOTAVAIL". */
const reasonKind = (reason) =>
  reason
    .replace(/^(mirror|proxy) /, '')
    .replace(/\[?[0-9a-f.:]+\]?:\d+/gi, 'ADDR')
    .replace(/\b\d+(\.\d+){3}\b/g, 'ADDR')
    .replace(/^\d+ /, 'N ');

const bump = (o, k) => (o[k] = (o[k] ?? 0) + 1);

/** Spliced vs fell back, fallback reasons, end reasons and errors of some attacks. */
function classify(attacks) {
  const c = {
    sessions: attacks.length,
    spliced: 0,
    fallback: 0,
    reasons: {},
    ends: {},
    errors: {},
  };
  const firstPeerByte = [];
  for (const a of attacks) {
    if (a.peer) {
      c.spliced++;
      // From accept to the peer's first byte: the window in which loop
      // protection refuses the next mirror to the same address and port.
      const out = a.chunks.find((x) => x.dir === 'out');
      if (out) firstPeerByte.push(out.atMs);
    }
    if (a.fallback) {
      c.fallback++;
      bump(c.reasons, reasonKind(a.fallback.reason));
    }
    bump(c.ends, a.endReason);
    if (a.error) bump(c.errors, a.error);
  }
  firstPeerByte.sort((a, b) => a - b);
  const q = (p) => firstPeerByte[Math.floor(p * (firstPeerByte.length - 1))];
  c.firstPeerByteMs = { p50: q(0.5), p90: q(0.9), p99: q(0.99), max: firstPeerByte.at(-1) };
  return c;
}

/** /proc/net/netstat of a namespace as { TcpExt: { TWRecycled: n, ... }, ... }. */
function netstat(ns) {
  const lines = sh('ip', inNs(ns, ['cat', '/proc/net/netstat']))
    .trim()
    .split('\n');
  const out = {};
  for (let i = 0; i + 1 < lines.length; i += 2) {
    const [prefix, ...keys] = lines[i].split(/\s+/);
    const values = lines[i + 1].split(/\s+/).slice(1).map(Number);
    out[prefix.replace(/:$/, '')] = Object.fromEntries(keys.map((k, j) => [k, values[j]]));
  }
  return out;
}

/** TIME_WAIT sockets of a namespace (/proc/net/sockstat "tw"). */
function timeWait(ns) {
  const text = sh('ip', inNs(ns, ['cat', '/proc/net/sockstat']));
  return Number(/^TCP: .*\btw (\d+)/m.exec(text)?.[1] ?? NaN);
}

const sysctl = (ns, key) =>
  sh('ip', inNs(ns, ['cat', `/proc/sys/net/ipv4/${key}`]))
    .trim()
    .replace(/\s+/g, '-');

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length
    ? s.length % 2
      ? s[s.length >> 1]
      : (s[s.length / 2 - 1] + s[s.length / 2]) / 2
    : NaN;
};

const rssMb = (pid) => {
  try {
    const kb = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]);
    return kb / 1024;
  } catch {
    return NaN;
  }
};

// ---------------------------------------------------------------- setup

async function setup() {
  const pair = makePair('sp', SUBNET);
  const attackerAddr = `10.99.${SUBNET}.1`;
  // attackload's own connections to the one sustained port would otherwise run
  // the attacker out of source ports (its TIME_WAITs, not the daemon's).
  sh('ip', inNs(pair.attacker, ['sysctl', '-qw', 'net.ipv4.tcp_tw_reuse=1']));
  const kernel = {
    honeypotTwReuseBefore: sysctl(pair.honeypot, 'tcp_tw_reuse'),
    ipLocalPortRange: sysctl(pair.honeypot, 'ip_local_port_range'),
    tcpMaxTwBuckets: sysctl(pair.honeypot, 'tcp_max_tw_buckets'),
    tcpTimestamps: sysctl(pair.honeypot, 'tcp_timestamps'),
  };
  // The attacker's own server: the mirror target, and the proxy target.
  const attackerSide = { ...pair, honeypot: pair.attacker };
  const served = `${MIRROR_PORTS},${SUSTAIN_PORT},${PROXY_TARGET_PORT}`;
  const attackerCeiling = await startCeiling(attackerSide, served);
  const direct = await startCeiling(pair, CEILING_PORTS);
  const daemon = await startDaemon({
    pair,
    tag: 'splice',
    dir: tempDir('htb-splice-'),
    config: {
      sensor: 'bench-splice',
      capture: { type: 'listen', addresses: [pair.target] },
      ports: [
        { port: MIRROR_PORTS, mode: 'mirror' },
        { port: SUSTAIN_PORT, mode: 'mirror' },
        { port: NORMAL_PORTS, mode: 'normal' },
        {
          port: PROXY_PORTS,
          mode: 'proxy',
          proxy: { target: `${attackerAddr}:${PROXY_TARGET_PORT}` },
        },
      ],
      splice: SPLICE,
      log: { level: 'warn', format: 'json' },
    },
  });
  kernel.honeypotTwReuseAfter = sysctl(pair.honeypot, 'tcp_tw_reuse');
  return { pair, attackerAddr, kernel, attackerCeiling, direct, daemon };
}

// ---------------------------------------------------------------- measurements

/** Tests 1-3: ceiling directly, proxy and mirror at c=16, interleaved ROUNDS times. */
async function measureRates(env) {
  const { pair, daemon } = env;
  const targets = [
    { key: 'ceiling', ports: CEILING_PORTS },
    { key: 'normal', ports: NORMAL_PORTS },
    { key: 'proxy', ports: PROXY_PORTS },
    { key: 'mirror', ports: MIRROR_PORTS },
  ];
  const runs = { ceiling: [], normal: [], proxy: [], mirror: [] };
  for (let round = 0; round < ROUNDS; round++) {
    const order = round % 2 ? [...targets].reverse() : targets;
    for (const t of order) {
      say(`round ${round + 1}/${ROUNDS}: ${t.key}, ${LOAD_SECONDS} s at c=${CONCURRENCY}`);
      const res = await load(pair, t.ports, LOAD_SECONDS);
      if (t.key !== 'ceiling') {
        await settle(daemon.sock);
        res.daemon = classify(await attacksSince(daemon.sock, res.started));
      }
      runs[t.key].push(res);
      await sleep(1000);
    }
  }
  return runs;
}

/** Test 4: mirror on one port for SUSTAIN_SECONDS, in 10 s windows. */
async function measureSustained(env) {
  const { pair, daemon } = env;
  const windows = [];
  const before = netstat(pair.honeypot).TcpExt;
  const started = Date.now();
  const n = Math.max(1, Math.round(SUSTAIN_SECONDS / WINDOW_SECONDS));
  for (let i = 0; i < n; i++) {
    say(`sustained mirror on port ${SUSTAIN_PORT}: window ${i + 1}/${n}`);
    const w = await load(pair, `${SUSTAIN_PORT}-${SUSTAIN_PORT}`, WINDOW_SECONDS);
    w.timeWaitAfter = timeWait(pair.honeypot);
    w.daemonRssMb = rssMb(daemon.pid);
    windows.push(w);
  }
  const ended = Date.now();
  // Right at the end, before TIME_WAIT starts to drain.
  const twLines = sh(
    'ip',
    inNs(pair.honeypot, [
      'ss',
      '-Htan',
      'state',
      'time-wait',
      `( dst ${env.attackerAddr} and dport = :${SUSTAIN_PORT} )`,
    ]),
    { maxBuffer: 256 * 1024 * 1024 },
  )
    .split('\n')
    .filter(Boolean);
  const sourcePorts = new Set(
    twLines.map((l) => Number(l.trim().split(/\s+/)[2]?.split(':').pop())),
  );
  const evenPorts = [...sourcePorts].filter((p) => p % 2 === 0).length;
  const ssSummary = sh('ip', inNs(pair.honeypot, ['ss', '-s']));
  const after = netstat(pair.honeypot).TcpExt;
  const settled = await settle(daemon.sock);
  say('reading the sustained run back through the control socket');
  let attacks = [];
  let readError;
  try {
    attacks = (await attacksSince(daemon.sock, started)).filter(
      (a) => a.local.port === SUSTAIN_PORT,
    );
  } catch (err) {
    readError = err.message; // the client-side figures still stand
    say(`reading the attacks back failed: ${readError}`);
  }
  const perWindow = windows.map((w) => ({ spliced: 0, fallback: 0, sessions: 0, w }));
  for (const a of attacks) {
    const t = Date.parse(a.startedAt);
    const i = windows.findIndex((w) => t < w.ended);
    const slot = perWindow[i === -1 ? windows.length - 1 : i];
    slot.sessions++;
    if (a.peer) slot.spliced++;
    if (a.fallback) slot.fallback++;
  }
  return {
    port: SUSTAIN_PORT,
    seconds: (ended - started) / 1000,
    windows: perWindow.map(({ w, ...d }) => ({ ...w, daemon: d })),
    daemon: classify(attacks),
    timeWaitToPeerAtEnd: twLines.length,
    sourcePortsInTimeWait: sourcePorts.size,
    evenSourcePorts: evenPorts,
    ssSummary,
    kernel: {
      TWRecycled: (after.TWRecycled ?? NaN) - (before.TWRecycled ?? NaN),
      TCPTimeWaitOverflow: (after.TCPTimeWaitOverflow ?? NaN) - (before.TCPTimeWaitOverflow ?? NaN),
    },
    status: settled,
    readError,
  };
}

// ---------------------------------------------------------------- report

function summarize(runs) {
  const m = (key, f) => median(runs[key].map(f));
  const out = {};
  for (const key of Object.keys(runs))
    out[key] = {
      connPerS: m(key, (r) => r.conn_per_s),
      perRound: runs[key].map((r) => r.conn_per_s),
      failed: runs[key].reduce((n, r) => n + r.failed, 0),
      completed: runs[key].reduce((n, r) => n + r.completed, 0),
      connP99: m(key, (r) => r.conn_p99),
      sessP99: m(key, (r) => r.sess_p99),
      banners: runs[key].reduce((n, r) => n + r.banners, 0),
      eaddrnotavail: runs[key].reduce((n, r) => n + r.eaddrnotavail, 0),
    };
  for (const key of ['proxy', 'mirror']) {
    const ds = runs[key].map((r) => r.daemon);
    const d = { sessions: 0, spliced: 0, fallback: 0, reasons: {}, errors: {} };
    for (const x of ds) {
      d.sessions += x.sessions;
      d.spliced += x.spliced;
      d.fallback += x.fallback;
      for (const [k, v] of Object.entries(x.reasons)) d.reasons[k] = (d.reasons[k] ?? 0) + v;
      for (const [k, v] of Object.entries(x.errors)) d.errors[k] = (d.errors[k] ?? 0) + v;
    }
    out[key].daemon = d;
    // conn/s that really went through the splice (fallbacks taken out).
    out[key].splicedPerS = median(
      runs[key].map((r) =>
        r.daemon.sessions ? (r.conn_per_s * r.daemon.spliced) / r.daemon.sessions : NaN,
      ),
    );
  }
  return out;
}

const fmtMs = (q) =>
  q?.p50 === undefined ? 'n/a' : `p50 ${q.p50} / p99 ${q.p99} / max ${q.max} ms`;
const pct = (a, b) => (b ? `${((100 * a) / b).toFixed(1)}%` : 'n/a');
const reasonsText = (reasons) =>
  Object.entries(reasons)
    .sort((a, b) => b[1] - a[1])
    .map(([k, v]) => `${fmt(v, 0)} "${k}"`)
    .join(', ') || 'none';

function report(sum, sus, env, meta) {
  const rows = [];
  const add = (test, value, vsCeiling, note) => rows.push({ test, value, vsCeiling, note });
  const ce = sum.ceiling.connPerS;
  add(
    `ceiling directly, conn/s c=${CONCURRENCY}`,
    ce,
    ratio(ce, ce),
    `rounds ${sum.ceiling.perRound.map((x) => fmt(x, 0)).join(' / ')}; failed ${sum.ceiling.failed}`,
  );
  add(
    `  context: normal mode conn/s c=${CONCURRENCY}`,
    sum.normal.connPerS,
    ratio(sum.normal.connPerS, ce),
    `same daemon, no splice, no template; rounds ${sum.normal.perRound.map((x) => fmt(x, 0)).join(' / ')}; failed ${sum.normal.failed}`,
  );
  for (const key of ['proxy', 'mirror']) {
    const s = sum[key];
    add(
      `${key} conn/s c=${CONCURRENCY}`,
      s.connPerS,
      ratio(s.connPerS, ce),
      `rounds ${s.perRound.map((x) => fmt(x, 0)).join(' / ')}; failed ${s.failed}; connect p99 ${fmt(s.connP99)} ms, session p99 ${fmt(s.sessP99)} ms` +
        (key === 'mirror' ? `; original honeytrap ${fmt(ORIGINAL.mirrorConnPerS)}` : ''),
    );
    add(
      `  ${key}: spliced conn/s (fallbacks out)`,
      s.splicedPerS,
      ratio(s.splicedPerS, ce),
      `${fmt(s.daemon.spliced, 0)} of ${fmt(s.daemon.sessions, 0)} sessions spliced, ${fmt(s.daemon.fallback, 0)} fell back (${pct(s.daemon.fallback, s.daemon.sessions)}): ${reasonsText(s.daemon.reasons)}; client saw the target's banner ${fmt(s.banners, 0)} times in ${fmt(s.completed, 0)} completed`,
    );
  }
  const ws = sus.windows;
  const rates = ws.map((w) => w.conn_per_s);
  const spread = (Math.max(...rates) - Math.min(...rates)) / median(rates);
  const splicedRates = ws.map((w) => w.daemon.spliced / w.elapsed);
  add(
    `mirror sustained ${Math.round(sus.seconds)} s, one port, conn/s`,
    median(rates),
    ratio(median(rates), ce),
    `per ${WINDOW_SECONDS} s window ${rates.map((x) => fmt(x, 0)).join(' / ')} (max-min ${(100 * spread).toFixed(0)}% of median); failed ${ws.reduce((n, w) => n + w.failed, 0)}`,
  );
  add(
    '  sustained: spliced conn/s per window',
    median(splicedRates),
    ratio(median(splicedRates), ce),
    `${splicedRates.map((x) => fmt(x, 0)).join(' / ')} (client side, banners back: ${ws.map((w) => fmt(w.banners / w.elapsed, 0)).join(' / ')}); original runs out of source ports above ~${ORIGINAL.sourcePortLimitPerS}/s` +
      (sus.readError ? `; reading the attacks back failed: ${sus.readError}` : ''),
  );
  add(
    '  sustained: fell back to normal',
    sus.daemon.fallback,
    '',
    `${pct(sus.daemon.fallback, sus.daemon.sessions)} of ${fmt(sus.daemon.sessions, 0)} sessions: ${reasonsText(sus.daemon.reasons)}; peer's first byte ${fmtMs(sus.daemon.firstPeerByteMs)} after accept`,
  );
  const eaddrDaemon = Object.entries(sus.daemon.reasons)
    .filter(([k]) => k.includes('EADDRNOTAVAIL'))
    .reduce((n, [, v]) => n + v, 0);
  add(
    '  sustained: connect-backs failed EADDRNOTAVAIL',
    eaddrDaemon,
    '',
    `attackload's own EADDRNOTAVAIL: ${ws.reduce((n, w) => n + w.eaddrnotavail, 0)}`,
  );
  const [lo, hi] = env.kernel.ipLocalPortRange.split('-').map(Number);
  add(
    `  sustained: TIME_WAIT to ${env.attackerAddr}:${SUSTAIN_PORT} at end`,
    sus.timeWaitToPeerAtEnd,
    '',
    `${fmt(sus.sourcePortsInTimeWait, 0)} distinct source ports (${fmt(sus.evenSourcePorts, 0)} even) of ${fmt(hi - lo + 1, 0)}; ${fmt(sus.daemon.spliced, 0)} connect-backs in ${Math.round(sus.seconds)} s; namespace TIME_WAIT after each window ${ws.map((w) => fmt(w.timeWaitAfter, 0)).join(' / ')}; kernel TWRecycled +${fmt(sus.kernel.TWRecycled, 0)}, TCPTimeWaitOverflow +${fmt(sus.kernel.TCPTimeWaitOverflow, 0)}`,
  );
  const head = ['test', 'value', 'vs ceiling', 'notes'];
  const body = rows.map((r) => [r.test, cell(r.value), r.vsCeiling, r.note]);
  const text = formatTable(head, body);
  const notes = [
    `machine: ${meta.cpus} CPUs (shared), load average at start ${meta.loadavg.map((x) => x.toFixed(2)).join(' ')}, at end ${meta.loadavgEnd.map((x) => x.toFixed(2)).join(' ')}`,
    `load: attackload -c ${CONCURRENCY} -p 200 -H; tests 1-3 ${LOAD_SECONDS} s each, interleaved, median of ${ROUNDS} rounds; sustained: ${ws.length} back-to-back ${WINDOW_SECONDS} s runs on port ${SUSTAIN_PORT} only, so every mirror connects back to the same ${env.attackerAddr}:${SUSTAIN_PORT}`,
    `mirror target: ceiling in the attacker namespace (19 B banner at accept); proxy target: the same ceiling on ${env.attackerAddr}:${PROXY_TARGET_PORT}; ceiling directly: a second ceiling in the honeypot namespace`,
    `splice config: ${JSON.stringify(SPLICE)} (mirrorPerSource raised from 8 so that c=${CONCURRENCY} from one attacker is not cut by the limit)`,
    `honeypot namespace: tcp_tw_reuse ${env.kernel.honeypotTwReuseBefore} before the daemon, ${env.kernel.honeypotTwReuseAfter} after it started; ip_local_port_range ${env.kernel.ipLocalPortRange}; tcp_max_tw_buckets ${env.kernel.tcpMaxTwBuckets}; tcp_timestamps ${env.kernel.tcpTimestamps}; attacker namespace tcp_tw_reuse=1 (set here for attackload)`,
    `daemon: RSS after each sustained window ${ws.map((w) => fmt(w.daemonRssMb, 0)).join(' / ')} MB; error log lines ${env.daemonInfo.errorLines}; exited on first SIGTERM ${env.daemonInfo.exitedOnFirstSigterm}; session errors (mirror tests) ${reasonsText(sum.mirror.daemon.errors)}, (proxy) ${reasonsText(sum.proxy.daemon.errors)}, (sustained) ${reasonsText(sus.daemon.errors)}`,
  ];
  return { rows, text: `${text}\n\n${notes.map((n) => `- ${n}`).join('\n')}` };
}

// ---------------------------------------------------------------- main

async function main() {
  checkPrerequisites(['gcc', 'ip', 'ss', 'sysctl']);
  buildAll();
  const meta = runMeta({
    loadSeconds: LOAD_SECONDS,
    rounds: ROUNDS,
    sustainSeconds: SUSTAIN_SECONDS,
  });
  say(`load average at start: ${meta.loadavg.map((x) => x.toFixed(2)).join(' ')}`);
  const env = await setup();
  const runs = await measureRates(env);
  const sustained = await measureSustained(env);
  meta.loadavgEnd = loadavg();
  env.daemonInfo = await env.daemon.stop();
  await env.direct.stop();
  await env.attackerCeiling.stop();
  cleanup();
  const summary = summarize(runs);
  const { rows, text } = report(summary, sustained, env, meta);
  process.stdout.write(`\n${text}\n`);
  writeFileSync(
    join(OUT, 'splice.json'),
    JSON.stringify(
      {
        meta,
        config: { splice: SPLICE, concurrency: CONCURRENCY, original: ORIGINAL },
        kernel: env.kernel,
        rows,
        summary,
        runs,
        sustained,
        daemon: env.daemonInfo,
      },
      null,
      2,
    ) + '\n',
  );
  say(`wrote ${join(OUT, 'splice.json')}`);
}

main().catch(fail);
