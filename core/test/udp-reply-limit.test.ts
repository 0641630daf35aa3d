import { describe, expect, it } from 'vitest';
import { UdpReplyLimit } from '../src/session/udp-reply-limit.js';

const cfg = { maxReplyBytes: 512, amplification: 1, repliesPerSecond: 100, perSourcePerMinute: 10 };

describe('UdpReplyLimit', () => {
  it('never replies with more than the session received times the amplification', () => {
    const l = new UdpReplyLimit(cfg);
    expect(l.allow('10.0.0.1', 10, 0, 500)).toBe(10);
    expect(l.allow('10.0.0.1', 10, 10, 500)).toBe(0);
    expect(new UdpReplyLimit({ ...cfg, amplification: 2 }).allow('10.0.0.1', 10, 0, 500)).toBe(20);
  });

  it('cuts replies to maxReplyBytes', () => {
    expect(new UdpReplyLimit({ ...cfg, amplification: 100 }).allow('10.0.0.1', 1000, 0, 4000)).toBe(
      512,
    );
  });

  it('limits replies per source per minute', () => {
    const l = new UdpReplyLimit(cfg);
    const got = Array.from({ length: 15 }, () => l.allow('10.0.0.9', 100, 0, 50));
    expect(got.filter((n) => n > 0)).toHaveLength(10);
    expect(l.allow('10.0.0.10', 100, 0, 50)).toBe(50);
  });

  it('limits replies overall per second', () => {
    const l = new UdpReplyLimit({ ...cfg, repliesPerSecond: 5, perSourcePerMinute: 1000 });
    const got = Array.from({ length: 20 }, (_, i) => l.allow(`10.0.1.${i}`, 100, 0, 50));
    expect(got.filter((n) => n > 0)).toHaveLength(5);
    expect(l.suppressed).toBe(15);
  });
});
