// Output plugins end to end in one process (real worker engine, real LevelDB
// store, real files): what a report holds, that report-only plugins get no
// attack or artifact tasks, and the at-least-once outbox: order, exactly one
// delivery per report, exponential backoff, replay after a restart, the
// maxQueued cap, and the queue kept while the plugin is disabled.
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { PluginHost } from '../../src/plugins/host.js';
import { HostFixture, findWord, until } from './host-fixtures.js';

let fx: HostFixture;

beforeEach(async () => {
  fx = await HostFixture.create('ht-reports-');
});

afterEach(() => fx.close());

const hostApi = '^1.1.0';

/** Every task it gets, as one JSON line in its folder. */
const recorder = `export default { async analyze(input, ctx) {
  await ctx.files.append('tasks.log', JSON.stringify({
    kind: input.kind,
    id: input.attack.id,
    attackPlugins: Object.keys(input.attack.plugins),
    records: input.records,
    artifacts: input.artifacts,
  }) + '\\n');
} };`;

/** Fails while a file "down" is in its folder, as a database being down. */
const sure = `export default { async analyze(input, ctx) {
  await ctx.files.append('attempts.log', Date.now() + ' ' + input.attack.id + '\\n');
  if (await ctx.files.stat('down')) throw new Error('the database is down');
  await ctx.files.append('delivered.log', input.attack.id + '\\n');
} };`;

function filesOf(plugin: string): string {
  return join(fx.root, 'files', plugin);
}

function lines(plugin: string, file: string): string[] {
  const path = join(filesOf(plugin), file);
  return existsSync(path) ? readFileSync(path, 'utf8').split('\n').filter(Boolean) : [];
}

function atLeastOnce(name: string) {
  return fx.plugin(name, sure, {
    hostApi,
    consumes: { reports: { delivery: 'at-least-once' } },
    capabilities: { files: true },
  });
}

/** Stores `n` attacks and submits each; returns their ids in order. */
async function submitMany(
  h: PluginHost,
  prefix: string,
  n: number,
  each?: () => Promise<void>,
): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < n; i++) {
    const a = await fx.attack(`${prefix}${i}`);
    ids.push(a.id);
    h.submit(a);
    await each?.();
  }
  return ids;
}

function down(plugin: string, isDown: boolean): void {
  const path = join(filesOf(plugin), 'down');
  if (isDown) writeFileSync(path, '');
  else rmSync(path, { force: true });
}

describe('reports', () => {
  it('hands each attack to output plugins once the analysis and artifact rounds are done, with every record', async () => {
    fx.plugin('finder', findWord('wget'));
    fx.plugin(
      'art-maker',
      `export default { analyze(input) {
        return { artifacts: [{ data: Buffer.from('#!/bin/sh payload').toString('base64'), name: 'x.sh', contentType: 'text/x-shellscript' }] };
      } };`,
      { capabilities: { artifacts: true } },
    );
    fx.plugin('art-reader', findWord('payload'), {
      consumes: { artifacts: { contentTypes: ['text/*'] } },
    });
    fx.plugin('out-data', recorder, {
      hostApi,
      consumes: { reports: { delivery: 'at-most-once', artifactData: true } },
      capabilities: { files: true },
    });
    fx.plugin('out-plain', recorder, {
      hostApi,
      consumes: { reports: { delivery: 'at-most-once' } },
      capabilities: { files: true },
    });
    const h = await fx.startHost();
    const a = await fx.attack('wget http://x/y.sh');
    const stored = await fx.results(h, a);
    const [withData] = lines('out-data', 'tasks.log').map(
      (l) => JSON.parse(l) as Record<string, unknown>,
    );
    const [plain] = lines('out-plain', 'tasks.log').map(
      (l) => JSON.parse(l) as Record<string, unknown>,
    );
    // Only report tasks: the report-only plugins got no attack or artifact task.
    expect(lines('out-data', 'tasks.log')).toHaveLength(1);
    expect(withData).toMatchObject({ kind: 'report', id: a.id, attackPlugins: [] });
    const records = withData!.records as Record<string, { status: string; findings: unknown[] }>;
    const sha = stored['art-maker']!.artifacts[0]!.sha256;
    expect(Object.keys(records).sort()).toEqual(
      // Every analysis record; output plugins' records are not part of a report.
      ['art-maker', `art-reader@${sha.slice(0, 12)}`, 'finder'].sort(),
    );
    expect(records.finder).toMatchObject({
      status: 'ok',
      findings: [{ type: 'signature', value: 'wget', offset: 0 }],
    });
    expect(records[`art-reader@${sha.slice(0, 12)}`]).toMatchObject({ status: 'ok', input: sha });
    expect(withData!.artifacts).toEqual([
      {
        sha256: sha,
        contentType: 'text/x-shellscript',
        size: 17,
        name: 'x.sh',
        producer: 'art-maker',
        data: Buffer.from('#!/bin/sh payload').toString('base64'),
      },
    ]);
    expect(plain!.artifacts).toBeUndefined();
    // The output plugins' own records are stored with the attack.
    expect(stored['out-data']).toMatchObject({ status: 'ok', plugin: 'out-data' });
    expect(h.stats().reports).toBe(2);
  });

  it('records a failed at-most-once report with the attack and drops it', async () => {
    fx.plugin('out-fails', `export default { analyze() { throw new Error('sink broken'); } };`, {
      hostApi,
      consumes: { reports: { delivery: 'at-most-once' } },
    });
    const h = await fx.startHost();
    const stored = await fx.results(h, await fx.attack('x'));
    expect(stored['out-fails']?.error?.code).toBe('HT_PLUGIN_THREW');
    expect(stored['out-fails']?.error?.message).toContain('sink broken');
    expect(h.stats().outbox).toEqual({});
  });

  it('a plugin that analyses and reports keeps both records apart (NAME and NAME@report)', async () => {
    fx.plugin('dual', recorder, {
      hostApi,
      consumes: { attacks: {}, reports: { delivery: 'at-most-once' } },
      capabilities: { files: true },
    });
    const h = await fx.startHost();
    const a = await fx.attack('x');
    const stored = await fx.results(h, a);
    expect(Object.keys(stored).sort()).toEqual(['dual', 'dual@report']);
    const tasks = lines('dual', 'tasks.log').map(
      (l) => JSON.parse(l) as { kind: string; records?: object },
    );
    expect(tasks.map((t) => t.kind)).toEqual(['attack', 'report']);
    expect(Object.keys(tasks[1]!.records!)).toEqual(['dual']);
  });

  it('a plugin cannot pass its own error off as a service being down', async () => {
    fx.plugin(
      'out-forger',
      `export default { analyze() { throw Object.assign(new Error('pretend'), { code: 'HT_PLUGIN_UNAVAILABLE' }); } };`,
      { hostApi, consumes: { reports: { delivery: 'at-most-once' } } },
    );
    const h = await fx.startHost();
    const stored = await fx.results(h, await fx.attack('x'));
    expect(stored['out-forger']?.error?.code).toBe('HT_PLUGIN_THREW');
    expect(h.list()[0]?.counters.consecutiveFailures).toBe(1);
  });

  it('at-least-once: queues while the plugin fails, retries with backoff, then delivers each once, in order', async () => {
    atLeastOnce('out-sure');
    const h = await fx.startHost({
      failureLimit: 1000,
      retry: { initialMs: 50, maxMs: 400, maxQueued: 1000 },
    });
    down('out-sure', true);
    const ids = await submitMany(h, 'a', 5);
    await h.pipeline.drained();
    expect(h.stats().outbox['out-sure']?.queued).toBe(5);
    // Retries are of the oldest report only, with growing gaps: 50, 100, 200, 400, 400 ms.
    await until('six attempts', () => lines('out-sure', 'attempts.log').length >= 7, 10_000);
    const attempts = lines('out-sure', 'attempts.log').map((l) => l.split(' '));
    expect(new Set(attempts.map(([, id]) => id))).toEqual(new Set([ids[0]]));
    const times = attempts.map(([t]) => Number(t));
    const gaps = times.slice(1).map((t, i) => t - times[i]!);
    expect(gaps[0]).toBeGreaterThanOrEqual(40);
    expect(gaps[1]).toBeGreaterThanOrEqual(90);
    expect(gaps[2]).toBeGreaterThanOrEqual(180);
    expect(gaps[3]).toBeGreaterThanOrEqual(360);
    expect(gaps[5]).toBeLessThan(800);
    const stats = h.stats().outbox['out-sure']!;
    expect(stats.failures).toBeGreaterThanOrEqual(6);
    const failing = (await fx.store.get(ids[0]!))!.plugins['out-sure'] as { status: string };
    expect(failing.status).toBe('error');
    down('out-sure', false);
    await until('all delivered', () => lines('out-sure', 'delivered.log').length >= 5, 10_000);
    expect(lines('out-sure', 'delivered.log')).toEqual(ids);
    await until('outbox empty', () => h.stats().outbox['out-sure']?.queued === 0);
    expect(h.stats().outbox['out-sure']).toMatchObject({ queued: 0, delivered: 5, dropped: 0 });
    expect(((await fx.store.get(ids[0]!))!.plugins['out-sure'] as { status: string }).status).toBe(
      'ok',
    );
    // The plugin stays enabled and new reports go straight through.
    const late = await fx.attack('late');
    h.submit(late);
    await until('late delivered', () => lines('out-sure', 'delivered.log').includes(late.id));
    expect(lines('out-sure', 'delivered.log')).toEqual([...ids, late.id]);
  });

  it('at-least-once: what is queued survives a restart and is delivered after it, in order', async () => {
    atLeastOnce('out-sure');
    const retry = { initialMs: 50, maxMs: 100, maxQueued: 1000 };
    let h = await fx.startHost({ failureLimit: 1000, retry });
    down('out-sure', true);
    const ids = await submitMany(h, 'r', 4);
    await h.pipeline.drained();
    expect(h.stats().outbox['out-sure']?.queued).toBe(4);
    h = await fx.restart({ failureLimit: 1000, retry });
    expect(h.stats().outbox['out-sure']).toMatchObject({ queued: 4, delivered: 0 });
    // New reports queue behind the replayed ones.
    const more = await fx.attack('after restart');
    h.submit(more);
    await h.pipeline.drained();
    expect(h.stats().outbox['out-sure']?.queued).toBe(5);
    down('out-sure', false);
    await until('all delivered', () => lines('out-sure', 'delivered.log').length >= 5, 10_000);
    expect(lines('out-sure', 'delivered.log')).toEqual([...ids, more.id]);
  });

  it('at-least-once: keeps at most maxQueued, dropping the oldest and counting them', async () => {
    atLeastOnce('out-sure');
    const h = await fx.startHost({
      failureLimit: 1000,
      retry: { initialMs: 5000, maxMs: 5000, maxQueued: 3 },
    });
    down('out-sure', true);
    const ids = await submitMany(h, 'm', 6, () => h.pipeline.drained());
    expect(h.stats().outbox['out-sure']).toMatchObject({ queued: 3, dropped: 3 });
    down('out-sure', false);
    // The retry waits 5 s: a restart replays now (and proves the store kept exactly 3).
    const h2 = await fx.restart({
      failureLimit: 1000,
      retry: { initialMs: 50, maxMs: 50, maxQueued: 3 },
    });
    await until('delivered', () => lines('out-sure', 'delivered.log').length >= 3, 10_000);
    expect(lines('out-sure', 'delivered.log')).toEqual(ids.slice(3));
    await until('outbox empty', () => h2.stats().outbox['out-sure']?.queued === 0);
    expect(h2.stats().outbox['out-sure']).toMatchObject({ queued: 0, delivered: 3 });
  });

  it('at-least-once: the queue is kept while the plugin is disabled and delivered once it is enabled', async () => {
    atLeastOnce('out-sure');
    // A plugin failing (not "unavailable") is disabled after failureLimit failures.
    const h = await fx.startHost({
      failureLimit: 2,
      retry: { initialMs: 20, maxMs: 40, maxQueued: 1000 },
    });
    down('out-sure', true);
    const ids = await submitMany(h, 'd', 3);
    await until('disabled', () => h.list().find((p) => p.name === 'out-sure')?.state === 'failed');
    const attempts = lines('out-sure', 'attempts.log').length;
    await new Promise((r) => setTimeout(r, 300));
    // No retries while disabled; the queue stays.
    expect(lines('out-sure', 'attempts.log').length).toBe(attempts);
    expect(h.stats().outbox['out-sure']?.queued).toBe(3);
    // Reports of new attacks queue behind them while the plugin is disabled.
    const more = await submitMany(h, 'e', 2, () => h.pipeline.drained());
    expect(h.stats().outbox['out-sure']?.queued).toBe(5);
    down('out-sure', false);
    expect((await h.registry.enable('out-sure'))?.state).toBe('ready');
    await until('delivered', () => lines('out-sure', 'delivered.log').length >= 5, 10_000);
    expect(lines('out-sure', 'delivered.log')).toEqual([...ids, ...more]);
    // One the operator disables gets no new reports.
    await h.registry.disable('out-sure', 'disabled by the operator', true);
    await submitMany(h, 'f', 1, () => h.pipeline.drained());
    expect(h.stats().outbox['out-sure']?.queued).toBe(0);
  });
});
