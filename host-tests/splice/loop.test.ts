// Issue 4, loop protection: two honeypots (namespaces A and B, one daemon
// each) both mirror the same port, so a connection to one is mirrored to the
// other and back. The loop must stop at once: a handful of attacks in each
// store, one of them falling back to normal mode because of the loop, the
// client gets an answer (the normal-mode template where the loop stopped),
// and both daemons keep answering.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { expect, test } from 'vitest';
import { b64 } from '../lib/cli.js';
import { sleep } from '../lib/clients.js';
import { BUILTIN_TEMPLATES, type HoneytrapDaemon } from '../lib/daemon.js';
import type { Netns } from '../lib/netns.js';
import { NsAgent } from '../lib/ns-agent.js';
import { spliceSuite, startSpliceDaemon } from '../lib/splice-suite.js';

const A = '10.99.45.1';
const B = '10.99.45.2';
const PORT = 7777;
const banner = (name: string) => `normal mode of honeypot ${name}\r\n`;

function startHoneypot(net: Netns, node: 'a' | 'b', address: string): Promise<HoneytrapDaemon> {
  return startSpliceDaemon(net, node, {
    addresses: [address],
    ports: [
      { port: PORT, mode: 'mirror' },
      { port: 2121, template: '21_tcp' },
    ],
    splice: { connectTimeoutMs: 1000 },
    templates: { [`${PORT}_tcp`]: banner(node.toUpperCase()) },
  });
}

const env = spliceSuite('loop', ['a', 'b'], [], async (net) => {
  net.link('a', `${A}/24`, 'b', `${B}/24`);
  const [da, db] = await Promise.all([startHoneypot(net, 'a', A), startHoneypot(net, 'b', B)]);
  const [agentA, agentB] = await Promise.all([NsAgent.start(net, 'a'), NsAgent.start(net, 'b')]);
  return { da, db, agentA, agentB };
});

const LOOP_OR_LIMIT = /loop|mirrorPerSource|mirrorTotal/;

test('a connection from A to B does not bounce between two mirroring honeypots', async () => {
  const { da, db, agentA } = env();
  const c = await agentA.tcp(B, PORT);
  await c.write('hello loop\n');
  // B -> A -> B: B's second session is the loop; it runs in normal mode and
  // its template travels back through both mirrors to the client.
  expect((await c.receivedAtLeast(banner('B').length, 5_000)).toString()).toBe(banner('B'));
  await sleep(3_000);
  const [inA, inB] = [await da.attacks(), await db.attacks()];
  const open = [await da.status(), await db.status()].map((s) => s.activeSessions);
  expect(open, 'sessions open after 3 s').toEqual([1, 2]);
  await c.end();
  await c.waitClosed();
  await da.waitIdle();
  await db.waitIdle();

  const storedA = await da.attacks();
  const storedB = await db.attacks();
  expect(inA.length + inB.length, 'attacks stored while the client held on').toBeLessThanOrEqual(8);
  expect(storedA.length).toBeLessThanOrEqual(4);
  expect(storedB.length).toBeLessThanOrEqual(4);
  expect(storedA.length).toBeGreaterThanOrEqual(1);
  expect(storedB.length).toBeGreaterThanOrEqual(2);
  const stopped = [...storedA, ...storedB].filter((x) => x.fallback);
  expect(stopped.length).toBeGreaterThanOrEqual(1);
  for (const x of stopped) {
    expect(x.fallback?.from).toBe('mirror');
    expect(x.fallback?.reason).toMatch(LOOP_OR_LIMIT);
  }
  // The client's own session on B was mirrored to A, and A mirrored it back to B.
  const first = storedB.find((x) => x.remote.port === c.localPort);
  expect(first?.peer).toEqual({ address: A, port: PORT, role: 'mirror' });
  expect(b64(first!.received.data).toString()).toBe('hello loop\n');
  expect(b64(first!.sent.data).toString()).toBe(banner('B'));
  expect(storedA.some((x) => x.remote.address === B && x.peer?.address === B)).toBe(true);
});

test('the other way round (B to A) stops as well, and both daemons still answer', async () => {
  const { da, db, agentA, agentB } = env();
  const since = Date.now();
  const fresh = async (d: HoneytrapDaemon) =>
    (await d.attacks()).filter((x) => Date.parse(x.startedAt) >= since);
  const c = await agentB.tcp(A, PORT);
  await c.write('hello from B\n');
  expect((await c.receivedAtLeast(banner('A').length, 5_000)).toString()).toBe(banner('A'));
  await sleep(1_000);
  await c.end();
  await c.waitClosed();
  await da.waitIdle();
  await db.waitIdle();
  const [newA, newB] = [await fresh(da), await fresh(db)];
  expect(newA.length).toBeGreaterThanOrEqual(2);
  expect(newA.length).toBeLessThanOrEqual(4);
  expect(newB.length).toBeGreaterThanOrEqual(1);
  expect(newB.length).toBeLessThanOrEqual(4);
  expect(newA.some((x) => x.fallback && /loop/.test(x.fallback.reason))).toBe(true);

  // Both daemons answer a plain connection with their template.
  const ftp = await readFile(join(BUILTIN_TEMPLATES, '21_tcp'));
  for (const [agent, to] of [
    [agentA, B],
    [agentB, A],
  ] as const) {
    const t = await agent.tcp(to, 2121);
    expect(await t.receivedAtLeast(ftp.length, 3_000)).toEqual(ftp);
    await t.end();
    await t.waitClosed();
  }
  expect(da.exit).toBeUndefined();
  expect(db.exit).toBeUndefined();
  expect([...da.errorLogs(), ...db.errorLogs()]).toEqual([]);
});
