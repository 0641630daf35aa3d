// The harness: attackFixture builds valid attack strings; runPlugin runs a
// plugin folder in the daemon's engine and checks its result the way the
// daemon's pipeline does.
import { afterAll, describe, expect, test } from 'vitest';
import {
  HOST_API_VERSION,
  HarnessError,
  PluginError,
  attackFixture,
  checkAttack,
  loadPlugin,
  runPlugin,
  ulid,
} from '../src/index.js';
import { removeTempDirs, tempDir, workerPlugin, writePlugin } from './helpers.js';

afterAll(removeTempDirs);

async function failure(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected a rejection');
}

describe('attackFixture', () => {
  test('builds a valid attack string with defaults', () => {
    const a = attackFixture({ received: 'GET / HTTP/1.1\r\n\r\n' });
    expect(() => checkAttack(a)).not.toThrow();
    expect(a).toMatchObject({
      schemaVersion: 1,
      proto: 'tcp',
      local: { port: 80 },
      remote: { address: '198.51.100.7' },
      mode: 'normal',
      endReason: 'closed',
      received: { length: 18, truncated: false },
      sent: { length: 0, data: '', truncated: false },
      chunks: [{ dir: 'in', atMs: 0, length: 18 }],
      plugins: {},
    });
    expect(a.id).toMatch(/^[0-9A-HJKMNP-TV-Z]{26}$/);
  });

  test('cuts at the read limit and marks it truncated', () => {
    const a = attackFixture({ received: 'x'.repeat(10), readLimit: 4, proto: 'udp', port: 53 });
    expect(a.received).toEqual({ length: 10, data: 'eHh4eA==', truncated: true });
    expect(a.endReason).toBe('read-limit');
    expect(a.local.port).toBe(53);
  });

  test('refuses what the schema refuses, naming the field', () => {
    const err = (() => {
      try {
        attackFixture({ port: 70000 });
      } catch (e) {
        return e as HarnessError;
      }
      throw new Error('no error');
    })();
    expect(err).toBeInstanceOf(HarnessError);
    expect(err.details).toEqual(['/local/port: 70000 is not a port number (1-65535)']);
  });

  test('ulid sorts by time', () => {
    expect(ulid(1000) < ulid(2000)).toBe(true);
    expect(ulid(0).slice(0, 10)).toBe('0000000000');
  });
});

describe('runPlugin', () => {
  const root = tempDir();
  const hello = attackFixture({ received: 'hello ACME' });

  test('runs a worker plugin with its config and returns the checked result', async () => {
    const dir = workerPlugin(
      root,
      'marker',
      `ctx.log('looking for ' + ctx.config.marker);
       const text = Buffer.from(input.attack.received.data, 'base64').toString('latin1');
       const at = text.indexOf(ctx.config.marker);
       return at < 0 ? null : { findings: [{ type: 'x-marker', value: ctx.config.marker, offset: at }] };`,
      {
        configSchema: {
          type: 'object',
          properties: { marker: { type: 'string', default: 'ACME' } },
          additionalProperties: false,
        },
      },
    );
    const logs: string[] = [];
    expect(await runPlugin(dir, hello, { log: (l) => logs.push(l) })).toEqual({
      findings: [{ type: 'x-marker', value: 'ACME', offset: 6 }],
      artifacts: [],
    });
    expect(logs).toEqual(['looking for ACME']);
    expect(await runPlugin(dir, hello, { config: { marker: 'nope' } })).toEqual({
      findings: [],
      artifacts: [],
    });
    const bad = await failure(runPlugin(dir, hello, { config: { marker: 1 } }));
    expect(bad).toBeInstanceOf(HarnessError);
    expect(bad.message).toBe(
      'plugin marker: the config does not match its configSchema:\n  plugins.config.marker/marker: must be string',
    );
  });

  test('an invalid folder is refused with core manifest errors', async () => {
    const dir = writePlugin(root, 'broken', { hostApi: '^2.0.0', entry: 'missing.mjs' }, {});
    const err = (await failure(runPlugin(dir, hello))) as HarnessError;
    expect(err).toBeInstanceOf(HarnessError);
    expect(err.details).toEqual([
      `/hostApi: plugin needs host API ^2.0.0, this host provides ${HOST_API_VERSION}`,
      '/entry: file missing.mjs does not exist in the plugin folder',
    ]);
  });

  test("an attack the manifest's filters skip is refused unless ignoreFilters", async () => {
    const dir = workerPlugin(
      root,
      'port-22',
      `return { findings: [{ type: 'note', value: 'ran' }] };`,
      {
        consumes: { attacks: { ports: [22] } },
      },
    );
    const err = await failure(runPlugin(dir, hello));
    expect(err.message).toBe(
      'plugin port-22 would not be given this attack by the daemon: consumes.attacks.ports is 22; the attack is on port 80 (pass ignoreFilters to run it anyway)',
    );
    expect((await runPlugin(dir, hello, { ignoreFilters: true })).findings).toHaveLength(1);
  });

  test('results are checked like the daemon checks them', async () => {
    const shape = workerPlugin(
      root,
      'bad-shape',
      `return { findings: [{ type: 'evil', value: 1 }] };`,
    );
    const e1 = (await failure(runPlugin(shape, hello))) as PluginError;
    expect(e1).toBeInstanceOf(PluginError);
    expect(e1.code).toBe('HT_PLUGIN_RESULT');
    expect(e1.message).toBe(
      'plugin bad-shape: result has a bad shape: /findings/0/type: "evil" is not a finding type (url, decoded-payload, hash, signature, command, download, file-type, note or x-<name>); /findings/0/value: must be string',
    );
    const noCap = workerPlugin(
      root,
      'no-findings-cap',
      `return { findings: [{ type: 'note', value: 'x' }] };`,
      { capabilities: { findings: false } },
    );
    const e2 = (await failure(runPlugin(noCap, hello))) as PluginError;
    expect([e2.code, e2.message]).toEqual([
      'HT_PLUGIN_DENIED',
      'plugin no-findings-cap: emitted findings without the findings capability',
    ]);
    const big = workerPlugin(
      root,
      'too-big',
      `return { findings: [{ type: 'note', value: 'x'.repeat(2000) }] };`,
    );
    const e3 = (await failure(runPlugin(big, hello, { maxResultBytes: 1024 }))) as PluginError;
    expect(e3.message).toMatch(
      /^plugin too-big: result of \d+ bytes exceeds plugins.maxResultBytes \(1024\)$/,
    );
  });

  test("the plugin's own failures arrive as core's PluginError", async () => {
    const dir = workerPlugin(root, 'thrower', `throw new Error('kaboom');`);
    const err = (await failure(runPlugin(dir, hello))) as PluginError;
    expect([err.code, err.message]).toEqual([
      'HT_PLUGIN_THREW',
      'plugin thrower: threw Error: kaboom',
    ]);
  });

  test('ctx.fetch can be answered by a stub, after the egress checks', async () => {
    const dir = workerPlugin(
      root,
      'fetcher',
      `const r = await ctx.fetch({ url: input.config.url });
       return { findings: [{ type: 'note', value: Buffer.from(r.body, 'base64').toString() }] };`,
      { capabilities: { network: { egress: 'attacker' } } },
    );
    const fetch = () => ({
      status: 200,
      headers: {},
      body: Buffer.from('stubbed').toString('base64'),
      truncated: false,
    });
    const attacker = `http://${hello.remote.address}/x`;
    expect((await runPlugin(dir, hello, { fetch, config: { url: attacker } })).findings).toEqual([
      { type: 'note', value: 'stubbed' },
    ]);
    const err = (await failure(
      runPlugin(dir, hello, { fetch, config: { url: 'http://203.0.113.1/' } }),
    )) as PluginError;
    expect(err.code).toBe('HT_PLUGIN_DENIED');
    expect(err.message).toContain(
      '203.0.113.1 is not the attacking host 198.51.100.7 (egress: attacker)',
    );
  });

  test('loadPlugin runs artifact tasks and keeps the log', async () => {
    const dir = workerPlugin(
      root,
      'artifact-reader',
      `ctx.log(input.kind);
       return { findings: [{ type: 'file-type', value: input.artifact.contentType + ' ' + input.artifact.size }] };`,
      { consumes: { artifacts: { contentTypes: ['text/*'] } } },
    );
    const p = await loadPlugin(dir);
    try {
      const out = await p.runArtifact(
        { data: '#!/bin/sh', contentType: 'text/x-shellscript' },
        hello,
      );
      expect(out.findings).toEqual([{ type: 'file-type', value: 'text/x-shellscript 9' }]);
      expect(p.logs).toEqual(['artifact']);
      await expect(
        p.runArtifact({ data: 'MZ', contentType: 'application/x-dosexec' }, hello),
      ).rejects.toThrow(/would not be given this artifact/);
      await expect(p.run(hello)).rejects.toThrow('consumes.attacks is absent');
    } finally {
      await p.close();
    }
  });
});
