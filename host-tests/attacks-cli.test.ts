// Issue 2: `honeytrap attacks list` filters (--port, --source, --since, --limit)
// and `attacks show`, through the control socket while the daemon runs and
// straight from the store once it stopped.
import { createSocket } from 'node:dgram';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { honeytrap, listAttacks, stackLines, type Attack } from './lib/cli.js';
import { sleep, tcpExchange } from './lib/clients.js';
import { cleanup, HoneytrapDaemon } from './lib/daemon.js';
import { freePortRange, LOOPBACK } from './lib/ports.js';

const OTHER = '127.0.0.2'; // a second loopback source address
const UNKNOWN_ID = '01ARZ3NDEKTSV4RRFFQ69G5FAV';

let daemon: HoneytrapDaemon;
let portA = 0;
let portB = 0;
let portU = 0;
/** Expected attacks, keyed by the client's source port. */
const sessions: { label: string; source: string; port: number; proto: string; srcPort: number }[] =
  [];
let since = 0;

async function tcp(label: string, port: number, source: string): Promise<void> {
  const r = await tcpExchange(port, `${label}\n`, { localAddress: source });
  sessions.push({ label, source, port, proto: 'tcp', srcPort: r.localPort });
}

async function udp(label: string, port: number): Promise<void> {
  const s = createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, LOOPBACK, () => r()));
  const srcPort = s.address().port;
  await new Promise<void>((r) => s.send(`${label}\n`, port, LOOPBACK, () => r()));
  s.close();
  sessions.push({ label, source: LOOPBACK, port, proto: 'udp', srcPort });
}

beforeAll(async () => {
  const base = await freePortRange(3);
  [portA, portB, portU] = [base, base + 1, base + 2];
  daemon = await HoneytrapDaemon.start({
    ports: [
      { port: portA, template: '21_tcp' },
      { port: portB, template: '25_tcp' },
      { port: portU, proto: 'udp', idleTimeoutMs: 200 },
    ],
  });
  // Before `since`: A twice from 127.0.0.1, B once from 127.0.0.2.
  await tcp('a1', portA, LOOPBACK);
  await tcp('a2', portA, LOOPBACK);
  await tcp('b1', portB, OTHER);
  await daemon.waitForAttacks(3);
  await sleep(50);
  since = Date.now();
  await sleep(50);
  // After: A once from 127.0.0.2, U (udp) once from 127.0.0.1.
  await tcp('a3', portA, OTHER);
  await udp('u1', portU);
  await daemon.waitForAttacks(5);
});

afterAll(cleanup);

/** Labels of the expected sessions that match, newest first (ids sort by start time). */
function expected(pred: (s: (typeof sessions)[number]) => boolean): string[] {
  return sessions
    .filter(pred)
    .map((s) => s.label)
    .reverse();
}

function labels(attacks: Attack[]): string[] {
  return attacks.map((a) => Buffer.from(a.received.data, 'base64').toString().trim());
}

/** Every filter case: the arguments and the labels expected, newest first. */
function filterCases(): [string[], string[]][] {
  const iso = new Date(since).toISOString();
  const future = new Date(Date.now() + 60_000).toISOString();
  return [
    [[], ['u1', 'a3', 'b1', 'a2', 'a1']],
    [['--port', String(portA)], expected((s) => s.port === portA)],
    [['--port', String(portB)], ['b1']],
    [
      ['--port', `${portA}/tcp`],
      ['a3', 'a2', 'a1'],
    ],
    [['--port', `${portA}/udp`], []],
    [['--port', `${portU}/udp`], ['u1']],
    [['--port', String(portU)], ['u1']],
    [['--port', `${portU}/tcp`], []],
    [
      ['--source', OTHER],
      ['a3', 'b1'],
    ],
    [['--source', LOOPBACK], expected((s) => s.source === LOOPBACK)],
    [['--source', '127.0.0.3'], []],
    [
      ['--since', iso],
      ['u1', 'a3'],
    ],
    [
      ['--since', '1h'],
      ['u1', 'a3', 'b1', 'a2', 'a1'],
    ],
    [['--since', future], []],
    [['--port', String(portA), '--source', OTHER], ['a3']],
    [['--port', String(portA), '--since', iso], ['a3']],
    [['--source', LOOPBACK, '--since', iso], ['u1']],
    [
      ['--limit', '2'],
      ['u1', 'a3'],
    ],
    [['--port', String(portA), '--limit', '1'], ['a3']],
  ];
}

function checkFilters(where: () => string) {
  test('no filter: every attack with its addresses and ports, newest first', async () => {
    const all = await listAttacks(where());
    expect(labels(all)).toEqual(['u1', 'a3', 'b1', 'a2', 'a1']);
    const ids = all.map((a) => a.id);
    expect(ids).toEqual([...ids].sort().reverse());
    for (const a of all) {
      const s = sessions.find((x) => x.label === labels([a])[0]);
      expect(a.remote).toEqual({ address: s?.source, port: s?.srcPort });
      expect(a.local).toEqual({ address: LOOPBACK, port: s?.port });
      expect(a.proto).toBe(s?.proto);
    }
  });

  test('--port, --source, --since, --limit and their combinations (all at once)', async () => {
    const cases = filterCases();
    // Run concurrently: with the daemon stopped, readers share the store one at a time.
    const got = await Promise.all(
      cases.map(async ([args]) => labels(await listAttacks(where(), args))),
    );
    const asMap = (rows: string[][]) =>
      Object.fromEntries(cases.map(([args], i) => [args.join(' ') || '(none)', rows[i]]));
    expect(asMap(got)).toEqual(asMap(cases.map(([, want]) => want)));
  });

  test('show: a known id as JSON; an unknown id exits 1 with "no attack with id"', async () => {
    const [newest] = await listAttacks(where(), ['--limit', '1']);
    const shown = await honeytrap([
      'attacks',
      'show',
      newest?.id ?? '',
      '--json',
      '--data-dir',
      where(),
    ]);
    expect(shown.code).toBe(0);
    expect(JSON.parse(shown.stdout)).toEqual(newest);

    const missing = await honeytrap(['attacks', 'show', UNKNOWN_ID, '--data-dir', where()]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toBe(`honeytrap: no attack with id ${UNKNOWN_ID}\n`);
    expect(missing.stdout).toBe('');
    expect(stackLines(missing.stderr)).toEqual([]);
  });

  test('the text table lists every attack with its port and source', async () => {
    const r = await honeytrap(['attacks', 'list', '--data-dir', where()]);
    expect(r.code).toBe(0);
    const rows = r.stdout.trim().split('\n');
    expect(rows[0]).toMatch(/^ID\s+STARTED\s+PORT\s+SOURCE\s+MODE\s+IN\s+OUT\s+END\s+DATA$/);
    expect(rows.length).toBe(1 + sessions.length);
    for (const s of sessions)
      expect(
        rows.some(
          (row) => row.includes(`${s.port}/${s.proto}`) && row.includes(`${s.source}:${s.srcPort}`),
        ),
      ).toBe(true);
  });
}

describe('daemon running: answers come through the control socket', () => {
  // While the daemon runs it holds LevelDB's lock, so a direct open would fail:
  // any answer at all here came through the control socket.
  checkFilters(() => daemon.storeDir);
});

describe('daemon stopped: answers come from the store itself', () => {
  test('stop the daemon', async () => {
    expect(await daemon.stop()).toEqual({ code: 0, signal: null });
  });
  checkFilters(() => daemon.storeDir);
});
