// The broker's abuse limits: requests per destination in a sliding window
// (IPv6 counted per /64), operator destinations exempt, requests in flight.
import { describe, expect, test } from 'vitest';
import { RateLimiter, destinationKey } from '../../src/plugins/broker/limits.js';

function limiter(requests: number, perSeconds: number, maxConcurrent = 100) {
  let now = 0;
  const l = new RateLimiter({ perDestination: { requests, perSeconds }, maxConcurrent }, () => now);
  return { l, advance: (ms: number) => (now += ms) };
}

describe('per destination', () => {
  test('the (N+1)th request in the window is refused, naming the limit', () => {
    const { l, advance } = limiter(3, 10);
    for (let i = 0; i < 3; i++) {
      const a = l.admit('203.0.113.9');
      expect(a.ok).toBe(true);
      if (a.ok) a.release();
      advance(1000);
    }
    expect(l.admit('203.0.113.9')).toEqual({
      ok: false,
      reason:
        '203.0.113.9 had 3 requests in the last 10 s, the limit of plugins.network.perDestination (3 per 10 s)',
    });
    // Another destination has its own window.
    expect(l.admit('203.0.113.10').ok).toBe(true);
    // The window slides: the first request leaves it 10 s after it started.
    advance(7001);
    expect(l.admit('203.0.113.9').ok).toBe(true);
    expect(l.admit('203.0.113.9').ok).toBe(false);
  });

  test('refused requests do not count', () => {
    const { l, advance } = limiter(1, 1);
    expect(l.admit('198.51.100.1').ok).toBe(true);
    for (let i = 0; i < 5; i++) expect(l.admit('198.51.100.1').ok).toBe(false);
    advance(1000);
    expect(l.admit('198.51.100.1').ok).toBe(true);
  });

  test('IPv6 addresses of one /64 share a window', () => {
    expect(destinationKey('2001:db8:1:2::5')).toBe('2001:db8:1:2::/64');
    expect(destinationKey('2001:db8:1:2:aaaa::9')).toBe('2001:db8:1:2::/64');
    expect(destinationKey('2001:db8::1')).toBe('2001:db8:0:0::/64');
    expect(destinationKey('192.0.2.1')).toBe('192.0.2.1');
    const { l } = limiter(1, 60);
    expect(l.admit('2001:db8:1:2::5').ok).toBe(true);
    expect(l.admit('2001:db8:1:2:ffff::1').ok).toBe(false);
    expect(l.admit('2001:db8:1:3::1').ok).toBe(true);
  });

  test("the operator's destinations are not rate limited", () => {
    const { l } = limiter(1, 60);
    for (let i = 0; i < 5; i++) {
      const a = l.admit('/run/clamav/clamd.ctl', false);
      expect(a.ok).toBe(true);
      if (a.ok) a.release();
    }
  });
});

describe('in flight', () => {
  test('maxConcurrent refuses while full; a release frees one slot, once', () => {
    const { l } = limiter(100, 60, 2);
    const a = l.admit('192.0.2.1');
    const b = l.admit('192.0.2.2', false);
    expect(l.active).toBe(2);
    expect(l.admit('192.0.2.3')).toEqual({
      ok: false,
      reason: '2 requests are in flight, the limit of plugins.network.maxConcurrent (2)',
    });
    if (!a.ok || !b.ok) throw new Error('not admitted');
    a.release();
    a.release();
    expect(l.active).toBe(1);
    expect(l.admit('192.0.2.3').ok).toBe(true);
    expect(l.admit('192.0.2.4').ok).toBe(false);
  });
});
