import { networkInterfaces } from 'node:os';
import { describe, expect, it } from 'vitest';
import { proxyTarget, parseTarget } from '../src/modes/proxy.js';
import { SpliceGuard } from '../src/session/splice-guard.js';

const cfg = { connectTimeoutMs: 1000, mirrorPerSource: 2, mirrorTotal: 3, proxyTotal: 2 };
const attacker = { address: '10.99.1.1', port: 40000 };

describe('SpliceGuard', () => {
  it('never mirrors to loopback, unspecified, multicast or our own addresses', () => {
    const g = new SpliceGuard(cfg);
    for (const address of [
      '127.0.0.1',
      '127.8.9.1',
      '0.0.0.0',
      '::1',
      '::',
      '224.0.0.1',
      'ff02::1',
    ]) {
      const r = g.admit('mirror', 'tcp', { address, port: 1 }, { address, port: 80 });
      expect(r.ok, address).toBe(false);
    }
    const own = Object.values(networkInterfaces())
      .flat()
      .find((i) => i && !i.internal)?.address;
    if (own === undefined) throw new Error('this host has no non-loopback address to test with');
    const r = g.admit('mirror', 'tcp', { address: own, port: 1 }, { address: own, port: 80 });
    expect(r).toEqual({ ok: false, reason: `${own} is an address of this host` });
  });

  it('refuses to mirror back to a peer that we are mirroring to on the same port (loop)', () => {
    const g = new SpliceGuard(cfg);
    const peer = { address: '10.99.2.2', port: 80 };
    const first = g.admit('mirror', 'tcp', peer, peer);
    expect(first.ok).toBe(true);
    expect(g.admit('mirror', 'tcp', { address: '10.99.2.2', port: 51000 }, peer)).toEqual({
      ok: false,
      reason: '10.99.2.2 is mirroring port 80 back to us (loop)',
    });
    // Another port or protocol is not a loop.
    expect(g.admit('mirror', 'udp', peer, peer).ok).toBe(true);
    if (first.ok) first.release();
    expect(g.admit('mirror', 'tcp', peer, peer).ok).toBe(true);
  });

  it('limits mirrors per source and in total, and release gives room back once', () => {
    const g = new SpliceGuard(cfg);
    const a = g.admit('mirror', 'tcp', attacker, { address: attacker.address, port: 1 });
    const b = g.admit('mirror', 'tcp', attacker, { address: attacker.address, port: 2 });
    expect(a.ok && b.ok).toBe(true);
    expect(g.admit('mirror', 'tcp', attacker, { address: attacker.address, port: 3 })).toEqual({
      ok: false,
      reason: '2 mirror sessions open for 10.99.1.1 (splice.mirrorPerSource)',
    });
    const other = { address: '10.99.1.7', port: 1 };
    expect(g.admit('mirror', 'tcp', other, { address: other.address, port: 4 }).ok).toBe(true);
    expect(
      g.admit(
        'mirror',
        'tcp',
        { address: '10.99.1.8', port: 1 },
        { address: '10.99.1.8', port: 5 },
      ),
    ).toEqual({
      ok: false,
      reason: '3 mirror sessions open (splice.mirrorTotal)',
    });
    if (a.ok) {
      a.release();
      a.release();
    }
    expect(g.stats().mirrors).toBe(2);
  });

  it('limits proxies in total', () => {
    const g = new SpliceGuard(cfg);
    const target = { address: '10.99.3.3', port: 6379 };
    expect(g.admit('proxy', 'tcp', attacker, target).ok).toBe(true);
    expect(g.admit('proxy', 'tcp', attacker, target).ok).toBe(true);
    expect(g.admit('proxy', 'tcp', attacker, target)).toEqual({
      ok: false,
      reason: '2 proxy sessions open (splice.proxyTotal)',
    });
  });
});

describe('proxy targets', () => {
  it('parses host:port and [v6]:port', () => {
    expect(parseTarget('10.0.0.1:6379')).toEqual({ address: '10.0.0.1', port: 6379 });
    expect(parseTarget('[2001:db8::1]:80')).toEqual({ address: '2001:db8::1', port: 80 });
    expect(parseTarget('hi.example:22')).toEqual({ address: 'hi.example', port: 22 });
  });

  it('takes the first route whose network holds the source, else the default', () => {
    const proxy = {
      target: '10.0.0.1:80',
      routes: [
        { from: '192.168.0.0/16', target: '10.0.0.2:80' },
        { from: '192.168.1.0/24', target: '10.0.0.3:80' },
        { from: '2001:db8::/32', target: '[2001:db8::9]:80' },
      ],
    };
    expect(proxyTarget(proxy, '192.168.1.5')).toEqual({ address: '10.0.0.2', port: 80 });
    expect(proxyTarget(proxy, '2001:db8:1::5')).toEqual({ address: '2001:db8::9', port: 80 });
    expect(proxyTarget(proxy, '8.8.8.8')).toEqual({ address: '10.0.0.1', port: 80 });
  });
});
