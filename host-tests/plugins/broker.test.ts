// Issue 6: the plugins' network broker against real servers. The broker runs
// in a client namespace (a Node agent that loads core's build and takes
// fetch/exchange calls as JSON lines); nginx, vsftpd, in.tftpd, socat and a
// Node sink run in a server namespace on 10.99.66.2, joined by a veth pair.
// Checked: downloads over http, ftp (anonymous and a user) and tftp with the
// protocol's own answers (404, 550, TFTP error 1), redirects returned not
// followed, size caps, timeouts, a PASV reply pointing at another host not
// followed, the one-shot exchange over tcp and a unix socket, and the policy:
// private ranges, the operator's grants, egress attacker, schemes, rate and
// concurrency limits.
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import {
  attackFrom,
  networkPlugin,
  type NetworkGrant,
} from '../../core/test/plugins/broker-fixtures.js';
import type { Attack } from '../../core/src/generated/attack.js';
import type { NetworkPolicy } from '../../core/src/plugins/broker/index.js';
import type {
  ExchangeRequest,
  ExchangeResponse,
  FetchRequest,
  FetchResponse,
  LoadedPlugin,
} from '../../core/src/plugins/engine.js';
import { waitUntil } from '../lib/clients.js';
import { REPO, cleanup, makeTempDir } from '../lib/daemon.js';
import { Netns, type Background } from '../lib/netns.js';
import { requireTools } from '../lib/ns-clients.js';
import {
  startNginx,
  startNodeServer,
  startSocat,
  startTftpd,
  startVsftpd,
} from '../lib/peer-servers.js';

const CLIENT = '10.99.66.1';
const SERVER = '10.99.66.2';
/** Another address of the server namespace: where the lying PASV reply points. */
const DECOY = '10.99.66.3';
const PASV_PORT = 40000;

/** Deterministic bytes: `n` of them, for files larger than a block or a cap. */
function bytes(n: number, seed: string): Buffer {
  const out = Buffer.alloc(n);
  for (let i = 0, k = 0; i < n; k++) {
    const d = createHash('sha256').update(`${seed}-${k}`).digest();
    i += d.copy(out, i);
  }
  return out;
}

const BIG = bytes(300_000, 'big');
/** The default plugins.network.maxBytes (32 MiB), and a file 1 MiB larger. */
const DEFAULT_CAP = 32 * 1024 * 1024;
const HUGE = bytes(DEFAULT_CAP + (1 << 20), 'huge');
/** Larger than one TFTP block of 1428 and not a multiple of it. */
const TFTP_FILE = bytes(5_000, 'tftp');
const FTP_FILE = bytes(200_000, 'ftp');

// Plain JavaScript (ESM): runs in the client namespace with `node --input-type=module -e`.
const AGENT = `
const o = JSON.parse(process.argv[1]);
const { HostBroker, networkPolicy } = await import(o.module);
const brokers = new Map();
const emit = (m) => process.stdout.write(JSON.stringify(m) + '\\n');
const { createInterface } = await import('node:readline');
createInterface({ input: process.stdin }).on('line', (line) => {
  const c = JSON.parse(line);
  if (c.op === 'new') {
    // names: the test's own DNS (name -> addresses); absent, the system resolver.
    const deps = c.names ? { lookup: async (h) => c.names[h] ?? [] } : {};
    brokers.set(c.broker, new HostBroker(networkPolicy(c.policy), deps));
    return emit({ id: c.id, ok: true });
  }
  brokers.get(c.broker)[c.op](c.plugin, c.attack, c.req).then(
    (value) => emit({ id: c.id, ok: true, value }),
    (e) => emit({ id: c.id, ok: false, code: e.code, message: e.message }),
  );
});
process.stdin.on('end', () => process.exit(0));
emit({ id: 0, ok: true });
`;

// Plain JavaScript: a TFTP server that ignores options and tries two
// impostors: a DATA packet from another address before the real first one,
// and one from another port of the server before the real second one. It
// prints what the impostors get back.
const TFTP_IMPOSTORS = `
const dgram = require('node:dgram');
const o = JSON.parse(process.argv[1]);
const bound = (addr) => new Promise((r) => { const s = dgram.createSocket('udp4'); s.bind(0, addr, () => r(s)); });
const data = (n, b) => { const h = Buffer.alloc(4); h.writeUInt16BE(3, 0); h.writeUInt16BE(n, 2); return Buffer.concat([h, b]); };
const main = dgram.createSocket('udp4');
main.on('message', async (m, c) => {
  if (m.readUInt16BE(0) !== 1) return;
  const [t, otherPort, otherAddress] = await Promise.all([bound(o.address), bound(o.address), bound(o.decoy)]);
  const report = (name) => (p) => console.log(name + ' got ' + p.readUInt16BE(0) + ' ' + p.readUInt16BE(2));
  otherPort.on('message', report('other-port'));
  otherAddress.on('message', report('other-address'));
  otherAddress.send(data(1, Buffer.from('from another address')), c.port, c.address);
  setTimeout(() => t.send(data(1, Buffer.alloc(512, 65)), c.port, c.address), 100);
  t.on('message', (a) => {
    console.log('ack ' + a.readUInt16BE(2));
    if (a.readUInt16BE(2) !== 1) return;
    otherPort.send(data(2, Buffer.from('from another port')), c.port, c.address);
    setTimeout(() => t.send(data(2, Buffer.from('end')), c.port, c.address), 100);
  });
});
main.bind(o.port, o.address, () => console.log('ready'));
`;

interface Reply {
  id: number;
  ok: boolean;
  value?: unknown;
  code?: string;
  message?: string;
}

/** A broker's refusal or failure as the plugin sees it. */
class Refused extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** HostBrokers inside a namespace, driven from the test. */
class BrokerAgent {
  private seq = 0;
  private brokers = 0;
  private readonly waiting = new Map<number, (r: Reply) => void>();
  /** The pieces of the line being read (a 32 MiB answer is one line of many chunks). */
  private partial: string[] = [];

  private constructor(private readonly bg: Background) {
    bg.child.stdout?.on('data', (text: string) => {
      let i;
      while ((i = text.indexOf('\n')) >= 0) {
        this.partial.push(text.slice(0, i));
        text = text.slice(i + 1);
        const r = JSON.parse(this.partial.join('')) as Reply;
        this.partial = [];
        this.waiting.get(r.id)?.(r);
        this.waiting.delete(r.id);
      }
      if (text) this.partial.push(text);
    });
  }

  /** `caFile`: a CA the agent's TLS trusts besides the system's (the test's https server). */
  static async start(net: Netns, node: string, caFile: string): Promise<BrokerAgent> {
    const module = join(REPO, 'core', 'dist', 'plugins', 'broker', 'index.js');
    const bg = net.spawn(node, 'broker-agent', [
      'env',
      `NODE_EXTRA_CA_CERTS=${caFile}`,
      process.execPath,
      '--input-type=module',
      '-e',
      AGENT,
      JSON.stringify({ module }),
    ]);
    const agent = new BrokerAgent(bg);
    await bg.waitForOutput(/"id":0/);
    return agent;
  }

  private call(c: Record<string, unknown>): Promise<Reply> {
    const id = ++this.seq;
    return new Promise((resolve, reject) => {
      this.waiting.set(id, resolve);
      this.bg.child.stdin!.write(JSON.stringify({ ...c, id }) + '\n', (err) => err && reject(err));
      void this.bg.exited.then(() => reject(new Error(`broker agent exited: ${this.bg.output}`)));
    });
  }

  /**
   * A new HostBroker with plugins.network = the schema's defaults and
   * `policy`; `names` answers its lookups (name -> addresses).
   */
  async broker(
    policy: Partial<NetworkPolicy> = {},
    names?: Record<string, string[]>,
  ): Promise<RemoteBroker> {
    const n = ++this.brokers;
    await this.call({ op: 'new', broker: n, policy, names });
    return {
      fetch: (plugin, attack, req) => this.result({ op: 'fetch', broker: n, plugin, attack, req }),
      exchange: (plugin, attack, req) =>
        this.result({ op: 'exchange', broker: n, plugin, attack, req }),
    };
  }

  private async result<T>(c: Record<string, unknown>): Promise<T> {
    const r = await this.call(c);
    if (!r.ok) throw new Refused(r.code ?? '', r.message ?? '');
    return r.value as T;
  }
}

interface RemoteBroker {
  fetch(plugin: LoadedPlugin, attack: Attack, req: FetchRequest): Promise<FetchResponse>;
  exchange(plugin: LoadedPlugin, attack: Attack, req: ExchangeRequest): Promise<ExchangeResponse>;
}

async function refusal(p: Promise<unknown>): Promise<Refused> {
  try {
    await p;
  } catch (err) {
    if (err instanceof Refused) return err;
    throw err;
  }
  throw new Error('the broker did not refuse');
}

const body = (r: FetchResponse | ExchangeResponse) =>
  Buffer.from('body' in r ? r.body : r.data, 'base64');

let net: Netns;
let agent: BrokerAgent;
let decoy: Background;
let sockDir: string;
const attack = attackFrom('198.51.100.7');
/** A plugin allowed to reach the server by the manifest, with every scheme. */
let plugin: LoadedPlugin;
const ALL: NetworkGrant['schemes'] = ['http', 'https', 'ftp', 'tftp', 'tcp', 'unix'];
/** The lab's policy: private ranges allowed (10.99.x.x is private). */
const LAB = { allowPrivate: true };

beforeAll(async () => {
  requireTools(['nginx', 'vsftpd', 'in.tftpd', 'socat', 'openssl']);
  net = Netns.create('broker', ['c', 's']);
  const { bDev } = net.link('c', `${CLIENT}/24`, 's', `${SERVER}/24`);
  net.addAddress('s', bDev, `${DECOY}/24`);
  const www = {
    'big.bin': BIG,
    'slow/big.bin': BIG,
    'huge.bin': HUGE,
    'files/new.txt': 'moved here\n',
  };
  const ftpRoot = await makeTempDir('hts-ftp-root-');
  await mkdir(join(ftpRoot, 'pub'));
  await writeFile(join(ftpRoot, 'pub', 'a.bin'), FTP_FILE);
  await writeFile(join(ftpRoot, 'pub', 'huge.bin'), HUGE);
  await writeFile(join(ftpRoot, 'pub', 'hello.txt'), 'hello ftp\n');
  const tftpRoot = await makeTempDir('hts-tftp-root-');
  await writeFile(join(tftpRoot, 'boot.bin'), TFTP_FILE);
  await writeFile(join(tftpRoot, 'huge.bin'), HUGE);
  sockDir = await makeTempDir('hts-broker-sock-');
  const tls = await makeTempDir('hts-broker-tls-');
  // A self-signed certificate for files.lab and the server's address; the agent trusts it.
  await net.mustExec('c', [
    'openssl',
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-days',
    '1',
    '-subj',
    '/CN=files.lab',
    '-addext',
    `subjectAltName=DNS:files.lab,IP:${SERVER}`,
    '-keyout',
    join(tls, 'key.pem'),
    '-out',
    join(tls, 'cert.pem'),
  ]);
  await Promise.all([
    startNginx(net, 's', SERVER, 'index\n', 80, {
      files: www,
      server: [
        'location = /old { return 302 /files/new.txt; }',
        // 2 KB/s: a download of big.bin takes minutes.
        'location /slow/ { limit_rate 2k; }',
        `listen ${SERVER}:443 ssl;`,
        `ssl_certificate ${tls}/cert.pem;`,
        `ssl_certificate_key ${tls}/key.pem;`,
        // The Host header nginx saw, sent back.
        'location = /host { return 200 "$host $ssl_server_name\\n"; }',
      ],
    }),
    startVsftpd(net, 's', {
      address: SERVER,
      root: ftpRoot,
      user: { name: 'bob', password: 's3cret' },
      pasvPorts: [PASV_PORT, PASV_PORT],
      // The PASV reply names the decoy; the broker must connect to SERVER anyway.
      pasvAddress: DECOY,
    }),
    startTftpd(net, 's', SERVER, tftpRoot),
    startNodeServer(net, 's', 'sinkHash', SERVER, 3310),
    // Reads, never answers, never closes (-t: socat would close 0.5 s after the client's half-close).
    startSocat(
      net,
      's',
      ['-t', '60', `TCP-LISTEN:3311,bind=${SERVER},fork,reuseaddr`, 'EXEC:sleep 60'],
      'tcp',
      3311,
    ),
  ]);
  // Counts what it read; answers once the client half-closed.
  net.spawn('s', 'socat-unix', [
    'socat',
    `UNIX-LISTEN:${join(sockDir, 'wc.sock')},fork`,
    'EXEC:wc -c',
  ]);
  decoy = await startNodeServer(net, 's', 'decoy', DECOY, PASV_PORT);
  await waitUntil(() => existsSync(join(sockDir, 'wc.sock')), 10_000, 'the unix socket');
  agent = await BrokerAgent.start(net, 'c', join(tls, 'cert.pem'));
  plugin = await networkPlugin({ egress: 'allow-list', hosts: [SERVER], schemes: ALL });
});

afterAll(async () => {
  await net?.teardown();
  await cleanup();
});

describe('http', () => {
  test('a download, its status, headers and the address used', async () => {
    const b = await agent.broker(LAB);
    const r = await b.fetch(plugin, attack, { url: `http://${SERVER}/big.bin` });
    expect(r).toMatchObject({ status: 200, statusText: 'OK', truncated: false, address: SERVER });
    expect(r.headers['content-length']).toBe(String(BIG.length));
    expect(body(r).equals(BIG)).toBe(true);
    expect(r.durationMs).toBeGreaterThanOrEqual(0);
  });

  test('404 is an answer, not an error', async () => {
    const b = await agent.broker(LAB);
    const r = await b.fetch(plugin, attack, { url: `http://${SERVER}/nothing-here` });
    expect(r).toMatchObject({ status: 404, statusText: 'Not Found' });
  });

  test('a redirect is returned with its location, not followed', async () => {
    const b = await agent.broker(LAB);
    const r = await b.fetch(plugin, attack, { url: `http://${SERVER}/old` });
    expect(r.status).toBe(302);
    expect(r.headers.location).toBe(`http://${SERVER}/files/new.txt`);
    expect(body(r).toString()).not.toContain('moved here');
  });

  test('the size cap truncates', async () => {
    const b = await agent.broker({ ...LAB, maxBytes: 100_000 });
    const r = await b.fetch(plugin, attack, { url: `http://${SERVER}/big.bin` });
    expect(r).toMatchObject({ status: 200, truncated: true });
    expect(body(r).equals(BIG.subarray(0, 100_000))).toBe(true);
    // The plugin can ask for less, never for more than the operator's cap.
    const small = await b.fetch(plugin, attack, { url: `http://${SERVER}/big.bin`, maxBytes: 10 });
    expect(body(small).equals(BIG.subarray(0, 10))).toBe(true);
    const more = await b.fetch(plugin, attack, {
      url: `http://${SERVER}/big.bin`,
      maxBytes: 1e9,
    });
    expect(body(more).length).toBe(100_000);
  });

  test('a slow server times out with HT_PLUGIN_NETWORK', async () => {
    const b = await agent.broker(LAB);
    const t0 = performance.now();
    const e = await refusal(
      b.fetch(plugin, attack, { url: `http://${SERVER}/slow/big.bin`, timeoutMs: 1000 }),
    );
    expect(e.code).toBe('HT_PLUGIN_NETWORK');
    expect(e.message).toBe(
      `plugin net-test: network: http://${SERVER}:80: timed out after 1000 ms (http)`,
    );
    expect(performance.now() - t0).toBeLessThan(5000);
  });

  test('a refused connection is HT_PLUGIN_NETWORK naming the destination', async () => {
    const b = await agent.broker(LAB);
    const e = await refusal(b.fetch(plugin, attack, { url: `http://${SERVER}:81/` }));
    expect(e.code).toBe('HT_PLUGIN_NETWORK');
    expect(e.message).toMatch(
      new RegExp(`^plugin net-test: network: http://${SERVER}:81: connect ECONNREFUSED`),
    );
  });
});

describe('https', () => {
  test('to the address, certificate checked', async () => {
    const b = await agent.broker(LAB);
    const r = await b.fetch(plugin, attack, { url: `https://${SERVER}/big.bin` });
    expect(r.status).toBe(200);
    expect(body(r).equals(BIG)).toBe(true);
  });

  test('to a name: the checked address is used, the name stays in SNI and Host', async () => {
    const named = await networkPlugin({ egress: 'allow-list', hosts: ['files.lab', 'other.lab'] });
    const b = await agent.broker(LAB, { 'files.lab': [SERVER], 'other.lab': [SERVER] });
    const r = await b.fetch(named, attack, { url: 'https://files.lab/host' });
    expect(r).toMatchObject({ status: 200, address: SERVER });
    expect(body(r).toString()).toBe('files.lab files.lab\n');
    // The same address under a name the certificate does not carry: refused by TLS.
    const e = await refusal(b.fetch(named, attack, { url: 'https://other.lab/host' }));
    expect(e.code).toBe('HT_PLUGIN_NETWORK');
    expect(e.message).toMatch(
      /^plugin net-test: network: https:\/\/other\.lab:443 \(10\.99\.66\.2\): .*(altnames|ERR_TLS_CERT_ALTNAME_INVALID)/,
    );
  });
});

describe('ftp', () => {
  test('anonymous download, status 226', async () => {
    const b = await agent.broker(LAB);
    const r = await b.fetch(plugin, attack, { url: `ftp://${SERVER}/pub/a.bin` });
    expect(r).toMatchObject({ status: 226, truncated: false, address: SERVER });
    expect(body(r).equals(FTP_FILE)).toBe(true);
  });

  test('a user login from the URL; a wrong password is the server answer 530', async () => {
    const b = await agent.broker(LAB);
    const r = await b.fetch(plugin, attack, { url: `ftp://bob:s3cret@${SERVER}/pub/hello.txt` });
    expect(r.status).toBe(226);
    expect(body(r).toString()).toBe('hello ftp\n');
    const bad = await b.fetch(plugin, attack, { url: `ftp://bob:nope@${SERVER}/pub/hello.txt` });
    expect(bad.status).toBe(530);
    expect(body(bad).length).toBe(0);
  });

  test('a missing file is 550', async () => {
    const b = await agent.broker(LAB);
    const r = await b.fetch(plugin, attack, { url: `ftp://${SERVER}/pub/missing.bin` });
    expect(r).toMatchObject({ status: 550, statusText: 'Failed to open file.' });
  });

  test('the PASV reply names another host: the data connection goes to the control address', async () => {
    // vsftpd's PASV replies say DECOY (pasv_address); a client that followed
    // them would get "decoy" from the decoy server instead of the file.
    const pasv = await net.exec('c', [
      'sh',
      '-c',
      `printf 'USER anonymous\\r\\nPASS x\\r\\nPASV\\r\\nQUIT\\r\\n' | socat -t 5 - TCP:${SERVER}:21`,
    ]);
    expect(pasv.stdout).toContain(
      `(${DECOY.replaceAll('.', ',')},${PASV_PORT >> 8},${PASV_PORT & 255})`,
    );
    const b = await agent.broker(LAB);
    const r = await b.fetch(plugin, attack, { url: `ftp://${SERVER}/pub/hello.txt` });
    expect(body(r).toString()).toBe('hello ftp\n');
    expect(decoy.output).not.toContain('conn');
    // The decoy answers whoever does connect to it.
    const probe = await net.exec('c', ['sh', '-c', `exec socat -u TCP:${DECOY}:${PASV_PORT} -`]);
    expect(probe.stdout).toBe('decoy\n');
  });

  test('a server that never ends its banner is cut off', async () => {
    // An endless multi-line reply ("220-..."): basic-ftp refuses replies over 64 KiB.
    const spam = await startSocat(
      net,
      's',
      [`TCP-LISTEN:2121,bind=${SERVER},fork,reuseaddr`, 'SYSTEM:yes 220-spam'],
      'tcp',
      2121,
    );
    const b = await agent.broker(LAB);
    const e = await refusal(b.fetch(plugin, attack, { url: `ftp://${SERVER}:2121/x` }));
    expect(e.code).toBe('HT_PLUGIN_NETWORK');
    expect(e.message).toBe(
      `plugin net-test: network: ftp://${SERVER}:2121: FTP control response exceeded maximum allowed size`,
    );
    await spam.stop();
  });

  test('the size cap cuts the transfer short', async () => {
    const b = await agent.broker({ ...LAB, maxBytes: 50_000 });
    const r = await b.fetch(plugin, attack, { url: `ftp://${SERVER}/pub/a.bin` });
    expect(r.truncated).toBe(true);
    expect(body(r).equals(FTP_FILE.subarray(0, 50_000))).toBe(true);
    expect(r.status).toBe(150);
  });
});

describe('tftp', () => {
  test('a file of several blocks, blksize and tsize negotiated', async () => {
    const b = await agent.broker(LAB);
    const r = await b.fetch(plugin, attack, { url: `tftp://${SERVER}/boot.bin` });
    expect(r).toMatchObject({
      status: 0,
      truncated: false,
      address: SERVER,
      headers: { blksize: '1428', tsize: String(TFTP_FILE.length) },
    });
    expect(body(r).equals(TFTP_FILE)).toBe(true);
  });

  test('a missing file is TFTP error 1', async () => {
    const b = await agent.broker(LAB);
    const r = await b.fetch(plugin, attack, { url: `tftp://${SERVER}/missing.bin` });
    expect(r).toMatchObject({ status: 1, statusText: 'File not found', truncated: false });
  });

  test('the size cap ends the transfer', async () => {
    const b = await agent.broker({ ...LAB, maxBytes: 2000 });
    const r = await b.fetch(plugin, attack, { url: `tftp://${SERVER}/boot.bin` });
    expect(r.truncated).toBe(true);
    expect(body(r).equals(TFTP_FILE.subarray(0, 2000))).toBe(true);
  });

  test('no server: retransmits, then HT_PLUGIN_NETWORK', async () => {
    const b = await agent.broker(LAB);
    const e = await refusal(
      b.fetch(plugin, attack, { url: `tftp://${SERVER}:6969/boot.bin`, timeoutMs: 2000 }),
    );
    expect(e.code).toBe('HT_PLUGIN_NETWORK');
    expect(e.message).toMatch(
      /tftp:\/\/10\.99\.66\.2:6969: (timed out after 2000 ms|ECONNREFUSED)/,
    );
  });
});

test('tftp: only the server address and its first transfer port are accepted', async () => {
  const server = net.spawn('s', 'tftp-impostors', [
    process.execPath,
    '-e',
    TFTP_IMPOSTORS,
    JSON.stringify({ address: SERVER, decoy: DECOY, port: 6970 }),
  ]);
  await server.waitForOutput(/ready/);
  const b = await agent.broker(LAB);
  const r = await b.fetch(plugin, attack, { url: `tftp://${SERVER}:6970/x` });
  // The server ignored the options: 512-byte blocks, no tsize.
  expect(r).toMatchObject({ status: 0, truncated: false, headers: { blksize: '512' } });
  expect(body(r).toString()).toBe('A'.repeat(512) + 'end');
  // RFC 1350: error 5 (unknown transfer ID) to the other port; nothing to the other address.
  await server.waitForOutput(/ack 2/);
  expect(server.output).toContain('other-port got 5 5');
  expect(server.output).not.toContain('other-address got');
  await server.stop();
});

test.each(['http', 'ftp', 'tftp'])(
  '%s: a file larger than the default cap stops at 32 MiB, every byte right',
  async (scheme) => {
    const b = await agent.broker(LAB);
    const path = scheme === 'ftp' ? 'pub/huge.bin' : 'huge.bin';
    const r = await b.fetch(plugin, attack, { url: `${scheme}://${SERVER}/${path}` });
    expect(r.truncated).toBe(true);
    expect(body(r).equals(HUGE.subarray(0, DEFAULT_CAP))).toBe(true);
    // The figure for the report: the broker's rate on a veth pair.
    console.log(
      `${scheme}: 32 MiB in ${r.durationMs} ms (${(32_000 / r.durationMs!).toFixed(1)} MiB/s)`,
    );
  },
);

describe('exchange', () => {
  test('tcp: send, half-close, read until the peer closes', async () => {
    const b = await agent.broker(LAB);
    const data = bytes(100_000, 'exchange');
    const r = await b.exchange(plugin, attack, {
      url: `tcp://${SERVER}:3310`,
      data: data.toString('base64'),
    });
    const hash = createHash('sha256').update(data).digest('hex');
    expect(body(r).toString()).toBe(`${data.length} ${hash}\n`);
    expect(r.truncated).toBe(false);
  });

  test('tcp: the size cap and the timeout', async () => {
    const b = await agent.broker(LAB);
    const r = await b.exchange(plugin, attack, {
      url: `tcp://${SERVER}:3310`,
      data: Buffer.from('abc').toString('base64'),
      maxBytes: 2,
    });
    expect(r).toMatchObject({ truncated: true });
    expect(body(r).toString()).toBe('3 ');
    const e = await refusal(
      b.exchange(plugin, attack, { url: `tcp://${SERVER}:3311`, data: '', timeoutMs: 500 }),
    );
    expect(e.code).toBe('HT_PLUGIN_NETWORK');
    expect(e.message).toBe(
      `plugin net-test: network: tcp://${SERVER}:3311: timed out after 500 ms (exchange)`,
    );
  });

  test("unix: only with the operator's grant", async () => {
    const path = join(sockDir, 'wc.sock');
    const req = { url: `unix:${path}`, data: Buffer.from('12345').toString('base64') };
    const none = await agent.broker(LAB);
    const e = await refusal(none.exchange(plugin, attack, req));
    expect(e.code).toBe('HT_PLUGIN_DENIED');
    expect(e.message).toContain(
      `unix:${path} is not in the operator's plugins.network.hosts.net-test`,
    );
    const granted = await agent.broker({ hosts: { 'net-test': [`unix:${path}`] } });
    const r = await granted.exchange(plugin, attack, req);
    expect(body(r).toString().trim()).toBe('5');
  });
});

describe('policy', () => {
  test('a private address is refused unless allowPrivate or the operator lists it', async () => {
    const strict = await agent.broker();
    const e = await refusal(strict.fetch(plugin, attack, { url: `http://${SERVER}/` }));
    expect(e.code).toBe('HT_PLUGIN_DENIED');
    expect(e.message).toBe(
      `plugin net-test: network: http://${SERVER}:80: ${SERVER} is a loopback, private or special address (plugins.network.allowPrivate is false and the operator did not list it in plugins.network.hosts)`,
    );
    const listed = await agent.broker({ hosts: { 'net-test': [SERVER] } });
    expect((await listed.fetch(plugin, attack, { url: `http://${SERVER}/` })).status).toBe(200);
    // A grant for another port does not cover this one.
    const otherPort = await agent.broker({ hosts: { 'net-test': [`${SERVER}:8080`] } });
    expect(
      (await refusal(otherPort.fetch(plugin, attack, { url: `http://${SERVER}/` }))).code,
    ).toBe('HT_PLUGIN_DENIED');
  });

  test('a name is resolved and its address checked: localhost is loopback', async () => {
    const named = await networkPlugin({ egress: 'allow-list', hosts: ['localhost'] });
    const strict = await agent.broker();
    const e = await refusal(strict.fetch(named, attack, { url: 'http://localhost/' }));
    expect(e.code).toBe('HT_PLUGIN_DENIED');
    expect(e.message).toMatch(/localhost \((127\.0\.0\.1|::1)[^)]*\) is a loopback/);
  });

  test('egress attacker: the attacking host only', async () => {
    const own = await networkPlugin({ egress: 'attacker', schemes: ['http', 'tftp'] });
    const b = await agent.broker(LAB);
    const fromServer = attackFrom(SERVER);
    expect((await b.fetch(own, fromServer, { url: `http://${SERVER}/` })).status).toBe(200);
    const e = await refusal(b.fetch(own, fromServer, { url: `http://${DECOY}/` }));
    expect(e.code).toBe('HT_PLUGIN_DENIED');
    expect(e.message).toContain(`${DECOY} is not the attacking host ${SERVER} (egress: attacker)`);
    const s = await refusal(b.fetch(own, fromServer, { url: `ftp://${SERVER}/pub/hello.txt` }));
    expect(s.message).toContain("scheme ftp is not in the manifest's network.schemes (http, tftp)");
  });

  test('the (N+1)th request to one destination in the window is refused', async () => {
    const b = await agent.broker({ ...LAB, perDestination: { requests: 3, perSeconds: 60 } });
    const url = `http://${SERVER}/`;
    for (let i = 0; i < 3; i++) expect((await b.fetch(plugin, attack, { url })).status).toBe(200);
    // Another scheme to the same address counts against the same window.
    const e = await refusal(b.fetch(plugin, attack, { url: `tftp://${SERVER}/boot.bin` }));
    expect(e.code).toBe('HT_PLUGIN_DENIED');
    expect(e.message).toBe(
      `plugin net-test: network: tftp://${SERVER}:69: refused, ${SERVER} had 3 requests in the last 60 s, the limit of plugins.network.perDestination (3 per 60 s)`,
    );
  });

  test('maxConcurrent refuses a request while the slots are taken', async () => {
    const b = await agent.broker({ ...LAB, maxConcurrent: 1 });
    const slow = b.fetch(plugin, attack, { url: `http://${SERVER}/slow/big.bin`, timeoutMs: 1500 });
    // Give the slow one time to take its slot.
    await new Promise((r) => setTimeout(r, 300));
    const e = await refusal(b.fetch(plugin, attack, { url: `http://${SERVER}/` }));
    expect(e.code).toBe('HT_PLUGIN_DENIED');
    expect(e.message).toContain('the limit of plugins.network.maxConcurrent (1)');
    expect((await refusal(slow)).code).toBe('HT_PLUGIN_NETWORK');
    // Its slot is free again.
    expect((await b.fetch(plugin, attack, { url: `http://${SERVER}/` })).status).toBe(200);
  });
});
