// Issue 5: a third party's plugins, written outside the repo with the SDK's
// `honeytrap-plugin new` (one worker, one wasm), edited to report "x-acme"
// when the attacker sends ACME, built, validated and tested, then dropped into
// a running daemon's plugins folder: an attack over a real socket gets both
// plugins' findings in the store; the worker plugin's folder taken out, it is
// unloaded and no longer called.
import { cp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { honeytrap, runProgram, showAttack, type Attack, type RunResult } from '../lib/cli.js';
import { tcpExchange, waitUntil } from '../lib/clients.js';
import { HoneytrapDaemon, REPO, cleanup, makeTempDir, testConfig } from '../lib/daemon.js';
import { LOOPBACK, freePort } from '../lib/ports.js';

const SDK_BIN = join(REPO, 'sdk', 'bin', 'honeytrap-plugin.js');

interface PluginView {
  name: string;
  state: string;
  engine?: string;
  reason?: string;
}

interface Record_ {
  plugin: string;
  status: string;
  findings: { type: string; value: string; offset?: number }[];
  error?: { code: string; message: string };
}

/** The worker plugin after the author's edit. */
const WORKER_SOURCE = `// acme-detect: reports ACME in what the attacker sent.
/** @type {import('@honeytrap/sdk').WorkerPlugin} */
export default {
  analyze(input, ctx) {
    const text = Buffer.from(input.attack.received.data, 'base64').toString('latin1');
    const at = text.indexOf('ACME');
    if (at < 0) return { findings: [] };
    ctx.log(\`ACME at \${at} in \${input.attack.id}\`);
    return { findings: [{ type: 'x-acme', value: 'ACME', offset: at }] };
  },
};
`;

/** The wasm plugin after the author's edit (AssemblyScript, with the SDK's helpers). */
const WASM_SOURCE = `// acme-wasm: reports ACME in what the attacker sent.
import { finding, log, output, receivedText } from "@honeytrap/sdk/assembly";

export function analyze(input: string): string {
  const text = receivedText(input);
  const findings = new Array<string>();
  const at = text.indexOf("ACME");
  if (at >= 0) {
    log("ACME at " + at.toString());
    findings.push(finding("x-acme", "ACME", at));
  }
  return output(findings);
}
`;

/** The fixture both plugins' tests use after the edit. */
const FIXTURE = {
  description: 'ACME in a request',
  attack: { received: 'GET /?q=ACME HTTP/1.1\r\n\r\n', port: 80 },
  expect: { findings: [{ type: 'x-acme', value: 'ACME', offset: 8 }], count: 1 },
};
const NO_ACME = {
  description: 'no ACME, no finding',
  attack: { received: 'GET / HTTP/1.1\r\n\r\n', port: 80 },
  expect: { count: 0 },
};

let tmp = '';
let src = '';
let pluginsDir = '';
let daemon: HoneytrapDaemon;
let port = 0;

function plugin(...args: string[]): Promise<RunResult> {
  return runProgram(process.execPath, [SDK_BIN, ...args], { cwd: tmp, timeoutMs: 30_000 });
}

function ok(r: RunResult, what: string): RunResult {
  if (r.code !== 0)
    throw new Error(`${what} exited ${r.code}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`);
  return r;
}

async function pluginList(): Promise<PluginView[]> {
  const r = ok(
    await honeytrap(['plugins', 'list', '--json', '--data-dir', daemon.storeDir]),
    'honeytrap plugins list',
  );
  return JSON.parse(r.stdout) as PluginView[];
}

/** Sends `text` from a fresh socket and returns the id of the attack the daemon stored for it. */
async function attack(text: string): Promise<string> {
  const { localPort } = await tcpExchange(port, text);
  const line = await daemon.waitForLog(
    (l) => l.msg === 'attack' && l.remote === `${LOOPBACK}:${localPort}`,
    10_000,
    `the attack from port ${localPort}`,
  );
  return String(line.attack);
}

/** Polls `attacks show ID --json` until `done` holds for its plugin records. */
async function pluginResults(
  id: string,
  done: (plugins: Record<string, Record_>) => boolean,
): Promise<Record<string, Record_>> {
  let last: Attack | undefined;
  await waitUntil(
    async () => {
      last = await showAttack(daemon.storeDir, id);
      return done(last.plugins as Record<string, Record_>);
    },
    15_000,
    `plugin results on attack ${id} (last: ${JSON.stringify(last?.plugins)})`,
  );
  return (last?.plugins ?? {}) as Record<string, Record_>;
}

beforeAll(async () => {
  tmp = await makeTempDir('honeytrap-third-party-');
  src = join(tmp, 'src');
  pluginsDir = join(tmp, 'plugins');
  await mkdir(src);
  await mkdir(pluginsDir);
  port = await freePort();
});

afterAll(cleanup);

describe('a third-party plugin written with the SDK', () => {
  test('the temp folder is outside the repository', () => {
    expect(relative(REPO, tmp).startsWith('..')).toBe(true);
  });

  test('honeytrap-plugin new creates a worker and a wasm plugin folder', async () => {
    const w = ok(await plugin('new', 'worker', 'acme-detect', '--dir', src), 'new worker');
    expect(w.stdout).toContain(`created worker plugin acme-detect in ${join(src, 'acme-detect')}`);
    // --no-build: the wasm template is built below, after the edit.
    const a = ok(await plugin('new', 'wasm', 'acme-wasm', '--dir', src, '--no-build'), 'new wasm');
    expect(a.stdout).toContain(`created wasm plugin acme-wasm in ${join(src, 'acme-wasm')}`);
    const manifest = JSON.parse(await readFile(join(src, 'acme-wasm', 'plugin.json'), 'utf8')) as {
      hostApi: string;
      entry: string;
    };
    expect(manifest.hostApi).toBe('^1.0.0');
    expect(manifest.entry).toBe('build/acme-wasm.wasm');
    const pkg = JSON.parse(await readFile(join(src, 'acme-detect', 'package.json'), 'utf8')) as {
      devDependencies: Record<string, string>;
    };
    expect(pkg.devDependencies['@honeytrap/sdk']).toBe(`file:${join(REPO, 'sdk')}`);
  });

  test('edited to report x-acme, they build, validate and pass their tests', async () => {
    for (const [name, file, source] of [
      ['acme-detect', 'index.mjs', WORKER_SOURCE],
      ['acme-wasm', 'assembly/index.ts', WASM_SOURCE],
    ] as const) {
      const dir = join(src, name);
      await writeFile(join(dir, file), source);
      // The template's tests expect URLs; the author replaces them with their own.
      await rm(join(dir, 'test'), { recursive: true });
      await mkdir(join(dir, 'test', 'fixtures'), { recursive: true });
      await writeFile(join(dir, 'test', 'fixtures', 'acme.json'), JSON.stringify(FIXTURE));
      await writeFile(join(dir, 'test', 'fixtures', 'no-acme.json'), JSON.stringify(NO_ACME));

      const b = ok(await plugin('build', dir), `build ${name}`);
      expect(b.stdout).toContain(
        name === 'acme-wasm'
          ? 'built build/acme-wasm.wasm from assembly/index.ts'
          : 'nothing to build: index.mjs is the plugin as written',
      );
      expect(b.stdout).toMatch(new RegExp(`plugin ${name} 0\\.1\\.0 .* is valid and loads`));
      const v = ok(await plugin('validate', dir), `validate ${name}`);
      expect(v.stdout.trim()).toMatch(new RegExp(`^plugin ${name} 0\\.1\\.0 \\(.*\\) is valid$`));
      const t = ok(await plugin('test', dir), `test ${name}`);
      expect(t.stdout).toContain('ok: 2 passed, 0 failed');
    }
  });

  test('dropped into a running daemon, both are loaded and report x-acme on a real attack', async () => {
    daemon = await HoneytrapDaemon.start((dir) => ({
      ...testConfig(dir, { ports: [{ port }] }),
      plugins: { dirs: [pluginsDir] },
    }));
    expect(await pluginList()).toEqual([]);
    await cp(join(src, 'acme-detect'), join(pluginsDir, 'acme-detect'), { recursive: true });
    await cp(join(src, 'acme-wasm'), join(pluginsDir, 'acme-wasm'), { recursive: true });
    let list: PluginView[] = [];
    await waitUntil(
      async () => {
        list = await pluginList();
        return list.length === 2 && list.every((p) => p.state === 'ready');
      },
      15_000,
      'both plugins ready in honeytrap plugins list',
    );
    expect(list.map((p) => [p.name, p.engine, p.state])).toEqual([
      ['acme-detect', 'worker', 'ready'],
      ['acme-wasm', 'wasm', 'ready'],
    ]);

    const id = await attack('hello ACME');
    const results = await pluginResults(
      id,
      (p) => p['acme-detect'] !== undefined && p['acme-wasm'] !== undefined,
    );
    for (const name of ['acme-detect', 'acme-wasm']) {
      expect(results[name]).toMatchObject({
        plugin: name,
        version: '0.1.0',
        status: 'ok',
        findings: [{ type: 'x-acme', value: 'ACME', offset: 6 }],
      });
    }
    // The human view lists them too.
    const show = ok(
      await honeytrap(['attacks', 'show', id, '--data-dir', daemon.storeDir]),
      'attacks show',
    );
    expect(show.stdout).toContain('acme-detect');
    expect(show.stdout).toContain('x-acme');
  });

  test('taken out of the folder, the worker plugin is unloaded and no longer called', async () => {
    await rm(join(pluginsDir, 'acme-detect'), { recursive: true });
    await waitUntil(
      async () => !(await pluginList()).some((p) => p.name === 'acme-detect'),
      15_000,
      'acme-detect gone from honeytrap plugins list',
    );
    expect((await pluginList()).map((p) => [p.name, p.state])).toEqual([['acme-wasm', 'ready']]);
    expect(
      daemon.logs.some(
        (l) => l.msg === 'plugin acme-detect unloaded: removed from the plugins folder',
      ),
    ).toBe(true);

    const id = await attack('hello ACME again');
    const results = await pluginResults(id, (p) => p['acme-wasm'] !== undefined);
    expect(Object.keys(results)).toEqual(['acme-wasm']);
    expect(results['acme-wasm']).toMatchObject({
      status: 'ok',
      findings: [{ type: 'x-acme', value: 'ACME', offset: 6 }],
    });
  });
});
