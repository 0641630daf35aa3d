// honeytrap-plugin test [DIR]: the plugin's fixtures (test/fixtures/*.json)
// and tests (test/**/*.test.mjs|js, node:test) run through the harness, in
// the daemon's own engine. It builds first when the sources are newer than
// the entry. Test files are run with a resolve hook that makes
// '@honeytrap/sdk' the SDK running this command, so the plugin folder needs
// no `npm install`.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { isDeepStrictEqual } from 'node:util';
import type { Finding } from '../types.js';
import { PluginError } from '../core.js';
import { HarnessError } from '../harness/errors.js';
import { attackFixture, type AttackFixtureOptions } from '../harness/fixture.js';
import { loadPlugin, type PluginUnderTest } from '../harness/run.js';
import { buildPlugin, needsBuild } from './build.js';
import { CliError, SDK_ROOT, checkedPlugin, stdout, type Out } from './common.js';

/** test/fixtures/NAME.json */
export interface FixtureFile {
  description?: string;
  /** attackFixture() options; `receivedBase64` / `sentBase64` give binary data. */
  attack: AttackFixtureOptions & { receivedBase64?: string; sentBase64?: string };
  /** The plugin's config for this fixture. */
  config?: Record<string, unknown>;
  expect: {
    /** Each must match a finding on every field it gives. */
    findings?: Partial<Finding>[];
    /** Exactly this many findings. */
    count?: number;
    /** The run must fail with this code (HT_PLUGIN_TIMEOUT, HT_PLUGIN_THREW, ...). */
    error?: string;
  };
}

export interface TestSummary {
  passed: number;
  failed: number;
}

const FIXTURE_KEYS = new Set(['description', 'attack', 'config', 'expect']);
const EXPECT_KEYS = new Set(['findings', 'count', 'error']);

function listFiles(root: string, match: (name: string) => boolean): string[] {
  if (!existsSync(root)) return [];
  const out: string[] = [];
  for (const e of readdirSync(root, { withFileTypes: true })) {
    const p = join(root, e.name);
    if (e.isDirectory()) {
      if (e.name !== 'node_modules' && e.name !== 'fixtures') out.push(...listFiles(p, match));
    } else if (match(e.name)) out.push(p);
  }
  return out.sort();
}

function readFixture(file: string): FixtureFile {
  let doc: unknown;
  try {
    doc = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new HarnessError(`not valid JSON: ${(err as Error).message}`);
  }
  const f = doc as FixtureFile;
  const problems: string[] = [];
  if (!f || typeof f !== 'object' || Array.isArray(f)) problems.push('/: must be an object');
  else {
    for (const k of Object.keys(f))
      if (!FIXTURE_KEYS.has(k))
        problems.push(`/${k}: unknown property (allowed: ${[...FIXTURE_KEYS].join(', ')})`);
    if (!f.attack || typeof f.attack !== 'object') problems.push('/attack: is required');
    if (!f.expect || typeof f.expect !== 'object') problems.push('/expect: is required');
    else
      for (const k of Object.keys(f.expect))
        if (!EXPECT_KEYS.has(k))
          problems.push(`/expect/${k}: unknown property (allowed: ${[...EXPECT_KEYS].join(', ')})`);
  }
  if (problems.length) throw new HarnessError('not a fixture:', problems);
  return f;
}

function fixtureAttack(a: FixtureFile['attack']) {
  const { receivedBase64, sentBase64, ...opts } = a;
  return attackFixture({
    ...opts,
    ...(receivedBase64 === undefined ? {} : { received: Buffer.from(receivedBase64, 'base64') }),
    ...(sentBase64 === undefined ? {} : { sent: Buffer.from(sentBase64, 'base64') }),
  });
}

function matches(actual: Finding, want: Partial<Finding>): boolean {
  return Object.entries(want).every(([k, v]) =>
    isDeepStrictEqual((actual as unknown as Record<string, unknown>)[k], v),
  );
}

/** Why the outcome does not meet the expectation, or undefined when it does. */
export function judge(
  expect: FixtureFile['expect'],
  outcome: { findings: Finding[] } | { error: string; message: string },
): string | undefined {
  if ('error' in outcome) {
    if (expect.error === outcome.error) return undefined;
    return `the plugin failed: ${outcome.message}`;
  }
  if (expect.error) return `expected the plugin to fail with ${expect.error}; it succeeded`;
  const got = outcome.findings;
  for (const want of expect.findings ?? [])
    if (!got.some((f) => matches(f, want)))
      return `no finding matches ${JSON.stringify(want)}; got ${JSON.stringify(got)}`;
  if (expect.count !== undefined && got.length !== expect.count)
    return `expected ${expect.count} finding(s), got ${got.length}: ${JSON.stringify(got)}`;
  return undefined;
}

async function runFixtures(dir: string, files: string[], out: Out): Promise<TestSummary> {
  const sum: TestSummary = { passed: 0, failed: 0 };
  const loaded = new Map<string, PluginUnderTest>();
  try {
    for (const file of files) {
      const rel = relative(dir, file);
      const started = performance.now();
      let why: string | undefined;
      let label = rel;
      try {
        const f = readFixture(file);
        if (f.description) label = `${rel}: ${f.description}`;
        const key = JSON.stringify(f.config ?? {});
        let p = loaded.get(key);
        if (!p) {
          p = await loadPlugin(dir, { config: f.config ?? {} });
          loaded.set(key, p);
        }
        const attack = fixtureAttack(f.attack);
        try {
          const result = await p.run(attack);
          why = judge(f.expect, result);
        } catch (err) {
          if (!(err instanceof PluginError)) throw err;
          why = judge(f.expect, { error: err.code, message: err.message });
        }
      } catch (err) {
        why = err instanceof Error ? err.message : String(err);
      }
      const ms = Math.round(performance.now() - started);
      if (why === undefined) {
        sum.passed++;
        out(`ok    ${label} (${ms} ms)`);
      } else {
        sum.failed++;
        out(`FAIL  ${label} (${ms} ms)`);
        for (const line of why.split('\n')) out(`        ${line}`);
      }
    }
  } finally {
    await Promise.all([...loaded.values()].map((p) => p.close()));
  }
  return sum;
}

function runTestFile(dir: string, file: string): Promise<{ code: number; output: string }> {
  // From dist/ even when this runs from the sources (vitest): node runs the hook as is.
  const register = pathToFileURL(join(SDK_ROOT, 'dist', 'test-hooks', 'register.js')).href;
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, ['--import', register, '--test-reporter=spec', file], {
      cwd: dir,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => (output += s));
    child.stderr.setEncoding('utf8').on('data', (s: string) => (output += s));
    child.once('error', reject);
    child.once('close', (code, signal) =>
      resolvePromise({ code: code ?? (signal ? 128 : 1), output }),
    );
  });
}

async function runTestFiles(dir: string, files: string[], out: Out): Promise<TestSummary> {
  const sum: TestSummary = { passed: 0, failed: 0 };
  for (const file of files) {
    const rel = relative(dir, file);
    const started = performance.now();
    const { code, output } = await runTestFile(dir, file);
    const ms = Math.round(performance.now() - started);
    const lines = output.split('\n').filter((l) => l.trim());
    if (code === 0) {
      sum.passed++;
      out(`ok    ${rel} (${ms} ms)`);
    } else {
      sum.failed++;
      out(`FAIL  ${rel} (exit ${code}, ${ms} ms)`);
    }
    for (const l of lines) out(`        ${l}`);
  }
  return sum;
}

/** Runs every fixture and test file of the plugin in `dir`; prints one line each and a summary. */
export async function testPlugin(dir: string, out: Out = stdout): Promise<TestSummary> {
  const abs = resolve(dir);
  if (needsBuild(abs)) {
    out('the sources are newer than the entry: building first');
    await buildPlugin(abs, out);
    out('');
  }
  const m = checkedPlugin(abs).manifest;
  const fixtures = listFiles(join(abs, 'test', 'fixtures'), (n) => n.endsWith('.json'));
  const tests = listFiles(join(abs, 'test'), (n) => /\.test\.m?js$/.test(n));
  if (fixtures.length + tests.length === 0)
    throw new CliError(
      `no tests in ${abs}: add test/fixtures/*.json or test/*.test.mjs (see honeytrap-plugin new)`,
    );
  out(`testing ${m.name} ${m.version} (${m.engine}) with SDK ${SDK_ROOT}`);
  const a = await runFixtures(abs, fixtures, out);
  const b = await runTestFiles(abs, tests, out);
  const sum = { passed: a.passed + b.passed, failed: a.failed + b.failed };
  out(`${sum.failed ? 'FAIL' : 'ok'}: ${sum.passed} passed, ${sum.failed} failed`);
  return sum;
}
