// ctx.files on the real file system: confinement ("..", absolute names, NUL,
// symbolic links in and out of the folder), rotation, atomic and exclusive
// writes, per-file serialisation of concurrent appends, the folder made at
// load (or a clear refusal), the size limit of one call and the folder's
// quota (counted at load, kept by every call and rotation, counted again when
// the operator frees space), and the calls through the worker engine in both
// isolations (capability checked, none after the task).
import { execFileSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  symlinkSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import type { Attack } from '../../src/generated/attack.js';
import type { LoadedPlugin } from '../../src/plugins/engine.js';
import { WorkerEngine } from '../../src/plugins/engines/worker/engine.js';
import { readManifest } from '../../src/plugins/manifest.js';
import {
  DEFAULT_MAX_WRITE_BYTES,
  DEFAULT_QUOTA_BYTES,
  PluginFiles,
  PluginServices,
  folderBytes,
  pluginFilesDir,
  type FilesLimits,
} from '../../src/plugins/services/index.js';
import { writeWorkerPlugin } from './host-fixtures.js';

const root = mkdtempSync(join(tmpdir(), 'ht-files-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

let n = 0;
async function folder(limits?: Partial<FilesLimits>): Promise<{ files: PluginFiles; dir: string }> {
  const dir = join(root, `f${n++}`, 'plugin');
  const files = new PluginFiles('test-output', dir, limits);
  await files.prepare();
  return { files, dir };
}

async function code(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    return String((err as { code?: unknown }).code);
  }
  return 'resolved';
}

/** The error a call rejects with (fails the test when it resolves). */
async function failure(p: Promise<unknown>): Promise<Error & { code: string }> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e as Error & { code: string },
  );
  if (!err) throw new Error('the call was expected to fail and resolved');
  return err;
}

describe('ctx.files service', () => {
  it('places a plugin folder by plugins.files (dirs, root, dataDir default)', () => {
    expect(pluginFilesDir({ dirs: { a: '/x/y' } }, '/data', 'a')).toBe('/x/y');
    expect(pluginFilesDir({ root: '/r', dirs: {} }, '/data', 'a')).toBe('/r/a');
    expect(pluginFilesDir({ dirs: {} }, '/data', 'a')).toBe('/data/files/a');
  });

  it('makes the folder at load, and refuses to load naming the folder when it cannot', async () => {
    const { dir } = await folder();
    expect(existsSync(dir)).toBe(true);
    const blocker = join(root, 'a-file');
    writeFileSync(blocker, '');
    const bad = new PluginFiles('test-output', join(blocker, 'sub'));
    const err = (await bad.prepare().catch((e: unknown) => e)) as Error & { code: string };
    expect(err.code).toBe('HT_PLUGIN_LOAD');
    expect(err.message).toContain(join(blocker, 'sub'));
    expect(err.message).toMatch(/cannot be made or written: .*ENOTDIR/);
  });

  it('refuses names that leave the folder', async () => {
    const { files } = await folder();
    for (const name of [
      '../escape',
      'a/../../escape',
      'a/../b',
      '/etc/passwd',
      './x',
      'a//b',
      'nul\0byte',
      '',
      'a\\..\\b',
    ]) {
      expect(await code(files.call({ op: 'append', name, data: 'x' })), name).toBe(
        'HT_PLUGIN_DENIED',
      );
    }
    expect(await code(files.call({ op: 'list', dir: '..' }))).toBe('HT_PLUGIN_DENIED');
    expect(existsSync(join(root, 'escape'))).toBe(false);
  });

  it('never follows a symbolic link, to a folder or a file, inside or outside', async () => {
    const { files, dir } = await folder();
    const outside = join(root, `outside-${n}`);
    mkdirSync(outside);
    writeFileSync(join(outside, 'target'), 'secret');
    symlinkSync(outside, join(dir, 'out'));
    symlinkSync(join(outside, 'target'), join(dir, 'file-link'));
    mkdirSync(join(dir, 'real'));
    symlinkSync(join(dir, 'real'), join(dir, 'inner-link'));
    for (const c of [
      { op: 'append', name: 'out/new', data: 'x' },
      { op: 'write', name: 'out/new', data: 'x' },
      { op: 'stat', name: 'out/target' },
      { op: 'remove', name: 'out/target' },
      { op: 'append', name: 'file-link', data: 'x' },
      { op: 'write', name: 'file-link', data: 'x' },
      { op: 'stat', name: 'file-link' },
      { op: 'append', name: 'inner-link/x', data: 'x' },
    ] as const)
      expect(await code(files.call(c)), JSON.stringify(c)).toBe('HT_PLUGIN_DENIED');
    expect(await code(files.call({ op: 'list', dir: 'out' }))).toBe('HT_PLUGIN_DENIED');
    expect(readdirSync(outside)).toEqual(['target']);
    expect(readFileSync(join(outside, 'target'), 'utf8')).toBe('secret');
  });

  it('works in a folder the operator reaches through a symbolic link', async () => {
    const real = join(root, `real-${n++}`);
    mkdirSync(real);
    const link = join(root, `link-${n++}`);
    symlinkSync(real, link);
    const files = new PluginFiles('test-output', link);
    await files.prepare();
    await files.call({ op: 'append', name: 'a/b.log', data: 'hi\n' });
    expect(readFileSync(join(real, 'a', 'b.log'), 'utf8')).toBe('hi\n');
  });

  it('appends, writes atomically, stats, lists and removes', async () => {
    const { files, dir } = await folder();
    await files.call({ op: 'append', name: 'logs/x.log', data: 'one\n' });
    await files.call({ op: 'append', name: 'logs/x.log', data: new TextEncoder().encode('two\n') });
    expect(readFileSync(join(dir, 'logs', 'x.log'), 'utf8')).toBe('one\ntwo\n');
    await files.call({ op: 'write', name: 'state.json', data: '{"a":1}' });
    await files.call({ op: 'write', name: 'state.json', data: '{"a":2}' });
    expect(readFileSync(join(dir, 'state.json'), 'utf8')).toBe('{"a":2}');
    expect(
      await code(files.call({ op: 'write', name: 'state.json', data: 'x', exclusive: true })),
    ).toBe('EEXIST');
    await files.call({ op: 'write', name: 'once', data: 'x', exclusive: true });
    const st = (await files.call({ op: 'stat', name: 'state.json' })) as { size: number };
    expect(st.size).toBe(7);
    expect(await files.call({ op: 'stat', name: 'missing' })).toBeNull();
    expect(await files.call({ op: 'stat', name: 'no/such/dir' })).toBeNull();
    expect(await files.call({ op: 'list' })).toEqual(['logs/', 'once', 'state.json']);
    expect(await files.call({ op: 'list', dir: 'logs' })).toEqual(['x.log']);
    expect(await files.call({ op: 'list', dir: 'none' })).toEqual([]);
    expect(await files.call({ op: 'remove', name: 'once' })).toBe(true);
    expect(await files.call({ op: 'remove', name: 'once' })).toBe(false);
    // No temp files left behind by the atomic writes.
    expect(readdirSync(dir).sort()).toEqual(['logs', 'state.json']);
  });

  it('rotates by size: name -> name.1 -> … -> name.(keep-1), oldest dropped', async () => {
    const { files, dir } = await folder();
    const rotate = { maxBytes: 10, keep: 3 };
    for (const line of ['aaaa\n', 'bbbb\n', 'cccc\n', 'dddd\n', 'eeee\n', 'ffff\n', 'gggg\n'])
      await files.call({ op: 'append', name: 'r.log', data: line, rotate });
    expect(readdirSync(dir).sort()).toEqual(['r.log', 'r.log.1', 'r.log.2']);
    expect(readFileSync(join(dir, 'r.log'), 'utf8')).toBe('gggg\n');
    expect(readFileSync(join(dir, 'r.log.1'), 'utf8')).toBe('eeee\nffff\n');
    expect(readFileSync(join(dir, 'r.log.2'), 'utf8')).toBe('cccc\ndddd\n');
    // keep 1: the full file is dropped and the append starts a new one.
    for (const line of ['12345\n', '67890\n'])
      await files.call({
        op: 'append',
        name: 'one.log',
        data: line,
        rotate: { maxBytes: 8, keep: 1 },
      });
    expect(readFileSync(join(dir, 'one.log'), 'utf8')).toBe('67890\n');
    expect(existsSync(join(dir, 'one.log.1'))).toBe(false);
    expect(
      await code(
        files.call({ op: 'append', name: 'x', data: 'x', rotate: { maxBytes: 0, keep: 2 } }),
      ),
    ).toBe('HT_PLUGIN_DENIED');
  });

  it('serialises concurrent appends to one file: no line torn, none lost, rotation exact', async () => {
    const { files, dir } = await folder();
    const lines = Array.from(
      { length: 400 },
      (_, i) => `${String(i).padStart(4, '0')} ${'x'.repeat(i % 97)}\n`,
    );
    await Promise.all(
      lines.map((data) =>
        files.call({ op: 'append', name: 'c.log', data, rotate: { maxBytes: 4096, keep: 50 } }),
      ),
    );
    const names = readdirSync(dir).filter((f) => f.startsWith('c.log'));
    const byAge = names.sort((a, b) => Number(b.split('.')[2] ?? 0) - Number(a.split('.')[2] ?? 0));
    const all = byAge.map((f) => readFileSync(join(dir, f), 'utf8')).join('');
    // In call order (the host queues operations per file), every line whole.
    expect(all).toBe(lines.join(''));
    for (const f of names) expect(readFileSync(join(dir, f)).length).toBeLessThanOrEqual(4096);
  });

  it('reports a full disk as unavailable (retried), not as the plugin failing', async () => {
    // A real full file system: a 64 KiB tmpfs (the tests run as root).
    const mnt = join(root, `tmpfs-${n++}`);
    mkdirSync(mnt);
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', mnt]);
    try {
      const files = new PluginFiles('test-output', join(mnt, 'plugin'));
      await files.prepare();
      const err = (await files
        .call({ op: 'append', name: 'big', data: new Uint8Array(256 * 1024) })
        .catch((e: unknown) => e)) as Error & { code: string };
      expect(err.code).toBe('HT_PLUGIN_UNAVAILABLE');
      expect(err.message).toMatch(/ENOSPC/);
      // Undone: no half-written append is left for the retry to follow.
      expect((await files.call({ op: 'stat', name: 'big' })) as { size: number }).toMatchObject({
        size: 0,
      });
    } finally {
      execFileSync('umount', [mnt]);
    }
  });
});

// ---- through the worker engine ----

function pluginDir(name: string, code: string, manifest: Record<string, unknown>): LoadedPlugin {
  const dir = writeWorkerPlugin(join(root, 'plugins', `${name}-${n++}`), name, code, {
    hostApi: '^1.1.0',
    limits: { timeoutMs: 3000, memoryMb: 64, concurrency: 2 },
    ...manifest,
  });
  const r = readManifest(dir);
  if (!r.ok) throw new Error(r.errors.join('; '));
  return r.plugin;
}

/** The daemon's services with files under a fresh root and no network. */
function services(): { services: PluginServices; filesRoot: string } {
  const filesRoot = join(root, `svc-${n++}`);
  return {
    filesRoot,
    services: new PluginServices(noNetwork, {
      files: { root: filesRoot, dirs: {} },
      databases: {},
      dataDir: root,
    }),
  };
}

const attack: Attack = {
  schemaVersion: 1,
  id: '01JDQ0000000000000000000AA',
  sensor: 'test',
  startedAt: new Date().toISOString(),
  endedAt: new Date().toISOString(),
  proto: 'tcp',
  local: { address: '10.99.0.2', port: 23 },
  remote: { address: '10.99.0.1', port: 40000 },
  mode: 'normal',
  endReason: 'closed',
  received: { length: 2, data: Buffer.from('hi').toString('base64'), truncated: false },
  sent: { length: 0, data: '', truncated: false },
  chunks: [],
  plugins: {},
};

const noNetwork = {
  fetch: () => Promise.reject(new Error('no network in this test')),
  exchange: () => Promise.reject(new Error('no network in this test')),
};

describe.each(['thread', 'process'] as const)(
  'ctx.files through the worker engine (%s)',
  (isolation) => {
    const engine = new WorkerEngine({ isolation });

    it('writes in the plugin folder with the capability', async () => {
      const plugin = pluginDir(
        'files-ok',
        `export default { async analyze(input, ctx) {
        await ctx.files.append('seen/' + input.attack.id + '.log', new Uint8Array([104, 105]));
        await ctx.files.append('all.log', input.attack.id + '\\n');
        const st = await ctx.files.stat('all.log');
        const list = await ctx.files.list('seen');
        return { findings: [{ type: 'note', value: JSON.stringify({ size: st.size, list }) }] };
      } };`,
        { capabilities: { files: true } },
      );
      const { services: svc, filesRoot } = services();
      await svc.prepare(plugin);
      const runner = await engine.start(plugin, svc);
      try {
        const out = (await runner.run({ kind: 'attack', attack, config: {}, results: {} })) as {
          findings: { value: string }[];
        };
        expect(JSON.parse(out.findings[0]!.value)).toEqual({
          size: 27,
          list: [`${attack.id}.log`],
        });
        expect(readFileSync(join(filesRoot, 'files-ok', 'seen', `${attack.id}.log`), 'utf8')).toBe(
          'hi',
        );
      } finally {
        await runner.close();
        await svc.close();
      }
    });

    it('refuses ctx.files and ctx.db without the capability, failing the task as denied', async () => {
      const { services: svc } = services();
      for (const [call, capability] of [
        ["ctx.files.append('x', 'y')", 'capabilities.files: true'],
        ["ctx.db.query('select 1')", 'capabilities.database'],
      ]) {
        const plugin = pluginDir(
          'no-cap',
          `export default { async analyze(input, ctx) { try { await ${call}; } catch {} return null; } };`,
          {},
        );
        await svc.prepare(plugin);
        const runner = await engine.start(plugin, svc);
        try {
          const err = (await runner
            .run({ kind: 'attack', attack, config: {}, results: {} })
            .catch((e: unknown) => e)) as Error & { code: string };
          expect(err.code).toBe('HT_PLUGIN_DENIED');
          expect(err.message).toContain(capability);
        } finally {
          await runner.close();
        }
      }
    });

    it('does not serve a call made after the task ended', async () => {
      const plugin = pluginDir(
        'files-late',
        `let late;
      export default { async analyze(input, ctx) {
        if (input.attack.received.length === 2) {
          late = () => ctx.files.append('late.log', 'late');
          return null;
        }
        const r = await late().then(() => 'served', (e) => String(e.message));
        return { findings: [{ type: 'note', value: r }] };
      } };`,
        {
          capabilities: { files: true },
          limits: { timeoutMs: 3000, memoryMb: 64, concurrency: 1 },
        },
      );
      const { services: svc, filesRoot } = services();
      await svc.prepare(plugin);
      const runner = await engine.start(plugin, svc);
      try {
        await runner.run({ kind: 'attack', attack, config: {}, results: {} });
        const second = { ...attack, received: { ...attack.received, length: 3 } };
        const out = (await runner.run({
          kind: 'attack',
          attack: second,
          config: {},
          results: {},
        })) as {
          findings: { value: string }[];
        };
        expect(out.findings[0]!.value).toMatch(/after the task ended/);
        expect(existsSync(join(filesRoot, 'files-late', 'late.log'))).toBe(false);
      } finally {
        await runner.close();
        await svc.close();
      }
    });
  },
);

describe('ctx.files size limits and quota', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('has the schema defaults: 64 MiB per call, 10 GiB per folder', () => {
    const schema = JSON.parse(
      readFileSync(join(import.meta.dirname, '../../../schemas/config.schema.json'), 'utf8'),
    ) as {
      properties: {
        plugins: { properties: { files: { properties: Record<string, { default: number }> } } };
      };
    };
    const files = schema.properties.plugins.properties.files.properties;
    expect(files.maxWriteBytes!.default).toBe(64 * 1024 * 1024);
    expect(files.quotaBytes!.default).toBe(10 * 1024 * 1024 * 1024);
    expect(DEFAULT_MAX_WRITE_BYTES).toBe(files.maxWriteBytes!.default);
    expect(DEFAULT_QUOTA_BYTES).toBe(files.quotaBytes!.default);
    expect(new PluginFiles('test-output', '/nowhere').limits).toEqual({
      maxWriteBytes: DEFAULT_MAX_WRITE_BYTES,
      quotaBytes: DEFAULT_QUOTA_BYTES,
    });
  });

  it('refuses an append or write over maxWriteBytes as denied, naming plugin, file, size and limit', async () => {
    const { files, dir } = await folder({ maxWriteBytes: 10 });
    // 12 bytes in UTF-8 (6 characters): the limit is in bytes.
    const err = await failure(files.call({ op: 'append', name: 'logs/big.log', data: 'éééééé' }));
    expect(err.code).toBe('HT_PLUGIN_DENIED');
    expect(err.message).toBe(
      'plugin test-output: ctx.files: append of 12 bytes to logs/big.log is over the limit of 10 bytes per call (plugins.files.maxWriteBytes)',
    );
    const w = await failure(files.call({ op: 'write', name: 'blob', data: new Uint8Array(11) }));
    expect(w.code).toBe('HT_PLUGIN_DENIED');
    expect(w.message).toMatch(/write of 11 bytes to blob is over the limit of 10 bytes per call/);
    // Refused before touching the folder.
    expect(readdirSync(dir)).toEqual([]);
    // At the limit is fine.
    await files.call({ op: 'append', name: 'ok.log', data: '0123456789' });
    await files.call({ op: 'write', name: 'blob', data: new Uint8Array(10) });
    expect(readdirSync(dir).sort()).toEqual(['blob', 'ok.log']);
    // Bad data is still refused as such.
    expect(await code(files.call({ op: 'write', name: 'x', data: 42 as unknown as string }))).toBe(
      'HT_PLUGIN_DENIED',
    );
  });

  it('refuses a call that would pass quotaBytes as unavailable, naming folder, usage and quota', async () => {
    const { files, dir } = await folder({ quotaBytes: 100 });
    await files.call({ op: 'write', name: 'a', data: 'a'.repeat(60) });
    expect(files.usedBytes).toBe(60);
    const err = await failure(
      files.call({ op: 'append', name: 'log/b.log', data: 'b'.repeat(41) }),
    );
    expect(err.code).toBe('HT_PLUGIN_UNAVAILABLE');
    expect(err.message).toBe(
      `plugin test-output: ctx.files: append of 41 bytes to log/b.log would take the folder ${dir} over its quota: 60 of 100 bytes used (plugins.files.quotaBytes)`,
    );
    expect(existsSync(join(dir, 'log', 'b.log'))).toBe(false);
    const w = await failure(files.call({ op: 'write', name: 'c', data: 'c'.repeat(41) }));
    expect(w.code).toBe('HT_PLUGIN_UNAVAILABLE');
    expect(w.message).toMatch(/write of 41 bytes to c would take the folder .* 60 of 100 bytes/);
    expect(existsSync(join(dir, 'c'))).toBe(false);
    // Up to the quota exactly.
    await files.call({ op: 'append', name: 'log/b.log', data: 'b'.repeat(40) });
    expect(files.usedBytes).toBe(100);
    expect(await code(files.call({ op: 'append', name: 'log/b.log', data: 'b' }))).toBe(
      'HT_PLUGIN_UNAVAILABLE',
    );
    expect(readFileSync(join(dir, 'log', 'b.log'), 'utf8')).toBe('b'.repeat(40));
    // A rewrite counts the file after it: shrinking is always allowed, growth only as far as the quota.
    await files.call({ op: 'write', name: 'a', data: 'a'.repeat(20) });
    expect(files.usedBytes).toBe(60);
    await files.call({ op: 'write', name: 'a', data: 'a'.repeat(60) });
    expect(files.usedBytes).toBe(100);
    expect(await code(files.call({ op: 'write', name: 'a', data: 'a'.repeat(61) }))).toBe(
      'HT_PLUGIN_UNAVAILABLE',
    );
    expect(readFileSync(join(dir, 'a'), 'utf8')).toBe('a'.repeat(60));
    // An exclusive write on a file that exists is EEXIST, and costs nothing.
    expect(await code(files.call({ op: 'write', name: 'a', data: 'x', exclusive: true }))).toBe(
      'EEXIST',
    );
    expect(files.usedBytes).toBe(100);
    // Removing frees quota.
    expect(await files.call({ op: 'remove', name: 'a' })).toBe(true);
    expect(files.usedBytes).toBe(40);
    await files.call({ op: 'write', name: 'c', data: 'c'.repeat(41), exclusive: true });
    expect(files.usedBytes).toBe(81);
    expect(files.usedBytes).toBe(await folderBytes(dir));
  });

  it('counts what rotation drops as freed: a rotated log runs on within the quota', async () => {
    // Two files of at most 10 bytes: 20 bytes of a 25-byte quota, for ever.
    const { files, dir } = await folder({ quotaBytes: 25 });
    for (let i = 0; i < 30; i++)
      await files.call({
        op: 'append',
        name: 'r.log',
        data: `${i % 10}abc\n`,
        rotate: { maxBytes: 10, keep: 2 },
      });
    expect(readdirSync(dir).sort()).toEqual(['r.log', 'r.log.1']);
    expect(files.usedBytes).toBe(await folderBytes(dir));
    expect(files.usedBytes).toBe(20);
    // keep 1: the full file is dropped before the append is counted.
    const one = await folder({ quotaBytes: 10 });
    for (let i = 0; i < 5; i++)
      await one.files.call({
        op: 'append',
        name: 'one.log',
        data: '123456\n',
        rotate: { maxBytes: 10, keep: 1 },
      });
    expect(one.files.usedBytes).toBe(7);
    expect(readFileSync(join(one.dir, 'one.log'), 'utf8')).toBe('123456\n');
  });

  it('counts the files already in the folder at load, subfolders too, symbolic links not followed', async () => {
    const dir = join(root, `pre-${n++}`);
    mkdirSync(join(dir, 'sub', 'deeper'), { recursive: true });
    writeFileSync(join(dir, 'a'), 'x'.repeat(30));
    writeFileSync(join(dir, 'sub', 'b'), 'x'.repeat(20));
    writeFileSync(join(dir, 'sub', 'deeper', 'c'), 'x'.repeat(10));
    const outside = join(root, `big-outside-${n++}`);
    mkdirSync(outside);
    writeFileSync(join(outside, 'big'), 'x'.repeat(1000));
    symlinkSync(join(outside, 'big'), join(dir, 'link-to-file'));
    symlinkSync(outside, join(dir, 'link-to-folder'));
    expect(await folderBytes(dir)).toBe(60);
    const files = new PluginFiles('test-output', dir, { quotaBytes: 100 });
    await files.prepare();
    expect(files.usedBytes).toBe(60);
    const err = await failure(files.call({ op: 'append', name: 'new', data: 'y'.repeat(41) }));
    expect(err.code).toBe('HT_PLUGIN_UNAVAILABLE');
    expect(err.message).toMatch(/60 of 100 bytes used/);
    await files.call({ op: 'append', name: 'new', data: 'y'.repeat(40) });
    expect(files.usedBytes).toBe(100);
  });

  it('counts the folder again when a refused call finds the operator freed space (at most every 30 s)', async () => {
    const { files, dir } = await folder({ quotaBytes: 100 });
    await files.call({ op: 'write', name: 'old', data: 'o'.repeat(90) });
    vi.useFakeTimers({ toFake: ['Date'] });
    // The operator removes a file behind the plugin's back.
    unlinkSync(join(dir, 'old'));
    // Counted at load a moment ago: refused on the running count.
    expect(await code(files.call({ op: 'append', name: 'x', data: 'x'.repeat(20) }))).toBe(
      'HT_PLUGIN_UNAVAILABLE',
    );
    vi.setSystemTime(Date.now() + 30_000);
    await files.call({ op: 'append', name: 'x', data: 'x'.repeat(20) });
    expect(files.usedBytes).toBe(20);
  });

  it('takes bytes before writing: concurrent calls on different files never pass the quota together', async () => {
    const { files, dir } = await folder({ quotaBytes: 100 });
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        code(
          i % 2
            ? files.call({ op: 'append', name: `a${i}`, data: 'x'.repeat(10) })
            : files.call({ op: 'write', name: `w${i}`, data: 'x'.repeat(10) }),
        ),
      ),
    );
    expect(results.filter((r) => r === 'resolved')).toHaveLength(10);
    expect(results.filter((r) => r === 'HT_PLUGIN_UNAVAILABLE')).toHaveLength(10);
    expect(await folderBytes(dir)).toBe(100);
    expect(files.usedBytes).toBe(100);
  });

  it('gives back what a failed call took', async () => {
    const { files, dir } = await folder({ quotaBytes: 100 });
    // A folder where the file should be: the write fails, its bytes are not kept.
    mkdirSync(join(dir, 'taken'));
    expect(await code(files.call({ op: 'write', name: 'taken', data: 'x'.repeat(50) }))).toBe(
      'HT_PLUGIN_THREW',
    );
    expect(files.usedBytes).toBe(0);
    expect(await code(files.call({ op: 'append', name: 'taken', data: 'x'.repeat(50) }))).toBe(
      'HT_PLUGIN_THREW',
    );
    expect(files.usedBytes).toBe(0);
  });

  it('shares one count between plugins writing in the same folder', async () => {
    const dir = join(root, `shared-${n++}`);
    const a = new PluginFiles('log-json', dir, { quotaBytes: 100 });
    const b = new PluginFiles('log-attacker', dir, { quotaBytes: 100 });
    await a.prepare();
    await b.prepare();
    await a.call({ op: 'append', name: 'attackers.json', data: 'a'.repeat(70) });
    expect(b.usedBytes).toBe(70);
    const err = await failure(b.call({ op: 'append', name: 'attacker.log', data: 'b'.repeat(31) }));
    expect(err.message).toMatch(/^plugin log-attacker: .*70 of 100 bytes used/);
    a.close();
    // The count lives on while a plugin still uses the folder.
    await b.call({ op: 'append', name: 'attacker.log', data: 'b'.repeat(30) });
    expect(b.usedBytes).toBe(100);
    expect(await code(a.call({ op: 'stat', name: 'attackers.json' }))).toBe(
      'HT_PLUGIN_UNAVAILABLE',
    );
    b.close();
  });

  it('takes the limits from plugins.files in the daemon services', async () => {
    const plugin = pluginDir('files-limits', 'export default { analyze() { return null; } };', {
      capabilities: { files: true },
    });
    const filesRoot = join(root, `svc-${n++}`);
    mkdirSync(join(filesRoot, 'files-limits'), { recursive: true });
    writeFileSync(join(filesRoot, 'files-limits', 'existing'), 'e'.repeat(50));
    const svc = new PluginServices(noNetwork, {
      files: { root: filesRoot, dirs: {}, maxWriteBytes: 40, quotaBytes: 80 },
      databases: {},
      dataDir: root,
    });
    await svc.prepare(plugin);
    try {
      const big = await failure(
        svc.files(plugin, attack, { op: 'write', name: 'big', data: 'x'.repeat(41) }),
      );
      expect(big.code).toBe('HT_PLUGIN_DENIED');
      expect(big.message).toMatch(/^plugin files-limits: .*over the limit of 40 bytes per call/);
      const full = await failure(
        svc.files(plugin, attack, { op: 'write', name: 'full', data: 'x'.repeat(31) }),
      );
      expect(full.code).toBe('HT_PLUGIN_UNAVAILABLE');
      expect(full.message).toContain(
        `the folder ${join(filesRoot, 'files-limits')} over its quota: 50 of 80 bytes used`,
      );
      await svc.files(plugin, attack, { op: 'write', name: 'fits', data: 'x'.repeat(30) });
    } finally {
      await svc.close();
    }
    // Unloaded: no more calls.
    expect(await code(svc.files(plugin, attack, { op: 'stat', name: 'fits' }))).toBe(
      'HT_PLUGIN_UNAVAILABLE',
    );
  });
});
