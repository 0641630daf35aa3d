// Manifest errors: each bad plugin.json is refused with the field and a precise reason.
import { mkdtempSync, mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { HOST_API_VERSION } from '../../src/plugins/engine.js';
import { readManifest } from '../../src/plugins/manifest.js';

const root = mkdtempSync(join(tmpdir(), 'ht-manifest-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const good = {
  manifestVersion: 1,
  name: 'acme-detect',
  version: '1.0.0',
  hostApi: '^1.0.0',
  engine: 'worker',
  entry: 'index.mjs',
  consumes: { attacks: {} },
};

let n = 0;
function folder(
  manifest: unknown,
  files: Record<string, string> = { 'index.mjs': 'export default {}' },
): string {
  const dir = join(root, `p${n++}`);
  mkdirSync(dir);
  if (manifest !== undefined)
    writeFileSync(
      join(dir, 'plugin.json'),
      typeof manifest === 'string' ? manifest : JSON.stringify(manifest),
    );
  for (const [f, text] of Object.entries(files)) writeFileSync(join(dir, f), text);
  return dir;
}

function errors(manifest: unknown, files?: Record<string, string>): string[] {
  const r = readManifest(folder(manifest, files));
  if (r.ok) throw new Error('expected the manifest to be refused');
  return r.errors;
}

describe('plugin manifest', () => {
  it('accepts a good manifest and applies defaults', () => {
    const r = readManifest(folder(good));
    if (!r.ok) throw new Error(r.errors.join('; '));
    expect(r.plugin.manifest.limits).toEqual({ timeoutMs: 5000, memoryMb: 64, concurrency: 2 });
    expect(r.plugin.manifest.capabilities).toEqual({
      findings: true,
      artifacts: false,
      files: false,
    });
    expect(r.plugin.entryPath.endsWith('/index.mjs')).toBe(true);
  });

  it('names the plugin in a refusal, from the manifest or else the folder', () => {
    const r = readManifest(folder({ ...good, engine: 'python' }));
    expect(r.ok ? '' : r.name).toBe('acme-detect');
    const dir = folder(undefined);
    const r2 = readManifest(dir);
    expect(r2.ok ? '' : r2.name).toBe(dir.split('/').pop());
  });

  const cases: [string, unknown, string, Record<string, string>?][] = [
    ['no plugin.json', undefined, 'plugin.json: does not exist'],
    ['not JSON', '{"name": ', 'plugin.json: not valid JSON: '],
    ['not an object', '[1,2]', '/: must be an object'],
    [
      'no manifestVersion',
      { ...good, manifestVersion: undefined },
      '/manifestVersion: is required',
    ],
    [
      'a future manifestVersion',
      { ...good, manifestVersion: 2 },
      '/manifestVersion: 2 is not supported (this host reads manifest version 1)',
    ],
    ['no name', { ...good, name: undefined }, '/name: is required'],
    [
      'a bad name',
      { ...good, name: 'Bad_Name' },
      '/name: "Bad_Name" is not a plugin name (lower case letters, digits and dashes, 3-64 characters, starting with a letter)',
    ],
    [
      'a version that is not semver',
      { ...good, version: '1.0' },
      '/version: "1.0" is not a semver version (such as 1.2.3)',
    ],
    [
      'a hostApi that is not a range',
      { ...good, hostApi: 'banana' },
      '/hostApi: "banana" is not a semver range',
    ],
    [
      'a hostApi this host does not satisfy',
      { ...good, hostApi: '^2.0.0' },
      `/hostApi: plugin needs host API ^2.0.0, this host provides ${HOST_API_VERSION}`,
    ],
    ['an unknown engine', { ...good, engine: 'python' }, '/engine: must be one of worker, wasm'],
    [
      'an entry that does not exist',
      { ...good, entry: 'dist/index.js' },
      '/entry: file dist/index.js does not exist in the plugin folder',
    ],
    [
      'an entry outside the folder',
      { ...good, entry: '../index.mjs' },
      '/entry: "../index.mjs" is not a relative path inside the plugin folder',
    ],
    [
      'a wasm plugin with a JavaScript entry',
      { ...good, engine: 'wasm' },
      '/entry: the wasm engine loads a .wasm file, not "index.mjs"',
    ],
    [
      'a worker plugin with a wasm entry',
      { ...good, entry: 'p.wasm' },
      '/entry: the worker engine loads a JavaScript module (.js or .mjs), not "p.wasm"',
      { 'p.wasm': '' },
    ],
    ['nothing consumed', { ...good, consumes: {} }, '/consumes: must not be empty'],
    [
      'an unknown top-level key',
      { ...good, permissions: ['all'] },
      '/permissions: unknown property (allowed: $schema, manifestVersion, name, version, description, hostApi, engine, entry, consumes, after, capabilities, limits, configSchema)',
    ],
    [
      'an unknown capability',
      { ...good, capabilities: { filesystem: true } },
      '/capabilities/filesystem: unknown property (allowed: findings, artifacts, network, files, database)',
    ],
    [
      'an unknown egress',
      { ...good, capabilities: { network: { egress: 'anywhere' } } },
      '/capabilities/network/egress: must be one of attacker, allow-list',
    ],
    [
      'network for a wasm plugin',
      {
        ...good,
        engine: 'wasm',
        entry: 'p.wasm',
        capabilities: { network: { egress: 'attacker' } },
      },
      '/capabilities/network: the wasm engine has no network access in manifest version 1 (the wasm engine has no host calls; use the worker engine)',
      { 'p.wasm': '' },
    ],
    [
      'stream schemes for a wasm plugin',
      {
        ...good,
        engine: 'wasm',
        entry: 'p.wasm',
        hostApi: '^1.1.0',
        capabilities: { network: { egress: 'attacker', schemes: ['http', 'tcp', 'unix'] } },
      },
      '/capabilities/network/schemes: tcp, unix (ctx.exchange) is not available to wasm plugins (the wasm engine has no host calls; use the worker engine)',
      { 'p.wasm': '' },
    ],
    [
      'files for a wasm plugin',
      { ...good, engine: 'wasm', entry: 'p.wasm', capabilities: { files: true } },
      '/capabilities/files: ctx.files is not available to wasm plugins (the wasm engine has no host calls; use the worker engine)',
      { 'p.wasm': '' },
    ],
    [
      'a database for a wasm plugin',
      {
        ...good,
        engine: 'wasm',
        entry: 'p.wasm',
        capabilities: { database: { engine: 'postgres' } },
      },
      '/capabilities/database: ctx.db is not available to wasm plugins (the wasm engine has no host calls; use the worker engine)',
      { 'p.wasm': '' },
    ],
    [
      'reports for a wasm plugin',
      {
        ...good,
        engine: 'wasm',
        entry: 'p.wasm',
        consumes: { reports: { delivery: 'at-least-once' } },
      },
      '/consumes/reports: output plugins (reports) run in the worker engine only, not wasm',
      { 'p.wasm': '' },
    ],
    [
      'a timeout below the minimum',
      { ...good, limits: { timeoutMs: 0 } },
      '/limits/timeoutMs: must be >= 10 (got 0)',
    ],
    [
      'a memory limit as text',
      { ...good, limits: { memoryMb: '64' } },
      '/limits/memoryMb: must be integer',
    ],
    [
      'a concurrency above the maximum',
      { ...good, limits: { concurrency: 1000 } },
      '/limits/concurrency: must be <= 64 (got 1000)',
    ],
    [
      'a port out of range',
      { ...good, consumes: { attacks: { ports: [70000] } } },
      '/consumes/attacks/ports/0: 70000 is not a port number (1-65535)',
    ],
    [
      'an empty port range',
      { ...good, consumes: { attacks: { ports: ['90-80'] } } },
      '/consumes/attacks/ports/0: range 90-80 is empty (start after end)',
    ],
    [
      'an unknown protocol',
      { ...good, consumes: { attacks: { protocols: ['icmp'] } } },
      '/consumes/attacks/protocols/0: must be one of tcp, udp',
    ],
    [
      'a bad content type',
      { ...good, consumes: { artifacts: { contentTypes: ['exe'] } } },
      '/consumes/artifacts/contentTypes/0: "exe" is not a content type (such as application/x-elf or text/*)',
    ],
    [
      'running after itself',
      { ...good, after: ['acme-detect'] },
      '/after: a plugin cannot run after itself',
    ],
    [
      'a configSchema that is not a schema',
      { ...good, configSchema: { type: 'bogus' } },
      '/configSchema: not a valid JSON Schema: ',
    ],
  ];

  it.each(cases)('refuses %s', (_what, manifest, message, files) => {
    const errs = errors(manifest, files);
    expect(
      errs.some((e) => (message.endsWith(': ') ? e.startsWith(message) : e === message)),
      `${errs.join('\n')}`,
    ).toBe(true);
  });

  it('refuses an entry that is a symlink leading out of the folder', () => {
    const outside = join(root, 'outside.mjs');
    writeFileSync(outside, 'export default {}');
    const dir = folder(good, {});
    symlinkSync(outside, join(dir, 'index.mjs'));
    const r = readManifest(dir);
    expect(r.ok ? [] : r.errors).toEqual(['/entry: index.mjs resolves outside the plugin folder']);
  });

  it('lists every problem at once', () => {
    expect(errors({ ...good, engine: 'python', limits: { timeoutMs: 0 }, extra: 1 })).toHaveLength(
      3,
    );
  });
});
