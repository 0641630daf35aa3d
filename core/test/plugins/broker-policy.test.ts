// The broker's policy decisions, before any connection: the manifest's
// egress and schemes, the operator's grants, the special address ranges, and
// the one lookup whose every answer is checked and whose first is pinned.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { HostBroker, isSpecialAddress, networkPolicy } from '../../src/plugins/broker/index.js';
import { AddressRefused, resolveAddress } from '../../src/plugins/broker/policy.js';
import { checkEgress, parseHostEntry } from '../../src/plugins/egress.js';
import { PluginError, type LoadedPlugin } from '../../src/plugins/engine.js';
import { attackFrom, networkPlugin } from './broker-fixtures.js';

const ATTACKER = '198.51.100.7';
const attack = attackFrom(ATTACKER);

function denied(f: () => unknown, why: RegExp): void {
  try {
    f();
  } catch (err) {
    expect(err).toBeInstanceOf(PluginError);
    expect((err as PluginError).code).toBe('HT_PLUGIN_DENIED');
    expect((err as PluginError).plugin).toBe('net-test');
    expect((err as Error).message).toMatch(why);
    return;
  }
  throw new Error(`not denied (expected ${why})`);
}

describe('checkEgress', () => {
  let attacker: LoadedPlugin;
  let listed: LoadedPlugin;
  beforeAll(async () => {
    attacker = await networkPlugin({ egress: 'attacker', schemes: ['http', 'ftp', 'tcp', 'unix'] });
    listed = await networkPlugin({ egress: 'allow-list', hosts: ['Files.Example'] });
  });

  test('egress attacker: the attacking host only', () => {
    const t = checkEgress(attacker, attack, `http://${ATTACKER}/x.sh`);
    expect(t).toMatchObject({ scheme: 'http', host: ATTACKER, port: 80, operatorGranted: false });
    denied(() => checkEgress(attacker, attack, 'http://203.0.113.9/x'), /not the attacking host/);
    // A dual-stack socket records an IPv4 attacker as ::ffff:a.b.c.d.
    const mapped = attackFrom(`::ffff:${ATTACKER}`);
    expect(checkEgress(attacker, mapped, `http://${ATTACKER}/x.sh`).host).toBe(ATTACKER);
  });

  test('allow-list: the manifest hosts, case-insensitive; default schemes http and https', () => {
    expect(checkEgress(listed, attack, 'https://files.example/a').port).toBe(443);
    denied(() => checkEgress(listed, attack, 'http://other.example/'), /not in the manifest/);
    denied(() => checkEgress(listed, attack, 'ftp://files.example/a'), /scheme ftp is not in/);
  });

  test('schemes go with their call', () => {
    denied(
      () => checkEgress(attacker, attack, `tcp://${ATTACKER}:3310`),
      /tcp: URLs are for ctx.exchange/,
    );
    denied(
      () => checkEgress(attacker, attack, `http://${ATTACKER}/`, { use: 'exchange' }),
      /not ctx.exchange/,
    );
    denied(() => checkEgress(attacker, attack, 'gopher://x/'), /gopher: is not supported/);
    denied(() => checkEgress(attacker, attack, 'not a url'), /is not a URL/);
    denied(
      () => checkEgress(attacker, attack, `tcp://${ATTACKER}`, { use: 'exchange' }),
      /needs a port/,
    );
  });

  test('the operator adds destinations: host, host:port, [v6]:port, unix:/path', () => {
    const operatorHosts = ['mirror.lan', '10.0.0.5:8080', '[fd00::1]:3310', 'unix:/run/clamd.ctl'];
    const ok = (url: string, use: 'fetch' | 'exchange' = 'fetch') =>
      checkEgress(attacker, attack, url, { operatorHosts, use });
    expect(ok('http://MIRROR.lan:81/x').operatorGranted).toBe(true);
    expect(ok('http://10.0.0.5:8080/').operatorGranted).toBe(true);
    denied(() => ok('http://10.0.0.5/'), /not the attacking host/);
    expect(ok('tcp://[fd00::1]:3310', 'exchange').operatorGranted).toBe(true);
    expect(ok('unix:/run/./clamd.ctl', 'exchange')).toMatchObject({
      socketPath: '/run/clamd.ctl',
      operatorGranted: true,
    });
    denied(() => ok('unix:/var/run/docker.sock', 'exchange'), /need the operator's grant/);
    expect(parseHostEntry('[::1]:80')).toEqual({ host: '::1', port: 80 });
    expect(parseHostEntry('::1')).toEqual({ host: '::1' });
  });
});

describe('special addresses', () => {
  test.each([
    '127.0.0.1',
    '10.99.1.2',
    '172.31.255.255',
    '192.168.1.1',
    '169.254.169.254',
    '100.64.0.1',
    '0.0.0.0',
    '224.0.0.1',
    '255.255.255.255',
    '198.18.0.1',
    '::1',
    '::',
    '::ffff:127.0.0.1',
    '::ffff:7f00:1',
    '64:ff9b::a00:1',
    '2002:7f00:1::',
    'fd12::1',
    'fe80::1',
    'ff02::1',
    'not-an-ip',
  ])('%s is refused', (a) => expect(isSpecialAddress(a)).toBe(true));

  test.each(['8.8.8.8', '93.184.216.34', '::ffff:8.8.8.8', '2606:4700:4700::1111', '2a00:1450::1'])(
    '%s is public',
    (a) => expect(isSpecialAddress(a)).toBe(false),
  );
});

describe('resolveAddress', () => {
  let plugin: LoadedPlugin;
  beforeAll(async () => {
    plugin = await networkPlugin({ egress: 'allow-list', hosts: ['files.example'] });
  });
  const target = (operatorHosts: string[] = []) =>
    checkEgress(plugin, attack, 'http://files.example/a', { operatorHosts });

  test('every answer is checked: one private address refuses the name', async () => {
    const lookup = () => Promise.resolve(['93.184.216.34', '10.0.0.1']);
    await expect(resolveAddress(target(), { allowPrivate: false, lookup })).rejects.toThrow(
      new AddressRefused(
        'files.example (10.0.0.1) is a loopback, private or special address (plugins.network.allowPrivate is false and the operator did not list it in plugins.network.hosts)',
      ),
    );
  });

  test('the first answer is used; allowPrivate or the operator lets private ones through', async () => {
    const lookup = () => Promise.resolve(['10.0.0.1', '10.0.0.2']);
    expect(await resolveAddress(target(), { allowPrivate: true, lookup })).toBe('10.0.0.1');
    expect(await resolveAddress(target(['files.example']), { allowPrivate: false, lookup })).toBe(
      '10.0.0.1',
    );
  });

  test('an IP literal is not looked up', async () => {
    const t = checkEgress(plugin, attack, 'http://93.184.216.34/', {
      operatorHosts: ['93.184.216.34'],
    });
    const lookup = () => Promise.reject(new Error('looked up'));
    expect(await resolveAddress(t, { allowPrivate: false, lookup })).toBe('93.184.216.34');
  });

  test('a name with no answer fails', async () => {
    await expect(
      resolveAddress(target(), { allowPrivate: false, lookup: () => Promise.resolve([]) }),
    ).rejects.toThrow('files.example has no address');
  });
});

describe('HostBroker pins the checked address', () => {
  let server: Server;
  let port: number;
  const hosts: string[] = [];
  beforeAll(async () => {
    server = createServer((req, res) => {
      hosts.push(req.headers.host ?? '');
      res.end('pinned');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  test('one lookup, the connection goes to its answer, Host stays the name', async () => {
    const plugin = await networkPlugin({ egress: 'allow-list', hosts: ['files.example'] });
    const asked: string[] = [];
    const broker = new HostBroker(networkPolicy({ allowPrivate: true }), {
      lookup: (h) => {
        asked.push(h);
        return Promise.resolve(['127.0.0.1']);
      },
    });
    const res = await broker.fetch(plugin, attack, {
      url: `http://files.example:${port}/a`,
      headers: { Host: 'evil.example', 'X-Test': '1' },
    });
    expect(Buffer.from(res.body, 'base64').toString()).toBe('pinned');
    expect(res).toMatchObject({ status: 200, address: '127.0.0.1', truncated: false });
    expect(asked).toEqual(['files.example']);
    expect(hosts).toEqual([`files.example:${port}`]);
  });

  test('a rebinding answer set is refused before connecting', async () => {
    const plugin = await networkPlugin({ egress: 'allow-list', hosts: ['files.example'] });
    const broker = new HostBroker(networkPolicy(), {
      lookup: () => Promise.resolve(['93.184.216.34', '127.0.0.1']),
    });
    const before = hosts.length;
    const err = (await broker
      .fetch(plugin, attack, { url: `http://files.example:${port}/` })
      .catch((e: unknown) => e)) as PluginError;
    expect(err.code).toBe('HT_PLUGIN_DENIED');
    expect(err.message).toBe(
      `plugin net-test: network: http://files.example:${port}: files.example (127.0.0.1) is a loopback, private or special address (plugins.network.allowPrivate is false and the operator did not list it in plugins.network.hosts)`,
    );
    expect(hosts.length).toBe(before);
  });

  test('the defaults come from the config schema', () => {
    expect(networkPolicy()).toEqual({
      allowPrivate: false,
      hosts: {},
      maxBytes: 33554432,
      timeoutMs: 30000,
      perDestination: { requests: 20, perSeconds: 60 },
      maxConcurrent: 16,
    });
  });
});
