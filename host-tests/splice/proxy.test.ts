// Issue 4, proxy mode: target namespaces run redis-server, nginx, socat and
// small Node servers; the honeypot forwards ports to them, per source network
// when a route matches. Real clients from the attacker get real answers, the
// attack names the target that served it, a target that is down means normal
// mode; a half-closed side still gets its answer, a reset side ends the
// session promptly, 50 MB pass with a 1 MiB record and bounded memory, and
// UDP replies find their way back.
import { createHash, randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { expect, test } from 'vitest';
import { b64, type Attack } from '../lib/cli.js';
import { makeTempDir } from '../lib/daemon.js';
import { NsAgent } from '../lib/ns-agent.js';
import {
  BULK_BLOCK,
  BULK_CLIENT,
  bulkPrefix,
  resp,
  startNginx,
  startNodeServer,
  startRedis,
  startSocat,
} from '../lib/peer-servers.js';
import { expectWire, redisThrough, tracedCurl, udpEchoThrough } from '../lib/splice-clients.js';
import { OPEN_UDP_LIMITS, spliceSuite, startSpliceDaemon } from '../lib/splice-suite.js';

const ATTACKER = '10.99.41.1';
const HONEYPOT = '10.99.41.2';
/** A second attacker address, in a network no route names. */
const ATTACKER_2 = '10.99.44.1';
const TARGET = '10.99.42.1';
const TARGET_2 = '10.99.43.1';
const token = randomBytes(8).toString('hex');
const PAGE_1 = `<html><body>target one ${token}</body></html>\n`;
const PAGE_2 = `<html><body>target two ${token}</body></html>\n`;
const REDIS_FALLBACK = '-ERR honeytrap normal mode\r\n';
const READ_LIMIT = 1_048_576;

const env = spliceSuite(
  'proxy',
  ['att', 'hp', 'tg1', 'tg2'],
  ['nginx', 'redis-server', 'redis-cli', 'socat', 'curl'],
  async (net) => {
    const front = net.link('att', `${ATTACKER}/24`, 'hp', `${HONEYPOT}/24`);
    net.addAddress('att', front.aDev, `${ATTACKER_2}/24`);
    net.addAddress('hp', front.bDev, '10.99.44.2/24');
    net.link('tg1', `${TARGET}/24`, 'hp', '10.99.42.2/24');
    net.link('tg2', `${TARGET_2}/24`, 'hp', '10.99.43.2/24');
    const redis = await startRedis(net, 'tg1', TARGET);
    await startNginx(net, 'tg1', TARGET, PAGE_1);
    await startNginx(net, 'tg2', TARGET_2, PAGE_2);
    // Answers only once it read everything: the byte count, then "done".
    await startSocat(
      net,
      'tg1',
      ['-t', '5', `TCP-LISTEN:7000,bind=${TARGET},fork,reuseaddr`, 'SYSTEM:wc -c; echo done'],
      'tcp',
      7000,
    );
    await startNodeServer(net, 'tg1', 'resetAfterRead', TARGET, 7001);
    await startNodeServer(net, 'tg1', 'sinkHash', TARGET, 7002);
    await startNodeServer(net, 'tg1', 'udpEcho', TARGET, 5353);
    const daemon = await startSpliceDaemon(net, 'hp', {
      addresses: [HONEYPOT],
      defaults: { proxy: { target: `${TARGET}:6379` } },
      ports: [
        { port: 6379, mode: 'proxy' }, // the default target (defaults.proxy)
        {
          port: 80,
          mode: 'proxy',
          proxy: {
            target: `${TARGET}:80`,
            routes: [{ from: '10.99.41.0/24', target: `${TARGET_2}:80` }],
          },
        },
        { port: 7000, mode: 'proxy', proxy: { target: `${TARGET}:7000` } },
        { port: 7001, mode: 'proxy', proxy: { target: `${TARGET}:7001` } },
        {
          port: 7002,
          mode: 'proxy',
          readLimit: READ_LIMIT,
          proxy: { target: `${TARGET}:7002` },
        },
        {
          port: 5353,
          proto: 'udp',
          mode: 'proxy',
          idleTimeoutMs: 500,
          proxy: { target: `${TARGET}:5353` },
        },
      ],
      udp: OPEN_UDP_LIMITS,
      templates: { '6379_tcp': REDIS_FALLBACK },
    });
    const agent = await NsAgent.start(net, 'att');
    const tmp = await makeTempDir('hts-proxy-');
    return { daemon, agent, tmp, redis };
  },
);

const data = (p: Attack['received']): Buffer => b64(p.data);

function expectProxied(a: Attack, port: number, target: string, source = ATTACKER): void {
  expect(a.mode).toBe('proxy');
  expect(a.remote.address).toBe(source);
  expect(a.local.port).toBe(port);
  expect(a.peer).toEqual({ address: target, port, role: 'proxy' });
  expect(a.fallback).toBeUndefined();
}

test('redis-cli through the proxy gets the target redis: PING, SET, GET; data lands in the target', async () => {
  const { net, daemon } = env();
  const value = `proxied-${randomBytes(6).toString('hex')}`;
  const via = { from: 'att', honeypot: HONEYPOT, real: { node: 'tg1', host: TARGET } };
  await redisThrough(net, daemon, via, value, (a) => expectProxied(a, 6379, TARGET));
});

test('curl: a route for the attacker network wins over the default target; other sources get the default', async () => {
  const { net, daemon, tmp } = env();
  const curl = (name: string, extra: string[]) =>
    tracedCurl(net, 'att', `http://${HONEYPOT}/`, join(tmp, `trace-${name}`), extra);

  const routed = await curl('routed', []);
  expect(routed.r.stdout).toContain('HTTP/1.1 200 OK');
  expect(routed.r.stdout.endsWith(PAGE_2)).toBe(true);
  const other = await curl('default', ['--interface', ATTACKER_2]);
  expect(other.r.stdout.endsWith(PAGE_1)).toBe(true);

  const a = await daemon.waitForAttack(
    (x) =>
      x.local.port === 80 && x.remote.port === routed.localPort && x.remote.address === ATTACKER,
    'routed curl',
  );
  expectProxied(a, 80, TARGET_2);
  expectWire(a, routed.wire);
  const b = await daemon.waitForAttack(
    (x) =>
      x.local.port === 80 && x.remote.port === other.localPort && x.remote.address === ATTACKER_2,
    'default curl',
  );
  expectProxied(b, 80, TARGET, ATTACKER_2);
  expectWire(b, other.wire);
});

test('the target is down: normal mode answers (the port template), fallback from proxy', async () => {
  const { net, daemon, redis } = env();
  await redis.stop();
  const r = await net.exec('att', ['redis-cli', '-h', HONEYPOT, '-p', '6379', 'PING'], {
    timeoutMs: 10_000,
  });
  expect(r.stdout + r.stderr).toContain('ERR honeytrap normal mode');

  const a = await daemon.waitForAttack(
    (x) => x.local.port === 6379 && x.fallback !== undefined,
    'redis fallback',
  );
  expect(a.mode).toBe('proxy');
  expect(a.peer).toBeUndefined();
  expect(a.fallback?.from).toBe('proxy');
  expect(a.fallback?.reason).toMatch(/ECONNREFUSED/);
  expect(a.fallback?.reason).toContain(`${TARGET}:6379`);
  expect(a.template).toBe('6379_tcp');
  expect(data(a.sent).toString()).toBe(REDIS_FALLBACK);
  expect(data(a.received)).toEqual(resp(['PING']));
});

test('half-closed side: the client half-closes and still gets the full answer the target sends after EOF', async () => {
  const { daemon, agent } = env();
  const payload = randomBytes(100_000);
  const c = await agent.tcp(HONEYPOT, 7000, { allowHalfOpen: true });
  await c.write(payload);
  const endT = await c.end();
  await c.waitClosed();
  const answer = `${payload.length}\ndone\n`;
  expect(c.received.toString()).toBe(answer);
  expect(c.error).toBeUndefined();
  // Every byte of the answer came after the half-close (the target answers only at EOF).
  expect(c.chunks.every((ch) => ch.t >= endT)).toBe(true);

  const a = await daemon.waitForAttack(
    (x) => x.local.port === 7000 && x.remote.port === c.localPort,
    'half-close',
  );
  expectProxied(a, 7000, TARGET);
  expect(data(a.received)).toEqual(payload);
  expect(data(a.sent).toString()).toBe(answer);
  expect(a.endReason).toBe('closed');
  expect(a.error).toBeUndefined();
  // The answer's chunks come after every chunk the attacker sent.
  const lastIn = Math.max(...a.chunks.filter((ch) => ch.dir === 'in').map((ch) => ch.atMs));
  const firstOut = Math.min(...a.chunks.filter((ch) => ch.dir === 'out').map((ch) => ch.atMs));
  expect(firstOut).toBeGreaterThanOrEqual(lastIn);
});

test('reset side: the target resets, the attacker sees the end promptly, the attack says reset', async () => {
  const { daemon, agent } = env();
  const c = await agent.tcp(HONEYPOT, 7001);
  await c.write('reset me\n');
  await c.waitClosed(3_000);
  expect(c.closedAt! - c.connectedAt!).toBeLessThan(2_000);

  const a = await daemon.waitForAttack(
    (x) => x.local.port === 7001 && x.remote.port === c.localPort,
    'reset',
  );
  expect(a.peer).toEqual({ address: TARGET, port: 7001, role: 'proxy' });
  expect(`${a.endReason} ${a.error ?? ''}`).toMatch(/reset/i);
  expect(data(a.received).toString()).toBe('reset me\n');

  // The daemon keeps answering, on this port and others.
  const again = await agent.tcp(HONEYPOT, 7000, { allowHalfOpen: true });
  await again.write('ok?');
  await again.end();
  await again.waitClosed();
  expect(again.received.toString()).toBe('3\ndone\n');
});

test('50 MB through the proxy with readLimit 1 MiB: transfer complete, record truncated to the first MiB, memory bounded', async () => {
  const { net, daemon } = env();
  const blocks = 800; // 800 x 64 KiB = 50 MiB
  const total = blocks * BULK_BLOCK;
  const before = daemon.rssBytes();
  let peak = before;
  const poll = setInterval(() => {
    try {
      peak = Math.max(peak, daemon.rssBytes());
    } catch {
      /* exited: the checks below say so */
    }
  }, 50);
  let out;
  try {
    out = await net.exec(
      'att',
      [process.execPath, '-e', BULK_CLIENT, JSON.stringify({ host: HONEYPOT, port: 7002, blocks })],
      { timeoutMs: 60_000 },
    );
  } finally {
    clearInterval(poll);
  }
  expect(out.code, out.stderr).toBe(0);
  const r = JSON.parse(out.stdout) as {
    sent: number;
    sha256: string;
    reply: string;
    error: string | null;
  };
  expect(r.error).toBeNull();
  expect(r.sent).toBe(total);
  expect(r.reply).toBe(`${total} ${r.sha256}\n`);
  expect(peak, `RSS before ${before}, peak ${peak}`).toBeLessThan(200 * 1024 * 1024);

  const a = await daemon.waitForAttack((x) => x.local.port === 7002, '50 MB', 20_000);
  expectProxied(a, 7002, TARGET);
  expect(a.received.length).toBe(total);
  expect(a.received.truncated).toBe(true);
  const kept = data(a.received);
  expect(kept.length).toBe(READ_LIMIT);
  expect(createHash('sha256').update(kept).digest('hex')).toBe(
    createHash('sha256').update(bulkPrefix(READ_LIMIT)).digest('hex'),
  );
  expect(a.sent).toMatchObject({ length: r.reply.length, truncated: false });
  expect(data(a.sent).toString()).toBe(r.reply);
  expect(a.endReason).toBe('closed');
});

test('UDP proxy: a datagram comes back through the honeypot from the target echo; peer and both directions recorded', async () => {
  const { daemon, agent } = env();
  const a = await udpEchoThrough(
    daemon,
    agent,
    { from: ATTACKER, honeypot: HONEYPOT, port: 5353, what: 'udp proxy' },
    [Buffer.from('udp through proxy'), randomBytes(300)],
  );
  expect(a.mode).toBe('proxy');
  expect(a.peer).toEqual({ address: TARGET, port: 5353, role: 'proxy' });
});
