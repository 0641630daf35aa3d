// honeytrap-plugin pack [DIR]: NAME-VERSION.tgz with NAME/plugin.json,
// NAME/<entry> and NAME/README.md, nothing else, for an operator to extract
// into a plugins folder: tar -xzf NAME-VERSION.tgz -C /var/lib/honeytrap/plugins
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { create, list } from 'tar';
import { CliError, checkedPlugin, stdout, type Out } from './common.js';
import { needsBuild } from './build.js';

export interface PackOptions {
  /** Where the archive is written (default: the current folder). */
  outDir?: string;
}

/** Relative imports in an ES module, which pack would leave behind. */
export function relativeImports(source: string): string[] {
  const found = new Set<string>();
  const re =
    /(?:\bimport\s*(?:[\w*{}\s,$]+\s*from\s*)?|\bexport\s*[\w*{}\s,$]+\s*from\s*|\bimport\s*\(\s*)['"](\.{1,2}\/[^'"]+)['"]/g;
  for (const m of source.matchAll(re)) if (m[1]) found.add(m[1]);
  return [...found];
}

/** Writes the archive; returns its path. */
export async function packPlugin(
  dir: string,
  opts: PackOptions = {},
  out: Out = stdout,
): Promise<string> {
  const abs = resolve(dir);
  const plugin = checkedPlugin(abs);
  const m = plugin.manifest;
  if (needsBuild(abs))
    throw new CliError(
      `${m.entry} is older than its sources: run honeytrap-plugin build before pack`,
    );
  if (!existsSync(join(abs, 'README.md')))
    throw new CliError(`README.md is missing in ${abs}: the archive ships it for the operator`);
  if (m.engine === 'worker') {
    const imports = relativeImports(readFileSync(plugin.entryPath, 'utf8'));
    if (imports.length)
      throw new CliError(
        `${m.entry} imports ${imports.join(', ')}; the archive holds only plugin.json, ${m.entry} and README.md, so the entry must stand alone: put the sources under src/ and let honeytrap-plugin build bundle them into ${m.entry}`,
      );
  }
  const outDir = resolve(opts.outDir ?? '.');
  mkdirSync(outDir, { recursive: true });
  const file = join(outDir, `${m.name}-${m.version}.tgz`);
  const files = ['plugin.json', m.entry, 'README.md'];
  await create(
    {
      gzip: true,
      file,
      cwd: abs,
      prefix: m.name,
      portable: true,
    },
    files,
  );
  const entries: string[] = [];
  await list({ file, onReadEntry: (e) => entries.push(e.path) });
  out(`packed ${file}`);
  for (const e of entries) out(`  ${e}`);
  out(`install: tar -xzf ${m.name}-${m.version}.tgz -C /var/lib/honeytrap/plugins`);
  return file;
}
