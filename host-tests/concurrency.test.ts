// Issue 2: 1,000 TCP sessions open at the same time, nothing lost.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, expect, test } from 'vitest';
import { b64, listAttacks } from './lib/cli.js';
import { TcpClient } from './lib/clients.js';
import { BUILTIN_TEMPLATES, cleanup, HoneytrapDaemon } from './lib/daemon.js';
import { freePort } from './lib/ports.js';

const N = 1000;

afterAll(cleanup);

test(`${N} concurrent sessions: every client gets the template, ${N} attacks stored, each payload once`, async () => {
  const tpl = readFileSync(join(BUILTIN_TEMPLATES, '21_tcp'));
  const port = await freePort();
  const daemon = await HoneytrapDaemon.start({
    ports: [{ port, template: '21_tcp', idleTimeoutMs: 60_000, sessionTimeoutMs: 120_000 }],
  });

  // Open all of them first, in waves so the kernel's SYN backlog is never the limit.
  const clients: TcpClient[] = [];
  for (let i = 0; i < N; i += 100)
    clients.push(
      ...(await Promise.all(Array.from({ length: 100 }, () => TcpClient.connect(port)))),
    );
  expect(clients.length).toBe(N);
  await Promise.all(clients.map((c) => c.receivedAtLeast(tpl.length)));
  // All sessions are open at once, as the daemon itself counts them.
  expect((await daemon.status()).activeSessions).toBe(N);
  expect(clients.filter((c) => c.isClosed).length).toBe(0);

  const payloads = clients.map((c, i) =>
    Buffer.from(`session ${i} from ${c.localPort}: ${'#'.repeat(i % 37)}\n`),
  );
  clients.forEach((c, i) => c.end(payloads[i]));
  await Promise.all(clients.map((c) => c.waitClosed(30_000)));

  for (const c of clients) expect(c.received.equals(tpl)).toBe(true);
  expect(clients.filter((c) => c.error !== undefined).map((c) => c.error?.code)).toEqual([]);

  await daemon.waitForAttacks(N, 30_000);
  const attacks = await listAttacks(daemon.storeDir, ['--limit', '5000']);
  expect(attacks.length).toBe(N);
  expect(new Set(attacks.map((a) => a.id)).size).toBe(N);

  const seen = new Map<string, number>();
  for (const a of attacks) {
    const text = b64(a.received.data).toString();
    seen.set(text, (seen.get(text) ?? 0) + 1);
    expect(a.endReason).toBe('closed');
    expect(a.local.port).toBe(port);
    expect(b64(a.sent.data).equals(tpl)).toBe(true);
  }
  const missing = payloads.filter((p) => seen.get(p.toString()) !== 1).map((p) => p.toString());
  expect(missing).toEqual([]);
  expect(seen.size).toBe(N);
  // Each attack is tied to the client that sent its payload.
  for (const a of attacks) {
    const i = Number(/^session (\d+) from (\d+):/.exec(b64(a.received.data).toString())?.[1]);
    expect(a.remote.port).toBe(clients[i]?.localPort);
  }

  const status = await daemon.status();
  expect(status.attacksStored).toBe(N);
  expect(status.attacksFailed).toBe(0);
  expect(status.activeSessions).toBe(0);
});
