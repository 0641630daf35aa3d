// Client steps the mirror and proxy tests share: curl with a wire trace,
// redis-cli through the honeypot to a real redis, UDP echoes through it; each
// checks what the client got and what the daemon recorded.
import { readFile } from 'node:fs/promises';
import { expect } from 'vitest';
import { b64, type Attack, type RunResult } from './cli.js';
import type { HoneytrapDaemon } from './daemon.js';
import type { Netns } from './netns.js';
import type { NsAgent } from './ns-agent.js';
import { parseCurlTrace, resp } from './peer-servers.js';

const data = (p: Attack['received']): Buffer => b64(p.data);

/** What curl sent and received on the wire, by its --trace. */
export interface CurlWire {
  sent: Buffer;
  received: Buffer;
}

/**
 * `curl URL` from `node` with the headers on stdout and a wire trace in
 * `trace`; checks that the trace received what curl printed (-D - and a body
 * without transfer coding: the wire bytes).
 */
export async function tracedCurl(
  net: Netns,
  node: string,
  url: string,
  trace: string,
  extra: string[] = [],
): Promise<{ r: RunResult; wire: CurlWire; localPort: number }> {
  const r = await net.mustExec(node, [
    'curl',
    '-sS',
    '--max-time',
    '10',
    '-D',
    '-',
    '--trace',
    trace,
    '-w',
    '%{stderr}local_port=%{local_port}\n',
    ...extra,
    url,
  ]);
  const wire = parseCurlTrace(await readFile(trace, 'utf8'));
  expect(wire.received).toEqual(r.stdoutBytes);
  return { r, wire, localPort: Number(/local_port=(\d+)/.exec(r.stderr)?.[1]) };
}

/** The attack holds exactly what went over the wire, both ways. */
export function expectWire(a: Attack, wire: CurlWire): void {
  expect(data(a.received)).toEqual(wire.sent);
  expect(data(a.sent)).toEqual(wire.received);
}

/**
 * redis-cli PING, SET and GET (of `value`) from `via.from` to port 6379 of
 * `via.honeypot`; the value must land in the real redis (read directly at
 * `via.real.host` from `via.real.node`). Then waits for the three attacks,
 * checks each holds the command and the real redis's reply, and hands it to
 * `check`.
 */
export async function redisThrough(
  net: Netns,
  daemon: HoneytrapDaemon,
  via: { from: string; honeypot: string; real: { node: string; host: string } },
  value: string,
  check: (a: Attack) => void,
): Promise<void> {
  const cli = async (args: string[]) =>
    (
      await net.mustExec(via.from, ['redis-cli', '-h', via.honeypot, '-p', '6379', ...args], {
        timeoutMs: 10_000,
      })
    ).stdout;
  expect(await cli(['PING'])).toBe('PONG\n');
  expect(await cli(['SET', 'hts-key', value])).toBe('OK\n');
  expect(await cli(['GET', 'hts-key'])).toBe(`${value}\n`);
  const direct = await net.mustExec(via.real.node, [
    'redis-cli',
    '-h',
    via.real.host,
    'GET',
    'hts-key',
  ]);
  expect(direct.stdout).toBe(`${value}\n`);

  const exchanges: [string[], string][] = [
    [['PING'], '+PONG\r\n'],
    [['SET', 'hts-key', value], '+OK\r\n'],
    [['GET', 'hts-key'], `$${value.length}\r\n${value}\r\n`],
  ];
  for (const [cmd, reply] of exchanges) {
    const a = await daemon.waitForAttack(
      (x) => x.local.port === 6379 && data(x.received).equals(resp(cmd)),
      `redis ${cmd[0]}`,
    );
    check(a);
    expect(data(a.sent).toString()).toBe(reply);
  }
}

/**
 * From a UDP socket of `agent` bound to `from`, sends each datagram to
 * `honeypot:port` and waits for its echo before the next; checks the echoes
 * came back from there, then returns the attack, which must hold all the
 * datagrams both ways.
 */
export async function udpEchoThrough(
  daemon: HoneytrapDaemon,
  agent: NsAgent,
  o: { from: string; honeypot: string; port: number; what: string },
  datagrams: Buffer[],
): Promise<Attack> {
  const u = await agent.udp(o.from);
  for (const [i, d] of datagrams.entries()) {
    await u.send(o.honeypot, o.port, d);
    await u.waitMessages(i + 1);
  }
  expect(u.messages.map((m) => m.data)).toEqual(datagrams);
  expect(u.messages.every((m) => m.address === o.honeypot && m.port === o.port)).toBe(true);
  await u.close();

  const a = await daemon.waitForAttack(
    (x) => x.proto === 'udp' && x.remote.port === u.localPort,
    o.what,
  );
  expect(data(a.received)).toEqual(Buffer.concat(datagrams));
  expect(data(a.sent)).toEqual(Buffer.concat(datagrams));
  return a;
}
