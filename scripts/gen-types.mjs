#!/usr/bin/env node
// Generates TypeScript types from schemas/ with json-schema-to-typescript.
// `--check` fails (exit 1) when a generated file is stale instead of writing it.
import { readFile, writeFile, mkdir } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { compile } from 'json-schema-to-typescript';
import prettier from 'prettier';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

// A copy of the schema where every property that has a default is required:
// the shape after ajv has applied defaults, so the daemon never re-checks them.
function withDefaultsRequired(node) {
  if (Array.isArray(node)) return node.map(withDefaultsRequired);
  if (!node || typeof node !== 'object') return node;
  const out = {};
  for (const [k, v] of Object.entries(node)) out[k] = withDefaultsRequired(v);
  if (out.properties) {
    const withDefault = Object.entries(out.properties)
      .filter(([, p]) => p && typeof p === 'object' && 'default' in p)
      .map(([k]) => k);
    out.required = [...new Set([...(out.required ?? []), ...withDefault])];
  }
  return out;
}

const targets = [
  {
    schema: 'config.schema.json',
    out: ['core/src/generated/config.ts'],
    resolved: { title: 'ResolvedConfig', out: 'core/src/generated/config-resolved.ts' },
  },
  {
    schema: 'attack.schema.json',
    out: ['core/src/generated/attack.ts'],
  },
  {
    schema: 'plugin-manifest.v1.schema.json',
    out: ['core/src/generated/plugin-manifest.ts'],
    resolved: { title: 'ResolvedManifest', out: 'core/src/generated/plugin-manifest-resolved.ts' },
  },
  {
    schema: 'plugin-result.schema.json',
    out: ['core/src/generated/plugin-result.ts'],
  },
  {
    schema: 'plugin-record.schema.json',
    out: ['core/src/generated/plugin-record.ts'],
  },
];

export async function generate() {
  const files = new Map();
  for (const t of targets) {
    const schema = JSON.parse(await readFile(join(root, 'schemas', t.schema), 'utf8'));
    const banner = `/* Generated from schemas/${t.schema} by scripts/gen-types.mjs. Do not edit; run npm run gen:types. */`;
    const opts = {
      cwd: join(root, 'schemas'),
      bannerComment: banner,
      additionalProperties: false,
      unknownAny: true,
      format: false,
    };
    const pretty = async (ts) =>
      prettier.format(ts, {
        ...(await prettier.resolveConfig(join(root, t.out[0]))),
        parser: 'typescript',
      });
    const ts = await pretty(await compile(schema, schema.title, opts));
    for (const out of t.out) files.set(out, ts);
    if (t.resolved) {
      const resolved = { ...withDefaultsRequired(schema), title: t.resolved.title };
      const note = `${banner}\n/* The config after validation: every property with a default is present. */`;
      files.set(
        t.resolved.out,
        await pretty(await compile(resolved, t.resolved.title, { ...opts, bannerComment: note })),
      );
    }
  }
  return files;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const check = process.argv.includes('--check');
  let stale = 0;
  for (const [rel, text] of await generate()) {
    const path = join(root, rel);
    const current = await readFile(path, 'utf8').catch(() => null);
    if (current === text) continue;
    if (check) {
      console.error(`stale generated types: ${relative(root, path)} (run npm run gen:types)`);
      stale++;
    } else {
      await mkdir(dirname(path), { recursive: true });
      await writeFile(path, text);
      console.log(`wrote ${rel}`);
    }
  }
  if (stale) process.exit(1);
}
