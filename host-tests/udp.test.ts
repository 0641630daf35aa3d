// Issue 2, UDP end to end: datagrams from a real dgram socket, one attack per
// source address/port, the template as the reply, ignore mode never replying.
import { createSocket, type Socket } from 'node:dgram';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { b64, listAttacks, type Attack } from './lib/cli.js';
import { sleep } from './lib/clients.js';
import { BUILTIN_TEMPLATES, cleanup, HoneytrapDaemon } from './lib/daemon.js';
import { freePortRange, LOOPBACK } from './lib/ports.js';

const SIP = readFileSync(join(BUILTIN_TEMPLATES, '5060_udp'));

let daemon: HoneytrapDaemon;
let normalPort = 0;
let ignorePort = 0;

beforeAll(async () => {
  const base = await freePortRange(2);
  normalPort = base;
  ignorePort = base + 1;
  daemon = await HoneytrapDaemon.start({
    ports: [
      { port: normalPort, proto: 'udp', template: '5060_udp', idleTimeoutMs: 400 },
      { port: ignorePort, proto: 'udp', mode: 'ignore', template: '5060_udp', idleTimeoutMs: 400 },
    ],
  });
});

afterAll(cleanup);

interface UdpClient {
  socket: Socket;
  port: number;
  replies: Buffer[];
  send(data: Buffer | string, port: number): Promise<void>;
  close(): void;
}

async function udpClient(): Promise<UdpClient> {
  const socket = createSocket('udp4');
  const replies: Buffer[] = [];
  socket.on('message', (m) => replies.push(m));
  await new Promise<void>((r) => socket.bind(0, LOOPBACK, () => r()));
  return {
    socket,
    port: socket.address().port,
    replies,
    send: (data, port) =>
      new Promise((resolve, reject) =>
        socket.send(data, port, LOOPBACK, (err) => (err ? reject(err) : resolve())),
      ),
    close: () => socket.close(),
  };
}

/** A SIP OPTIONS probe padded past the template's size (UDP replies never exceed what was received). */
function sipProbe(tag: string): Buffer {
  const head =
    `OPTIONS sip:100@${LOOPBACK} SIP/2.0\r\nVia: SIP/2.0/UDP ${LOOPBACK}:5060;branch=z9hG4bK-${tag}\r\n` +
    `From: <sip:scanner@${LOOPBACK}>;tag=${tag}\r\nTo: <sip:100@${LOOPBACK}>\r\nCall-ID: ${tag}\r\nCSeq: 1 OPTIONS\r\n`;
  return Buffer.from(head + `X-Pad: ${'p'.repeat(Math.max(0, 600 - head.length))}\r\n\r\n`);
}

function bySourcePort(list: Attack[], port: number): Attack {
  const hits = list.filter((a) => a.remote.port === port);
  expect(hits.length).toBe(1);
  return hits[0] as Attack;
}

test('datagrams from one source port form one attack; the reply is the template; a second port is a second attack', async () => {
  const one = await udpClient();
  const two = await udpClient();
  try {
    const d1 = sipProbe('one');
    const d2 = Buffer.from('second datagram\n');
    const d3 = Buffer.from([0, 1, 2, 0xfe, 0xff]);
    await one.send(d1, normalPort);
    await sleep(30);
    await one.send(d2, normalPort);
    await sleep(30);
    await one.send(d3, normalPort);
    const d4 = sipProbe('two');
    await two.send(d4, normalPort);
    await sleep(250);
    // One reply per session (normal mode answers when the session starts), exactly the template.
    expect(one.replies.length).toBe(1);
    expect((one.replies[0] as Buffer).equals(SIP)).toBe(true);
    expect(two.replies.length).toBe(1);
    expect((two.replies[0] as Buffer).equals(SIP)).toBe(true);

    await daemon.waitForAttacks(2, 5000);
    const list = await listAttacks(daemon.storeDir, ['--port', `${normalPort}/udp`]);
    expect(list.length).toBe(2);
    expect(await listAttacks(daemon.storeDir, ['--port', `${normalPort}/tcp`])).toEqual([]);

    const a = bySourcePort(list, one.port);
    const all = Buffer.concat([d1, d2, d3]);
    expect(b64(a.received.data).equals(all)).toBe(true);
    expect(a.received).toEqual({
      length: all.length,
      data: all.toString('base64'),
      truncated: false,
    });
    expect(b64(a.sent.data).equals(SIP)).toBe(true);
    expect(a.sent.length).toBe(SIP.length);
    expect(a.chunks.map((c) => `${c.dir}${c.length}`)).toEqual([
      `in${d1.length}`,
      `out${SIP.length}`,
      `in${d2.length}`,
      `in${d3.length}`,
    ]);
    expect(a.proto).toBe('udp');
    expect(a.mode).toBe('normal');
    expect(a.template).toBe('5060_udp');
    expect(a.local).toEqual({ address: LOOPBACK, port: normalPort });
    expect(a.remote).toEqual({ address: LOOPBACK, port: one.port });
    expect(a.endReason).toBe('idle-timeout');

    const b = bySourcePort(list, two.port);
    expect(b64(b.received.data).equals(d4)).toBe(true);
    expect(b64(b.sent.data).equals(SIP)).toBe(true);
    expect(b.id).not.toBe(a.id);
  } finally {
    one.close();
    two.close();
  }
});

test('ignore mode on a UDP port never replies but records every datagram', async () => {
  const c = await udpClient();
  try {
    const d1 = sipProbe('ignored');
    const d2 = Buffer.from('still there?\n');
    await c.send(d1, ignorePort);
    await sleep(30);
    await c.send(d2, ignorePort);
    await daemon.waitForLog(
      (l) => l.msg === 'attack' && l.port === ignorePort,
      5000,
      'the ignore-mode UDP attack',
    );
    await sleep(100);
    expect(c.replies).toEqual([]);

    const list = await listAttacks(daemon.storeDir, ['--port', `${ignorePort}/udp`]);
    expect(list.length).toBe(1);
    const a = bySourcePort(list, c.port);
    expect(a.mode).toBe('ignore');
    expect(b64(a.received.data).equals(Buffer.concat([d1, d2]))).toBe(true);
    expect(a.sent).toEqual({ length: 0, data: '', truncated: false });
    expect(a.template).toBeUndefined();
    expect(a.endReason).toBe('idle-timeout');
  } finally {
    c.close();
  }
});
