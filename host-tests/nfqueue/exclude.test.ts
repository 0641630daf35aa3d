// Issue 3, excluded ports: a real service in the honeypot namespace (a node
// listener on 2222) stays reachable with its own banner, its packets never
// reach the queue, and nothing is recorded for it; the port next to it is caught.
import { spawn, type ChildProcess } from 'node:child_process';
import { describe, expect, test } from 'vitest';
import { listAttacks } from '../lib/cli.js';
import { sleep, waitUntil } from '../lib/clients.js';
import { nfqConfig, nfqSuite, startFor } from '../lib/nfq-suite.js';
import { ncat } from '../lib/ns-clients.js';

const REAL_BANNER = 'SSH-2.0-RealService_9.9 not-the-honeypot\r\n';
let realService: ChildProcess | undefined;

const env = nfqSuite('excl', ['ncat'], async (s) => {
  // The real service first: the daemon must never take its port.
  // A small real service: its banner on connect, then it reads until the client is done.
  const server = `require('net').createServer((c) => { c.on('error', () => {}); c.end(${JSON.stringify(REAL_BANNER)}); c.resume(); }).listen(2222, ${JSON.stringify(s.net.honeypotIp)})`;
  const [bin, ...args] = s.net.wrap(s.net.honeypot, [process.execPath, '-e', server]);
  realService = spawn(bin!, args, { stdio: 'ignore' });
  // Under load ncat may take a moment to listen: wait for its socket.
  await waitUntil(
    async () =>
      (await s.net.exec(s.net.honeypot, ['ss', '-Hltn', 'sport = :2222'])).stdout.includes(':2222'),
    15_000,
    'the real service listening on 2222',
  );
  await startFor(s, (dir) =>
    nfqConfig(dir, { queue: 13, nfqueue: { excludePorts: ['22/tcp', '2222/tcp'] } }),
  );
});

describe('nfqueue capture: excluded ports', () => {
  test('the attacker reaches the real service on 2222 (its own banner); nothing queued or recorded for it', async () => {
    const { net, daemon } = env();
    const d = daemon!;
    expect(realService?.exitCode ?? null, 'the real service exited early').toBeNull();
    const rules = await net.mustExec(net.honeypot, ['iptables', '-S', 'HONEYTRAP']);
    expect(rules.stdout).toContain('--dport 2222 -j RETURN');

    const before = await d.status();
    let got = '';
    const tries: string[] = [];
    for (let i = 0; i < 20 && got !== REAL_BANNER; i++) {
      const r = await ncat(net, 2222, 'hello real service\n', { timeoutMs: 5_000 });
      got = r.stdout;
      tries.push(`code ${r.code}: ${r.stderr.trim()}`);
      if (got !== REAL_BANNER) await sleep(200);
    }
    expect(got, tries.join('\n')).toBe(REAL_BANNER);
    const after = await d.status();
    // The RETURN rule kept its SYNs out of the queue altogether.
    expect(after.nfqueue.packets - before.nfqueue.packets).toBe(0);

    // The next port is the honeypot's: caught and recorded.
    const caught = await ncat(net, 2223, 'hello honeypot\n');
    expect(caught.code, caught.stderr).toBe(0);
    await d.waitForAttacks(1);
    await sleep(500);
    const attacks = await listAttacks(d.storeDir);
    expect(attacks.map((a) => a.local.port)).toEqual([2223]);
    expect(await listAttacks(d.storeDir, ['--port', '2222'])).toEqual([]);
  });

  test('22/tcp (excluded, nothing listening): refused by the kernel, never queued or recorded', async () => {
    const { net, daemon } = env();
    const d = daemon!;
    const before = await d.status();
    const r = await ncat(net, 22, 'SSH-2.0-probe\r\n', { timeoutMs: 3_000 });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/refused/i);
    const after = await d.status();
    expect(after.nfqueue.packets - before.nfqueue.packets).toBe(0);
    expect(await listAttacks(d.storeDir, ['--port', '22'])).toEqual([]);
  });
});
