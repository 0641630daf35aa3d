// At-least-once delivery of reports to output plugins. A report is written to
// the store's outbox (plugin!seq) before its task runs and deleted once
// the plugin took it; a failed delivery is retried with exponential backoff
// (plugins.retry), oldest first, one at a time per plugin, so a report never
// overtakes an older one. The outbox survives restarts (replayed at start) and
// is kept while the plugin is disabled; beyond plugins.retry.maxQueued the
// oldest reports are dropped, counted and logged.
import type { ResolvedConfig } from '../generated/config-resolved.js';
import type { Logger } from '../log.js';
import { AttackStore } from '../store/attack-store.js';
import type { PluginEntry, PluginRegistry } from './registry.js';

/** What one delivery came to: taken, failed (retry later), or the attack is gone from the store. */
export type Delivery = 'ok' | 'failed' | 'gone';

export interface OutboxStats {
  /** Reports waiting, now. */
  queued: number;
  /** Delivered since start. */
  delivered: number;
  /** Failed deliveries since start (each is retried). */
  failures: number;
  /** Dropped since start because more than plugins.retry.maxQueued were waiting. */
  dropped: number;
  /** When the next retry is due (ISO time), while one is scheduled. */
  retryAt?: string;
}

interface Queue extends OutboxStats {
  /** Consecutive failures, for the backoff. */
  attempt: number;
  timer: NodeJS.Timeout | undefined;
  draining: Promise<void> | undefined;
  /** Store updates of this queue, one after another (counts stay exact). */
  lock: Promise<unknown>;
  /** The next seq to queue under (read from the store the first time). */
  seq: number | undefined;
  /** The last key delivered or dropped: everything up to it is gone from the store. */
  cursor: string | undefined;
}

/** How often plugins with queued reports are looked at (one that became ready again). */
const SWEEP_MS = 1000;

export class ReportOutbox {
  private readonly queues = new Map<string, Queue>();
  private sweeper: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(
    private readonly store: AttackStore,
    private readonly registry: PluginRegistry,
    private readonly retry: ResolvedConfig['plugins']['retry'],
    private readonly log: Logger,
    private readonly deliver: (p: PluginEntry, attackId: string) => Promise<Delivery>,
  ) {}

  private queue(plugin: string): Queue {
    let q = this.queues.get(plugin);
    if (!q) {
      q = {
        queued: 0,
        delivered: 0,
        failures: 0,
        dropped: 0,
        attempt: 0,
        timer: undefined,
        draining: undefined,
        lock: Promise.resolve(),
        seq: undefined,
        cursor: undefined,
      };
      this.queues.set(plugin, q);
    }
    return q;
  }

  private locked<T>(q: Queue, fn: () => Promise<T>): Promise<T> {
    const next = q.lock.then(fn);
    q.lock = next.catch(() => undefined);
    return next;
  }

  /** Reads what earlier runs left queued and starts delivering it. */
  async start(): Promise<void> {
    const counts = await this.store.outboxCounts();
    for (const [plugin, n] of Object.entries(counts)) {
      this.queue(plugin).queued = n;
      this.log.info({ plugin, queued: n }, `outbox: ${n} reports queued for ${plugin}`);
    }
    this.sweeper = setInterval(() => this.sweep(), SWEEP_MS);
    this.sweeper.unref();
    this.sweep();
  }

  /** Queues the report of `attackId` for `plugin` (written before anything runs). */
  async enqueue(plugin: string, attackId: string): Promise<void> {
    if (this.stopped) return;
    const q = this.queue(plugin);
    await this.locked(q, async () => {
      q.seq ??= (await this.store.outboxLastSeq(plugin)) + 1;
      const key = AttackStore.outboxKey(plugin, q.seq++);
      await this.store.outboxPut(key, { attack: attackId, queuedAt: Date.now(), attempts: 0 });
      q.queued++;
      const over = q.queued - this.retry.maxQueued;
      if (over > 0) {
        const oldest = await this.store.outboxOldest(plugin, over, q.cursor);
        for (const e of oldest) await this.store.outboxDelete(e.key!);
        if (oldest.length) q.cursor = oldest.at(-1)!.key;
        q.queued -= oldest.length;
        q.dropped += oldest.length;
        this.log.warn(
          { plugin, dropped: q.dropped, maxQueued: this.retry.maxQueued },
          `outbox of ${plugin} is full (plugins.retry.maxQueued ${this.retry.maxQueued}): dropped its ${oldest.length} oldest report(s)`,
        );
      }
    });
    this.kick(plugin);
  }

  /** Starts delivering for `plugin` unless it is already, or waiting for its backoff. */
  kick(plugin: string): void {
    const q = this.queues.get(plugin);
    if (!q || this.stopped || q.draining || q.timer || q.queued === 0) return;
    const p = this.registry.find(plugin);
    if (p?.state !== 'ready') return;
    q.draining = this.drain(plugin, q)
      .catch((err: unknown) =>
        this.log.error({ plugin, err: String(err) }, `outbox of ${plugin} failed`),
      )
      .finally(() => (q.draining = undefined));
  }

  private sweep(): void {
    for (const plugin of this.queues.keys()) this.kick(plugin);
  }

  private async drain(plugin: string, q: Queue): Promise<void> {
    while (!this.stopped) {
      const [entry] = await this.store.outboxOldest(plugin, 1, q.cursor);
      if (!entry) {
        q.attempt = 0;
        return;
      }
      const key = entry.key!;
      const p = this.registry.find(plugin);
      if (p?.state !== 'ready') return;
      const result = await this.deliver(p, entry.attack);
      if (this.stopped && result === 'failed') return;
      if (result !== 'failed') {
        q.attempt = 0;
        if (result === 'ok') q.delivered++;
        await this.locked(q, async () => {
          // Dropped meanwhile (queue full): already uncounted.
          if (await this.store.outboxHas(key)) {
            await this.store.outboxDelete(key);
            q.queued--;
          }
          if (!q.cursor || key > q.cursor) q.cursor = key;
        });
        continue;
      }
      q.failures++;
      q.attempt++;
      await this.locked(q, async () => {
        if (await this.store.outboxHas(key))
          await this.store.outboxPut(key, { ...entry, attempts: entry.attempts + 1 });
      });
      const delay = Math.min(
        this.retry.maxMs,
        this.retry.initialMs * 2 ** Math.min(q.attempt - 1, 30),
      );
      q.retryAt = new Date(Date.now() + delay).toISOString();
      q.timer = setTimeout(() => {
        q.timer = undefined;
        q.retryAt = undefined;
        this.kick(plugin);
      }, delay);
      q.timer.unref();
      return;
    }
  }

  /** Per plugin: queued now, delivered, failures, dropped, next retry. */
  stats(): Record<string, OutboxStats> {
    const out: Record<string, OutboxStats> = {};
    for (const [plugin, q] of this.queues)
      out[plugin] = {
        queued: q.queued,
        delivered: q.delivered,
        failures: q.failures,
        dropped: q.dropped,
        ...(q.retryAt ? { retryAt: q.retryAt } : {}),
      };
    return out;
  }

  /** Stops retrying and waits for deliveries in flight (what is queued stays in the store). */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.sweeper);
    for (const q of this.queues.values()) {
      clearTimeout(q.timer);
      q.timer = undefined;
    }
    for (const q of this.queues.values()) {
      await q.draining;
      await q.lock;
    }
  }
}
