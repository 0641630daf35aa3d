// The nfqueue capture with each capture.nfqueue.reader: "thread" (the default,
// core/native/nfq-reader: the queue read, the port bound and the verdict given
// on a native thread, the listener handed to the port table) and "loop" (the
// nfqueue binding on Node's main thread). The whole nfqueue suite runs with the
// default, or with HT_TEST_NFQ_READER=loop|thread; this file keeps the main
// cases for both readers in every run:
// 200 ports by ncat and a full SYN scan under a small listener cap (ports the
// table closed come back), the throttle, and the privilege drop.
import { chmodSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { listAttacks } from '../lib/cli.js';
import { BUILTIN_TEMPLATES, makeTempDir } from '../lib/daemon.js';
import { nfqConfig, nfqSuite, startFor, stopFor, type NfqDaemon } from '../lib/nfq-suite.js';
import { connectMany, countState, ncat, nmap } from '../lib/ns-clients.js';

const CAP = 1024;
const env = nfqSuite('thread', ['ncat', 'nmap']);
const range = (from: number, n: number): number[] => Array.from({ length: n }, (_, i) => from + i);

describe.each(['thread', 'loop'] as const)('nfqueue capture, reader %s', (reader) => {
  async function expectReader(d: NfqDaemon): Promise<void> {
    expect((await d.status()).nfqueue.reader).toBe(reader);
  }

  test('200 ports by ncat, then nmap -sS -p- under a cap of 1024: every port open, closed ones come back', async () => {
    const s = env();
    await stopFor(s);
    const d = await startFor(
      s,
      (dir) =>
        nfqConfig(dir, {
          queue: 19,
          nfqueue: { reader },
          portTable: { maxListeners: CAP },
        }),
      CAP,
    );
    await expectReader(d);
    const ports = range(41000, 200);
    const results = await connectMany(s.net, ports, { concurrency: 16, payload: 'probe\n' });
    expect(results.filter((r) => !r.connected || r.error !== null)).toEqual([]);
    await d.waitForAttacks(ports.length);
    const attacks = (await listAttacks(d.storeDir)).map((a) => a.local.port);
    expect(attacks.sort((a, b) => a - b)).toEqual(ports);

    const scan = await nmap(s.net, ['-sS', '-p-', '-T4'], 300_000);
    expect(countState(scan, 'open'), scan.raw.stdout.slice(-2000)).toBe(65534);
    const st = await d.status();
    expect(st.nfqueue.errors).toBe(0);
    expect(st.nfqueue.table.failed).toBe(0);
    expect(st.nfqueue.table.listeners).toBeLessThanOrEqual(CAP);
    expect(st.nfqueue.table.evicted).toBeGreaterThan(60_000);
    expect(st.nfqueue.accepted + st.nfqueue.dropped).toBe(st.nfqueue.packets);

    // 41000 was evicted long ago: its listener comes back; 21 answers with its template.
    const again = await ncat(s.net, 41000, 'again\n');
    expect(again.code, again.stderr).toBe(0);
    const ftp = await ncat(s.net, 21, 'QUIT\r\n');
    expect(ftp.code, ftp.stderr).toBe(0);
    expect(ftp.stdoutBytes.equals(readFileSync(join(BUILTIN_TEMPLATES, '21_tcp')))).toBe(true);
  }, 360_000);

  test('throttle (5/s, burst 5, drop): throttled SYNs are dropped, retried, every one answered', async () => {
    const s = env();
    await stopFor(s);
    const d = await startFor(s, (dir) =>
      nfqConfig(dir, {
        queue: 19,
        nfqueue: { reader },
        portTable: { newPerSecond: 5, burst: 5, throttledVerdict: 'drop' },
      }),
    );
    await expectReader(d);
    const ports = range(42000, 10);
    const results = await connectMany(s.net, ports, {
      concurrency: 10,
      payload: 'x\n',
      timeoutMs: 15_000,
    });
    expect(results.filter((r) => !r.connected || r.error !== null)).toEqual([]);
    expect(results.filter((r) => r.connectMs >= 900).length).toBeGreaterThan(0);
    const st = await d.status();
    expect(st.nfqueue.table.throttled).toBeGreaterThan(0);
    expect(st.nfqueue.dropped).toBe(st.nfqueue.table.throttled);
    expect(st.nfqueue.table.opened).toBe(10);
  });

  test('privileges.user nobody: still binds 21/tcp and gives verdicts', async () => {
    const s = env();
    await stopFor(s);
    const dir = await makeTempDir('honeytrap-nfq-thread-drop-');
    chmodSync(dir, 0o755); // the re-run daemon (nobody) reads its config from here
    const d = await startFor(
      s,
      (dd) => nfqConfig(dd, { queue: 19, nfqueue: { reader }, privileges: { user: 'nobody' } }),
      8192,
      { dir },
    );
    await expectReader(d);
    expect(d.logs.find((l) => l.msg.startsWith('honeytrap ready'))?.user).toBe('nobody');
    const r = await ncat(s.net, 21, 'USER anonymous\r\n', { timeoutMs: 5_000 });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdoutBytes.equals(readFileSync(join(BUILTIN_TEMPLATES, '21_tcp')))).toBe(true);
    const fresh = await ncat(s.net, 4444, 'hi\n', { timeoutMs: 5_000 });
    expect(fresh.code, fresh.stderr).toBe(0);
    await d.waitForAttacks(2);
    const st = await d.status();
    expect(st.nfqueue.table.failed).toBe(0);
    expect(st.nfqueue.errors).toBe(0);
    expect(d.errorLogs()).toEqual([]);
  });
});
