// Issue 3, UDP through the nfqueue capture: a datagram to a new port gets a
// socket and is recorded; replies obey udp.maxReplyBytes and amplification;
// nmap -sU sees a UDP server on every probed port.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { b64, listAttacks } from '../lib/cli.js';
import { BUILTIN_TEMPLATES } from '../lib/daemon.js';
import { nfqConfig, nfqSuite, startFor } from '../lib/nfq-suite.js';
import { countState, nmap } from '../lib/ns-clients.js';

const SIP = readFileSync(join(BUILTIN_TEMPLATES, '5060_udp'));
const MAX_REPLY = 100;
const LO = 5000;
const HI = 5100;

const env = nfqSuite('udp', ['nmap', 'socat'], async (s) => {
  await startFor(s, (dir) =>
    nfqConfig(dir, {
      queue: 12,
      // UDP sessions are recorded when they go idle: keep that short.
      defaults: { idleTimeoutMs: 1000 },
      udp: { maxReplyBytes: MAX_REPLY, amplification: 1, perSourcePerMinute: 100 },
    }),
  );
});

/** Sends `data` as one datagram from the attacker with socat and returns what came back in 2 s. */
async function udpExchange(port: number, data: Buffer): Promise<Buffer> {
  const { net } = env();
  const r = await net.exec(
    net.attacker,
    ['socat', '-t', '2', '-', `UDP:${net.honeypotIp}:${port}`],
    { input: data, timeoutMs: 15_000 },
  );
  if (r.code !== 0) throw new Error(`socat exited ${r.code}: ${r.stderr}`);
  return r.stdoutBytes;
}

describe('nfqueue capture: UDP', () => {
  test('5060/udp with the SIP template: a 10-byte datagram gets at most 10 bytes back (amplification 1)', async () => {
    const { daemon } = env();
    const d = daemon!;
    const before = await d.status();
    const reply = await udpExchange(5060, Buffer.from('OPTIONS x\n'));
    expect(reply.length).toBeGreaterThan(0);
    expect(reply.length).toBeLessThanOrEqual(10);
    expect(reply.equals(SIP.subarray(0, reply.length))).toBe(true);

    // A bigger datagram: the reply is cut at udp.maxReplyBytes, not at the template's size.
    const big = await udpExchange(5060, Buffer.alloc(300, 0x41));
    expect(SIP.length).toBeGreaterThan(MAX_REPLY);
    expect(big.length).toBeGreaterThan(0);
    expect(big.length).toBeLessThanOrEqual(MAX_REPLY);
    expect(big.equals(SIP.subarray(0, big.length))).toBe(true);

    const after = await d.status();
    expect(after.udpRepliesSuppressed - before.udpRepliesSuppressed).toBeGreaterThanOrEqual(2);

    // Both sessions are recorded, with exactly what was sent back.
    await d.waitForAttacks(2, 15_000);
    const attacks = await listAttacks(d.storeDir, ['--port', '5060/udp']);
    const lengths = attacks.map((a) => [a.received.length, b64(a.sent.data).length]);
    expect(lengths.sort((a, b) => a[0]! - b[0]!)).toEqual([
      [10, reply.length],
      [300, big.length],
    ]);
  });

  test(`nmap -sU -p ${LO}-${HI}: every port open or open|filtered, each recorded as a UDP attack`, async () => {
    const { net, daemon } = env();
    const d = daemon!;
    // 10 bytes of payload per probe: 5060 (SIP template) answers them, the rest only read.
    const scan = await nmap(
      net,
      ['-sU', '-p', `${LO}-${HI}`, '--max-retries', '1', '--data-length', '10'],
      120_000,
    );
    const total = HI - LO + 1;
    const open = countState(scan, 'open');
    const openFiltered = countState(scan, 'open|filtered');
    expect(open + openFiltered, scan.raw.stdout).toBe(total);
    expect(scan.listed.get(5060), scan.raw.stdout).toBe('open');

    const ports = Array.from({ length: total }, (_, i) => LO + i);
    let seen = new Set<number>();
    const deadline = Date.now() + 20_000;
    while (Date.now() < deadline) {
      const attacks = await listAttacks(d.storeDir, ['--source', net.attackerIp]);
      seen = new Set(
        attacks
          .filter((a) => a.proto === 'udp' && a.received.length >= 10)
          .map((a) => a.local.port),
      );
      if (ports.every((p) => seen.has(p))) break;
      await new Promise((r) => setTimeout(r, 500));
    }
    expect(ports.filter((p) => !seen.has(p))).toEqual([]);
    const s = await d.status();
    expect(s.nfqueue.table.opened).toBeGreaterThanOrEqual(total);
    expect(s.nfqueue.errors).toBe(0);
  });
});
