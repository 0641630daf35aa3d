// docs/operations.md's config reference is generated from schemas/config.schema.json
// by scripts/gen-config-doc.mjs: this fails when the doc is stale.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  docPath,
  extractReference,
  renderConfigReference,
  replaceReference,
} from '../../scripts/gen-config-doc.mjs';

describe('config reference in docs/operations.md', () => {
  it('is what the schema renders (run node scripts/gen-config-doc.mjs)', () => {
    const section = extractReference(readFileSync(docPath, 'utf8'));
    expect(section, 'config-reference markers in docs/operations.md').toBeDefined();
    expect(section).toBe(renderConfigReference());
  });

  it('has one row per key, nested keys and port entries included', () => {
    const table = renderConfigReference();
    for (const key of ['sensor', 'capture.addresses', 'defaults.readLimit', 'ports[].port'])
      expect(table).toContain(`| \`${key}\` |`);
    expect(table).toMatch(
      /\| `ports\[\]\.port` \| integer or string \| \*\*required\*\* in `ports\[\]` \|/,
    );
  });

  it('follows $ref, keeps defaults and escapes table syntax', () => {
    const table = renderConfigReference({
      type: 'object',
      properties: {
        a: { $ref: '#/definitions/n', default: 5 },
        b: { type: 'string', enum: ['x|y', 'z'], description: 'files <port>_<proto>' },
        list: { type: 'array', items: { $ref: '#/definitions/entry' } },
      },
      definitions: {
        n: { type: 'integer', minimum: 1, maximum: 9, description: 'from the definition' },
        entry: { type: 'object', required: ['k'], properties: { k: { type: 'boolean' } } },
      },
    });
    expect(table.split('\n')).toEqual([
      '| key | type | default | allowed | description |',
      '|---|---|---|---|---|',
      '| `a` | integer | `5` | 1 to 9 | from the definition |',
      '| `b` | string |  | `x\\|y`, `z` | files &lt;port&gt;_&lt;proto&gt; |',
      '| `list` | array of object |  |  |  |',
      '| `list[].k` | boolean | **required** in `list[]` |  |  |',
      '',
    ]);
  });

  it('replaces only the text between the markers', () => {
    const doc =
      'before\n<!-- config-reference:start -->\nold\n<!-- config-reference:end -->\nafter\n';
    const next = replaceReference(doc, 'new\n');
    expect(next).toBe(
      'before\n<!-- config-reference:start -->\nnew\n<!-- config-reference:end -->\nafter\n',
    );
    expect(extractReference(next)).toBe('new\n');
    expect(() => replaceReference('no markers', 'x')).toThrow(/markers/);
  });
});
