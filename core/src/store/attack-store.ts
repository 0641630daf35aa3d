// The LevelDB store, owned by the core alone (LevelDB has one writer).
// Layout: sublevel "attacks" (id -> attack; ids are ULIDs so this is also the
// time index), "by-source" (address!id) and "by-port" (proto!port!id).
// Writes are batched; save() resolves only once LevelDB accepted the batch.
// Plugins add "artifacts" (sha256 -> bytes, content-addressed, so each file is
// kept once), "artifact-meta" (sha256 -> what it is and which attacks led to
// it), "results" (attackId!plugin -> that plugin's record, merged into
// attack.plugins on read), "plugin-state" (name -> operator's
// enable/disable, kept across restarts) and "outbox" (plugin!seq -> OutboxEntry:
// reports of at-least-once output plugins not yet delivered, seq a 16-digit
// counter per plugin, so keys sort in the order the reports were queued).
import { createHash } from 'node:crypto';
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

export interface ArtifactMeta {
  sha256: string;
  size: number;
  contentType: string;
  name?: string;
  firstSeen: string;
  /** The plugin that first wrote it. */
  producer: string;
  /** Attacks that led to it (the first MAX_ARTIFACT_ATTACKS). */
  attacks: string[];
}

/** Attack ids kept per artifact. */
export const MAX_ARTIFACT_ATTACKS = 100;

/** A report waiting for an at-least-once output plugin. */
export interface OutboxEntry {
  /** Its store key (plugin!seq), as read back. */
  key?: string;
  attack: string;
  /** When it was queued (ms since epoch). */
  queuedAt: number;
  /** Failed deliveries so far. */
  attempts: number;
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
  private readonly artifacts;
  private readonly artifactMeta: Sub;
  private readonly pluginState: Sub;
  private readonly results: Sub;
  private readonly outbox: Sub;
  // Read-modify-write updates (artifact meta) run one after
  // another, so two plugins finishing together never lose each other's write.
  private chain: Promise<unknown> = Promise.resolve();
  private pending: Pending[] = [];
  private timer: NodeJS.Timeout | undefined;
  private writing: Promise<void> | undefined;
  /** Attacks accepted by LevelDB since open. */
  stored = 0;

  private constructor(
    private readonly db: Level<string, string>,
    private readonly opts: StoreOptions,
    /** The store folder (the daemon's data dir). */
    readonly path: string,
  ) {
    this.attacks = sublevel(db, 'attacks');
    this.bySource = sublevel(db, 'by-source');
    this.byPort = sublevel(db, 'by-port');
    this.artifacts = db.sublevel<string, Buffer>('artifacts', { valueEncoding: 'buffer' });
    this.artifactMeta = sublevel(db, 'artifact-meta');
    this.pluginState = sublevel(db, 'plugin-state');
    this.results = sublevel(db, 'results');
    this.outbox = sublevel(db, 'outbox');
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
    return new AttackStore(db, opts, path);
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
      this.writeFailures = 0;
      for (const p of batch) p.resolve();
    } catch (cause) {
      // Nothing is dropped: the batch goes back to the head of the queue and
      // is retried with backoff (a full disk may be cleared by the operator).
      this.writeFailures++;
      this.pending.unshift(...batch);
      this.onWriteError?.(
        new HoneytrapError('HT_STORE_WRITE', `store write failed: ${String(cause)}`, { cause }),
        this.writeFailures,
      );
      await new Promise((r) =>
        setTimeout(r, Math.min(5000, 25 * 2 ** Math.min(this.writeFailures, 8))),
      );
    }
  }

  /** Called on each failed batch write (it will be retried). */
  onWriteError: ((err: HoneytrapError, attempt: number) => void) | undefined;
  private writeFailures = 0;

  /** Writes what is queued; gives up (leaving it queued) after `ms`. Returns whether all was written. */
  async flushWithin(ms: number): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<false>((r) => (timer = setTimeout(() => r(false), ms)));
    const done = await Promise.race([this.flush().then(() => true as const), timeout]);
    clearTimeout(timer);
    return done;
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
    return json === undefined ? undefined : this.withResults(JSON.parse(json) as Attack);
  }

  /** The attack as stored plus the plugin results kept beside it. */
  private async withResults(a: Attack): Promise<Attack> {
    const entries = await this.results.iterator({ gte: a.id + SEP, lt: a.id + HIGH }).all();
    for (const [key, json] of entries)
      a.plugins[key.slice(a.id.length + 1)] = JSON.parse(json) as unknown;
    return a;
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
        // concat, not push(...): spreading 100k+ ids overflows the stack.
        ids = ids.concat(await this.indexIds(this.byPort, prefix + since, prefix + HIGH, limit));
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
        out.push(await this.withResults(a));
        if (out.length >= limit) break;
      }
    }
    return out;
  }

  private async indexIds(sub: Sub, gte: string, lt: string, limit: number): Promise<string[]> {
    const keys = await sub.keys({ gte, lt, reverse: true, limit }).all();
    return keys.map(idOf);
  }

  /** Stores bytes once by SHA-256 and records which attack led to them. */
  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.chain.then(fn);
    this.chain = next.catch(() => undefined);
    return next;
  }

  putArtifact(
    data: Buffer,
    meta: { contentType: string; name?: string; attack: string; producer: string },
  ): Promise<ArtifactMeta & { created: boolean }> {
    return this.serial(() => this.writeArtifact(data, meta));
  }

  private async writeArtifact(
    data: Buffer,
    meta: { contentType: string; name?: string; attack: string; producer: string },
  ): Promise<ArtifactMeta & { created: boolean }> {
    const sha256 = createHash('sha256').update(data).digest('hex');
    const old = await this.artifactMeta.get(sha256);
    const m: ArtifactMeta = old
      ? (JSON.parse(old) as ArtifactMeta)
      : {
          sha256,
          size: data.length,
          contentType: meta.contentType,
          firstSeen: new Date().toISOString(),
          producer: meta.producer,
          attacks: [],
          ...(meta.name ? { name: meta.name } : {}),
        };
    if (m.attacks.length < MAX_ARTIFACT_ATTACKS && !m.attacks.includes(meta.attack))
      m.attacks.push(meta.attack);
    // Bytes first, then the meta that points at them: a crash between the two
    // leaves unreferenced bytes, never a meta without its file.
    if (!old) await this.artifacts.put(sha256, data);
    await this.artifactMeta.put(sha256, JSON.stringify(m));
    return { ...m, created: !old };
  }

  async getArtifact(sha256: string): Promise<{ meta: ArtifactMeta; data: Buffer } | undefined> {
    const [meta, data] = await Promise.all([
      this.artifactMeta.get(sha256),
      this.artifacts.get(sha256),
    ]);
    return meta && data ? { meta: JSON.parse(meta) as ArtifactMeta, data } : undefined;
  }

  /**
   * Stores plugin results beside the attack (sublevel "results", id!key), so
   * a result costs one small write instead of rewriting the whole attack.
   */
  async setPluginResults(id: string, results: Attack['plugins']): Promise<void> {
    const ops = Object.entries(results).map(([key, r]) => ({
      type: 'put' as const,
      key: `${id}${SEP}${key}`,
      value: JSON.stringify(r),
    }));
    if (ops.length) await this.results.batch(ops);
  }

  async getPluginState(name: string): Promise<{ disabled: boolean } | undefined> {
    const v = await this.pluginState.get(name);
    return v === undefined ? undefined : (JSON.parse(v) as { disabled: boolean });
  }

  async setPluginState(name: string, state: { disabled: boolean }): Promise<void> {
    await this.pluginState.put(name, JSON.stringify(state));
  }

  // ---- outbox (at-least-once reports), keys plugin!seq: in the order queued ----
  // Readers pass the last key they consumed (`after`): deleted keys stay in
  // LevelDB as tombstones until a compaction, and seeking past them instead
  // of scanning them keeps each read from growing with what was delivered
  // (2000 queued reports through a file output: 632/s seeking, 563/s scanning).

  static outboxKey(plugin: string, seq: number): string {
    return `${plugin}${SEP}${String(seq).padStart(16, '0')}`;
  }

  async outboxPut(key: string, entry: OutboxEntry): Promise<void> {
    // The key is the entry's place, not part of its value.
    await this.outbox.put(
      key,
      JSON.stringify({ attack: entry.attack, queuedAt: entry.queuedAt, attempts: entry.attempts }),
    );
  }

  async outboxDelete(key: string): Promise<void> {
    await this.outbox.del(key);
  }

  async outboxHas(key: string): Promise<boolean> {
    return (await this.outbox.get(key)) !== undefined;
  }

  /** The oldest `limit` entries queued for `plugin` after key `after` (all when absent). */
  async outboxOldest(plugin: string, limit = 1, after?: string): Promise<OutboxEntry[]> {
    const range = after ? { gt: after } : { gte: plugin + SEP };
    const entries = await this.outbox.iterator({ ...range, lt: plugin + HIGH, limit }).all();
    return entries.map(([key, v]) => ({ ...(JSON.parse(v) as OutboxEntry), key }));
  }

  /** The highest seq used for `plugin` (-1 when none is queued). */
  async outboxLastSeq(plugin: string): Promise<number> {
    const [key] = await this.outbox
      .keys({ gte: plugin + SEP, lt: plugin + HIGH, reverse: true, limit: 1 })
      .all();
    return key === undefined ? -1 : Number(key.slice(plugin.length + 1));
  }

  /** Entries queued per plugin (read once at start; the pipeline keeps the counts after). */
  async outboxCounts(): Promise<Record<string, number>> {
    const counts: Record<string, number> = {};
    for await (const key of this.outbox.keys()) {
      const plugin = key.slice(0, key.indexOf(SEP));
      counts[plugin] = (counts[plugin] ?? 0) + 1;
    }
    return counts;
  }

  async close(): Promise<void> {
    await this.chain;
    await this.flush();
    await this.db.close();
  }
}
