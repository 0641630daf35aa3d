// Builds the wasm engine's test plugins from their AssemblyScript sources in
// core/test/fixtures/wasm-src. The sources are named *.as so that the
// project's tsc, eslint and prettier (which would read *.ts as TypeScript)
// leave them alone; the compiler reads them as *.ts through its readFile hook.
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import asc from 'assemblyscript/asc';
import type { Attack } from '../../src/generated/attack.js';
import type { ResolvedManifest } from '../../src/generated/plugin-manifest-resolved.js';
import type { LoadedPlugin, PluginTaskInput } from '../../src/plugins/engine.js';

export const WASM_SRC = fileURLToPath(new URL('../fixtures/wasm-src/', import.meta.url));

/** The flags the plugin template builds with (docs/plugin-wasm.md). */
export const ASC_FLAGS = ['--runtime', 'incremental', '--exportRuntime', '--importMemory', '-O3'];

/** Compiles wasm-src/NAME.as with asc's API; returns the .wasm bytes. */
export async function compileFixture(name: string, flags = ASC_FLAGS): Promise<Uint8Array> {
  let wasm: Uint8Array | undefined;
  const stderr = asc.createMemoryStream();
  const { error } = await asc.main(
    [`${name}.ts`, '--baseDir', WASM_SRC, '--outFile', `${name}.wasm`, ...flags],
    {
      stderr,
      readFile: async (file, baseDir) => {
        if (!file.endsWith('.ts')) return null;
        try {
          return await readFile(join(baseDir, file.slice(0, -3) + '.as'), 'utf8');
        } catch {
          return null;
        }
      },
      writeFile: (file, contents) => {
        if (basename(file) === `${name}.wasm` && typeof contents !== 'string') wasm = contents;
      },
    },
  );
  if (error || !wasm) {
    throw new Error(`asc ${name}: ${error?.message ?? 'no output'}\n${stderr.toString()}`);
  }
  return wasm;
}

export type ManifestOverrides = Partial<Omit<ResolvedManifest, 'limits' | 'capabilities'>> & {
  limits?: Partial<ResolvedManifest['limits']>;
  capabilities?: Partial<ResolvedManifest['capabilities']>;
};

/** A resolved manifest for a wasm plugin: every default filled in, as the host's validator does. */
export function wasmManifest(name: string, o: ManifestOverrides = {}): ResolvedManifest {
  const { limits, capabilities, ...rest } = o;
  return {
    manifestVersion: 1,
    name,
    version: '1.0.0',
    hostApi: '^1.0.0',
    engine: 'wasm',
    entry: 'plugin.wasm',
    consumes: { attacks: { minBytes: 0 } },
    after: [],
    ...rest,
    capabilities: { findings: true, artifacts: false, files: false, ...capabilities },
    limits: { timeoutMs: 5000, memoryMb: 16, concurrency: 1, ...limits },
  };
}

/** Writes a plugin folder (plugin.json, plugin.wasm) under root and returns it as loaded. */
export async function wasmPlugin(
  root: string,
  wasm: Uint8Array,
  manifest: ResolvedManifest,
): Promise<LoadedPlugin> {
  const dir = join(root, manifest.name);
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'plugin.json'), JSON.stringify(manifest, null, 2));
  await writeFile(join(dir, manifest.entry), wasm);
  return { manifest, dir, entryPath: join(dir, manifest.entry) };
}

let attackSeq = 0;

/** An attack that received `received`. */
export function attackOf(received: string | Buffer): Attack {
  const data = Buffer.from(received);
  const id = `01JTEST${String(++attackSeq).padStart(19, '0')}`;
  return {
    schemaVersion: 1,
    id,
    sensor: 'test',
    startedAt: '2026-01-01T00:00:00.000Z',
    endedAt: '2026-01-01T00:00:01.000Z',
    proto: 'tcp',
    local: { address: '192.0.2.1', port: 23 },
    remote: { address: '198.51.100.7', port: 40000 },
    mode: 'normal',
    endReason: 'closed',
    received: { length: data.length, data: data.toString('base64'), truncated: false },
    sent: { length: 0, data: '', truncated: false },
    chunks: [{ dir: 'in', atMs: 0, length: data.length }],
    plugins: {},
  };
}

/** A task for `attack` with the plugin config `config`. */
export function taskOf(attack: Attack, config: Record<string, unknown> = {}): PluginTaskInput {
  return { kind: 'attack', attack, config, results: {} };
}

/** A NetworkBroker that must never be called: wasm plugins have no network. */
export const noBroker = {
  fetch(): Promise<never> {
    return Promise.reject(new Error('wasm plugins have no network'));
  },
  exchange(): Promise<never> {
    return Promise.reject(new Error('wasm plugins have no network'));
  },
};
