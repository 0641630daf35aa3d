// The LevelDB store, owned by the core alone (LevelDB has one writer).
// Layout: sublevel "attacks" (id -> attack; ids are ULIDs so this is also the
// time index), "by-source" (address!id) and "by-port" (proto!port!id).
// Writes are batched; save() resolves only once LevelDB accepted the batch.
import { Level } from 'level';
import { HoneytrapError } from '../errors.js';
import type { Attack } from '../generated/attack.js';
import { normalizeAddress } from '../attack/address.js';
import { idLowerBound } from '../attack/id.js';
import { HIGH, SEP, idOf, portKey, portPrefix, sourceKey } from './keys.js';

export interface ListFilter {
  /** Only sessions that started at or after this time (ms since epoch). */
  sinceMs?: number;
  port?: number;
  proto?: 'tcp' | 'udp';
  source?: string;
  /** Newest first, at most this many. */
  limit?: number;
}

export interface StoreOptions {
  batchSize: number;
  flushIntervalMs: number;
}

interface Pending {
  attack: Attack;
  resolve: () => void;
  reject: (err: unknown) => void;
}

const sublevel = (db: Level<string, string>, name: string) => db.sublevel<string, string>(name, {});
type Sub = ReturnType<typeof sublevel>;

export class AttackStore {
  private readonly attacks: Sub;
  private readonly bySource: Sub;
  private readonly byPort: Sub;
  private pending: Pending[] = [];
  private timer: NodeJS.Timeout | undefined;
  private writing: Promise<void> | undefined;
  /** Attacks accepted by LevelDB since open. */
  stored = 0;

  private constructor(
    private readonly db: Level<string, string>,
    private readonly opts: StoreOptions,
  ) {
    this.attacks = sublevel(db, 'attacks');
    this.bySource = sublevel(db, 'by-source');
    this.byPort = sublevel(db, 'by-port');
  }

  static async open(
    path: string,
    opts: StoreOptions = { batchSize: 256, flushIntervalMs: 20 },
  ): Promise<AttackStore> {
    const db = new Level<string, string>(path);
    try {
      await db.open({ createIfMissing: true });
    } catch (cause) {
      const inner = (cause as { cause?: { code?: string } }).cause;
      if (inner?.code === 'LEVEL_LOCKED')
        throw new HoneytrapError(
          'HT_STORE_LOCKED',
          `store ${path} is in use by another process (a running daemon?)`,
          { file: path, cause },
        );
      throw new HoneytrapError(
        'HT_STORE_OPEN',
        `store ${path} cannot be opened: ${String(cause)}`,
        {
          file: path,
          cause,
        },
      );
    }
    return new AttackStore(db, opts);
  }

  /** Queues an attack; resolves once it is in LevelDB. */
  save(attack: Attack): Promise<void> {
    return new Promise((resolve, reject) => {
      this.pending.push({ attack, resolve, reject });
      if (this.pending.length >= this.opts.batchSize) this.kick();
      else this.timer ??= setTimeout(() => this.kick(), this.opts.flushIntervalMs);
    });
  }

  get pendingCount(): number {
    return this.pending.length;
  }

  private kick(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    // One batch at a time; what arrives meanwhile forms the next batch.
    if (this.writing || this.pending.length === 0) return;
    const batch = this.pending.splice(0, this.opts.batchSize);
    this.writing = this.write(batch).finally(() => {
      this.writing = undefined;
      if (this.pending.length) this.kick();
    });
  }

  private async write(batch: Pending[]): Promise<void> {
    const ops = batch.flatMap(({ attack }) => {
      const json = JSON.stringify(attack);
      return [
        { type: 'put' as const, sublevel: this.attacks, key: attack.id, value: json },
        { type: 'put' as const, sublevel: this.bySource, key: sourceKey(attack), value: '' },
        { type: 'put' as const, sublevel: this.byPort, key: portKey(attack), value: '' },
      ];
    });
    try {
      await this.db.batch(ops);
      this.stored += batch.length;
      for (const p of batch) p.resolve();
    } catch (cause) {
      const err = new HoneytrapError('HT_STORE_WRITE', `store write failed: ${String(cause)}`, {
        cause,
      });
      for (const p of batch) p.reject(err);
    }
  }

  /** Writes everything queued so far. */
  async flush(): Promise<void> {
    while (this.pending.length || this.writing) {
      this.kick();
      await this.writing;
    }
  }

  async get(id: string): Promise<Attack | undefined> {
    const json = await this.attacks.get(id);
    return json === undefined ? undefined : (JSON.parse(json) as Attack);
  }

  async list(filter: ListFilter = {}): Promise<Attack[]> {
    const limit = filter.limit ?? 100;
    const since = filter.sinceMs === undefined ? '' : idLowerBound(filter.sinceMs);
    let ids: string[];
    if (filter.source !== undefined) {
      // Stored addresses are normalized (::ffff:1.2.3.4 -> 1.2.3.4, IPv6 lowercase).
      const prefix = normalizeAddress(filter.source) + SEP;
      ids = await this.indexIds(this.bySource, prefix + since, prefix + HIGH, Infinity);
    } else if (filter.port !== undefined) {
      const protos = filter.proto ? [filter.proto] : (['tcp', 'udp'] as const);
      ids = [];
      for (const proto of protos) {
        const prefix = portPrefix(proto, filter.port);
        ids.push(...(await this.indexIds(this.byPort, prefix + since, prefix + HIGH, limit)));
      }
      ids.sort().reverse();
    } else {
      ids = await this.attacks.keys({ gte: since, reverse: true, limit }).all();
    }
    const out: Attack[] = [];
    // Fetch in slices so a filter that rejects most entries stays bounded in memory.
    for (let i = 0; i < ids.length && out.length < limit; i += 256) {
      const values = await this.attacks.getMany(ids.slice(i, i + 256));
      for (const json of values) {
        if (json === undefined) continue;
        const a = JSON.parse(json) as Attack;
        if (filter.port !== undefined && a.local.port !== filter.port) continue;
        if (filter.proto !== undefined && a.proto !== filter.proto) continue;
        out.push(a);
        if (out.length >= limit) break;
      }
    }
    return out;
  }

  private async indexIds(sub: Sub, gte: string, lt: string, limit: number): Promise<string[]> {
    const keys = await sub.keys({ gte, lt, reverse: true, limit }).all();
    return keys.map(idOf);
  }

  async close(): Promise<void> {
    await this.flush();
    await this.db.close();
  }
}
