// The honeytrap-plugin commands: new, build, validate, test, pack.
import { execFileSync, spawnSync } from 'node:child_process';
import {
  existsSync,
  readFileSync,
  readdirSync,
  statSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, test } from 'vitest';
import { buildPlugin, needsBuild } from '../src/cli/build.js';
import { CliError } from '../src/cli/common.js';
import { HOST_API_VERSION } from '../src/core.js';
import { newPlugin, sdkSpec } from '../src/cli/new.js';
import { packPlugin, relativeImports } from '../src/cli/pack.js';
import { judge, testPlugin } from '../src/cli/test.js';
import { validatePlugin } from '../src/cli/validate.js';
import { attackFixture, loadPlugin } from '../src/index.js';
import { collector, removeTempDirs, tempDir, writePlugin } from './helpers.js';

const SDK = fileURLToPath(new URL('..', import.meta.url)).replace(/\/$/, '');
const BIN = join(SDK, 'bin', 'honeytrap-plugin.js');

afterAll(removeTempDirs);

function cliError(fn: () => unknown): CliError {
  try {
    fn();
  } catch (err) {
    if (err instanceof CliError) return err;
    throw err;
  }
  throw new Error('expected a CliError');
}

async function cliRejection(p: Promise<unknown>): Promise<CliError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof CliError) return err;
    throw err;
  }
  throw new Error('expected a CliError');
}

/** What `new` lists: a heading, then the files every plugin gets and the engine's own, sorted. */
function created(heading: string, ...own: string[]): string[] {
  const common = ['.gitignore', 'README.md', 'package.json', 'plugin.json', 'test/plugin.test.mjs'];
  const fixtures = ['test/fixtures/no-url.json', 'test/fixtures/url.json'];
  return [heading, ...[...common, ...fixtures, ...own].sort().map((f) => `  ${f}`)];
}

describe('new', () => {
  const root = tempDir();

  test('writes a complete worker plugin that validates and passes its own tests', async () => {
    const c = collector();
    const dir = await newPlugin('worker', 'url-finder', { dir: root }, c.out);
    expect(dir).toBe(join(root, 'url-finder'));
    expect(c.lines.slice(0, 9)).toEqual(
      created(`created worker plugin url-finder in ${dir}`, 'index.mjs'),
    );
    const manifest = JSON.parse(readFileSync(join(dir, 'plugin.json'), 'utf8')) as Record<
      string,
      unknown
    >;
    expect(manifest).toMatchObject({
      manifestVersion: 1,
      name: 'url-finder',
      hostApi: '^1.0.0',
      engine: 'worker',
      entry: 'index.mjs',
    });
    const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as {
      devDependencies: Record<string, string>;
      scripts: Record<string, string>;
    };
    expect(pkg.devDependencies).toEqual({ '@honeytrap/sdk': `file:${SDK}` });
    expect(pkg.scripts.test).toBe('honeytrap-plugin test');
    expect(readFileSync(join(dir, 'README.md'), 'utf8')).not.toContain('{{');
    const v = collector();
    validatePlugin(dir, v.out);
    expect(v.lines).toEqual(['plugin url-finder 0.1.0 (worker, entry index.mjs) is valid']);
    const t = collector();
    expect(await testPlugin(dir, t.out)).toEqual({ passed: 3, failed: 0 });
    expect(t.text()).toContain('ok    test/fixtures/url.json');
    expect(t.text()).toContain('ok    test/plugin.test.mjs');
    expect(t.text()).toContain('✔ reports each URL with its byte offset');
  });

  test('a TypeScript worker is bundled into one self-contained entry', async () => {
    const c = collector();
    const dir = await newPlugin('worker', 'ts-finder', { dir: root, typescript: true }, c.out);
    expect(c.text()).toContain('built dist/index.mjs from src/index.ts');
    const bundle = readFileSync(join(dir, 'dist', 'index.mjs'), 'utf8');
    expect(bundle).toContain('function definePlugin(');
    expect(relativeImports(bundle)).toEqual([]);
    expect(bundle).not.toMatch(/from ['"]@honeytrap/);
    expect(await testPlugin(dir, collector().out)).toEqual({ passed: 3, failed: 0 });
  });

  test('a wasm plugin imports the SDK’s AssemblyScript library and builds with no node_modules', async () => {
    const c = collector();
    const dir = await newPlugin('wasm', 'as-finder', { dir: root }, c.out);
    expect(c.lines.slice(0, 10)).toEqual([
      ...created(`created wasm plugin as-finder in ${dir}`, 'assembly/index.ts'),
      '',
    ]);
    expect(readFileSync(join(dir, 'assembly', 'index.ts'), 'utf8')).toContain(
      'from "@honeytrap/sdk/assembly";',
    );
    // a temp folder outside this checkout: nothing for asc to find in node_modules
    for (let d = dir; d !== dirname(d); d = dirname(d))
      expect(existsSync(join(d, 'node_modules', '@honeytrap', 'sdk'))).toBe(false);
    expect(c.text()).toMatch(/built build\/as-finder.wasm from assembly\/index.ts \(\d+ bytes/);
    expect(await testPlugin(dir, collector().out)).toEqual({ passed: 3, failed: 0 });
  });

  test('refuses bad names, engines and folders in use', async () => {
    expect((await cliRejection(newPlugin('worker', 'Bad_Name', { dir: root }))).message).toBe(
      '"Bad_Name" is not a plugin name (lower case letters, digits and dashes, 3-64 characters, starting with a letter)',
    );
    expect((await cliRejection(newPlugin('docker', 'abc', { dir: root }))).message).toBe(
      'engine must be worker or wasm, not "docker"',
    );
    expect((await cliRejection(newPlugin('worker', 'url-finder', { dir: root }))).message).toBe(
      `${join(root, 'url-finder')} already exists and is not an empty folder`,
    );
    expect(
      (await cliRejection(newPlugin('wasm', 'abc', { dir: root, typescript: true }))).message,
    ).toBe('--typescript is for worker plugins (wasm plugins are AssemblyScript)');
  });

  test('the SDK is named by a file: path to this checkout', () => {
    expect(sdkSpec()).toBe(`file:${SDK}`);
  });
});

describe('build', () => {
  const root = tempDir();

  test('a plugin that fails to load is reported with the engine’s reason', async () => {
    const dir = writePlugin(root, 'no-analyze', {}, { 'index.mjs': 'export default {};\n' });
    const err = await cliRejection(buildPlugin(dir, collector().out));
    expect(err.message).toMatch(
      /^plugin no-analyze does not load in the worker engine: failed to load: .*the default export has no analyze\(\) function$/,
    );
  });

  test('importing the harness into a bundled plugin is refused', async () => {
    const dir = writePlugin(
      root,
      'imports-harness',
      { entry: 'dist/index.mjs' },
      {
        'src/index.ts':
          "import { runPlugin } from '@honeytrap/sdk/harness';\nexport default { analyze: () => { void runPlugin; } };\n",
      },
    );
    const err = await cliRejection(buildPlugin(dir, collector().out));
    expect(err.message).toBe('src/index.ts could not be bundled into dist/index.mjs:');
    expect(err.details[0]).toMatch(
      /^src\/index.ts:1:27: @honeytrap\/sdk\/harness cannot be bundled into a plugin/,
    );
  });

  /** A wasm plugin folder: assembly/index.ts is `source`; `files` are written too. */
  const wasmPlugin = (name: string, source: string, files: Record<string, string> = {}) =>
    writePlugin(
      root,
      name,
      { engine: 'wasm', entry: 'build/p.wasm' },
      { 'assembly/index.ts': source, ...files },
    );

  test('@honeytrap/sdk/assembly is the SDK that builds, even over a node_modules copy', async () => {
    const dir = wasmPlugin(
      'as-stale-sdk',
      'import { finding, output } from "@honeytrap/sdk/assembly";\nexport function analyze(input: string): string { return output([finding("note", "x")]); }\n',
      // an older SDK installed in the plugin folder, without these helpers
      { 'node_modules/@honeytrap/sdk/assembly/index.ts': 'export const OLD: i32 = 1;\n' },
    );
    await buildPlugin(dir, collector().out);
    const p = await loadPlugin(dir);
    try {
      expect((await p.run(attackFixture({ received: 'a' }))).findings).toEqual([
        { type: 'note', value: 'x' },
      ]);
    } finally {
      await p.close();
    }
  });

  test('a .wasm older than the SDK’s AssemblyScript library needs a build', async () => {
    const dir = wasmPlugin(
      'as-mtime',
      'export function analyze(input: string): string { return "{}"; }\n',
    );
    await buildPlugin(dir, collector().out);
    expect(needsBuild(dir)).toBe(false);
    const sdkLib = statSync(join(SDK, 'assembly', 'index.ts')).mtime;
    const before = new Date(sdkLib.getTime() - 60_000);
    utimesSync(join(dir, 'assembly', 'index.ts'), before, before);
    utimesSync(join(dir, 'build', 'p.wasm'), before, before);
    expect(needsBuild(dir)).toBe(true);
  });

  test('AssemblyScript errors are reported with asc’s diagnostics', async () => {
    const cases: [string, string, string][] = [
      [
        'as-error',
        'export function analyze(input: string): string { return 1; }\n',
        "Type 'i32' is not assignable to type '~lib/string/String'",
      ],
      [
        'as-unknown',
        'import { nope } from "@honeytrap/sdk/assembly";\nexport function analyze(input: string): string { return nope; }\n',
        "Module '~lib/@honeytrap/sdk/assembly' has no exported member 'nope'",
      ],
    ];
    for (const [name, source, diagnostic] of cases) {
      const err = await cliRejection(buildPlugin(wasmPlugin(name, source), collector().out));
      expect(err.message).toMatch(/^asc could not compile assembly\/index.ts: /);
      expect(err.details.join('\n')).toContain(diagnostic);
    }
  });
});

describe('validate', () => {
  test('names every problem and exits 2', () => {
    const dir = writePlugin(
      tempDir(),
      'bad',
      { hostApi: '^2.0.0', engine: 'wasm', entry: 'x.js' },
      {},
    );
    const err = cliError(() => validatePlugin(dir));
    expect(err.exitCode).toBe(2);
    expect(err.message).toBe(`plugin bad (${dir}) is not valid:`);
    expect(err.details).toEqual([
      `/hostApi: plugin needs host API ^2.0.0, this host provides ${HOST_API_VERSION}`,
      '/entry: the wasm engine loads a .wasm file, not "x.js"',
      '/entry: file x.js does not exist in the plugin folder',
      '(the .wasm is made by `honeytrap-plugin build` from assembly/index.ts)',
    ]);
  });

  test('the command prints the errors on stderr and exits 2', () => {
    const dir = writePlugin(tempDir(), 'bad-version', { version: '1.0' }, { 'index.mjs': '' });
    const r = spawnSync(process.execPath, [BIN, 'validate', dir], { encoding: 'utf8' });
    expect(r.status).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe(
      `honeytrap-plugin: plugin bad-version (${dir}) is not valid:\n  /version: "1.0" is not a semver version (such as 1.2.3)\n`,
    );
  });
});

describe('test', () => {
  test('judges fixtures by the findings they list, their count or the error', () => {
    const f = [{ type: 'url', value: 'http://x/', offset: 3 }];
    expect(judge({ findings: [{ type: 'url' }], count: 1 }, { findings: f })).toBeUndefined();
    expect(judge({ count: 2 }, { findings: f })).toBe(
      `expected 2 finding(s), got 1: ${JSON.stringify(f)}`,
    );
    expect(judge({ findings: [{ value: 'nope' }] }, { findings: f })).toBe(
      `no finding matches {"value":"nope"}; got ${JSON.stringify(f)}`,
    );
    expect(
      judge({ error: 'HT_PLUGIN_TIMEOUT' }, { error: 'HT_PLUGIN_TIMEOUT', message: 'm' }),
    ).toBeUndefined();
    expect(judge({}, { error: 'HT_PLUGIN_THREW', message: 'plugin p: threw x' })).toBe(
      'the plugin failed: plugin p: threw x',
    );
  });

  test('failing fixtures and tests are reported and counted', async () => {
    const dir = writePlugin(
      tempDir(),
      'fails',
      {},
      {
        'index.mjs':
          "export default { analyze() { return { findings: [{ type: 'note', value: 'a' }] }; } };\n",
        'test/fixtures/wrong.json': JSON.stringify({
          description: 'wants b',
          attack: { received: 'x' },
          expect: { findings: [{ value: 'b' }] },
        }),
        'test/fixtures/typo.json': JSON.stringify({
          attack: { received: 'x' },
          expect: { finding: [] },
        }),
        'test/fails.test.mjs':
          "import { test } from 'node:test';\nimport assert from 'node:assert';\ntest('no', () => assert.equal(1, 2));\n",
      },
    );
    const c = collector();
    expect(await testPlugin(dir, c.out)).toEqual({ passed: 0, failed: 3 });
    const text = c.text();
    expect(text).toMatch(
      /FAIL {2}test\/fixtures\/typo.json \(\d+ ms\)\n {8}not a fixture:\n {10}\/expect\/finding: unknown property \(allowed: findings, count, error\)/,
    );
    expect(text).toContain('FAIL  test/fixtures/wrong.json: wants b');
    expect(text).toContain('no finding matches {"value":"b"}');
    expect(text).toMatch(/FAIL {2}test\/fails.test.mjs \(exit 1, \d+ ms\)/);
    expect(text).toContain('FAIL: 0 passed, 3 failed');
  });
});

describe('pack', () => {
  test('writes NAME-VERSION.tgz with plugin.json, the entry and README.md under NAME/', async () => {
    const root = tempDir();
    const dir = await newPlugin('wasm', 'packed', { dir: root }, collector().out);
    writeFileSync(join(dir, 'notes.txt'), 'not shipped');
    const out = join(root, 'out');
    const c = collector();
    const file = await packPlugin(dir, { outDir: out }, c.out);
    expect(file).toBe(join(out, 'packed-0.1.0.tgz'));
    const listing = execFileSync('tar', ['-tzf', file], { encoding: 'utf8' }).trim().split('\n');
    expect(listing.sort()).toEqual([
      'packed/README.md',
      'packed/build/packed.wasm',
      'packed/plugin.json',
    ]);
    const plugins = join(root, 'plugins');
    execFileSync('mkdir', ['-p', plugins]);
    execFileSync('tar', ['-xzf', file, '-C', plugins]);
    expect(readdirSync(join(plugins, 'packed')).sort()).toEqual([
      'README.md',
      'build',
      'plugin.json',
    ]);
    const v = collector();
    validatePlugin(join(plugins, 'packed'), v.out);
    expect(v.lines).toEqual(['plugin packed 0.1.0 (wasm, entry build/packed.wasm) is valid']);
  });

  test('refuses an entry that imports files the archive would leave behind', async () => {
    const dir = writePlugin(
      tempDir(),
      'multi-file',
      {},
      {
        'index.mjs':
          "import { x } from './lib/x.mjs';\nexport default { analyze() { return x; } };\n",
        'lib/x.mjs': 'export const x = null;\n',
        'README.md': '# multi-file\n',
      },
    );
    const err = await cliRejection(packPlugin(dir, { outDir: dir }));
    expect(err.message).toBe(
      'index.mjs imports ./lib/x.mjs; the archive holds only plugin.json, index.mjs and README.md, so the entry must stand alone: put the sources under src/ and let honeytrap-plugin build bundle them into index.mjs',
    );
    expect(existsSync(join(dir, 'multi-file-1.0.0.tgz'))).toBe(false);
  });

  test('finds static, re-exported and dynamic relative imports', () => {
    expect(
      relativeImports(
        "import a from './a.js';\nimport './b.mjs';\nexport * from \"../c.js\";\nconst d = await import('./d.json');\nimport x from 'node:fs';",
      ),
    ).toEqual(['./a.js', './b.mjs', '../c.js', './d.json']);
  });
});
