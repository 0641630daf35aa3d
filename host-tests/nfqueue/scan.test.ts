// Issue 3, nfqueue capture under real clients: ncat to 200 ports nobody
// configured, full nmap SYN and connect scans, a SYN flood to one port. One
// daemon (default port table) in the honeypot namespace, rules applied with
// `honeytrap iptables --apply`.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { b64, listAttacks } from '../lib/cli.js';
import { BUILTIN_TEMPLATES } from '../lib/daemon.js';
import { nfqConfig, nfqSuite, startFor } from '../lib/nfq-suite.js';
import { countState, ncat, nmap } from '../lib/ns-clients.js';

const MAX_LISTENERS = 8192;
const TEMPLATE_PORTS = [21, 23, 25, 80, 110, 143, 3306, 5900];
const template = (port: number): Buffer => readFileSync(join(BUILTIN_TEMPLATES, `${port}_tcp`));

const env = nfqSuite('scan', ['ncat', 'nmap', 'hping3'], async (s) => {
  await startFor(
    s,
    (dir) => nfqConfig(dir, { queue: 11, portTable: { maxListeners: MAX_LISTENERS } }),
    MAX_LISTENERS,
  );
});

/** Runs `fn` over `items`, `n` at a time. */
async function pool<T, R>(items: T[], n: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array<R>(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: n }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await fn(items[i]!);
      }
    }),
  );
  return out;
}

/** `count` distinct random TCP ports, none excluded (22), none with a template, none in `avoid`. */
function randomPorts(count: number, avoid: number[]): number[] {
  const taken = new Set([22, ...TEMPLATE_PORTS, ...avoid]);
  const out: number[] = [];
  while (out.length < count) {
    const p = 1 + Math.floor(Math.random() * 65535);
    if (taken.has(p)) continue;
    taken.add(p);
    out.push(p);
  }
  return out;
}

describe('nfqueue capture: any port, on demand', () => {
  test('ncat to 200 unused ports: every one answers (its template if it has one) and is recorded', async () => {
    const { net, daemon } = env();
    const d = daemon!;
    const ports = [...TEMPLATE_PORTS, ...randomPorts(200 - TEMPLATE_PORTS.length, [])];
    const before = d.attackLogs().length;
    const results = await pool(ports, 16, async (port) => ({
      port,
      r: await ncat(net, port, `probe ${port}\r\n`),
    }));
    const wrong = results.filter(({ port, r }) => {
      const want = TEMPLATE_PORTS.includes(port) ? template(port) : Buffer.alloc(0);
      return r.code !== 0 || !r.stdoutBytes.equals(want);
    });
    expect(
      wrong.map(
        ({ port, r }) => `${port}: exit ${r.code} got ${JSON.stringify(r.stdout)} ${r.stderr}`,
      ),
      `ports tried: ${ports.join(',')}`,
    ).toEqual([]);

    await d.waitForAttacks(before + ports.length);
    const attacks = (await listAttacks(d.storeDir)).filter((a) => ports.includes(a.local.port));
    expect(attacks.map((a) => a.local.port).sort((a, b) => a - b)).toEqual(
      [...ports].sort((a, b) => a - b),
    );
    for (const a of attacks) {
      expect(a.proto).toBe('tcp');
      expect(a.mode).toBe('normal');
      expect(a.remote.address).toBe(net.attackerIp);
      expect(b64(a.received.data).toString()).toBe(`probe ${a.local.port}\r\n`);
      const want = TEMPLATE_PORTS.includes(a.local.port) ? template(a.local.port) : Buffer.alloc(0);
      expect(b64(a.sent.data).equals(want), `sent on ${a.local.port}`).toBe(true);
    }
    const s = await d.status();
    expect(s.nfqueue.errors).toBe(0);
    expect(s.nfqueue.table.excluded).toBe(0);
  });

  test('nmap -sS -p- -T4: 65534 open (22/tcp excluded), and the daemon still answers', async () => {
    const { net, daemon } = env();
    const d = daemon!;
    const scan = await nmap(net, ['-sS', '-p-', '-T4'], 300_000);
    const open = countState(scan, 'open');
    expect(open, scan.raw.stdout.slice(-2000)).toBe(65534);
    expect(scan.listed.get(22) ?? scan.ignored.map((i) => i.state).join()).not.toBe('open');
    const s = await d.status();
    expect(s.nfqueue.table.listeners).toBeLessThanOrEqual(MAX_LISTENERS);
    expect(s.nfqueue.table.opened).toBeGreaterThanOrEqual(65534 - MAX_LISTENERS);
    expect(s.nfqueue.errors).toBe(0);

    const after = await ncat(net, 21, 'QUIT\r\n');
    expect(after.code, after.stderr).toBe(0);
    expect(after.stdoutBytes.equals(template(21))).toBe(true);
    const fresh = randomPorts(1, [])[0]!;
    const r = await ncat(net, fresh, 'hello\n');
    expect(r.code, `port ${fresh}: ${r.stderr}`).toBe(0);
  }, 360_000);

  test('nmap -sT -p- -T4: 65534 open, and the daemon still answers', async () => {
    const { net, daemon } = env();
    const d = daemon!;
    const scan = await nmap(net, ['-sT', '-p-', '-T4'], 300_000);
    expect(countState(scan, 'open'), scan.raw.stdout.slice(-2000)).toBe(65534);
    const s = await d.status();
    expect(s.nfqueue.table.listeners).toBeLessThanOrEqual(MAX_LISTENERS);
    expect(s.nfqueue.errors).toBe(0);

    const r = await ncat(net, 25, 'EHLO x\r\n');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdoutBytes.equals(template(25))).toBe(true);
    expect(d.exit).toBeUndefined();
  }, 360_000);

  test('SYN flood to port 80 (hping3, 3 s): the daemon survives and answers on 80 afterwards', async () => {
    const { net, daemon } = env();
    const d = daemon!;
    const before = await d.status();
    const flood = await net.exec(
      net.attacker,
      ['timeout', '-s', 'INT', '3', 'hping3', '--flood', '-S', '-p', '80', '-q', net.honeypotIp],
      { timeoutMs: 20_000 },
    );
    // timeout(1) exits 124 when it stopped hping3, which is what we want.
    expect([0, 124], `hping3: ${flood.stderr}`).toContain(flood.code);
    expect(flood.stderr + flood.stdout).toMatch(/packets transmitted/);
    const sent = Number(/(\d+) packets transmitted/.exec(flood.stderr + flood.stdout)?.[1] ?? 0);
    expect(sent).toBeGreaterThan(1000);

    const rows = await net.expectQueueDrained(10_000);
    const s = await d.status();
    expect(d.exit).toBeUndefined();
    expect(s.nfqueue.packets - before.nfqueue.packets).toBeGreaterThan(0);
    // Every packet the daemon read got its verdict.
    expect(s.nfqueue.accepted + s.nfqueue.dropped).toBe(s.nfqueue.packets);
    expect(s.nfqueue.errors).toBe(0);
    expect(rows.length).toBeGreaterThan(0);

    const r = await ncat(net, 80, 'GET / HTTP/1.0\r\n\r\n');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdoutBytes.equals(template(80))).toBe(true);
  }, 60_000);
});
