// Issue 2, TCP end to end: normal mode with ncat and curl, read limit, idle and
// session timeouts, ignore mode. One daemon, one port per behaviour.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { b64, honeytrap, listAttacks, runProgram, showAttack, type Attack } from './lib/cli.js';
import { sleep, TcpClient } from './lib/clients.js';
import { BUILTIN_TEMPLATES, cleanup, HoneytrapDaemon, makeTempDir } from './lib/daemon.js';
import { freePort, freePortRange, LOOPBACK } from './lib/ports.js';

const template = (name: string): Buffer => readFileSync(join(BUILTIN_TEMPLATES, name));

let daemon: HoneytrapDaemon;
let base = 0;
const P = {
  ncat: 0,
  curl: 1,
  readLimit: 2,
  idle: 3,
  session: 4,
  ignore: 5,
  byName: 6,
};
const BY_NAME_TEMPLATE = Buffer.from('220 custom template found by <port>_<proto>\r\n');

beforeAll(async () => {
  base = await freePortRange(7);
  // A template folder holding "<port>_tcp" for the port that names no template.
  const tdir = await makeTempDir('honeytrap-templates-');
  writeFileSync(join(tdir, `${base + P.byName}_tcp`), BY_NAME_TEMPLATE);
  daemon = await HoneytrapDaemon.start({
    templates: { dirs: [tdir] },
    ports: [
      { port: base + P.ncat, template: '23_tcp' },
      { port: base + P.curl, template: '80_tcp' },
      { port: base + P.readLimit, template: '21_tcp', readLimit: 1000 },
      { port: base + P.idle, template: '21_tcp', idleTimeoutMs: 500 },
      { port: base + P.session, template: '22_tcp', sessionTimeoutMs: 800 },
      { port: base + P.ignore, mode: 'ignore', template: '21_tcp' },
      { port: base + P.byName },
    ],
  });
});

afterAll(cleanup);

/** The one attack recorded on `port`, read with `list --json` and checked against `show --json`. */
async function onlyAttackOn(port: number, stored: number): Promise<Attack> {
  await daemon.waitForAttacks(stored);
  const list = await listAttacks(daemon.storeDir, ['--port', String(port)]);
  expect(list.map((a) => a.local.port)).toEqual([port]);
  const listed = list[0] as Attack;
  const shown = await showAttack(daemon.storeDir, listed.id);
  expect(shown).toEqual(listed);
  return shown;
}

let storedSoFar = 0;

describe('normal mode', () => {
  test('ncat: gets the template byte for byte; the attack holds exactly what ncat sent', async () => {
    const port = base + P.ncat;
    const sourcePort = await freePort();
    // Binary on purpose: NUL, 0xff, CR LF, every byte value once.
    const payload = Buffer.concat([
      Buffer.from('USER root\r\nPASS \x00\xff\r\n', 'latin1'),
      Buffer.from(Array.from({ length: 256 }, (_, i) => i)),
    ]);
    const nc = await runProgram(
      '/usr/bin/ncat',
      ['-p', String(sourcePort), LOOPBACK, String(port)],
      {
        input: payload,
        timeoutMs: 15_000,
      },
    );
    expect(nc.stderr).toBe('');
    expect(nc.code).toBe(0);
    expect(nc.stdoutBytes.equals(template('23_tcp'))).toBe(true);

    const a = await onlyAttackOn(port, ++storedSoFar);
    expect(b64(a.received.data).equals(payload)).toBe(true);
    expect(a.received).toEqual({
      length: payload.length,
      data: payload.toString('base64'),
      truncated: false,
    });
    expect(b64(a.sent.data).equals(template('23_tcp'))).toBe(true);
    expect(a.sent.length).toBe(template('23_tcp').length);
    expect(a.proto).toBe('tcp');
    expect(a.local).toEqual({ address: LOOPBACK, port });
    expect(a.remote).toEqual({ address: LOOPBACK, port: sourcePort });
    expect(a.mode).toBe('normal');
    expect(a.template).toBe('23_tcp');
    expect(a.endReason).toBe('closed');
    expect(a.sensor).toBe('host-test');
    expect(a.id).toMatch(/^[0-9A-HJKMNP-TV-Z]{26}$/);
    expect(Date.parse(a.endedAt)).toBeGreaterThanOrEqual(Date.parse(a.startedAt));
    expect(a.chunks.filter((c) => c.dir === 'in').reduce((n, c) => n + c.length, 0)).toBe(
      payload.length,
    );

    // The human view: metadata and a hexdump of both directions.
    const human = await honeytrap(['attacks', 'show', a.id, '--data-dir', daemon.storeDir]);
    expect(human.code).toBe(0);
    expect(human.stdout).toContain(`attack    ${a.id}`);
    expect(human.stdout).toContain(`remote    ${LOOPBACK}:${sourcePort}`);
    expect(human.stdout).toContain(`received: ${payload.length} bytes`);
    expect(human.stdout).toContain(
      '00000000  55 53 45 52 20 72 6f 6f  74 0d 0a 50 41 53 53 20  |USER root..PASS |',
    );
  });

  test('curl: exits 0 with the 80_tcp body; the attack holds the request curl sent', async () => {
    const port = base + P.curl;
    const url = `http://${LOOPBACK}:${port}/cgi-bin/luci;stok=/locale?form=country`;
    const r = await runProgram(
      '/usr/bin/curl',
      ['-sS', '-v', '--max-time', '10', '-A', 'honeytrap-host-test', '-H', 'X-Probe: 1', url],
      { timeoutMs: 15_000 },
    );
    expect(r.code).toBe(0);
    const tpl = template('80_tcp');
    const body = tpl.subarray(tpl.indexOf('\r\n\r\n') + 4);
    expect(r.stdoutBytes.equals(body)).toBe(true);

    // curl -v prints every request header line it sent as "> ...".
    const sentLines = r.stderr
      .split(/\r?\n/)
      .filter((l) => l.startsWith('>'))
      .map((l) => l.replace(/^> ?/, ''));
    const request = sentLines.join('\r\n') + '\r\n';
    expect(request.startsWith('GET /cgi-bin/luci;stok=/locale?form=country HTTP/1.1\r\n')).toBe(
      true,
    );
    expect(request.endsWith('\r\n\r\n')).toBe(true);

    const a = await onlyAttackOn(port, ++storedSoFar);
    expect(b64(a.received.data).toString('latin1')).toBe(request);
    expect(a.received.length).toBe(Buffer.byteLength(request));
    expect(a.received.truncated).toBe(false);
    expect(b64(a.sent.data).equals(tpl)).toBe(true);
    expect(a.template).toBe('80_tcp');
    expect(a.endReason).toBe('closed');
  });

  test('a port with no template named answers with the <port>_tcp file of a template folder', async () => {
    const port = base + P.byName;
    const c = await TcpClient.connect(port);
    c.end('hi\n');
    await c.waitClosed();
    expect(c.received.equals(BY_NAME_TEMPLATE)).toBe(true);
    const a = await onlyAttackOn(port, ++storedSoFar);
    expect(a.template).toBe(`${port}_tcp`);
    expect(b64(a.received.data).toString()).toBe('hi\n');
  });
});

describe('limits', () => {
  test('read limit 1000: 5000 bytes sent, the first 1000 kept, truncated, end read-limit', async () => {
    const port = base + P.readLimit;
    const payload = Buffer.from(Array.from({ length: 5000 }, (_, i) => (i * 7 + 3) % 251));
    const c = await TcpClient.connect(port);
    c.socket.write(payload);
    const close = await c.waitClosed();
    expect(close.afterMs).toBeLessThan(2000);

    const a = await onlyAttackOn(port, ++storedSoFar);
    expect(a.endReason).toBe('read-limit');
    expect(a.received.truncated).toBe(true);
    expect(b64(a.received.data).equals(payload.subarray(0, 1000))).toBe(true);
    expect(a.received.length).toBeGreaterThan(1000);
    expect(a.received.length).toBeLessThanOrEqual(5000);
    // The template is far below the limit: sent whole, not truncated.
    expect(a.sent).toEqual({
      length: template('21_tcp').length,
      data: template('21_tcp').toString('base64'),
      truncated: false,
    });
  });

  test('idle timeout 500 ms: a silent client is closed after ~0.5 s, end idle-timeout', async () => {
    const port = base + P.idle;
    const c = await TcpClient.connect(port);
    const close = await c.waitClosed(5000);
    expect(close.afterMs).toBeGreaterThanOrEqual(450);
    expect(close.afterMs).toBeLessThan(2000);
    expect(c.received.equals(template('21_tcp'))).toBe(true);

    const a = await onlyAttackOn(port, ++storedSoFar);
    expect(a.endReason).toBe('idle-timeout');
    expect(a.received).toEqual({ length: 0, data: '', truncated: false });
    const ms = Date.parse(a.endedAt) - Date.parse(a.startedAt);
    expect(ms).toBeGreaterThanOrEqual(450);
    expect(ms).toBeLessThan(2000);
  });

  test('session timeout 800 ms: a client sending a byte every 100 ms is closed, end session-timeout', async () => {
    const port = base + P.session;
    const c = await TcpClient.connect(port);
    let written = 0;
    while (!c.isClosed) {
      if (c.socket.writable) {
        c.socket.write('x');
        written++;
      }
      await sleep(100);
      if (written > 50) break; // 5 s: the timeout clearly did not fire
    }
    const close = await c.waitClosed(1000);
    expect(close.afterMs).toBeGreaterThanOrEqual(750);
    expect(close.afterMs).toBeLessThan(2000);

    const a = await onlyAttackOn(port, ++storedSoFar);
    expect(a.endReason).toBe('session-timeout');
    const got = b64(a.received.data).toString('latin1');
    expect(got).toBe('x'.repeat(got.length));
    // Every byte but perhaps the last one written before the close reached the daemon.
    expect(got.length).toBeGreaterThanOrEqual(written - 1);
    expect(got.length).toBeLessThanOrEqual(written);
    expect(got.length).toBeGreaterThanOrEqual(6);
    const ms = Date.parse(a.endedAt) - Date.parse(a.startedAt);
    expect(ms).toBeGreaterThanOrEqual(750);
    expect(ms).toBeLessThan(2000);
  });
});

describe('ignore mode', () => {
  test('the connection is closed at once, nothing is sent, the attack ends "ignored"', async () => {
    const port = base + P.ignore;
    const c = await TcpClient.connect(port);
    const close = await c.waitClosed(2000);
    expect(close.afterMs).toBeLessThan(500);
    expect(c.received.length).toBe(0);

    const a = await onlyAttackOn(port, ++storedSoFar);
    expect(a.mode).toBe('ignore');
    expect(a.endReason).toBe('ignored');
    expect(a.sent).toEqual({ length: 0, data: '', truncated: false });
    expect(a.template).toBeUndefined();
    expect(a.remote).toEqual({ address: LOOPBACK, port: c.localPort });
  });
});
