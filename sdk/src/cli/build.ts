// honeytrap-plugin build [DIR]: makes the manifest's entry from the sources.
// wasm: asc compiles assembly/index.ts with the flags the wasm engine needs;
// `@honeytrap/sdk/assembly` (the AssemblyScript library) is this SDK's.
// worker: a plugin written under src/ (TypeScript or JavaScript) is bundled
// into the one ES module the entry names (esbuild); a plugin whose entry is
// its own source has nothing to compile. Either way the result is checked
// with core's manifest checks and loaded once in the daemon's engine.
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { readFile } from 'node:fs/promises';
import { dirname, join, relative, resolve } from 'node:path';
import asc from 'assemblyscript/asc';
import { build as esbuild, type Message, type Plugin } from 'esbuild';
import { PluginError } from '../core.js';
import { loadPlugin } from '../harness/run.js';
import {
  ASC_FLAGS,
  CliError,
  SDK_ROOT,
  checkedPlugin,
  rawManifest,
  stdout,
  type Out,
} from './common.js';

const WORKER_SOURCES = ['src/index.ts', 'src/index.mts', 'src/index.js', 'src/index.mjs'];
const WASM_SOURCE = 'assembly/index.ts';

/** The source build compiles for this plugin folder, if any. */
export function buildSource(dir: string, engine: unknown): string | undefined {
  const candidates = engine === 'wasm' ? [WASM_SOURCE] : WORKER_SOURCES;
  return candidates.find((c) => existsSync(join(dir, c)));
}

/** The SDK's AssemblyScript library, compiled into every wasm plugin that imports it. */
const SDK_ASSEMBLY = join(SDK_ROOT, 'assembly');
/** The SDK's run-time helpers a worker bundle includes (built JavaScript). */
const SDK_RUNTIME = join(SDK_ROOT, 'dist');

/**
 * Newest modification time of the files build reads: src/ and the SDK's
 * built helpers, or assembly/ and the SDK's AssemblyScript library (a newer
 * SDK makes the bundle or the .wasm out of date).
 */
export function sourcesMtime(dir: string, engine: unknown): number {
  const roots =
    engine === 'wasm' ? [join(dir, 'assembly'), SDK_ASSEMBLY] : [join(dir, 'src'), SDK_RUNTIME];
  let newest = 0;
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else newest = Math.max(newest, statSync(p).mtimeMs);
    }
  };
  for (const root of roots) if (existsSync(root)) walk(root);
  return newest;
}

/** True when build has a source to compile and the entry is missing or older than it. */
export function needsBuild(dir: string): boolean {
  const m = rawManifest(dir);
  if (!m || typeof m.entry !== 'string' || !buildSource(dir, m.engine)) return false;
  const entry = join(dir, m.entry);
  return !existsSync(entry) || statSync(entry).mtimeMs < sourcesMtime(dir, m.engine);
}

// asc looks a package import up in every node_modules from the plugin folder
// upwards (node_modules/@honeytrap/sdk/assembly/index.ts for
// "@honeytrap/sdk/assembly"), the plugin's own first. Every such path is
// answered from this SDK, as the worker build does for @honeytrap/sdk: a
// plugin outside this repository builds without `npm install`, and always
// against the SDK that builds, tests and packs it.
const SDK_IMPORT = /[\\/]node_modules[\\/]@honeytrap[\\/]sdk[\\/](assembly[\\/].*)$/;

async function ascReadFile(name: string, baseDir: string): Promise<string | null> {
  const path = resolve(baseDir, name);
  const sdk = SDK_IMPORT.exec(path);
  try {
    return await readFile(sdk ? join(SDK_ROOT, sdk[1]!) : path, 'utf8');
  } catch {
    return null;
  }
}

async function compileWasm(dir: string, source: string, entry: string): Promise<void> {
  const stderr = asc.createMemoryStream();
  const stdoutStream = asc.createMemoryStream();
  mkdirSync(dirname(join(dir, entry)), { recursive: true });
  const { error } = await asc.main([source, '--baseDir', dir, '--outFile', entry, ...ASC_FLAGS], {
    stdout: stdoutStream,
    stderr,
    readFile: ascReadFile,
  });
  if (error) {
    const diagnostics = stderr
      .toString()
      .split('\n')
      .filter((l) => l.trim());
    throw new CliError(`asc could not compile ${source}: ${error.message}`, 1, diagnostics);
  }
}

/** Resolves @honeytrap/sdk to the SDK's run-time part (definePlugin, helpers), never the harness. */
function sdkForPlugins(): Plugin {
  const runtime = join(SDK_ROOT, 'dist', 'plugin.js');
  return {
    name: 'honeytrap-sdk',
    setup(b) {
      b.onResolve({ filter: /^@honeytrap\/sdk(\/.*)?$/ }, (args) => {
        if (args.path === '@honeytrap/sdk' || args.path === '@honeytrap/sdk/plugin')
          return { path: runtime };
        return {
          errors: [
            {
              text: `${args.path} cannot be bundled into a plugin (only definePlugin and the helpers of @honeytrap/sdk run inside the worker; the harness is for tests)`,
            },
          ],
        };
      });
    },
  };
}

function formatMessage(dir: string, m: Message): string {
  const where = m.location
    ? `${relative(dir, resolve(dir, m.location.file))}:${m.location.line}:${m.location.column + 1}: `
    : '';
  return `${where}${m.text}`;
}

async function bundleWorker(dir: string, source: string, entry: string): Promise<void> {
  try {
    await esbuild({
      absWorkingDir: dir,
      entryPoints: [source],
      outfile: entry,
      bundle: true,
      format: 'esm',
      platform: 'node',
      target: 'node20',
      legalComments: 'none',
      logLevel: 'silent',
      plugins: [sdkForPlugins()],
    });
  } catch (err) {
    const errors = (err as { errors?: Message[] }).errors;
    if (!errors) throw err;
    throw new CliError(
      `${source} could not be bundled into ${entry}:`,
      1,
      errors.map((m) => formatMessage(dir, m)),
    );
  }
}

/** Builds the plugin in `dir`; returns the entry's path when something was built. */
export async function buildPlugin(dir: string, out: Out = stdout): Promise<string | undefined> {
  const abs = resolve(dir);
  const raw = rawManifest(abs);
  if (!raw || typeof raw.entry !== 'string' || (raw.engine !== 'worker' && raw.engine !== 'wasm'))
    checkedPlugin(abs); // throws with the manifest's problems
  const engine = raw?.engine as 'worker' | 'wasm';
  const entry = raw?.entry as string;
  const source = buildSource(abs, engine);
  const started = performance.now();
  let built: string | undefined;
  if (engine === 'wasm') {
    if (!source)
      throw new CliError(
        `${WASM_SOURCE} does not exist in ${abs}: the wasm build compiles it into ${entry}`,
      );
    await compileWasm(abs, source, entry);
    built = join(abs, entry);
  } else if (source) {
    await bundleWorker(abs, source, entry);
    built = join(abs, entry);
  }
  const plugin = checkedPlugin(abs);
  const m = plugin.manifest;
  if (built)
    out(
      `built ${entry} from ${source} (${statSync(built).size} bytes, ${Math.round(performance.now() - started)} ms)`,
    );
  else out(`nothing to build: ${entry} is the plugin as written`);
  // Load it once in the daemon's engine: refused imports, a missing analyze,
  // an entry that throws at load show up now rather than in the daemon.
  // Services the operator configures are given placeholders: a pg pool
  // connects only on a query, and the files folder is a temporary one.
  const filesDir = mkdtempSync(join(tmpdir(), `${m.name}-build-`));
  try {
    const p = await loadPlugin(abs, {
      filesDir,
      ...(m.capabilities.database
        ? { database: { url: 'postgres://build-probe.invalid/none' } }
        : {}),
    });
    await p.close();
  } catch (err) {
    if (err instanceof PluginError)
      throw new CliError(
        `plugin ${m.name} does not load in the ${m.engine} engine: ${err.message.replace(/^plugin [^:]+: /, '')}`,
      );
    throw err;
  } finally {
    rmSync(filesDir, { recursive: true, force: true });
  }
  out(`plugin ${m.name} ${m.version} (${m.engine}, entry ${m.entry}) is valid and loads`);
  return built;
}
