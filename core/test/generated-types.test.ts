// The types in */src/generated/ must be what scripts/gen-types.mjs makes from
// schemas/ today: this fails when a schema changed and `npm run gen:types` was not run.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { generate } from '../../scripts/gen-types.mjs';
import { paths } from '../src/paths.js';

const root = join(paths.core, '..');

describe('generated types', () => {
  it('are current with the schemas', async () => {
    const files = await generate();
    expect([...files.keys()].sort()).toEqual([
      'core/src/generated/attack.ts',
      'core/src/generated/config-resolved.ts',
      'core/src/generated/config.ts',
      'core/src/generated/plugin-manifest-resolved.ts',
      'core/src/generated/plugin-manifest.ts',
      'core/src/generated/plugin-record.ts',
      'core/src/generated/plugin-result.ts',
    ]);
    const stale: string[] = [];
    for (const [rel, text] of files) {
      const current = await readFile(join(root, rel), 'utf8').catch(() => null);
      if (current !== text) stale.push(rel);
    }
    expect(stale, 'stale generated types: run npm run gen:types').toEqual([]);
  });

  it('come from the schemas', async () => {
    const files = await generate();
    expect(files.get('core/src/generated/attack.ts')).toContain('export interface Attack {');
    expect(files.get('core/src/generated/config.ts')).toContain(
      'Generated from schemas/config.schema.json',
    );
    expect(files.get('core/src/generated/config-resolved.ts')).toContain(
      'export interface ResolvedConfig {',
    );
  });
});
