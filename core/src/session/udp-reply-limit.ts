// Limits on UDP replies so the honeypot is useless as a reflector: a reply is
// never larger than maxReplyBytes nor than `amplification` times what the
// session received, and replies are rate limited overall and per source.
import type { ResolvedConfig } from '../generated/config-resolved.js';

/** Remote addresses remembered for the per-source limit; the oldest is forgotten first. */
const MAX_TRACKED_SOURCES = 65536;

export class UdpReplyLimit {
  private tokens: number;
  private last = performance.now();
  private readonly perSource = new Map<string, { windowStart: number; count: number }>();
  /** Replies refused or cut, for the status view. */
  suppressed = 0;

  constructor(private readonly cfg: ResolvedConfig['udp']) {
    this.tokens = cfg.repliesPerSecond;
  }

  /** How many of `wanted` bytes may be sent now to `source` (0: none). */
  allow(source: string, received: number, sentSoFar: number, wanted: number): number {
    const byRatio = Math.floor(received * this.cfg.amplification) - sentSoFar;
    const bytes = Math.max(0, Math.min(wanted, this.cfg.maxReplyBytes, byRatio));
    if (bytes === 0 || !this.takeGlobal() || !this.takeSource(source)) {
      this.suppressed++;
      return 0;
    }
    if (bytes < wanted) this.suppressed++;
    return bytes;
  }

  private takeGlobal(): boolean {
    const now = performance.now();
    const rate = this.cfg.repliesPerSecond;
    this.tokens = Math.min(rate, this.tokens + ((now - this.last) / 1000) * rate);
    this.last = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }

  private takeSource(source: string): boolean {
    const now = Date.now();
    let s = this.perSource.get(source);
    if (!s || now - s.windowStart >= 60_000) {
      this.perSource.delete(source);
      if (this.perSource.size >= MAX_TRACKED_SOURCES) {
        const oldest = this.perSource.keys().next().value;
        if (oldest !== undefined) this.perSource.delete(oldest);
      }
      s = { windowStart: now, count: 0 };
      this.perSource.set(source, s);
    }
    if (s.count >= this.cfg.perSourcePerMinute) return false;
    s.count++;
    return true;
  }
}
