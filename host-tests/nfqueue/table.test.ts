// Issue 3, the port table under pressure: the new-listener throttle (accept:
// the kernel refuses; drop: the client's SYN retry is answered), the listener
// cap with least-recently-used eviction, and the idle timeout.
import { describe, expect, test } from 'vitest';
import { listAttacks } from '../lib/cli.js';
import { sleep, waitUntil } from '../lib/clients.js';
import { nfqConfig, nfqSuite, startFor, stopFor } from '../lib/nfq-suite.js';
import { connectMany, ncat } from '../lib/ns-clients.js';

const env = nfqSuite('table', ['ncat']);
const range = (from: number, n: number): number[] => Array.from({ length: n }, (_, i) => from + i);

describe('port table: throttle', () => {
  test('throttledVerdict accept: 50 fresh ports at once, some refused (RST), throttled counted, daemon keeps working', async () => {
    const s = env();
    await stopFor(s);
    const d = await startFor(s, (dir) =>
      nfqConfig(dir, {
        queue: 15,
        portTable: { newPerSecond: 5, burst: 5, throttledVerdict: 'accept' },
      }),
    );
    const ports = range(30000, 50);
    const results = await connectMany(s.net, ports, {
      concurrency: 50,
      payload: 'x\n',
      timeoutMs: 5_000,
    });
    const connected = results.filter((r) => r.connected && r.error === null);
    const refused = results.filter((r) => r.error === 'ECONNREFUSED');
    const other = results.filter((r) => !connected.includes(r) && !refused.includes(r));
    expect(other, 'neither answered nor refused').toEqual([]);
    expect(connected.length).toBeGreaterThanOrEqual(5);
    expect(refused.length).toBeGreaterThan(0);
    const st = await d.status();
    expect(st.nfqueue.table.throttled).toBeGreaterThanOrEqual(refused.length);
    expect(st.nfqueue.table.opened).toBe(connected.length);
    expect(st.nfqueue.dropped).toBe(0);

    // Still working: a port it opened answers at once, and a fresh one once the bucket refilled.
    const open = await ncat(s.net, connected[0]!.port, 'again\n');
    expect(open.code, open.stderr).toBe(0);
    await sleep(1_200);
    const fresh = await ncat(s.net, 30100, 'fresh\n');
    expect(fresh.code, fresh.stderr).toBe(0);
    await d.waitForAttacks(connected.length + 2);
  });

  test('throttledVerdict drop: throttled SYNs are dropped, the client retries, every one is answered', async () => {
    const s = env();
    await stopFor(s);
    const d = await startFor(s, (dir) =>
      nfqConfig(dir, {
        queue: 15,
        portTable: { newPerSecond: 5, burst: 5, throttledVerdict: 'drop' },
      }),
    );
    const ports = range(30200, 10);
    const results = await connectMany(s.net, ports, {
      concurrency: 10,
      payload: 'x\n',
      timeoutMs: 15_000,
    });
    expect(results.filter((r) => !r.connected || r.error !== null)).toEqual([]);
    // The first five had tokens; the rest were answered on a SYN retransmission (~1 s).
    const retried = results.filter((r) => r.connectMs >= 900);
    expect(retried.length, JSON.stringify(results.map((r) => r.connectMs))).toBeGreaterThan(0);
    const st = await d.status();
    expect(st.nfqueue.table.throttled).toBeGreaterThan(0);
    expect(st.nfqueue.dropped).toBe(st.nfqueue.table.throttled);
    await d.waitForAttacks(ports.length);
    const attacks = await listAttacks(d.storeDir);
    expect(attacks.map((a) => a.local.port).sort((a, b) => a - b)).toEqual(ports);
  });
});

describe('port table: cap and idle timeout', () => {
  test('maxListeners 16, idleTimeoutMs 500: 100 ports, <= 16 listeners, LRU evictions, then idle-closed', async () => {
    const s = env();
    await stopFor(s);
    const d = await startFor(
      s,
      (dir) => nfqConfig(dir, { queue: 15, portTable: { maxListeners: 16, idleTimeoutMs: 500 } }),
      16,
    );
    const ports = range(31000, 100);
    const results = await connectMany(s.net, ports, { concurrency: 16, payload: 'touch\n' });
    expect(results.filter((r) => !r.connected || r.error !== null)).toEqual([]);
    const st = await d.status();
    expect(st.nfqueue.table.listeners).toBeLessThanOrEqual(16);
    expect(st.nfqueue.table.opened).toBe(100);
    expect(st.nfqueue.table.evicted).toBeGreaterThan(0);

    // Nothing new for a second: the listeners close on their idle timeout.
    await sleep(1_000);
    await waitUntil(
      async () => (await d.status()).nfqueue.table.listeners === 0,
      3_000,
      'idle listeners to close',
    );
    const idle = await d.status();
    expect(idle.nfqueue.table.idleClosed).toBeGreaterThan(0);
    expect(idle.nfqueue.table.evicted + idle.nfqueue.table.idleClosed).toBe(100);

    // Every connection was recorded, evicted listener or not; the daemon answers again.
    await d.waitForAttacks(100);
    const again = await ncat(s.net, 31000, 'back\n');
    expect(again.code, again.stderr).toBe(0);
  });
});
