// The broker's abuse limits over all plugins: requests per destination in a
// sliding window (so attack traffic cannot turn the honeypot's downloads
// against a third party) and requests in flight at once.
import { isIPv6 } from 'node:net';

export interface RateSettings {
  /** plugins.network.perDestination. */
  perDestination: { requests: number; perSeconds: number };
  /** plugins.network.maxConcurrent. */
  maxConcurrent: number;
}

/** The key a destination is counted under: an IPv6 address by its /64 (one site), else as is. */
export function destinationKey(address: string): string {
  if (!isIPv6(address) || address.includes('.')) return address;
  const [head = '', tail = ''] = address.split('::');
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = address.includes('::')
    ? [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t]
    : h;
  return `${groups
    .slice(0, 4)
    .map((g) => parseInt(g, 16).toString(16))
    .join(':')}::/64`;
}

/** Why a request may not start now, or a release function for when it is done. */
export type Admission = { ok: true; release: () => void } | { ok: false; reason: string };

export class RateLimiter {
  /** Start times (ms) of the requests in the current window, per destination key. */
  private readonly recent = new Map<string, number[]>();
  private inFlight = 0;
  private lastSweep = 0;

  constructor(
    private readonly s: RateSettings,
    private readonly now: () => number = () => performance.now(),
  ) {}

  get active(): number {
    return this.inFlight;
  }

  /**
   * Admits one request to `address` or says which limit refuses it.
   * `rated: false` (a destination the operator listed) skips the
   * per-destination window but still takes a concurrency slot.
   */
  admit(address: string, rated = true): Admission {
    const t = this.now();
    const windowMs = this.s.perDestination.perSeconds * 1000;
    this.sweep(t, windowMs);
    if (this.inFlight >= this.s.maxConcurrent)
      return {
        ok: false,
        reason: `${this.inFlight} requests are in flight, the limit of plugins.network.maxConcurrent (${this.s.maxConcurrent})`,
      };
    if (rated) {
      const key = destinationKey(address);
      const times = (this.recent.get(key) ?? []).filter((x) => t - x < windowMs);
      if (times.length >= this.s.perDestination.requests)
        return {
          ok: false,
          reason: `${key} had ${times.length} requests in the last ${this.s.perDestination.perSeconds} s, the limit of plugins.network.perDestination (${this.s.perDestination.requests} per ${this.s.perDestination.perSeconds} s)`,
        };
      times.push(t);
      this.recent.set(key, times);
    }
    this.inFlight++;
    let released = false;
    return {
      ok: true,
      release: () => {
        if (released) return;
        released = true;
        this.inFlight--;
      },
    };
  }

  /** Drops destinations with no request in the window, at most once per window: memory stays bounded. */
  private sweep(t: number, windowMs: number): void {
    if (t - this.lastSweep < windowMs) return;
    this.lastSweep = t;
    for (const [key, times] of this.recent)
      if (!times.some((x) => t - x < windowMs)) this.recent.delete(key);
  }
}
