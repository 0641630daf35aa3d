// log-json run as the daemon runs it: the plugin folder in the worker engine,
// report tasks through the harness (runReport), ctx.files served by the
// daemon's own files service in a folder the harness makes. What lands in the
// file is checked byte for byte and read with T-Pot's logstash rules.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { attackFixture, loadPlugin } from '@honeytrap/sdk';
import { jsonLine } from '../index.mjs';
import { tpotEvent } from './tpot.mjs';

const dir = fileURLToPath(new URL('..', import.meta.url));
const loaded = [];
after(async () => {
  // the harness made each plugin's files folder; the test removes it
  for (const p of loaded) {
    await p.close();
    rmSync(p.filesDir, { recursive: true, force: true });
  }
});

/** The plugin, with ctx.files in a fresh folder of the harness's (plugin.filesDir). */
async function start(config = {}) {
  const plugin = await loadPlugin(dir, { config });
  loaded.push(plugin);
  return { plugin, filesDir: plugin.filesDir };
}

const sha256 = (b) => createHash('sha256').update(b).digest('hex');

function attack(remote, localAddress, received, startedAt = '2026-11-25T19:40:01.256Z') {
  return attackFixture({ received, port: 23, remote, localAddress, startedAt, durationMs: 900 });
}

const v4 = attack({ address: '198.51.100.7', port: 40001 }, '192.0.2.1', 'root\r\nxc3511\r\n');
const v6 = attack(
  { address: '2001:db8::7', port: 50000 },
  '2001:db8::1',
  Buffer.from([0, 0xff, 0x90, 0x0a]),
);

test('each report appends one line to attackers.json, IPv4 and IPv6', async () => {
  const { plugin, filesDir } = await start();
  const a = await plugin.runReport(v4);
  const b = await plugin.runReport(v6);
  assert.deepEqual(
    [a, b],
    [
      { findings: [], artifacts: [] },
      { findings: [], artifacts: [] },
    ],
  );
  const text = readFileSync(join(filesDir, 'attackers.json'), 'utf8');
  // the report's attack has no plugin records in it: the same line as the bare attack's
  assert.equal(text, jsonLine({ attack: v4 }) + jsonLine({ attack: v6 }));
  const [l4, l6] = text.trimEnd().split('\n');
  assert.equal(
    JSON.parse(l4).attack_connection.payload.data_hex,
    Buffer.from('root\r\nxc3511\r\n').toString('hex'),
  );
  const e6 = tpotEvent(l6);
  assert.deepEqual(e6.problems, []);
  assert.deepEqual(
    [e6.event.src_ip, e6.event.src_port, e6.event.dest_ip, e6.event.dest_port],
    ['2001:db8::7', 50000, '2001:db8::1', 23],
  );
  assert.equal(e6.event.attack_connection.payload.data_hex, '00ff900a');
});

test('downloads from the download plugins’ records, with the file bytes the report carries', async () => {
  const { plugin, filesDir } = await start({ file: 'log/attackers.json' });
  const elf = Buffer.concat([Buffer.from('\x7fELF\x01\x01\x01\x00'), Buffer.alloc(24, 7)]);
  const ok = {
    type: 'download',
    value: 'http://198.51.100.7:8080/bins/x86',
    offset: 3,
    meta: {
      status: 'ok',
      code: 200,
      address: '198.51.100.7',
      size: elf.length,
      sha256: sha256(elf),
      fileType: 'ELF',
    },
  };
  const failed = {
    type: 'download',
    value: 'tftp://198.51.100.7/y',
    meta: { status: 'failed', code: 1, error: '1 File not found' },
  };
  const records = {
    'http-download': {
      plugin: 'http-download',
      version: '0.1.0',
      status: 'ok',
      durationMs: 30,
      findings: [ok],
      artifacts: [],
    },
    'tftp-download': {
      plugin: 'tftp-download',
      version: '0.1.0',
      status: 'ok',
      durationMs: 9,
      findings: [failed],
      artifacts: [],
    },
  };
  await plugin.runReport(v4, records, [{ data: elf, name: 'x86', producer: 'http-download' }]);
  const line = readFileSync(join(filesDir, 'log', 'attackers.json'), 'utf8');
  const rec = JSON.parse(line);
  assert.equal(
    line,
    jsonLine({
      attack: v4,
      records,
      artifacts: [{ sha256: sha256(elf), data: elf.toString('base64') }],
    }),
  );
  assert.deepEqual([rec.download_count, rec.download_tries], [1, 2]);
  assert.deepEqual(rec.downloads, {
    protocol_0: 'tcp',
    remote_ip_0: '198.51.100.7',
    remote_port_0: 8080,
    local_ip_0: '192.0.2.1',
    local_port_0: 23,
    type_0: 'http',
    username_0: '',
    password_0: '',
    uri_0: 'http://198.51.100.7:8080/bins/x86',
    filename_0: 'x86',
    payload_0: {
      md5_hash: createHash('md5').update(elf).digest('hex'),
      sha512_hash: createHash('sha512').update(elf).digest('hex'),
      length: elf.length,
      data_hex: elf.toString('hex'),
    },
  });
  assert.deepEqual(tpotEvent(line.trimEnd()).problems, []);
});

test('rotation: past maxBytes the file moves to .1, .1 to .2, and keep bounds how many stay', async () => {
  const { plugin, filesDir } = await start({ maxBytes: 4096, keep: 3 });
  const make = (k) =>
    attack(
      { address: '198.51.100.7', port: 41000 + k },
      '192.0.2.1',
      `${k % 10}`.repeat(300),
      `2026-11-25T19:40:${10 + k}.000Z`,
    );
  const line = (a) => jsonLine({ attack: a });
  // every line has the same length: perFile fit in 4096 bytes, the next one rotates
  const perFile = Math.floor(4096 / line(make(0)).length);
  assert.ok(perFile >= 2, `${perFile} lines a file`);
  const attacks = Array.from({ length: 3 * perFile + 1 }, (_, k) => make(k));
  for (const a of attacks) await plugin.runReport(a);
  const read = (name) => readFileSync(join(filesDir, name), 'utf8');
  const lines = (from, to) => attacks.slice(from, to).map(line).join('');
  // the first perFile lines were dropped with the oldest file
  assert.equal(read('attackers.json'), lines(3 * perFile));
  assert.equal(read('attackers.json.1'), lines(2 * perFile, 3 * perFile));
  assert.equal(read('attackers.json.2'), lines(perFile, 2 * perFile));
  assert.equal(existsSync(join(filesDir, 'attackers.json.3')), false);
  for (const f of ['attackers.json', 'attackers.json.1', 'attackers.json.2'])
    assert.ok(statSync(join(filesDir, f)).size <= 4096, f);
});
