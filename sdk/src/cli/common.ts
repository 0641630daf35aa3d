// What the honeytrap-plugin commands share: where the SDK is, errors with an
// exit code, reading a plugin folder's manifest with core's checks.
import { readFileSync } from 'node:fs';
import { basename, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { MANIFEST_FILE, readManifest, type LoadedPlugin } from '../core.js';

/** The SDK package folder (sdk/ in a checkout; node_modules/@honeytrap/sdk when installed). */
export const SDK_ROOT = fileURLToPath(new URL('../..', import.meta.url)).replace(/[\\/]$/, '');
export const TEMPLATES_DIR = `${SDK_ROOT}${sep}templates`;
export const SDK_VERSION = (
  JSON.parse(readFileSync(`${SDK_ROOT}${sep}package.json`, 'utf8')) as { version: string }
).version;

/**
 * The asc flags the wasm engine needs (docs/plugin-wasm.md): the host
 * supplies the memory (--importMemory) and calls the runtime's __new, __pin
 * and __unpin to pass strings (--exportRuntime).
 */
export const ASC_FLAGS = ['--runtime', 'incremental', '--exportRuntime', '--importMemory', '-O3'];

/** A failure the command reports as one message (and details) with an exit code. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
    readonly details: string[] = [],
  ) {
    super(message);
    this.name = 'CliError';
  }
}

export interface Out {
  (line: string): void;
}

export const stdout: Out = (line) => process.stdout.write(`${line}\n`);

/** The plugin folder's manifest checked by core; a CliError (exit 2) naming every problem otherwise. */
export function checkedPlugin(dir: string): LoadedPlugin {
  const abs = resolve(dir);
  const r = readManifest(abs);
  if (r.ok) return r.plugin;
  const hints: string[] = [];
  if (r.errors.some((e) => /^\/entry: file .* does not exist/.test(e))) {
    const engine = rawManifest(abs)?.engine;
    if (engine === 'wasm')
      hints.push('(the .wasm is made by `honeytrap-plugin build` from assembly/index.ts)');
    else
      hints.push(
        '(the entry is the plugin as written, or made by `honeytrap-plugin build` from src/)',
      );
  }
  throw new CliError(`plugin ${r.name} (${abs}) is not valid:`, 2, [...r.errors, ...hints]);
}

/** plugin.json as written (no checks), for the fields build needs before the entry exists. */
export function rawManifest(dir: string): Record<string, unknown> | undefined {
  try {
    const doc = JSON.parse(
      readFileSync(`${resolve(dir)}${sep}${MANIFEST_FILE}`, 'utf8'),
    ) as unknown;
    return doc && typeof doc === 'object' && !Array.isArray(doc)
      ? (doc as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

export function folderName(dir: string): string {
  return basename(resolve(dir));
}
