// The LevelDB attack store, on a real LevelDB in a temporary folder.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Level } from 'level';
import { ulid } from 'ulid';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { HoneytrapError } from '../src/errors.js';
import type { Attack } from '../src/generated/attack.js';
import { AttackStore, type StoreOptions } from '../src/store/attack-store.js';

const T = Date.parse('2026-03-01T12:00:00.000Z');

let dir: string;
let open: AttackStore[];

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ht-store-'));
  open = [];
});

afterEach(async () => {
  vi.restoreAllMocks();
  for (const s of open) await s.close().catch(() => undefined);
  await rm(dir, { recursive: true, force: true });
});

async function openStore(opts?: StoreOptions, path = join(dir, 'db')): Promise<AttackStore> {
  const store = await AttackStore.open(path, opts);
  open.push(store);
  return store;
}

interface Spec {
  at: number;
  port?: number;
  proto?: 'tcp' | 'udp';
  source?: string;
}

function attack({ at, port = 2323, proto = 'tcp', source = '1.2.3.4' }: Spec): Attack {
  return {
    schemaVersion: 1,
    id: ulid(at),
    sensor: 'test',
    startedAt: new Date(at).toISOString(),
    endedAt: new Date(at + 5).toISOString(),
    proto,
    local: { address: '::1', port },
    remote: { address: source, port: 40000 },
    mode: 'normal',
    endReason: 'closed',
    received: { length: 3, data: Buffer.from(`${port}`).toString('base64'), truncated: false },
    sent: { length: 0, data: '', truncated: false },
    chunks: [{ dir: 'in', atMs: 1, length: 3 }],
    plugins: {},
  };
}

const ids = (list: Attack[]) => list.map((a) => a.id);
const newestFirst = (list: Attack[]) =>
  ids([...list].sort((a, b) => b.startedAt.localeCompare(a.startedAt)));

describe('AttackStore', () => {
  it('resolves save() only once the attack is written, and get() returns it', async () => {
    const store = await openStore({ batchSize: 256, flushIntervalMs: 10_000 });
    const a = attack({ at: T });
    let saved = false;
    const saving = store.save(a).then(() => {
      saved = true;
    });
    await new Promise((r) => setTimeout(r, 50));
    expect(saved).toBe(false);
    expect(store.pendingCount).toBe(1);
    expect(store.stored).toBe(0);
    expect(await store.get(a.id)).toBeUndefined();
    await store.flush();
    await saving;
    expect(saved).toBe(true);
    expect(store.stored).toBe(1);
    expect(await store.get(a.id)).toEqual(a);
  });

  it('writes within the flush interval without being asked', async () => {
    const store = await openStore({ batchSize: 256, flushIntervalMs: 5 });
    const a = attack({ at: T });
    await store.save(a);
    expect(await store.get(a.id)).toEqual(a);
    expect(store.pendingCount).toBe(0);
  });

  it('returns undefined for an unknown id', async () => {
    const store = await openStore();
    expect(await store.get(ulid(T))).toBeUndefined();
  });

  it('writes in batches of at most batchSize', async () => {
    const batch = vi.spyOn(Level.prototype, 'batch');
    const store = await openStore({ batchSize: 10, flushIntervalMs: 20 });
    const all = Array.from({ length: 25 }, (_, i) => attack({ at: T + i }));
    await Promise.all(all.map((a) => store.save(a)));
    expect(store.stored).toBe(25);
    expect(store.pendingCount).toBe(0);
    // Three writes (10, 10, 5), three keys (attack and two indexes) per attack.
    const sizes = batch.mock.calls.map((call) => ((call as unknown[])[0] as unknown[]).length);
    expect(sizes).toEqual([30, 30, 15]);
    for (const a of all) expect(await store.get(a.id)).toEqual(a);
    expect(ids(await store.list())).toEqual(newestFirst(all));
  });

  it('flush() waits for everything pending', async () => {
    const store = await openStore({ batchSize: 4, flushIntervalMs: 10_000 });
    const all = Array.from({ length: 7 }, (_, i) => attack({ at: T + i }));
    const saves = all.map((a) => store.save(a));
    await store.flush();
    expect(store.pendingCount).toBe(0);
    expect(store.stored).toBe(7);
    await Promise.all(saves);
    expect(await store.list()).toHaveLength(7);
    await store.flush(); // nothing pending: returns at once
  });

  describe('list', () => {
    let store: AttackStore;
    let all: Attack[];

    beforeEach(async () => {
      store = await openStore({ batchSize: 64, flushIntervalMs: 1 });
      all = [
        attack({ at: T - 3_600_000, port: 2323, source: '1.2.3.4' }),
        attack({ at: T - 1_800_000, port: 2323, proto: 'udp', source: '1.2.3.40' }),
        attack({ at: T - 60_000, port: 8080, source: '1.2.3.4' }),
        attack({ at: T - 1, port: 2323, source: '2001:db8::1' }),
        attack({ at: T, port: 2323, source: '1.2.3.4' }),
        attack({ at: T + 1, port: 5060, proto: 'udp', source: '1.2.3.40' }),
        attack({ at: T + 60_000, port: 23230, source: '1.2.3.4' }),
        attack({ at: T + 120_000, port: 2323, proto: 'udp', source: '1.2.3.4' }),
      ];
      // Saved out of order: the order of the result comes from the ids.
      await Promise.all([...all].reverse().map((a) => store.save(a)));
    });

    const pick = (...i: number[]) => i.map((n) => all[n]?.id);

    it('gives every attack, newest first', async () => {
      const list = await store.list();
      expect(ids(list)).toEqual(pick(7, 6, 5, 4, 3, 2, 1, 0));
      expect(list[0]).toEqual(all[7]);
    });

    it('gives at most limit', async () => {
      expect(ids(await store.list({ limit: 3 }))).toEqual(pick(7, 6, 5));
      expect(ids(await store.list({ limit: 1, port: 2323 }))).toEqual(pick(7));
      expect(ids(await store.list({ limit: 2, source: '1.2.3.4' }))).toEqual(pick(7, 6));
    });

    it('gives the sessions that started at or after since', async () => {
      expect(ids(await store.list({ sinceMs: T }))).toEqual(pick(7, 6, 5, 4));
      expect(ids(await store.list({ sinceMs: T + 1 }))).toEqual(pick(7, 6, 5));
      expect(ids(await store.list({ sinceMs: T + 200_000 }))).toEqual([]);
      expect(ids(await store.list({ sinceMs: 0 }))).toHaveLength(8);
    });

    it('filters by port, over both protocols unless one is given', async () => {
      expect(ids(await store.list({ port: 2323 }))).toEqual(pick(7, 4, 3, 1, 0));
      expect(ids(await store.list({ port: 2323, proto: 'tcp' }))).toEqual(pick(4, 3, 0));
      expect(ids(await store.list({ port: 2323, proto: 'udp' }))).toEqual(pick(7, 1));
      expect(ids(await store.list({ port: 5060, proto: 'tcp' }))).toEqual([]);
      expect(ids(await store.list({ port: 23230 }))).toEqual(pick(6));
      expect(ids(await store.list({ port: 2323, sinceMs: T - 1 }))).toEqual(pick(7, 4, 3));
    });

    it('filters by source address, exactly', async () => {
      expect(ids(await store.list({ source: '1.2.3.4' }))).toEqual(pick(7, 6, 4, 2, 0));
      expect(ids(await store.list({ source: '1.2.3.40' }))).toEqual(pick(5, 1));
      expect(ids(await store.list({ source: '1.2.3' }))).toEqual([]);
      expect(ids(await store.list({ source: '2001:db8::1' }))).toEqual(pick(3));
      expect(ids(await store.list({ source: '1.2.3.4', sinceMs: T }))).toEqual(pick(7, 6, 4));
    });

    it('normalizes the source it is asked for', async () => {
      expect(ids(await store.list({ source: '::ffff:1.2.3.40' }))).toEqual(pick(5, 1));
      expect(ids(await store.list({ source: '2001:DB8::1' }))).toEqual(pick(3));
    });

    it('combines source and port', async () => {
      expect(ids(await store.list({ source: '1.2.3.4', port: 2323 }))).toEqual(pick(7, 4, 0));
      expect(ids(await store.list({ source: '1.2.3.4', port: 2323, proto: 'tcp' }))).toEqual(
        pick(4, 0),
      );
      expect(ids(await store.list({ source: '1.2.3.40', port: 8080 }))).toEqual([]);
      expect(
        ids(await store.list({ source: '1.2.3.4', port: 2323, sinceMs: T - 60_000, limit: 1 })),
      ).toEqual(pick(7));
    });
  });

  it('keeps the data across close and reopen', async () => {
    const path = join(dir, 'db');
    const first = await openStore({ batchSize: 8, flushIntervalMs: 10_000 }, path);
    const all = Array.from({ length: 12 }, (_, i) =>
      attack({ at: T + i * 1000, port: 2000 + (i % 3) }),
    );
    const saves = all.map((a) => first.save(a));
    await first.close(); // flushes what is pending
    await Promise.all(saves);
    const second = await openStore(undefined, path);
    expect(second.stored).toBe(0);
    expect(ids(await second.list())).toEqual(newestFirst(all));
    expect(await second.get(all[5]?.id ?? '')).toEqual(all[5]);
    expect(await second.list({ port: 2001 })).toHaveLength(4);
  });

  it('refuses to open a store that is already open', async () => {
    const path = join(dir, 'db');
    const first = await openStore(undefined, path);
    const err: unknown = await AttackStore.open(path).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HoneytrapError);
    expect(err).toMatchObject({
      code: 'HT_STORE_LOCKED',
      file: path,
      message: `store ${path} is in use by another process (a running daemon?)`,
    });
    await first.close();
    const again = await openStore(undefined, path);
    expect(await again.list()).toEqual([]);
  });

  it('says why a store cannot be opened', async () => {
    const file = join(dir, 'a-file');
    await writeFile(file, 'not a folder');
    const path = join(file, 'db');
    const err: unknown = await AttackStore.open(path).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HoneytrapError);
    expect(err).toMatchObject({ code: 'HT_STORE_OPEN', file: path });
    expect((err as Error).message).toMatch(`store ${path} cannot be opened: `);
  });
});
