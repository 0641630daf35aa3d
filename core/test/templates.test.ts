// Response templates: configured folders first, then the built-in ones.
import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { paths } from '../src/paths.js';
import { TemplateLibrary } from '../src/templates.js';

let root: string;
let a: string;
let b: string;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'ht-templates-'));
  a = join(root, 'a');
  b = join(root, 'b');
  await mkdir(join(a, 'sub'), { recursive: true });
  await mkdir(b);
  await writeFile(join(a, '21_tcp'), '220 mine\r\n');
  await writeFile(join(a, 'shared_tcp'), 'from a');
  await writeFile(join(b, 'shared_tcp'), 'from b');
  await writeFile(join(b, 'only-b.v1_tcp'), Buffer.from([0, 1, 2, 0xff]));
  await writeFile(join(a, 'sub', 'nested_tcp'), 'nested');
  await writeFile(join(a, '.hidden'), 'hidden');
  await writeFile(join(root, 'secret'), 'secret');
});

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

const text = (buf: Buffer | undefined) => buf?.toString('latin1');

describe('TemplateLibrary', () => {
  it('ships built-in templates', () => {
    const lib = new TemplateLibrary([], true);
    expect(lib.get('21_tcp')).toEqual(readFileSync(join(paths.builtinTemplates, '21_tcp')));
    expect(lib.get('21_tcp')?.length).toBeGreaterThan(0);
    expect(lib.has('80_tcp')).toBe(true);
    expect(lib.has('5060_udp')).toBe(true);
    expect(lib.describe()).toBe(paths.builtinTemplates);
  });

  it('searches configured folders in order, before the built-in ones', () => {
    const ab = new TemplateLibrary([a, b], true);
    expect(text(ab.get('shared_tcp'))).toBe('from a');
    expect(text(ab.get('21_tcp'))).toBe('220 mine\r\n');
    expect(ab.get('only-b.v1_tcp')).toEqual(Buffer.from([0, 1, 2, 0xff]));
    expect(ab.get('80_tcp')).toEqual(readFileSync(join(paths.builtinTemplates, '80_tcp')));
    expect(ab.describe()).toBe(`${a}, ${b}, ${paths.builtinTemplates}`);

    const ba = new TemplateLibrary([b, a], true);
    expect(text(ba.get('shared_tcp'))).toBe('from b');
  });

  it('can leave the built-in templates out', () => {
    const lib = new TemplateLibrary([b], false);
    expect(lib.has('21_tcp')).toBe(false);
    expect(lib.get('80_tcp')).toBeUndefined();
    expect(text(lib.get('shared_tcp'))).toBe('from b');
    expect(lib.describe()).toBe(b);
    expect(new TemplateLibrary([], false).describe()).toBe('(no template folders)');
    expect(new TemplateLibrary([], false).has('21_tcp')).toBe(false);
  });

  it('refuses names that would leave the folder or are hidden', () => {
    const lib = new TemplateLibrary([a], false);
    expect(lib.get('../secret')).toBeUndefined();
    expect(lib.get('sub/nested_tcp')).toBeUndefined();
    expect(lib.get('../a/21_tcp')).toBeUndefined();
    expect(lib.get('..')).toBeUndefined();
    expect(lib.get('.hidden')).toBeUndefined();
    expect(lib.get(join(a, '21_tcp'))).toBeUndefined();
    expect(lib.get('')).toBeUndefined();
    // The folder itself is not a template.
    expect(lib.get('sub')).toBeUndefined();
    expect(text(lib.get('21_tcp'))).toBe('220 mine\r\n');
  });

  it('returns undefined for a missing template', () => {
    expect(new TemplateLibrary([a, b], true).get('9999_tcp')).toBeUndefined();
  });
});
