// honeytrap-plugin new (worker|wasm) NAME: a complete plugin folder from the
// templates in sdk/templates, ready to build, test, validate and pack.
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { HOST_API_VERSION } from '../core.js';
import { buildPlugin } from './build.js';
import { CliError, SDK_ROOT, SDK_VERSION, TEMPLATES_DIR, stdout, type Out } from './common.js';

const NAME_RE = /^[a-z][a-z0-9-]{1,62}[a-z0-9]$/;

export interface NewOptions {
  /** Folder the plugin folder is created in (default: the current folder). */
  dir?: string;
  /** Worker only: write the plugin in TypeScript (src/index.ts, bundled by build). */
  typescript?: boolean;
  /** Do not run build after creating the folder. */
  build?: boolean;
}

type Variant = 'worker-js' | 'worker-ts' | 'wasm';

function layers(v: Variant): string[] {
  return v === 'wasm' ? ['common', 'wasm'] : ['common', 'worker', v];
}

/**
 * How the plugin's package.json names the SDK: a `file:` path to this SDK
 * when it is a checkout (no registry has it), the SDK's version range when it
 * was installed from a registry.
 */
export function sdkSpec(): string {
  return SDK_ROOT.split(sep).includes('node_modules') ? `^${SDK_VERSION}` : `file:${SDK_ROOT}`;
}

function vars(name: string, v: Variant): Record<string, string> {
  const entry =
    v === 'wasm' ? `build/${name}.wasm` : v === 'worker-ts' ? 'dist/index.mjs' : 'index.mjs';
  const files: Record<Variant, string[]> = {
    'worker-js': [
      '| `index.mjs` | the plugin (the entry): `analyze(input, ctx)`, plain JavaScript, no build step |',
    ],
    'worker-ts': [
      '| `src/index.ts` | the plugin, in TypeScript: `definePlugin({ analyze(input, ctx) })` |',
      '| `dist/index.mjs` | the entry: `src/` bundled into one file by `honeytrap-plugin build` |',
      '| `tsconfig.json` | for your editor and `npx tsc` (type checks only) |',
    ],
    wasm: [
      '| `assembly/index.ts` | the plugin, in AssemblyScript: `analyze(input: string): string`, with the helpers of `@honeytrap/sdk/assembly` (read the task, write findings) |',
      `| \`build/${name}.wasm\` | the entry: compiled by \`honeytrap-plugin build\` |`,
    ],
  };
  const buildNote: Record<Variant, string> = {
    'worker-js': 'nothing to compile; checks that index.mjs loads in the engine',
    'worker-ts': 'bundles src/index.ts into dist/index.mjs (esbuild)',
    wasm: `compiles assembly/index.ts into build/${name}.wasm (asc)`,
  };
  const major = HOST_API_VERSION.split('.')[0] ?? '1';
  return {
    name,
    engine: v === 'wasm' ? 'wasm' : 'worker',
    entry,
    hostApi: `^${major}.0.0`,
    sdkVersion: SDK_VERSION,
    sdkSpec: sdkSpec(),
    filesTable: files[v].map((l) => `${l}\n`).join(''),
    buildNote: buildNote[v],
    extraScripts: v === 'worker-ts' ? ',\n    "typecheck": "tsc"' : '',
    extraDevDependencies:
      v === 'worker-ts' ? ',\n    "@types/node": "^20.19.0",\n    "typescript": "^5.9.3"' : '',
  };
}

function render(text: string, values: Record<string, string>, file: string): string {
  return text.replace(/\{\{(\w+)\}\}/g, (_m, key: string) => {
    const v = values[key];
    if (v === undefined) throw new Error(`template ${file}: no value for {{${key}}}`);
    return v;
  });
}

function walk(root: string, at = root): string[] {
  const out: string[] = [];
  for (const e of readdirSync(at, { withFileTypes: true })) {
    const p = join(at, e.name);
    if (e.isDirectory()) out.push(...walk(root, p));
    else if (e.name.endsWith('.tmpl')) out.push(relative(root, p));
  }
  return out;
}

/** Creates DIR/NAME; returns its absolute path. */
export async function newPlugin(
  engine: string,
  name: string,
  opts: NewOptions = {},
  out: Out = stdout,
): Promise<string> {
  if (engine !== 'worker' && engine !== 'wasm')
    throw new CliError(`engine must be worker or wasm, not "${engine}"`);
  if (!NAME_RE.test(name))
    throw new CliError(
      `"${name}" is not a plugin name (lower case letters, digits and dashes, 3-64 characters, starting with a letter)`,
    );
  if (opts.typescript && engine !== 'worker')
    throw new CliError('--typescript is for worker plugins (wasm plugins are AssemblyScript)');
  const variant: Variant = engine === 'wasm' ? 'wasm' : opts.typescript ? 'worker-ts' : 'worker-js';
  const target = resolve(opts.dir ?? '.', name);
  if (existsSync(target) && (!statSync(target).isDirectory() || readdirSync(target).length > 0))
    throw new CliError(`${target} already exists and is not an empty folder`);
  const values = vars(name, variant);
  const written: string[] = [];
  for (const layer of layers(variant)) {
    const root = join(TEMPLATES_DIR, layer);
    for (const rel of walk(root)) {
      const outRel = rel.slice(0, -'.tmpl'.length).replace(/(^|[\\/])_gitignore$/, '$1.gitignore');
      const dest = join(target, outRel);
      mkdirSync(dirname(dest), { recursive: true });
      writeFileSync(dest, render(readFileSync(join(root, rel), 'utf8'), values, rel));
      written.push(outRel);
    }
  }
  out(
    `created ${variant === 'worker-ts' ? 'worker (TypeScript)' : engine} plugin ${name} in ${target}`,
  );
  for (const f of written.sort()) out(`  ${f}`);
  if (opts.build !== false && variant !== 'worker-js') {
    out('');
    await buildPlugin(target, out);
  }
  out('');
  out('next:');
  out(`  cd ${target}`);
  out(
    `  edit ${variant === 'wasm' ? 'assembly/index.ts' : variant === 'worker-ts' ? 'src/index.ts' : 'index.mjs'}, then: honeytrap-plugin build && honeytrap-plugin test`,
  );
  return target;
}
