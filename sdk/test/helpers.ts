// Temp folders and small plugin folders for the SDK's tests.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

const made: string[] = [];

export function tempDir(prefix = 'honeytrap-sdk-'): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  made.push(d);
  return d;
}

export function removeTempDirs(): void {
  for (const d of made.splice(0)) rmSync(d, { recursive: true, force: true });
}

/** Writes a plugin folder: plugin.json (defaults below, then `manifest`) and files. */
export function writePlugin(
  root: string,
  name: string,
  manifest: Record<string, unknown>,
  files: Record<string, string | Uint8Array>,
): string {
  const dir = join(root, name);
  mkdirSync(dir, { recursive: true });
  const full = {
    manifestVersion: 1,
    name,
    version: '1.0.0',
    hostApi: '^1.0.0',
    engine: 'worker',
    entry: 'index.mjs',
    consumes: { attacks: {} },
    ...manifest,
  };
  writeFileSync(join(dir, 'plugin.json'), JSON.stringify(full, null, 2));
  for (const [file, content] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, file)), { recursive: true });
    writeFileSync(join(dir, file), content);
  }
  return dir;
}

/** A worker plugin whose analyze body is `body` (input and ctx in scope). */
export function workerPlugin(
  root: string,
  name: string,
  body: string,
  manifest: Record<string, unknown> = {},
): string {
  return writePlugin(root, name, manifest, {
    'index.mjs': `export default { async analyze(input, ctx) { ${body} } };\n`,
  });
}

/** Collects what a command prints. */
export function collector(): { out: (line: string) => void; lines: string[]; text: () => string } {
  const lines: string[] = [];
  return { out: (l) => lines.push(l), lines, text: () => lines.join('\n') };
}
