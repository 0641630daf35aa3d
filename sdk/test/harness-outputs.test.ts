// The harness for output plugins: runReport hands a report (records, and
// artifacts with artifactData) the way the daemon does, ctx.files writes in
// the folder given or in a temp folder the harness makes, and an exchange
// stub answers ctx.exchange after the daemon's egress checks.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { HarnessError, attackFixture, loadPlugin } from '../src/index.js';
import { removeTempDirs, tempDir, workerPlugin } from './helpers.js';

afterAll(removeTempDirs);

const report = { reports: { delivery: 'at-least-once', artifactData: true } };

describe('harness: output plugins', () => {
  test('runReport gives the report; ctx.files writes in a temp folder the harness made', async () => {
    const dir = workerPlugin(
      tempDir(),
      'out-test',
      `await ctx.files.append('r.log', JSON.stringify({ kind: input.kind, records: Object.keys(input.records), artifacts: input.artifacts.map((a) => [a.name, a.data]) }) + '\\n');
       return { findings: [{ type: 'note', value: String((await ctx.files.stat('r.log')).size) }] };`,
      { hostApi: '^1.1.0', consumes: report, capabilities: { files: true } },
    );
    const p = await loadPlugin(dir);
    try {
      expect(p.filesDir).toBeDefined();
      const attack = attackFixture({ received: 'x' });
      const out = await p.runReport(
        attack,
        {
          finder: {
            plugin: 'finder',
            version: '1.0.0',
            status: 'ok',
            durationMs: 1,
            findings: [],
            artifacts: [],
          },
        },
        [{ data: 'hi', name: 'a.txt', contentType: 'text/plain' }],
      );
      const line = readFileSync(join(p.filesDir!, 'r.log'), 'utf8');
      expect(JSON.parse(line)).toEqual({
        kind: 'report',
        records: ['finder'],
        artifacts: [['a.txt', Buffer.from('hi').toString('base64')]],
      });
      expect(out.findings[0]?.value).toBe(String(Buffer.byteLength(line)));
      // A report-only plugin is not given attacks, as in the daemon.
      await expect(p.run(attack)).rejects.toBeInstanceOf(HarnessError);
    } finally {
      await p.close();
    }
  });

  test('filesDir puts ctx.files where the test wants; names leaving it are refused', async () => {
    const filesDir = join(tempDir(), 'given');
    const dir = workerPlugin(
      tempDir(),
      'out-files',
      `await ctx.files.write('state.json', '{}');
       const e = await ctx.files.append('../x', 'y').catch((err) => err.code);
       return { findings: [{ type: 'note', value: e }] };`,
      { hostApi: '^1.1.0', consumes: report, capabilities: { files: true } },
    );
    const p = await loadPlugin(dir, { filesDir });
    try {
      const out = await p.runReport(attackFixture({ received: 'x' }));
      expect(out.findings[0]?.value).toBe('HT_PLUGIN_DENIED');
      expect(existsSync(join(filesDir, 'state.json'))).toBe(true);
    } finally {
      await p.close();
    }
  });

  test('a plugin without reports is refused by runReport; one asking for a database needs database: {url}', async () => {
    const plain = workerPlugin(tempDir(), 'plain', 'return null;');
    const p = await loadPlugin(plain);
    try {
      await expect(p.runReport(attackFixture({}))).rejects.toThrow(/consumes.reports is absent/);
    } finally {
      await p.close();
    }
    const db = workerPlugin(tempDir(), 'db-out', 'return null;', {
      hostApi: '^1.1.0',
      consumes: report,
      capabilities: { database: { engine: 'postgres' } },
    });
    await expect(loadPlugin(db)).rejects.toThrow(/give the harness database: \{ url \}/);
  });

  test('an exchange stub answers ctx.exchange after the egress checks', async () => {
    const dir = workerPlugin(
      tempDir(),
      'ex-stub',
      `const r = await ctx.exchange({ url: 'tcp://' + input.attack.remote.address + ':3310', data: Buffer.from('PING').toString('base64') });
       const d = await ctx.exchange({ url: 'tcp://192.0.2.99:3310', data: '' }).catch((e) => e.code);
       return { findings: [{ type: 'note', value: Buffer.from(r.data, 'base64').toString() + ' ' + d }] };`,
      {
        hostApi: '^1.1.0',
        capabilities: { network: { egress: 'attacker', schemes: ['tcp'] } },
      },
    );
    const p = await loadPlugin(dir, {
      exchange: (req) => ({
        data: Buffer.from(`PONG to ${req.url}`).toString('base64'),
        truncated: false,
        durationMs: 1,
      }),
    });
    try {
      const a = attackFixture({ received: 'x', remote: '198.51.100.7' });
      const out = await p.run(a);
      expect(out.findings[0]?.value).toBe('PONG to tcp://198.51.100.7:3310 HT_PLUGIN_DENIED');
    } finally {
      await p.close();
    }
  });
});
