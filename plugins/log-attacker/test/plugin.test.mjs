// log-attacker run as the daemon runs it: the plugin folder in the worker
// engine, report tasks through the harness (runReport), ctx.files served by
// the daemon's own files service in a folder the harness makes.
import assert from 'node:assert/strict';
import { existsSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { attackFixture, loadPlugin } from '@honeytrap/sdk';
import { attackerLine } from '../index.mjs';

const dir = fileURLToPath(new URL('..', import.meta.url));
/** @type {import('@honeytrap/sdk').PluginUnderTest} with the default config */
let plain;
/** @type {import('@honeytrap/sdk').PluginUnderTest} rotating at 4 KB, two files kept */
let rotating;
before(async () => {
  plain = await loadPlugin(dir);
  rotating = await loadPlugin(dir, {
    config: { file: 'log/attacker.log', maxBytes: 4096, keep: 2 },
  });
});
after(async () => {
  // the harness made each one's files folder (plugin.filesDir); the test removes it
  for (const p of [plain, rotating]) {
    await p?.close();
    if (p?.filesDir) rmSync(p.filesDir, { recursive: true, force: true });
  }
});

const MD5_HELLO = '09f7e02f1290be211da707a266f153b3'; // md5sum and sha512sum of "Hello\n"
const SHA512_HELLO =
  'c2bad2223811194582af4d1508ac02cd69eeeeedeeb98d54fcae4dcefb13cc882e7640328206603d3fb9cd5f949a9be0db054dd34fbfa190c498a5fe09750cef';

test('each report appends its line to attacker.log, IPv4 and IPv6, byte for byte', async () => {
  const plugin = plain;
  const filesDir = plain.filesDir;
  const common = { received: 'Hello\n', startedAt: '2026-11-25T19:40:00.000Z', durationMs: 1256 };
  const v4 = attackFixture({
    ...common,
    port: 23,
    remote: { address: '198.51.100.7', port: 40001 },
  });
  const v6 = attackFixture({
    ...common,
    port: 2323,
    remote: { address: '2001:db8::7', port: 50000 },
    localAddress: '2001:db8::1',
  });
  const none = attackFixture({ port: 80, startedAt: '2026-11-25T19:41:00.000Z', durationMs: 0 });
  for (const a of [v4, v6, none])
    assert.deepEqual(await plugin.runReport(a), { findings: [], artifacts: [] });
  assert.equal(
    readFileSync(join(filesDir, 'attacker.log'), 'utf8'),
    `[2026-11-25 19:40:01:256000 GMT] tcp 198.51.100.7:40001 -> 192.0.2.1:23 ${MD5_HELLO} ${SHA512_HELLO} (6 bytes)\n` +
      `[2026-11-25 19:40:01:256000 GMT] tcp [2001:db8::7]:50000 -> [2001:db8::1]:2323 ${MD5_HELLO} ${SHA512_HELLO} (6 bytes)\n` +
      '[2026-11-25 19:41:00:0 GMT] tcp 198.51.100.7:40000 -> 192.0.2.1:80 d41d8cd98f00b204e9800998ecf8427e ' +
      'cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e (0 bytes)\n',
  );
});

test('rotation: past maxBytes attacker.log moves to .1, and keep 2 drops the older lines', async () => {
  const plugin = rotating;
  const filesDir = rotating.filesDir;
  const make = (k) =>
    attackFixture({
      received: `attack ${1000 + k}`,
      remote: { address: '198.51.100.7', port: 41000 + k },
      startedAt: '2026-11-25T19:40:00.000Z',
      durationMs: 100 + k,
    });
  // every line has the same length: perFile fit in 4096 bytes
  const perFile = Math.floor(4096 / attackerLine(make(0)).length);
  const attacks = Array.from({ length: 2 * perFile + 3 }, (_, k) => make(k));
  for (const a of attacks) await plugin.runReport(a);
  const lines = (from, to) => attacks.slice(from, to).map(attackerLine).join('');
  const read = (name) => readFileSync(join(filesDir, 'log', name), 'utf8');
  assert.equal(read('attacker.log'), lines(2 * perFile));
  assert.equal(read('attacker.log.1'), lines(perFile, 2 * perFile));
  assert.equal(existsSync(join(filesDir, 'log', 'attacker.log.2')), false);
  assert.ok(statSync(join(filesDir, 'log', 'attacker.log.1')).size <= 4096);
});
