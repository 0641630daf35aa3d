// Issue 2: a port that is already taken is reported by name and the others
// still run; when no port at all can be bound the daemon refuses to start.
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { createServer, type Server } from 'node:net';
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, expect, test } from 'vitest';
import { honeytrap, stackLines } from './lib/cli.js';
import { TcpClient, tcpExchange } from './lib/clients.js';
import {
  BUILTIN_TEMPLATES,
  cleanup,
  HoneytrapDaemon,
  makeTempDir,
  testConfig,
} from './lib/daemon.js';
import { freePortRange, LOOPBACK } from './lib/ports.js';

const servers: Server[] = [];
const udpSockets: UdpSocket[] = [];

afterEach(async () => {
  await cleanup();
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
  for (const s of udpSockets.splice(0)) s.close();
});

/** A plain TCP server that holds `port` and answers "occupied\n". */
async function occupyTcp(port: number): Promise<Server> {
  const server = createServer((s) => s.end('occupied\n'));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: LOOPBACK, port }, () => resolve());
  });
  servers.push(server);
  return server;
}

async function occupyUdp(port: number): Promise<void> {
  const socket = createSocket('udp4');
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(port, LOOPBACK, () => resolve());
  });
  udpSockets.push(socket);
}

test('one TCP and one UDP port taken: the daemon starts, names them, the other ports answer', async () => {
  const base = await freePortRange(4);
  await occupyTcp(base + 1);
  await occupyUdp(base + 3);
  const daemon = await HoneytrapDaemon.start({
    ports: [
      { port: `${base}-${base + 2}`, template: '21_tcp' },
      { port: base + 3, proto: 'udp', template: '5060_udp' },
    ],
  });

  const errors = daemon.logs.filter((l) => l.level === 50);
  expect(errors.map((l) => l.msg).sort()).toEqual([
    `port ${base + 1}/tcp on ${LOOPBACK}: address already in use (EADDRINUSE)`,
    `port ${base + 3}/udp on ${LOOPBACK}: address already in use (EADDRINUSE)`,
  ]);
  expect(errors.map((l) => l.port).sort()).toEqual([`${base + 1}/tcp`, `${base + 3}/udp`]);
  const ready = daemon.logs.find((l) => l.msg.startsWith('honeytrap ready'));
  expect(ready?.msg).toBe(`honeytrap ready: trapping ${base}/tcp, ${base + 2}/tcp`);
  expect(ready?.ports).toBe(2);
  expect(ready?.failed).toBe(2);

  const status = await daemon.status();
  expect(
    status.ports
      .filter((p) => p.error)
      .map((p) => p.key)
      .sort(),
  ).toEqual([`${base + 1}/tcp`, `${base + 3}/udp`]);

  // The free ports answer with the template; the taken one still belongs to its owner.
  const tpl = readFileSync(join(BUILTIN_TEMPLATES, '21_tcp'));
  for (const port of [base, base + 2]) {
    const r = await tcpExchange(port, 'QUIT\r\n');
    expect(r.received.equals(tpl)).toBe(true);
  }
  const other = await TcpClient.connect(base + 1);
  await other.waitClosed();
  expect(other.received.toString()).toBe('occupied\n');

  await daemon.waitForAttacks(2);
  expect(
    daemon
      .attackLogs()
      .map((l) => l.port)
      .sort(),
  ).toEqual([base, base + 2]);
  expect(await daemon.stop()).toEqual({ code: 0, signal: null });
});

test('every port taken: the daemon exits 1 naming each port, without a stack trace', async () => {
  const base = await freePortRange(2);
  await occupyTcp(base);
  await occupyTcp(base + 1);
  const dir = await makeTempDir();
  const file = join(dir, 'config.json');
  await writeFile(
    file,
    JSON.stringify(testConfig(dir, { ports: [{ port: `${base}-${base + 1}` }] })),
  );

  const r = await honeytrap(['run', '--config', file], { timeoutMs: 15_000 });
  expect(r.code).toBe(1);
  expect(r.stderr).toBe(
    'honeytrap: no port could be bound; nothing to trap\n' +
      `  port ${base}/tcp on ${LOOPBACK}: address already in use (EADDRINUSE)\n` +
      `  port ${base + 1}/tcp on ${LOOPBACK}: address already in use (EADDRINUSE)\n`,
  );
  expect(stackLines(r.stderr)).toEqual([]);
  // The log says the same, port by port, and never claims to be ready.
  const logs = r.stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { level: number; msg: string });
  expect(logs.filter((l) => l.level === 50).map((l) => l.msg)).toEqual([
    `port ${base}/tcp on ${LOOPBACK}: address already in use (EADDRINUSE)`,
    `port ${base + 1}/tcp on ${LOOPBACK}: address already in use (EADDRINUSE)`,
  ]);
  expect(logs.some((l) => l.msg.startsWith('honeytrap ready'))).toBe(false);
});
