#!/usr/bin/env node
// Builds the shipped plugins whose entry is made from sources (a worker
// bundle in dist/, which git does not keep; a wasm module older than its
// sources), with `honeytrap-plugin build` exactly as their authors would, so
// `plugins.builtin: true` works on a fresh clone. Part of `npm run build`.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO = fileURLToPath(new URL('..', import.meta.url));
const { needsBuild } = await import(join(REPO, 'sdk', 'dist', 'cli', 'build.js'));
const BIN = join(REPO, 'sdk', 'bin', 'honeytrap-plugin.js');
const PLUGINS = join(REPO, 'plugins');

for (const name of readdirSync(PLUGINS).sort()) {
  const dir = join(PLUGINS, name);
  if (!existsSync(join(dir, 'plugin.json')) || !needsBuild(dir)) continue;
  execFileSync(process.execPath, [BIN, 'build', dir], { stdio: 'inherit' });
}
