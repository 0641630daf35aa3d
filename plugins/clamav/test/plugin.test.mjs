// The plugin through the SDK harness: the daemon's worker engine and its
// network broker (ctx.exchange, with the operator's grant of clamd's sockets
// in plugins.network.hosts.clamav), against a real clamd this file starts
// with a database of its own signatures.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { HarnessError, PluginError, attackFixture, loadPlugin } from '@honeytrap/sdk';
import { reported, startClamd } from './clamd.mjs';

const dir = fileURLToPath(new URL('..', import.meta.url));

const malware = randomBytes(5000);
const marker = Buffer.from('HONEYTRAP-CLAMAV-HARNESS-MARKER');
/** clamd's own StreamMaxLength in this test (small, to reach it cheaply). */
const CLAMD_MAX = 512 * 1024;

/** @type {import('./clamd.mjs').Clamd} */
let clamd;
/** @type {import('@honeytrap/sdk').PluginUnderTest[]} */
const loaded = [];

before(async () => {
  clamd = await startClamd({
    hashSignatures: [{ name: 'Honeytrap.Harness.Hash', data: malware }],
    hexSignatures: [{ name: 'Honeytrap.Harness.Marker', bytes: marker }],
    streamMaxLength: CLAMD_MAX,
  });
});
after(async () => {
  await Promise.all(loaded.map((p) => p.close()));
  await clamd?.remove();
});

/** The plugin with `config`, clamd's sockets granted as an operator grants them. */
async function plugin(config, grants = [clamd.unixUrl, `127.0.0.1:${clamd.port}`]) {
  const p = await loadPlugin(dir, { config, network: { hosts: { clamav: grants } } });
  loaded.push(p);
  return p;
}

const attack = (received = 'GET / HTTP/1.1\r\n\r\n') => attackFixture({ received, port: 80 });

test('an artifact clamd knows (unix socket): a signature finding with the name clamd reports', async () => {
  const p = await plugin({ socket: clamd.unixUrl });
  const out = await p.runArtifact({ data: malware, producer: 'http-download' }, attack());
  assert.deepEqual(out, {
    findings: [
      {
        type: 'signature',
        value: reported('Honeytrap.Harness.Hash'),
        meta: { engine: 'clamav', bytes: malware.length },
      },
    ],
    artifacts: [],
  });
});

test('a clean artifact (TCP socket): a note "clean"', async () => {
  const p = await plugin({ socket: clamd.tcpUrl });
  const clean = Buffer.from(malware);
  clean[100] ^= 0xff;
  const out = await p.runArtifact({ data: clean }, attack());
  assert.deepEqual(out.findings, [
    { type: 'note', value: 'clean', meta: { engine: 'clamav', bytes: clean.length } },
  ]);
});

test('attack data: scanned only with scanAttacks', async () => {
  const text = `POST /cgi-bin/x HTTP/1.1\r\n\r\n${marker}`;
  const off = await plugin({ socket: clamd.unixUrl });
  assert.deepEqual(await off.run(attack(text)), { findings: [], artifacts: [] });
  const on = await plugin({ socket: clamd.unixUrl, scanAttacks: true });
  assert.deepEqual((await on.run(attack(text))).findings, [
    {
      type: 'signature',
      value: reported('Honeytrap.Harness.Marker'),
      meta: { engine: 'clamav', bytes: Buffer.byteLength(text) },
    },
  ]);
  assert.equal((await on.run(attack())).findings[0]?.value, 'clean');
});

test('streamMaxLength: a larger input is scanned up to it, and the finding says so', async () => {
  const p = await plugin({ socket: clamd.unixUrl, streamMaxLength: malware.length });
  const data = Buffer.concat([malware, randomBytes(3000)]);
  const out = await p.runArtifact({ data }, attack());
  assert.deepEqual(out.findings, [
    {
      type: 'signature',
      value: reported('Honeytrap.Harness.Hash'),
      meta: { engine: 'clamav', bytes: malware.length, truncated: true, size: data.length },
    },
  ]);
  assert.ok(
    p.logs.some((l) => l.includes(`scanning the first ${malware.length} of ${data.length} bytes`)),
    p.logs.join('\n'),
  );
});

test("more than clamd's own StreamMaxLength: the task fails and says which setting to lower", async () => {
  const p = await plugin({ socket: clamd.unixUrl });
  await assert.rejects(p.runArtifact({ data: randomBytes(CLAMD_MAX + 1) }, attack()), (err) => {
    assert.ok(err instanceof PluginError, String(err));
    assert.match(
      err.message,
      /clamd at unix:\S+ (could not|did not) scan the artifact [0-9a-f]{64}/,
    );
    assert.match(err.message, /streamMaxLength/);
    return true;
  });
});

test('a socket the operator did not grant is refused before any connection', async () => {
  const p = await plugin({ socket: clamd.unixUrl }, []);
  await assert.rejects(p.runArtifact({ data: malware }, attack()), (err) => {
    assert.ok(err instanceof PluginError, String(err));
    assert.equal(err.code, 'HT_PLUGIN_DENIED');
    assert.match(err.message, /plugins\.network\.hosts\.clamav/);
    return true;
  });
});

test('clamd down: each scan fails with a clear message; up again, scans work', async () => {
  const unix = await plugin({ socket: clamd.unixUrl });
  const tcp = await plugin({ socket: clamd.tcpUrl });
  await clamd.stop();
  try {
    for (const [p, socket] of [
      [unix, clamd.unixUrl],
      [tcp, clamd.tcpUrl],
    ])
      await assert.rejects(p.runArtifact({ data: malware }, attack()), (err) => {
        assert.ok(err instanceof PluginError, String(err));
        assert.ok(
          err.message.includes(`clamd at ${socket} did not scan the artifact`),
          err.message,
        );
        assert.match(
          err.message,
          /(ECONNREFUSED|ENOENT).*\(is clamd running and listening there\?\)$/,
        );
        return true;
      });
  } finally {
    await clamd.start();
  }
  assert.equal(
    (await unix.runArtifact({ data: malware }, attack())).findings[0]?.value,
    reported('Honeytrap.Harness.Hash'),
  );
});

test('a socket setting that is not unix:/path or tcp://host:port is refused with the config', async () => {
  await assert.rejects(plugin({ socket: '/run/clamav/clamd.ctl' }), (err) => {
    assert.ok(err instanceof HarnessError, String(err));
    assert.match(err.message, /plugins\.config\.clamav\/socket/);
    return true;
  });
});
