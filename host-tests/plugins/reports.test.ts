// Output plugins in a real daemon: two small plugins written by this test, one
// appending every report to a file through ctx.files (at-most-once), one
// writing every report to a real PostgreSQL through ctx.db (at-least-once).
// Attacks come in over real sockets (ncat). PostgreSQL is stopped: reports
// queue in the store's outbox (seen in /status and `honeytrap status`), the
// plugin stays enabled; the daemon restarts with them queued; PostgreSQL
// comes back: every attack arrives, in order, once. Also the database service
// itself against the real server (query, transaction, rollback, SQL errors,
// the server down) and the load refusals an operator sees.
import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { PluginDatabase } from '../../core/src/plugins/services/database.js';
import type { DbCall } from '../../core/src/plugins/engine.js';
import { writeWorkerPlugin } from '../../core/test/plugins/host-fixtures.js';
import { attackFixture, loadPlugin } from '../../sdk/src/index.js';
import { honeytrap } from '../lib/cli.js';
import { waitUntil } from '../lib/clients.js';
import {
  HoneytrapDaemon,
  cleanup,
  makeTempDir,
  testConfig,
  type DaemonStats,
} from '../lib/daemon.js';
import { LOOPBACK, freePort } from '../lib/ports.js';
import { removeAllPostgres, startPostgres, type Postgres } from '../lib/postgres.js';

/** ctx.files: one JSON line per report. */
const FILE_OUTPUT = `export default { async analyze(input, ctx) {
  await ctx.files.append('reports/all.jsonl', JSON.stringify({
    id: input.attack.id,
    port: input.attack.local.port,
    received: input.attack.received.data,
    records: Object.keys(input.records).sort(),
  }) + '\\n', { rotate: { maxBytes: 1000000, keep: 2 } });
} };`;

/** ctx.db: one row per report, in one transaction with the table's creation. */
const PG_OUTPUT = `export default { async analyze(input, ctx) {
  await ctx.db.transaction([
    { sql: 'CREATE TABLE IF NOT EXISTS reports (n serial PRIMARY KEY, attack_id text NOT NULL, received text NOT NULL)' },
    { sql: 'INSERT INTO reports (attack_id, received) VALUES ($1, $2)', params: [input.attack.id, Buffer.from(input.attack.received.data, 'base64').toString('latin1')] },
  ]);
} };`;

interface PluginView {
  name: string;
  state: string;
  reason?: string;
  counters: { consecutiveFailures: number };
  outbox?: Outbox;
}

interface Outbox {
  queued: number;
  delivered: number;
  failures: number;
  dropped: number;
}

type Stats = DaemonStats & {
  plugins: { reports: number; outbox: Record<string, Outbox> };
};

let pg: Postgres;
let root = '';
let pluginsDir = '';
let filesRoot = '';
let port = 0;

function writePlugin(name: string, code: string, manifest: Record<string, unknown>): void {
  writeWorkerPlugin(join(pluginsDir, name), name, code, {
    hostApi: '^1.1.0',
    limits: { timeoutMs: 8000, memoryMb: 64, concurrency: 2 },
    ...manifest,
  });
}

function start(dir?: string): Promise<HoneytrapDaemon<Stats>> {
  return HoneytrapDaemon.start<Stats>(
    (d) => ({
      ...testConfig(d, { ports: [{ port }] }),
      plugins: {
        dirs: [pluginsDir],
        builtin: false,
        files: { root: filesRoot },
        databases: { 'test-pg': { url: pg.url, poolSize: 2 } },
        retry: { initialMs: 100, maxMs: 400 },
      },
    }),
    { ...(dir ? { dir } : {}), readyLines: ['honeytrap ready'] },
  );
}

/** One attack over a real socket: ncat sends `text` and closes. */
async function ncat(text: string): Promise<void> {
  const child = execFile('ncat', ['--send-only', '-w', '3', LOOPBACK, String(port)]);
  child.stdin?.end(text);
  await new Promise<void>((resolve, reject) =>
    child.once('exit', (code) =>
      code === 0 ? resolve() : reject(new Error(`ncat exited with ${code}`)),
    ),
  );
}

async function plugins(d: HoneytrapDaemon): Promise<PluginView[]> {
  return (await d.control('/plugins')).body as PluginView[];
}

async function rows(): Promise<{ n: number; attack_id: string; received: string }[]> {
  return pg.query('SELECT n, attack_id, received FROM reports ORDER BY n');
}

beforeAll(async () => {
  pg = await startPostgres();
  root = await makeTempDir('hts-reports-');
  pluginsDir = join(root, 'plugins');
  filesRoot = join(root, 'files');
  port = await freePort();
  writePlugin('test-log', FILE_OUTPUT, {
    consumes: { reports: { delivery: 'at-most-once' } },
    capabilities: { files: true },
  });
  writePlugin('test-pg', PG_OUTPUT, {
    consumes: { reports: { delivery: 'at-least-once' } },
    capabilities: { database: { engine: 'postgres' } },
  });
}, 60_000);

afterAll(async () => {
  await cleanup();
  await removeAllPostgres();
});

describe('output plugins in a daemon', () => {
  test('at-least-once to PostgreSQL across a database outage and a daemon restart; a file output beside it', async () => {
    let daemon = await start();
    const dir = daemon.dir;
    expect((await plugins(daemon)).map((p) => [p.name, p.state])).toEqual([
      ['test-log', 'ready'],
      ['test-pg', 'ready'],
    ]);
    const sent = ['first\n'];
    await ncat(sent[0]!);
    await waitUntil(
      async () =>
        (await pg.query('SELECT to_regclass($1) AS t', ['reports']))[0]?.t !== null &&
        (await rows()).length === 1,
      15_000,
      'the first report in PostgreSQL',
    );

    await pg.stop();
    for (const text of ['second\n', 'third\n', 'fourth\n']) {
      sent.push(text);
      await ncat(text);
    }
    await daemon.waitForAttacks(4);
    await waitUntil(
      async () => (await daemon.status()).plugins.outbox['test-pg']?.queued === 3,
      15_000,
      'three reports queued for test-pg',
    );
    const queued = await daemon.status();
    expect(queued.plugins.outbox['test-pg']).toMatchObject({ queued: 3, delivered: 1, dropped: 0 });
    expect(queued.plugins.outbox['test-pg']!.failures).toBeGreaterThanOrEqual(1);
    // The operator's view: `honeytrap status` names the queue.
    const status = await honeytrap(['status', '--data-dir', daemon.storeDir]);
    expect(status.stdout).toMatch(/outbox test-pg: 3 queued, 1 delivered/);
    // The failure is recorded with the attack; the database being down does not disable the plugin.
    const attacks = await daemon.attacks();
    const second = attacks.find(
      (a) => Buffer.from(a.received.data, 'base64').toString() === 'second\n',
    )!;
    const rec = second.plugins['test-pg'] as {
      status: string;
      error?: { code: string; message: string };
    };
    expect(rec.status).toBe('error');
    expect(rec.error?.code).toBe('HT_PLUGIN_UNAVAILABLE');
    expect(rec.error?.message).toContain('plugins.databases.test-pg');
    const pgView = (await plugins(daemon)).find((p) => p.name === 'test-pg')!;
    expect(pgView.state).toBe('ready');
    expect(pgView.counters.consecutiveFailures).toBe(0);
    expect(pgView.outbox).toMatchObject({ queued: 3, delivered: 1 });

    // A restart with the reports still queued: replayed from the store.
    await daemon.shutdown();
    daemon = await start(dir);
    await waitUntil(
      async () => (await daemon.status()).plugins.outbox['test-pg']?.queued === 3,
      10_000,
      'the outbox read back after the restart',
    );
    await pg.start();
    await waitUntil(async () => (await rows()).length >= 4, 20_000, 'every report in PostgreSQL');
    await waitUntil(
      async () => (await daemon.status()).plugins.outbox['test-pg']?.queued === 0,
      10_000,
      'an empty outbox',
    );
    // Every attack once, in the order they came.
    const ids = new Map(
      (await daemon.attacks()).map((a) => [
        a.id,
        Buffer.from(a.received.data, 'base64').toString(),
      ]),
    );
    const got = await rows();
    expect(got.map((r) => r.received)).toEqual(sent);
    expect(got.map((r) => ids.get(r.attack_id))).toEqual(sent);
    expect((await daemon.status()).plugins.outbox['test-pg']).toMatchObject({
      queued: 0,
      delivered: 3,
    });

    // The file output got each attack once (at-most-once, not affected by the database).
    const lines = (await readFile(join(filesRoot, 'test-log', 'reports', 'all.jsonl'), 'utf8'))
      .trim()
      .split('\n')
      .map(
        (l) => JSON.parse(l) as { id: string; port: number; received: string; records: string[] },
      );
    expect(lines.map((l) => Buffer.from(l.received, 'base64').toString()).sort()).toEqual(
      [...sent].sort(),
    );
    expect(new Set(lines.map((l) => l.id)).size).toBe(4);
    expect(lines.every((l) => l.port === port)).toBe(true);
    expect(daemon.errorLogs()).toEqual([]);
    await daemon.shutdown();
  }, 120_000);

  test('refuses to load a database plugin without plugins.databases.<name>, naming the setting', async () => {
    const other = await freePort();
    const d = await HoneytrapDaemon.start((dir) => ({
      ...testConfig(dir, { ports: [{ port: other }] }),
      plugins: { dirs: [pluginsDir], builtin: false, files: { root: filesRoot } },
    }));
    const view = (await plugins(d)).find((p) => p.name === 'test-pg')!;
    expect(view.state).toBe('failed');
    expect(view.reason).toContain('set plugins.databases.test-pg.url');
    expect((await plugins(d)).find((p) => p.name === 'test-log')?.state).toBe('ready');
    await d.shutdown();
  }, 60_000);

  test('refuses to load a files plugin whose folder cannot be made, naming the folder', async () => {
    const blocker = join(root, 'not-a-folder');
    await writeFile(blocker, '');
    const other = await freePort();
    const d = await HoneytrapDaemon.start((dir) => ({
      ...testConfig(dir, { ports: [{ port: other }] }),
      plugins: {
        dirs: [pluginsDir],
        builtin: false,
        files: { root: filesRoot, dirs: { 'test-log': join(blocker, 'logs') } },
        databases: { 'test-pg': { url: pg.url } },
      },
    }));
    const view = (await plugins(d)).find((p) => p.name === 'test-log')!;
    expect(view.state).toBe('failed');
    expect(view.reason).toContain(`its files folder ${join(blocker, 'logs')}`);
    await d.shutdown();
  }, 60_000);
});

describe('ctx.db service against PostgreSQL', () => {
  test('query, transaction, rollback, SQL errors, the server down and back', async () => {
    if (!pg.running) await pg.start();
    await pg.query('CREATE TABLE IF NOT EXISTS kv (k text PRIMARY KEY, v int)');
    const db = new PluginDatabase('test-pg', { url: pg.url, poolSize: 2 });
    try {
      expect(await db.call({ op: 'query', sql: 'SELECT $1::int + 1 AS x', params: [41] })).toEqual({
        rows: [{ x: 42 }],
        rowCount: 1,
      });
      const tx = await db.call({
        op: 'transaction',
        statements: [
          { sql: 'INSERT INTO kv VALUES ($1, $2)', params: ['a', 1] },
          { sql: 'UPDATE kv SET v = v + 1 WHERE k = $1 RETURNING v', params: ['a'] },
        ],
      });
      expect(tx).toEqual([
        { rows: [], rowCount: 1 },
        { rows: [{ v: 2 }], rowCount: 1 },
      ]);
      // The second statement fails: nothing of the transaction stays.
      const err = (await db
        .call({
          op: 'transaction',
          statements: [
            { sql: 'INSERT INTO kv VALUES ($1, $2)', params: ['b', 1] },
            { sql: 'INSERT INTO kv VALUES ($1, $2)', params: ['a', 9] },
          ],
        })
        .catch((e: unknown) => e)) as Error & { code: string };
      expect(err.code).toBe('HT_PLUGIN_THREW');
      expect(err.message).toMatch(/duplicate key.*SQLSTATE 23505/);
      expect(await pg.query('SELECT k, v FROM kv ORDER BY k')).toEqual([{ k: 'a', v: 2 }]);
      const bad = (await db
        .call({ op: 'query', sql: 'SELEC 1' })
        .catch((e: unknown) => e)) as Error & { code: string };
      expect(bad.code).toBe('HT_PLUGIN_THREW');
      expect(bad.message).toContain('SQLSTATE 42601');

      await pg.stop();
      const calls: DbCall[] = [
        { op: 'query', sql: 'SELECT 1' },
        { op: 'transaction', statements: [{ sql: 'SELECT 1' }] },
      ];
      for (const c of calls) {
        const down = (await db.call(c).catch((e: unknown) => e)) as Error & { code: string };
        expect(down.code).toBe('HT_PLUGIN_UNAVAILABLE');
        expect(down.message).toContain('plugins.databases.test-pg');
      }
      await pg.start();
      expect(await db.call({ op: 'query', sql: 'SELECT 1 AS one' })).toEqual({
        rows: [{ one: 1 }],
        rowCount: 1,
      });
    } finally {
      await db.close();
    }
    const closed = (await db
      .call({ op: 'query', sql: 'SELECT 1' })
      .catch((e: unknown) => e)) as Error & { code: string };
    expect(closed.code).toBe('HT_PLUGIN_UNAVAILABLE');
    // The pool really let go of its connections.
    await waitUntil(
      async () =>
        Number(
          (
            await pg.query<{ n: string }>(
              'SELECT count(*) AS n FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()',
              [pg.database],
            )
          )[0]!.n,
        ) === 0,
      5000,
      'no connection left open by the closed pool',
    );
  }, 60_000);
});

describe('the SDK harness with a database', () => {
  test('runReport drives the at-least-once plugin into the real PostgreSQL; the database down is HT_PLUGIN_UNAVAILABLE', async () => {
    if (!pg.running) await pg.start();
    const p = await loadPlugin(join(pluginsDir, 'test-pg'), { database: { url: pg.url } });
    try {
      const a = attackFixture({ received: 'from the harness' });
      await p.runReport(a);
      expect(await pg.query('SELECT received FROM reports WHERE attack_id = $1', [a.id])).toEqual([
        { received: 'from the harness' },
      ]);
      await pg.stop();
      const err = (await p
        .runReport(attackFixture({ received: 'x' }))
        .catch((e: unknown) => e)) as Error & { code: string };
      expect(err.code).toBe('HT_PLUGIN_UNAVAILABLE');
      expect(err.message).toContain('plugins.databases.test-pg');
    } finally {
      await p.close();
      if (!pg.running) await pg.start();
    }
  }, 60_000);
});

describe('ctx.db rows across the process boundary', () => {
  test('dates, int8, bytea and NULL reach the plugin as pg gives them', async () => {
    if (!pg.running) await pg.start();
    writePlugin(
      'test-types',
      `export default { async analyze(input, ctx) {
        const { rows, rowCount } = await ctx.db.query(
          "SELECT now() AS t, 9007199254740993::int8 AS big, '\\\\x0102ff'::bytea AS b, NULL AS n, $1::text AS s", ['é']);
        const r = rows[0];
        return { findings: [{ type: 'note', value: JSON.stringify({
          rowCount, date: r.t instanceof Date, big: r.big, bytes: Array.from(r.b), n: r.n, s: r.s,
        }) }] };
      } };`,
      {
        consumes: { reports: { delivery: 'at-most-once' } },
        capabilities: { database: { engine: 'postgres' } },
      },
    );
    const p = await loadPlugin(join(pluginsDir, 'test-types'), { database: { url: pg.url } });
    try {
      const out = await p.runReport(attackFixture({ received: 'x' }));
      expect(JSON.parse(out.findings[0]!.value)).toEqual({
        rowCount: 1,
        date: true,
        big: '9007199254740993',
        bytes: [1, 2, 255],
        n: null,
        s: 'é',
      });
    } finally {
      await p.close();
    }
  }, 60_000);
});
