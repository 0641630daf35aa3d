// Issue 2: SIGTERM during active sessions ends them, records them and flushes
// the store before exit; nothing completed or in flight is lost.
import { createSocket } from 'node:dgram';
import { afterAll, expect, test } from 'vitest';
import { b64, listAttacks, type Attack } from './lib/cli.js';
import { sleep, TcpClient, tcpExchange, waitUntil } from './lib/clients.js';
import { cleanup, HoneytrapDaemon, testConfig } from './lib/daemon.js';
import { freePortRange, LOOPBACK } from './lib/ports.js';

afterAll(cleanup);

const OPEN = 50;
const DONE = 20;

test('SIGTERM with 50 open sessions, 20 finished ones waiting for their batch and a UDP session: exit 0, all 71 stored', async () => {
  const base = await freePortRange(2);
  const tcpPort = base;
  const udpPort = base + 1;
  const config = (dir: string) =>
    testConfig(dir, {
      ports: [
        { port: tcpPort, template: '21_tcp', idleTimeoutMs: 60_000 },
        { port: udpPort, proto: 'udp', idleTimeoutMs: 60_000 },
      ],
      // Finished attacks wait for their batch (up to 10 s): SIGTERM must write them
      // at once, neither drop them nor wait for the batch timer.
      store: { batchSize: 10_000, flushIntervalMs: 10_000 },
    });
  const daemon = await HoneytrapDaemon.start(config);

  // 20 sessions that are over before the signal.
  const done = await Promise.all(
    Array.from({ length: DONE }, (_, i) => tcpExchange(tcpPort, `finished session ${i}\n`)),
  );
  // 50 sessions that sent something and stay open.
  const open = await Promise.all(Array.from({ length: OPEN }, () => TcpClient.connect(tcpPort)));
  await Promise.all(open.map((c, i) => c.write(`open session ${i}\n`)));
  // A UDP session in progress.
  const udp = createSocket('udp4');
  await new Promise<void>((r) => udp.bind(0, LOOPBACK, () => r()));
  const udpSourcePort = udp.address().port;
  await new Promise<void>((r) => udp.send('udp in flight\n', udpPort, LOOPBACK, () => r()));

  await waitUntil(
    async () => {
      const s = await daemon.status();
      return s.activeSessions === OPEN + 1 && s.pendingWrites === DONE;
    },
    5000,
    `${OPEN + 1} active sessions and ${DONE} pending writes`,
  );
  await sleep(200); // let the daemon read what the open sessions sent
  const before = await daemon.status();
  expect(before.attacksStored).toBe(0);
  expect(before.pendingWrites).toBe(DONE);

  const t0 = performance.now();
  const exit = await daemon.stop('SIGTERM', 8000);
  const exitMs = performance.now() - t0;
  udp.close();
  expect(exit).toEqual({ code: 0, signal: null });
  expect(exitMs).toBeLessThan(3000);
  expect(daemon.stderr).toBe('');
  const stopped = daemon.logs.find((l) => l.msg === 'honeytrap stopped');
  expect(stopped?.sessions).toBe(OPEN + 1);
  expect(stopped?.stored).toBe(OPEN + DONE + 1);
  expect(daemon.logs.filter((l) => l.level >= 50)).toEqual([]);

  // Every open client saw its session end.
  const closes = await Promise.all(open.map((c) => c.waitClosed(2000)));
  expect(closes.length).toBe(OPEN);

  const check = (attacks: Attack[]) => {
    expect(attacks.length).toBe(OPEN + DONE + 1);
    const byText = new Map(attacks.map((a) => [b64(a.received.data).toString(), a]));
    open.forEach((c, i) => {
      const a = byText.get(`open session ${i}\n`);
      expect(a?.endReason).toBe('shutdown');
      expect(a?.remote.port).toBe(c.localPort);
    });
    done.forEach((d, i) => {
      const a = byText.get(`finished session ${i}\n`);
      expect(a?.endReason).toBe('closed');
      expect(a?.remote.port).toBe(d.localPort);
    });
    const u = byText.get('udp in flight\n');
    expect(u?.proto).toBe('udp');
    expect(u?.endReason).toBe('shutdown');
    expect(u?.local).toEqual({ address: LOOPBACK, port: udpPort });
    expect(u?.remote).toEqual({ address: LOOPBACK, port: udpSourcePort });
  };

  // Daemon gone: the command reads the store directly.
  const fromStore = await listAttacks(daemon.storeDir);
  check(fromStore);

  // Restarted on the same store: the same attacks, now through the control socket.
  const again = await HoneytrapDaemon.start(config, { dir: daemon.dir });
  const fromDaemon = await listAttacks(again.storeDir);
  check(fromDaemon);
  expect(fromDaemon.map((a) => a.id)).toEqual(fromStore.map((a) => a.id));
  expect((await again.status()).attacksStored).toBe(0);
  expect(await again.stop()).toEqual({ code: 0, signal: null });
});
