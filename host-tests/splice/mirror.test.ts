// Issue 4, mirror mode: the attacker namespace runs real services (nginx,
// redis-server, a socat echo, a UDP echo); the honeypot namespace runs the
// daemon with those ports in mirror mode, so real clients (curl, redis-cli)
// get their own servers' answers. Both directions are recorded byte-exact with
// the attacker as the peer; a connect-back that fails or times out falls back
// to normal mode; the per-source limit sends the session past it to normal.
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { expect, test } from 'vitest';
import { b64, honeytrap, type Attack } from '../lib/cli.js';
import { sleep } from '../lib/clients.js';
import { BUILTIN_TEMPLATES, makeTempDir } from '../lib/daemon.js';
import { NsAgent } from '../lib/ns-agent.js';
import { startNginx, startNodeServer, startRedis, startSocat } from '../lib/peer-servers.js';
import { expectWire, redisThrough, tracedCurl, udpEchoThrough } from '../lib/splice-clients.js';
import { OPEN_UDP_LIMITS, spliceSuite, startSpliceDaemon } from '../lib/splice-suite.js';

const ATTACKER = '10.99.40.1';
const HONEYPOT = '10.99.40.2';
const CONNECT_TIMEOUT = 1000;
const PAGE = `<html><body>the attacker's own nginx ${randomBytes(8).toString('hex')}</body></html>\n`;
const ECHO_FALLBACK = 'normal mode on 7777\r\n';

const env = spliceSuite(
  'mirror',
  ['att', 'hp'],
  ['nginx', 'redis-server', 'redis-cli', 'socat', 'curl', 'iptables'],
  async (net) => {
    net.link('att', `${ATTACKER}/24`, 'hp', `${HONEYPOT}/24`);
    await startNginx(net, 'att', ATTACKER, PAGE);
    await startRedis(net, 'att', ATTACKER);
    await startSocat(
      net,
      'att',
      [`TCP-LISTEN:7777,bind=${ATTACKER},fork,reuseaddr`, 'EXEC:cat'],
      'tcp',
      7777,
    );
    await startNodeServer(net, 'att', 'udpEcho', ATTACKER, 5353);
    // Port 2121: the attacker drops the connect-back's SYN, so it times out.
    await net.mustExec('att', [
      'iptables',
      '-A',
      'INPUT',
      '-p',
      'tcp',
      '--dport',
      '2121',
      '-j',
      'DROP',
    ]);
    const daemon = await startSpliceDaemon(net, 'hp', {
      addresses: [HONEYPOT],
      ports: [
        { port: 80, mode: 'mirror' },
        { port: 6379, mode: 'mirror' },
        { port: 7777, mode: 'mirror' },
        { port: 21, mode: 'mirror' },
        { port: 2121, mode: 'mirror', template: '21_tcp' },
        { port: 5353, proto: 'udp', mode: 'mirror', idleTimeoutMs: 500 },
      ],
      splice: { connectTimeoutMs: CONNECT_TIMEOUT, mirrorPerSource: 2 },
      udp: OPEN_UDP_LIMITS,
      templates: { '7777_tcp': ECHO_FALLBACK },
    });
    const agent = await NsAgent.start(net, 'att');
    const tmp = await makeTempDir('hts-mirror-');
    return { daemon, agent, tmp };
  },
);

const data = (p: Attack['received']): Buffer => b64(p.data);

function expectMirrored(a: Attack, port: number): void {
  expect(a.mode).toBe('mirror');
  expect(a.remote.address).toBe(ATTACKER);
  expect(a.local).toEqual({ address: HONEYPOT, port });
  expect(a.peer).toEqual({ address: ATTACKER, port, role: 'mirror' });
  expect(a.fallback).toBeUndefined();
}

test('curl gets the attacker its own nginx page; the attack holds both directions byte-exact', async () => {
  const { net, daemon, tmp } = env();
  const { r, wire, localPort } = await tracedCurl(
    net,
    'att',
    `http://${HONEYPOT}/`,
    join(tmp, 'curl-trace'),
  );
  expect(r.stdout).toContain('HTTP/1.1 200 OK');
  expect(r.stdout.endsWith(PAGE)).toBe(true);

  const a = await daemon.waitForAttack(
    (x) => x.local.port === 80 && x.remote.port === localPort,
    'curl',
  );
  expectMirrored(a, 80);
  expectWire(a, wire);
  expect(a.received).toMatchObject({ length: wire.sent.length, truncated: false });
  expect(a.sent).toMatchObject({ length: wire.received.length, truncated: false });
  expect(new Set(a.chunks.map((c) => c.dir))).toEqual(new Set(['in', 'out']));
});

test('redis-cli PING, SET and GET reach the attacker its own redis; the RESP bytes are recorded both ways', async () => {
  const { net, daemon } = env();
  const value = `mirrored-${randomBytes(6).toString('hex')}`;
  // The data lands in the attacker's own redis.
  const via = { from: 'att', honeypot: HONEYPOT, real: { node: 'att', host: ATTACKER } };
  await redisThrough(net, daemon, via, value, (a) => expectMirrored(a, 6379));
});

test('an echo through the mirror returns the bytes; both directions recorded exactly', async () => {
  const { daemon, agent } = env();
  const payload = Buffer.concat([Buffer.from('echo through mirror\n'), randomBytes(64 * 1024)]);
  const c = await agent.tcp(HONEYPOT, 7777);
  await c.write(payload);
  expect(await c.receivedAtLeast(payload.length)).toEqual(payload);
  await c.end();
  await c.waitClosed();
  expect(c.received).toEqual(payload);

  const a = await daemon.waitForAttack(
    (x) => x.local.port === 7777 && x.remote.port === c.localPort,
    'echo',
  );
  expectMirrored(a, 7777);
  expect(data(a.received)).toEqual(payload);
  expect(data(a.sent)).toEqual(payload);
  expect(a.endReason).toBe('closed');
});

test('nothing listens on the attacker: the client gets the normal-mode template at once, fallback ECONNREFUSED', async () => {
  const { daemon, agent } = env();
  const template = await readFile(join(BUILTIN_TEMPLATES, '21_tcp'));
  const c = await agent.tcp(HONEYPOT, 21);
  expect(await c.receivedAtLeast(template.length, CONNECT_TIMEOUT + 2000)).toEqual(template);
  expect(c.chunks[0]!.t - c.connectedAt!).toBeLessThan(CONNECT_TIMEOUT + 500);
  await c.write('USER anonymous\r\n');
  await c.end();
  await c.waitClosed();

  const a = await daemon.waitForAttack(
    (x) => x.local.port === 21 && x.remote.port === c.localPort,
    'port 21',
  );
  expect(a.mode).toBe('mirror');
  expect(a.peer).toBeUndefined();
  expect(a.fallback?.from).toBe('mirror');
  expect(a.fallback?.reason).toMatch(/ECONNREFUSED/);
  expect(a.template).toBe('21_tcp');
  expect(data(a.sent)).toEqual(template);
  expect(data(a.received).toString()).toBe('USER anonymous\r\n');
});

test('a connect-back that gets no answer falls back after connectTimeoutMs', async () => {
  const { daemon, agent } = env();
  const template = await readFile(join(BUILTIN_TEMPLATES, '21_tcp'));
  const c = await agent.tcp(HONEYPOT, 2121);
  expect(await c.receivedAtLeast(template.length, CONNECT_TIMEOUT + 3000)).toEqual(template);
  const after = c.chunks[0]!.t - c.connectedAt!;
  expect(after).toBeGreaterThanOrEqual(CONNECT_TIMEOUT - 100);
  expect(after).toBeLessThan(CONNECT_TIMEOUT + 1000);
  await c.end();
  await c.waitClosed();

  const a = await daemon.waitForAttack(
    (x) => x.local.port === 2121 && x.remote.port === c.localPort,
    'port 2121',
  );
  expect(a.fallback?.from).toBe('mirror');
  expect(a.fallback?.reason).toMatch(/timed out/);
  expect(a.peer).toBeUndefined();
  expect(data(a.sent)).toEqual(template);
});

test('mirrorPerSource 2: two mirrored connections held open, the third falls back to normal', async () => {
  const { daemon, agent } = env();
  await daemon.waitIdle();
  // One after the other: each mirror has answered (echoed) before the next
  // connection arrives, so the next is no loop suspect.
  const held = [];
  for (let i = 0; i < 2; i++) {
    const c = await agent.tcp(HONEYPOT, 7777);
    await c.write(`held ${i}\n`);
    expect((await c.receivedAtLeast(7)).toString()).toBe(`held ${i}\n`);
    held.push(c);
  }
  expect((await daemon.status()).splices.mirrors).toBe(2);

  const third = await agent.tcp(HONEYPOT, 7777);
  await third.write('third\n');
  expect((await third.receivedAtLeast(ECHO_FALLBACK.length)).toString()).toBe(ECHO_FALLBACK);
  await sleep(300);
  expect(third.received.toString()).toBe(ECHO_FALLBACK); // not echoed: no mirror behind it
  for (const c of [...held, third]) await c.end();
  for (const c of [...held, third]) await c.waitClosed();

  const a = await daemon.waitForAttack(
    (x) => x.local.port === 7777 && x.remote.port === third.localPort,
    'third',
  );
  expect(a.fallback?.from).toBe('mirror');
  expect(a.fallback?.reason).toMatch(/mirrorPerSource/);
  expect(a.peer).toBeUndefined();
  expect(a.template).toBe('7777_tcp');
  expect(data(a.received).toString()).toBe('third\n');
  for (const [i, c] of held.entries()) {
    const h = await daemon.waitForAttack(
      (x) => x.local.port === 7777 && x.remote.port === c.localPort,
      `held ${i}`,
    );
    expectMirrored(h, 7777);
  }

  // The limit is released with the sessions: the next connection is mirrored again.
  await daemon.waitIdle();
  const again = await agent.tcp(HONEYPOT, 7777);
  await again.write('again\n');
  expect((await again.receivedAtLeast(6)).toString()).toBe('again\n');
  await again.end();
  await again.waitClosed();
});

test('UDP mirror: datagrams come back from the attacker its own echo; peer and both directions recorded', async () => {
  const { daemon, agent } = env();
  await daemon.waitIdle();
  const a = await udpEchoThrough(
    daemon,
    agent,
    { from: ATTACKER, honeypot: HONEYPOT, port: 5353, what: 'udp' },
    [
      Buffer.from('udp mirror one'),
      Buffer.concat([Buffer.from('udp mirror two '), randomBytes(200)]),
    ],
  );
  expect(a.mode).toBe('mirror');
  expect(a.peer).toEqual({ address: ATTACKER, port: 5353, role: 'mirror' });
  expect(a.fallback).toBeUndefined();
});

test('honeytrap attacks show prints the peer line and both directions of a mirror attack', async () => {
  const { daemon, agent } = env();
  const c = await agent.tcp(HONEYPOT, 7777);
  await c.write('show me the mirror\n');
  await c.receivedAtLeast(19);
  await c.end();
  await c.waitClosed();
  const a = await daemon.waitForAttack(
    (x) => x.local.port === 7777 && x.remote.port === c.localPort,
    'show',
  );
  const r = await honeytrap(['attacks', 'show', a.id, '--data-dir', daemon.storeDir]);
  expect(r.code, r.stderr).toBe(0);
  expect(r.stdout).toContain(`mode      mirror`);
  expect(r.stdout).toMatch(
    new RegExp(`^peer +${ATTACKER.replace(/\./g, '\\.')}:7777 \\(mirror\\)$`, 'm'),
  );
  expect(r.stdout).toContain('received (attacker -> peer): 19 bytes');
  expect(r.stdout).toContain('sent (peer -> attacker): 19 bytes');
  // Both hexdumps show the bytes.
  expect(r.stdout.match(/\|show me the mirr\|/g)).toHaveLength(2);
  expect(r.stdout).not.toContain('fallback');
});
