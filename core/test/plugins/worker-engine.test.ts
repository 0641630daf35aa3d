// The worker engine against real plugin folders: good plugins work, hostile
// ones are contained and reported with the right code, and the engine keeps
// running plugins afterwards. Workers load the compiled entry, so core must be
// built first (npx tsc -b core; npm test does).
import { createSocket } from 'node:dgram';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Attack } from '../../src/generated/attack.js';
import type { ResolvedManifest } from '../../src/generated/plugin-manifest-resolved.js';
import type { PluginOutput } from '../../src/generated/plugin-result.js';
import {
  PluginError,
  type FetchRequest,
  type FetchResponse,
  type LoadedPlugin,
  type NetworkBroker,
  type PluginRunner,
  type PluginTaskInput,
} from '../../src/plugins/engine.js';
import { WorkerEngine } from '../../src/plugins/engines/worker/engine.js';

const FIXTURES = fileURLToPath(new URL('../fixtures/plugins/', import.meta.url));

/** A fixture folder as the registry would hand it over: manifest defaults filled in. */
function fixture(name: string, patch: Partial<ResolvedManifest> = {}): LoadedPlugin {
  const dir = join(FIXTURES, `worker-${name}`);
  const raw = JSON.parse(readFileSync(join(dir, 'plugin.json'), 'utf8')) as ResolvedManifest;
  // plugin.json as written: defaults not filled in yet.
  const caps: Partial<ResolvedManifest['capabilities']> = raw.capabilities ?? {};
  const limits: Partial<ResolvedManifest['limits']> = raw.limits ?? {};
  const manifest: ResolvedManifest = {
    ...raw,
    consumes: { attacks: { minBytes: 1 } },
    after: [],
    capabilities: {
      findings: caps.findings ?? true,
      artifacts: caps.artifacts ?? false,
      files: caps.files ?? false,
      ...(caps.network
        ? {
            network: {
              egress: caps.network.egress,
              hosts: caps.network.hosts ?? [],
              schemes: caps.network.schemes ?? ['http', 'https'],
            },
          }
        : {}),
    },
    limits: { timeoutMs: 5000, memoryMb: 64, concurrency: 2, ...limits },
    ...patch,
  };
  return { manifest, dir, entryPath: join(dir, manifest.entry) };
}

const attack: Attack = {
  schemaVersion: 1,
  id: '01JTESTATTACK0000000000000',
  sensor: 'test',
  startedAt: '2025-01-01T00:00:00.000Z',
  endedAt: '2025-01-01T00:00:01.000Z',
  proto: 'tcp',
  local: { address: '10.0.0.1', port: 23 },
  remote: { address: '203.0.113.9', port: 40000 },
  mode: 'normal',
  endReason: 'closed',
  received: {
    length: 27,
    data: Buffer.from('cd /tmp; wget x; busybox sh').toString('base64'),
    truncated: false,
  },
  sent: { length: 0, data: '', truncated: false },
  chunks: [],
  plugins: {},
};

function task(config: Record<string, unknown> = {}): PluginTaskInput {
  return { kind: 'attack', attack, config, results: {} };
}

/** A small real broker: allows example.test, records every call. */
class RecordingBroker implements NetworkBroker {
  readonly calls: { plugin: string; attack: string; req: FetchRequest }[] = [];
  fetch(plugin: LoadedPlugin, a: Attack, req: FetchRequest): Promise<FetchResponse> {
    this.calls.push({ plugin: plugin.manifest.name, attack: a.id, req });
    const host = new URL(req.url).hostname;
    const hosts = plugin.manifest.capabilities.network?.hosts ?? [];
    if (!hosts.includes(host)) {
      return Promise.reject(
        new PluginError('HT_PLUGIN_DENIED', plugin.manifest.name, `${host} is not allowed`),
      );
    }
    return Promise.resolve({
      status: 200,
      headers: { 'content-type': 'text/plain' },
      body: Buffer.from('payload').toString('base64'),
      truncated: false,
    });
  }

  exchange(): Promise<never> {
    return Promise.reject(new Error('not used by these tests'));
  }
}

const broker = new RecordingBroker();

async function failure(p: Promise<unknown>): Promise<PluginError> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(PluginError);
    return err as PluginError;
  }
  throw new Error('expected the task to fail');
}

// Every test runs in both isolation modes: the default (the plugin's pool in
// a child process) and "thread" (the pool in this process).
describe.each(['process', 'thread'] as const)('worker engine, isolation %s', (isolation) => {
  const logs: string[] = [];
  const engine = new WorkerEngine({
    isolation,
    log: (plugin, line) => logs.push(`${plugin}: ${line}`),
  });
  /** Runners a test started; closed after it (each may be a process). */
  const runners: PluginRunner[] = [];

  async function start(name: string, patch?: Partial<ResolvedManifest>): Promise<PluginRunner> {
    const runner = await engine.start(fixture(name, patch), broker);
    runners.push(runner);
    return runner;
  }

  afterEach(async () => {
    await Promise.all(runners.splice(0).map((r) => r.close()));
  });

  let good: PluginRunner;

  /** The engine still runs a good plugin. */
  async function goodStillRuns(): Promise<void> {
    const out = (await good.run(task())) as PluginOutput;
    expect(out.findings?.[0]?.type).toBe('hash');
  }

  beforeAll(async () => {
    good = await engine.start(fixture('good'), broker);
  });

  afterAll(async () => {
    await good.close();
  });

  describe('plugins that behave', () => {
    it('returns the findings, with the config and the plugin’s own modules and JSON', async () => {
      const out = (await good.run(task({ depth: 2 }))) as PluginOutput;
      expect(out.findings).toEqual([
        { type: 'hash', value: expect.stringMatching(/^[0-9a-f]{64}$/) as unknown },
        { type: 'note', value: 'config:{"depth":2}' },
        { type: 'signature', value: 'wget' },
        { type: 'signature', value: 'busybox' },
      ]);
      expect(logs).toContain(`worker-good: analyzing ${attack.id}`);
      expect(logs).toContain('worker-good: console output goes to the host log');
    });

    it('runs the worker with an empty environment and the permission model on', async () => {
      const r = await start('escape');
      expect(await r.run(task({ route: 'env' }))).toEqual({
        findings: [{ type: 'note', value: '0' }],
      });
      // /etc/passwd no, own file yes, no writes, no child processes, no workers.
      expect(await r.run(task({ route: 'permission' }))).toEqual({
        findings: [{ type: 'note', value: 'false,true,false,false,false' }],
      });
    });

    it('denies ctx.fetch without the network capability, even when the plugin catches it', async () => {
      const plugin = fixture('fetch');
      delete plugin.manifest.capabilities.network;
      const r = await engine.start(plugin, broker);
      runners.push(r);
      const before = broker.calls.length;
      const err = await failure(r.run(task({ url: 'http://example.test/x' })));
      expect(err.code).toBe('HT_PLUGIN_DENIED');
      expect(err.message).toMatch(/network capability/);
      const swallowed = await failure(r.run(task({ url: 'http://example.test/x', swallow: true })));
      expect(swallowed.code).toBe('HT_PLUGIN_DENIED');
      expect(broker.calls.length).toBe(before);
    });

    it('sends ctx.fetch through the broker with the capability', async () => {
      const r = await start('fetch');
      const out = await r.run(task({ url: 'http://example.test/x' }));
      expect(out).toEqual({
        findings: [{ type: 'download', value: `200:${Buffer.from('payload').toString('base64')}` }],
      });
      expect(broker.calls.at(-1)).toEqual({
        plugin: 'worker-fetch',
        attack: attack.id,
        req: { url: 'http://example.test/x', method: 'GET' },
      });
      // The broker's own refusal reaches the plugin; uncaught, it fails the task as denied.
      const err = await failure(r.run(task({ url: 'http://evil.test/x' })));
      expect(err.code).toBe('HT_PLUGIN_DENIED');
      expect(err.message).toMatch(/evil\.test is not allowed/);
      // Caught, the plugin carries on: a broker refusal is an answer, not a violation.
      expect(await r.run(task({ url: 'http://evil.test/x', swallow: true }))).toEqual({
        findings: [],
      });
    });

    it('returns 10 MB of findings and settles (the host refuses it by size)', async () => {
      const r = await start('big-result');
      const out = (await r.run(task())) as PluginOutput;
      expect(out.findings).toHaveLength(10_000);
      expect(JSON.stringify(out).length).toBeGreaterThan(10_000_000);
      await goodStillRuns();
    });
  });

  describe('limits', () => {
    it('times out an endless loop and runs the next task on a new worker', async () => {
      const r = await start('loop');
      const t0 = Date.now();
      const err = await failure(r.run(task()));
      expect(err.code).toBe('HT_PLUGIN_TIMEOUT');
      expect(Date.now() - t0).toBeLessThan(2000);
      expect(await r.run(task({ behave: true }))).toEqual({
        findings: [{ type: 'note', value: 'behaved' }],
      });
      await goodStillRuns();
    });

    it('stops a heap bomb at the heap limit', async () => {
      const r = await start('heap-bomb');
      const err = await failure(r.run(task()));
      expect(err.code).toBe('HT_PLUGIN_MEMORY');
      expect(await r.run(task({ behave: true }))).toEqual({
        findings: [{ type: 'note', value: 'behaved' }],
      });
      await goodStillRuns();
    });

    it.each([
      ['arraybuffer', 'async'],
      ['arraybuffer', 'sync'],
      ['wasm', 'async'],
      ['wasm', 'sync'],
    ])('stops a %s bomb (%s), which the heap limit does not see', async (kind, mode) => {
      const r = await start('arraybuffer-bomb');
      const rss0 = process.memoryUsage.rss();
      const err = await failure(r.run(task({ kind, mode })));
      expect(err.code).toBe('HT_PLUGIN_MEMORY');
      // Yielding, the worker reports its memory; stuck, the process growth gives it away.
      expect(err.message).toMatch(
        mode === 'async' ? /outside the heap \(ArrayBuffers, WebAssembly\)/ : /grew \d+ MB/,
      );
      // Stopped long before it could hurt the host (it would take 64 GB).
      expect(process.memoryUsage.rss() - rss0).toBeLessThan(1024 * 1024 * 1024);
      expect(await r.run(task({ behave: true }))).toEqual({
        findings: [{ type: 'note', value: 'behaved' }],
      });
      await goodStillRuns();
    });

    it('reports process.exit and replaces the worker', async () => {
      const r = await start('exit');
      const err = await failure(r.run(task()));
      expect(err.code).toBe('HT_PLUGIN_EXIT');
      expect(err.message).toMatch(/code: 3/);
      expect(await r.run(task({ behave: true }))).toEqual({
        findings: [{ type: 'note', value: 'behaved' }],
      });
      await goodStillRuns();
    });

    it('reports a throw in analyze and one from a timer with the plugin’s message', async () => {
      const r = await start('throw');
      const err = await failure(r.run(task({ where: 'analyze' })));
      expect(err.code).toBe('HT_PLUGIN_THREW');
      expect(err.message).toMatch(/kaboom/);
      const late = await failure(r.run(task({ where: 'timer' })));
      expect(late.code).toBe('HT_PLUGIN_THREW');
      expect(late.message).toMatch(/kaboom from a timer/);
      await goodStillRuns();
    });
  });

  describe('load', () => {
    it.each([
      ['throw-at-load', /refusing to load/],
      ['no-analyze', /no analyze\(\)/],
      ['static-import', /import of node:fs is not allowed/],
    ])('refuses %s at start with HT_PLUGIN_LOAD', async (name, message) => {
      const err = await failure(engine.start(fixture(name), broker));
      expect(err.code).toBe('HT_PLUGIN_LOAD');
      expect(err.message).toMatch(message);
      await goodStillRuns();
    });

    it('refuses a plugin that never finishes loading', async () => {
      const impatient = new WorkerEngine({ isolation, loadTimeoutMs: 500 });
      const err = await failure(impatient.start(fixture('loop-at-load'), broker));
      expect(err.code).toBe('HT_PLUGIN_LOAD');
      expect(err.message).toMatch(/timed out after 500 ms/);
    });

    it('refuses a plugin whose worker fails to boot, and settles', async () => {
      const tmp = mkdtempSync(join(tmpdir(), 'ht-worker-entry-'));
      try {
        const entryFile = join(tmp, 'broken-entry.mjs');
        writeFileSync(entryFile, "throw new Error('entry broken');\n");
        const broken = new WorkerEngine({ isolation, entryFile });
        const err = await failure(broken.start(fixture('good'), broker));
        expect(err.code).toBe('HT_PLUGIN_LOAD');
        expect(err.message).toMatch(/entry broken/);
      } finally {
        rmSync(tmp, { recursive: true, force: true });
      }
    });
  });

  describe('capabilities', () => {
    it.each([
      'import-fs',
      'import-fs-promises',
      'builtin-fs',
      'import-module',
      'import-path',
      'import-up',
      'function-import',
    ])('denies reading /etc/passwd (%s)', async (route) => {
      const r = await start('read-file');
      const err = await failure(r.run(task({ route })));
      expect(err.code).toBe('HT_PLUGIN_DENIED');
      expect(err.message).not.toMatch(/root:/);
    });

    it.each(['import-fs', 'builtin-fs', 'fs-promises'])(
      'denies writing a file (%s), even when the plugin catches the refusal',
      async (route) => {
        const dir = mkdtempSync(join(tmpdir(), 'ht-worker-write-'));
        try {
          const path = join(dir, 'pwned.txt');
          const r = await start('write-file');
          for (const swallow of [false, true]) {
            const err = await failure(r.run(task({ route, path, swallow })));
            expect(err.code).toBe('HT_PLUGIN_DENIED');
          }
          expect(existsSync(path)).toBe(false);
        } finally {
          rmSync(dir, { recursive: true, force: true });
        }
      },
    );

    it.each(['import-child-process', 'builtin-child-process', 'binding', 'worker-threads'])(
      'denies starting a process or thread (%s)',
      async (route) => {
        const r = await start('spawn');
        const err = await failure(r.run(task({ route })));
        expect(err.code).toBe('HT_PLUGIN_DENIED');
      },
    );

    describe('sockets', () => {
      let port = 0;
      let connections = 0;
      let datagrams = 0;
      const server = createServer((s) => {
        connections++;
        s.destroy();
      });
      const udp = createSocket('udp4');
      beforeAll(async () => {
        await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
        port = (server.address() as { port: number }).port;
        udp.on('message', () => datagrams++);
        await new Promise<void>((resolve) => udp.bind(port, '127.0.0.1', resolve));
      });
      afterAll(async () => {
        udp.close();
        await new Promise((resolve) => server.close(resolve));
      });

      it.each([
        'import-net',
        'builtin-net',
        'global-fetch',
        'import-http',
        'dgram',
        'async-function-import',
      ])('denies opening a socket to a host (%s)', async (route) => {
        const r = await start('socket');
        const err = await failure(r.run(task({ route, port })));
        expect(err.code).toBe('HT_PLUGIN_DENIED');
        await new Promise((resolve) => setTimeout(resolve, 50));
        expect(connections).toBe(0);
        expect(datagrams).toBe(0);
      });
    });

    it.each([
      'kill',
      'raw-kill',
      'report',
      'dlopen',
      'crypto-engine',
      'import-os',
      'import-vm',
      'import-inspector',
    ])('denies process APIs past the worker (%s)', async (route) => {
      const r = await start('escape');
      const err = await failure(r.run(task({ route })));
      expect(err.code).toBe('HT_PLUGIN_DENIED');
    });
  });

  // One allocation too large for V8 to recover from aborts the process the
  // worker lives in; a huge array that V8 does allow sits past the heap limit.
  // Only a child process keeps the daemon alive through the first, so these
  // run in process isolation only (in a thread they would abort vitest).
  if (isolation === 'process') {
    describe('heap bombs past V8’s limit', () => {
      it('reports a fatal out-of-memory as HT_PLUGIN_MEMORY and restarts the plugin', async () => {
        // A watchdog too slow to step in: V8 aborts the child itself.
        const slow = new WorkerEngine({ isolation, watchdogMs: 60_000 });
        const r = await slow.start(fixture('heap-bomb'), broker);
        runners.push(r);
        const err = await failure(r.run(task({ mode: 'fatal' })));
        expect(err.code).toBe('HT_PLUGIN_MEMORY');
        expect(err.message).toMatch(/its process ran out of memory/);
        expect(await r.run(task({ behave: true }))).toEqual({
          findings: [{ type: 'note', value: 'behaved' }],
        });
        await goodStillRuns();
      });

      it('reports its process being killed and starts a new one', async () => {
        const r = await start('sleep');
        const pid = (r as unknown as { pid: number }).pid;
        const running = failure(r.run(task({ ms: 200 })));
        const queued = r.run(task({ ms: 10 }));
        await new Promise((resolve) => setTimeout(resolve, 50));
        process.kill(pid, 'SIGKILL');
        const err = await running;
        expect(err.code).toBe('HT_PLUGIN_EXIT');
        expect(err.message).toMatch(/signal SIGKILL/);
        // The queued task had not started: it runs in the new process.
        expect(await queued).toEqual({ findings: [{ type: 'note', value: 'slept 10' }] });
        expect((r as unknown as { pid: number }).pid).not.toBe(pid);
      });

      it.each(['fatal', 'large'])(
        'stops the %s bomb with the watchdog before V8 does',
        async (mode) => {
          const r = await start('heap-bomb');
          const err = await failure(r.run(task({ mode })));
          expect(err.code).toBe('HT_PLUGIN_MEMORY');
          await goodStillRuns();
        },
      );
    });
  }

  describe('the runner’s gate', () => {
    it('counts the timeout from when a task starts, not while it waits', async () => {
      // concurrency 1, timeout 300 ms: three 200 ms tasks take 600 ms and all succeed.
      const r = await start('sleep');
      const t0 = Date.now();
      const outs = await Promise.all([1, 2, 3].map(() => r.run(task({ ms: 200 }))));
      expect(outs).toEqual(
        [1, 2, 3].map(() => ({ findings: [{ type: 'note', value: 'slept 200' }] })),
      );
      expect(Date.now() - t0).toBeGreaterThanOrEqual(590);
    });

    it('runs at most `concurrency` tasks at once', async () => {
      const plugin = fixture('sleep', {});
      plugin.manifest.limits = { ...plugin.manifest.limits, concurrency: 3, timeoutMs: 2000 };
      const r = await engine.start(plugin, broker);
      runners.push(r);
      const load = (r as unknown as { load: { queued: number; running: number } }).load;
      expect(load).toEqual({ queued: 0, running: 0 });
      const all = Promise.all(Array.from({ length: 7 }, () => r.run(task({ ms: 100 }))));
      expect((r as unknown as { load: unknown }).load).toEqual({ queued: 4, running: 3 });
      await all;
    });

    it('settles 50 tasks in parallel, hostile ones included', async () => {
      const exit = await start('exit', {});
      const results = await Promise.allSettled([
        ...Array.from({ length: 50 }, () => good.run(task())),
        ...Array.from({ length: 20 }, (_, i) => exit.run(task({ behave: i % 2 === 0 }))),
      ]);
      expect(results.slice(0, 50).every((r) => r.status === 'fulfilled')).toBe(true);
      const exits = results.slice(50);
      expect(exits.filter((r) => r.status === 'fulfilled')).toHaveLength(10);
      for (const r of exits) {
        if (r.status === 'rejected') expect((r.reason as PluginError).code).toBe('HT_PLUGIN_EXIT');
      }
    });

    it('close() rejects running and queued tasks, and later runs', async () => {
      const r = await engine.start(fixture('sleep'), broker);
      const running = r.run(task({ ms: 250 }));
      const queued = r.run(task({ ms: 250 }));
      const failures = [failure(running), failure(queued)];
      await new Promise((resolve) => setTimeout(resolve, 50));
      await r.close();
      for (const f of failures) expect((await f).code).toBe('HT_PLUGIN_EXIT');
      expect((await failure(r.run(task({ ms: 1 })))).code).toBe('HT_PLUGIN_EXIT');
      await goodStillRuns();
    });
  });
});
