// The port table: one listener per port/proto, opened on demand, shared by
// every connection to that port. Bounded: at most maxListeners (the least
// recently used is closed to make room), closed after idleTimeoutMs without a
// new connection, and new listeners are rate limited (token bucket) so a port
// scan cannot exhaust file descriptors.
import { HoneytrapError } from '../errors.js';
import type { ResolvedConfig } from '../generated/config-resolved.js';
import type { PortSettings, Proto } from '../config/ports.js';
import type { Listener } from './binder.js';

export type EnsureResult = 'ready' | 'excluded' | 'throttled' | 'failed';

interface Entry {
  listener?: Listener;
  /** Set while binding: later packets to the same port wait on it. */
  binding?: Promise<EnsureResult>;
  lastUsed: number;
  port: number;
  proto: Proto;
}

export interface PortTableStats {
  listeners: number;
  opened: number;
  evicted: number;
  idleClosed: number;
  throttled: number;
  failed: number;
  excluded: number;
}

export type BindFn = (settings: PortSettings) => Promise<Listener | HoneytrapError>;

export class PortTable {
  // Map order is recency order: a hit re-inserts the key at the end.
  private readonly entries = new Map<string, Entry>();
  private tokens: number;
  private lastRefill = performance.now();
  private readonly sweeper: NodeJS.Timeout;
  readonly stats: PortTableStats = {
    listeners: 0,
    opened: 0,
    evicted: 0,
    idleClosed: 0,
    throttled: 0,
    failed: 0,
    excluded: 0,
  };
  lastError: HoneytrapError | undefined;

  constructor(
    private readonly cfg: ResolvedConfig['capture']['portTable'],
    private readonly excluded: ReadonlySet<string>,
    private readonly settingsFor: (port: number, proto: Proto) => PortSettings,
    private readonly bindFn: BindFn,
    /** Called before a listener closes (or a failed one is dropped): the reader thread unmarks the port. */
    private readonly onRelease?: (port: number, proto: Proto) => void,
  ) {
    this.tokens = cfg.burst;
    this.sweeper = setInterval(
      () => this.sweep(),
      Math.max(50, Math.min(1000, cfg.idleTimeoutMs / 4)),
    );
    this.sweeper.unref();
  }

  /** Makes sure a listener serves port/proto. Never rejects. */
  ensure(port: number, proto: Proto): Promise<EnsureResult> | EnsureResult {
    const key = `${port}/${proto}`;
    if (this.excluded.has(key)) {
      this.stats.excluded++;
      return 'excluded';
    }
    const hit = this.entries.get(key);
    if (hit) {
      this.touch(key, hit);
      return hit.binding ?? 'ready';
    }
    if (!this.takeToken()) {
      this.stats.throttled++;
      return 'throttled';
    }
    return this.add(key, port, proto, this.bindFn);
  }

  /**
   * Takes a listener someone else opened (the nfqueue reader thread: a bound
   * socket `adoptFn` wraps). Subject to the cap like any other; never rejects.
   */
  adopt(port: number, proto: Proto, adoptFn: BindFn): Promise<EnsureResult> {
    const key = `${port}/${proto}`;
    const old = this.entries.get(key);
    if (old) {
      // Cannot happen (the thread only opens unmarked ports): keep the port marked, drop the old one.
      this.entries.delete(key);
      if (old.listener) {
        old.listener.close();
        old.listener = undefined;
        this.stats.listeners--;
      }
    }
    return this.add(key, port, proto, adoptFn);
  }

  private add(key: string, port: number, proto: Proto, bindFn: BindFn): Promise<EnsureResult> {
    this.makeRoom();
    const entry: Entry = { lastUsed: Date.now(), port, proto };
    entry.binding = this.open(key, entry, bindFn);
    this.entries.set(key, entry);
    return entry.binding;
  }

  private async open(key: string, entry: Entry, bindFn: BindFn): Promise<EnsureResult> {
    let result: Listener | HoneytrapError;
    try {
      result = await bindFn(this.settingsFor(entry.port, entry.proto));
    } catch (cause) {
      result = new HoneytrapError('HT_PORT_BIND', `port ${key}: ${String(cause)}`, {
        port: key,
        cause,
      });
    }
    entry.binding = undefined;
    if (result instanceof HoneytrapError) {
      const current = this.entries.get(key) === entry;
      if (current) this.entries.delete(key);
      if (current || !this.entries.has(key)) this.onRelease?.(entry.port, entry.proto);
      this.stats.failed++;
      this.lastError = result;
      return 'failed';
    }
    entry.listener = result;
    result.onActivity = () => {
      if (this.entries.get(key) === entry) this.touch(key, entry);
    };
    this.stats.opened++;
    this.stats.listeners++;
    // The entry may have been evicted while binding: then close at once.
    if (this.entries.get(key) !== entry) this.closeEntry(entry);
    return 'ready';
  }

  private touch(key: string, entry: Entry): void {
    entry.lastUsed = Date.now();
    this.entries.delete(key);
    this.entries.set(key, entry);
  }

  private takeToken(): boolean {
    const now = performance.now();
    this.tokens = Math.min(
      this.cfg.burst,
      this.tokens + ((now - this.lastRefill) / 1000) * this.cfg.newPerSecond,
    );
    this.lastRefill = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }

  private makeRoom(): void {
    for (const [key, entry] of this.entries) {
      if (this.entries.size < this.cfg.maxListeners) return;
      if (entry.binding) continue;
      this.entries.delete(key);
      this.closeEntry(entry);
      this.stats.evicted++;
    }
  }

  private sweep(): void {
    const cutoff = Date.now() - this.cfg.idleTimeoutMs;
    for (const [key, entry] of this.entries) {
      if (entry.lastUsed > cutoff) break; // recency order: the rest are newer
      if (entry.binding) continue;
      this.entries.delete(key);
      this.closeEntry(entry);
      this.stats.idleClosed++;
    }
  }

  private closeEntry(entry: Entry): void {
    if (!entry.listener) return;
    this.onRelease?.(entry.port, entry.proto);
    entry.listener.close();
    entry.listener = undefined;
    this.stats.listeners--;
  }

  get size(): number {
    return this.entries.size;
  }

  close(): void {
    clearInterval(this.sweeper);
    for (const entry of this.entries.values()) this.closeEntry(entry);
    this.entries.clear();
  }
}
