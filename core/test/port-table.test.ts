// The port table with real listeners on loopback.
import { createServer, connect } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { bind } from '../src/capture/binder.js';
import { HoneytrapError } from '../src/errors.js';
import { PortTable } from '../src/capture/port-table.js';
import type { PortSettings, Proto } from '../src/config/ports.js';
import type { Attack } from '../src/generated/attack.js';
import { SpliceGuard } from '../src/session/splice-guard.js';
import type { SessionHost } from '../src/session/types.js';

const host: SessionHost & { attacks: Attack[] } = {
  attacks: [],
  sensor: 'test',
  template: () => ({ name: 't', data: Buffer.from('hello\r\n') }),
  finished(a) {
    this.attacks.push(a);
  },
  udpReplyAllowance: (_s, _r, _o, wanted) => wanted,
  splices: new SpliceGuard({
    connectTimeoutMs: 1000,
    mirrorPerSource: 1,
    mirrorTotal: 1,
    proxyTotal: 1,
  }),
  track: () => undefined,
  untrack: () => undefined,
};

const settingsFor = (port: number, proto: Proto): PortSettings => ({
  port,
  proto,
  mode: 'normal',
  template: undefined,
  readLimit: 1024,
  idleTimeoutMs: 1000,
  sessionTimeoutMs: 5000,
  proxy: undefined,
});

async function freePorts(n: number): Promise<number[]> {
  const ports = new Set<number>();
  while (ports.size < n) {
    const s = createServer();
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
    const addr = s.address();
    if (addr && typeof addr === 'object') ports.add(addr.port);
    await new Promise((r) => s.close(r));
  }
  return [...ports];
}

function banner(port: number): Promise<string> {
  return new Promise((resolve) => {
    const c = connect(port, '127.0.0.1');
    const parts: Buffer[] = [];
    c.on('data', (d: Buffer) => {
      parts.push(d);
      c.end();
    });
    c.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? 'error'));
    c.on('close', () => resolve(Buffer.concat(parts).toString()));
  });
}

const defaults = {
  maxListeners: 1000,
  idleTimeoutMs: 60_000,
  newPerSecond: 100_000,
  burst: 100_000,
};
let table: PortTable | undefined;
afterEach(() => table?.close());

function makeTable(cfg: Partial<typeof defaults> = {}, excluded: string[] = []) {
  table = new PortTable(
    { ...defaults, throttledVerdict: 'drop', ...cfg },
    new Set(excluded),
    settingsFor,
    (s) => bind(s, '127.0.0.1', host),
  );
  return table;
}

describe('PortTable', () => {
  it('opens a listener on demand that serves connections', async () => {
    const [port] = await freePorts(1);
    const t = makeTable();
    expect(await t.ensure(port!, 'tcp')).toBe('ready');
    expect(await banner(port!)).toBe('hello\r\n');
    expect(t.stats.opened).toBe(1);
  });

  it('binds once for packets that arrive while the port is being bound', async () => {
    const [port] = await freePorts(1);
    const t = makeTable();
    const results = await Promise.all([
      t.ensure(port!, 'tcp'),
      t.ensure(port!, 'tcp'),
      t.ensure(port!, 'tcp'),
    ]);
    expect(results).toEqual(['ready', 'ready', 'ready']);
    expect(t.stats.opened).toBe(1);
    expect(t.stats.listeners).toBe(1);
  });

  it('never takes an excluded port', async () => {
    const [port] = await freePorts(1);
    const t = makeTable({}, [`${port}/tcp`]);
    expect(t.ensure(port!, 'tcp')).toBe('excluded');
    expect(await banner(port!)).toBe('ECONNREFUSED');
  });

  it('closes the least recently used listener beyond the cap', async () => {
    const ports = await freePorts(40);
    const t = makeTable({ maxListeners: 16 });
    for (const p of ports) expect(await t.ensure(p, 'tcp')).toBe('ready');
    expect(t.size).toBe(16);
    expect(t.stats.listeners).toBe(16);
    expect(t.stats.evicted).toBe(24);
    expect(await banner(ports[0]!)).toBe('ECONNREFUSED');
    expect(await banner(ports[39]!)).toBe('hello\r\n');
  });

  it('a connection keeps its listener recent', async () => {
    const ports = await freePorts(20);
    const t = makeTable({ maxListeners: 16 });
    for (const p of ports.slice(0, 16)) await t.ensure(p, 'tcp');
    expect(await banner(ports[0]!)).toBe('hello\r\n'); // touches the oldest
    for (const p of ports.slice(16)) await t.ensure(p, 'tcp');
    expect(await banner(ports[0]!)).toBe('hello\r\n');
    expect(await banner(ports[1]!)).toBe('ECONNREFUSED');
  });

  it('closes idle listeners', async () => {
    const ports = await freePorts(5);
    const t = makeTable({ idleTimeoutMs: 200 });
    for (const p of ports) await t.ensure(p, 'tcp');
    expect(t.stats.listeners).toBe(5);
    await new Promise((r) => setTimeout(r, 600));
    expect(t.stats.listeners).toBe(0);
    expect(t.stats.idleClosed).toBe(5);
  });

  it('throttles new listeners beyond the burst', async () => {
    const ports = await freePorts(5);
    const t = makeTable({ newPerSecond: 1, burst: 3 });
    const results = [];
    for (const p of ports) results.push(await t.ensure(p, 'tcp'));
    expect(results).toEqual(['ready', 'ready', 'ready', 'throttled', 'throttled']);
    expect(t.stats.throttled).toBe(2);
    // A port that already has a listener is never throttled.
    expect(await t.ensure(ports[0]!, 'tcp')).toBe('ready');
  });

  it('reports a port it cannot bind, naming it', async () => {
    const [port] = await freePorts(1);
    const squatter = createServer();
    await new Promise<void>((r) => squatter.listen(port, '127.0.0.1', r));
    try {
      const t = makeTable();
      expect(await t.ensure(port!, 'tcp')).toBe('failed');
      expect(t.lastError?.code).toBe('HT_PORT_BIND');
      expect(t.lastError?.message).toBe(
        `port ${port}/tcp on 127.0.0.1: address already in use (EADDRINUSE)`,
      );
      expect(t.size).toBe(0);
    } finally {
      await new Promise((r) => squatter.close(r));
    }
  });
});

describe('PortTable.adopt (the nfqueue reader thread)', () => {
  /** A table whose listeners are fakes; `events` records releases and closes in order. */
  function adoptTable(maxListeners: number) {
    const events: string[] = [];
    const t = new PortTable(
      { ...defaults, maxListeners, throttledVerdict: 'drop' },
      new Set(),
      settingsFor,
      () => Promise.reject(new Error('the thread binds, not the table')),
      (port, proto) => events.push(`release ${port}/${proto}`),
    );
    table = t;
    const fake = (s: PortSettings) =>
      Promise.resolve({
        key: `${s.port}/${s.proto}`,
        close: () => events.push(`close ${s.port}/${s.proto}`),
      });
    return { t, events, fake };
  }

  it('takes a listener opened elsewhere, under the cap, and releases each port before closing it', async () => {
    const { t, events, fake } = adoptTable(2);
    expect(await t.adopt(1001, 'tcp', fake)).toBe('ready');
    expect(await t.adopt(1002, 'udp', fake)).toBe('ready');
    expect(await t.adopt(1003, 'tcp', fake)).toBe('ready');
    expect(t.size).toBe(2);
    expect(t.stats).toMatchObject({ opened: 3, listeners: 2, evicted: 1 });
    expect(events).toEqual(['release 1001/tcp', 'close 1001/tcp']);
    t.close();
    expect(events.slice(2)).toEqual([
      'release 1002/udp',
      'close 1002/udp',
      'release 1003/tcp',
      'close 1003/tcp',
    ]);
  });

  it('releases a port whose listener could not be adopted', async () => {
    const { t, events } = adoptTable(4);
    const r = await t.adopt(1004, 'tcp', () =>
      Promise.resolve(new HoneytrapError('HT_PORT_BIND', 'port 1004/tcp: nope')),
    );
    expect(r).toBe('failed');
    expect(t.size).toBe(0);
    expect(t.stats.failed).toBe(1);
    expect(events).toEqual(['release 1004/tcp']);
  });
});
