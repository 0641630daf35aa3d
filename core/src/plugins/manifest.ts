// Reads and checks a plugin folder's plugin.json: schema (ajv, defaults
// applied), manifest version, host-API range (semver), the entry file, and
// what a schema cannot say. Every problem names the plugin, the field and
// the reason; nothing here throws for bad input.
import { readFileSync, realpathSync, statSync } from 'node:fs';
import { basename, join, sep } from 'node:path';
import semver from 'semver';
import type { ResolvedManifest } from '../generated/plugin-manifest-resolved.js';
import { formatAjvErrors, newAjv, schemaFileValidator } from '../schema/validator.js';
import { parsePortSpec } from '../config/ports.js';
import { HOST_API_VERSION, type LoadedPlugin } from './engine.js';

export const MANIFEST_FILE = 'plugin.json';
export const MANIFEST_VERSION = 1;

const manifestValidator = schemaFileValidator('plugin-manifest.v1.schema.json');

export type ManifestResult =
  { ok: true; plugin: LoadedPlugin } | { ok: false; name: string; errors: string[] };

export function readManifest(dir: string): ManifestResult {
  const folder = basename(dir);
  let text: string;
  try {
    text = readFileSync(join(dir, MANIFEST_FILE), 'utf8');
  } catch (err) {
    const why = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'does not exist' : String(err);
    return { ok: false, name: folder, errors: [`${MANIFEST_FILE}: ${why}`] };
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    return {
      ok: false,
      name: folder,
      errors: [`${MANIFEST_FILE}: not valid JSON: ${(err as Error).message}`],
    };
  }
  if (!doc || typeof doc !== 'object' || Array.isArray(doc))
    return { ok: false, name: folder, errors: ['/: must be an object'] };
  const raw = doc as Record<string, unknown>;
  const name = typeof raw.name === 'string' && raw.name ? raw.name : folder;
  // The version decides which schema applies: check it first, on its own.
  if (raw.manifestVersion !== MANIFEST_VERSION)
    return {
      ok: false,
      name,
      errors: [
        raw.manifestVersion === undefined
          ? '/manifestVersion: is required'
          : `/manifestVersion: ${JSON.stringify(raw.manifestVersion)} is not supported (this host reads manifest version ${MANIFEST_VERSION})`,
      ],
    };
  const validate = manifestValidator();
  if (!validate(raw)) return { ok: false, name, errors: formatAjvErrors(validate.errors) };
  const manifest = raw as unknown as ResolvedManifest;
  const errors = semanticErrors(manifest);
  const entry = entryCheck(dir, manifest);
  if ('error' in entry) errors.push(entry.error);
  if (errors.length || 'error' in entry) return { ok: false, name, errors };
  return { ok: true, plugin: { manifest, dir: realpathSync(dir), entryPath: entry.path } };
}

function semanticErrors(m: ResolvedManifest): string[] {
  const errors: string[] = [];
  if (!semver.validRange(m.hostApi)) errors.push(`/hostApi: "${m.hostApi}" is not a semver range`);
  else if (!semver.satisfies(HOST_API_VERSION, m.hostApi))
    errors.push(
      `/hostApi: plugin needs host API ${m.hostApi}, this host provides ${HOST_API_VERSION}`,
    );
  if (m.engine === 'wasm' && !m.entry.endsWith('.wasm'))
    errors.push(`/entry: the wasm engine loads a .wasm file, not "${m.entry}"`);
  if (m.engine === 'worker' && !/\.(m?js)$/.test(m.entry))
    errors.push(
      `/entry: the worker engine loads a JavaScript module (.js or .mjs), not "${m.entry}"`,
    );
  (m.consumes.attacks?.ports ?? []).forEach((p, i) => {
    const r = parsePortSpec(p);
    if ('error' in r) errors.push(`/consumes/attacks/ports/${i}: ${r.error}`);
  });
  if (m.engine === 'wasm') errors.push(...wasmRefusals(m));
  if (m.after.includes(m.name)) errors.push(`/after: a plugin cannot run after itself`);
  if (m.configSchema !== undefined) {
    try {
      newAjv().compile(m.configSchema);
    } catch (err) {
      errors.push(`/configSchema: not a valid JSON Schema: ${(err as Error).message}`);
    }
  }
  return errors;
}

/** What the wasm engine cannot give: host calls and reports are worker-engine features. */
function wasmRefusals(m: ResolvedManifest): string[] {
  const why = 'the wasm engine has no host calls; use the worker engine';
  const errors: string[] = [];
  if (m.capabilities.network)
    errors.push(
      `/capabilities/network: the wasm engine has no network access in manifest version 1 (${why})`,
    );
  const streams = (m.capabilities.network?.schemes ?? []).filter(
    (s) => s === 'tcp' || s === 'unix',
  );
  if (streams.length)
    errors.push(
      `/capabilities/network/schemes: ${streams.join(', ')} (ctx.exchange) is not available to wasm plugins (${why})`,
    );
  if (m.capabilities.files)
    errors.push(`/capabilities/files: ctx.files is not available to wasm plugins (${why})`);
  if (m.capabilities.database)
    errors.push(`/capabilities/database: ctx.db is not available to wasm plugins (${why})`);
  if (m.consumes.reports)
    errors.push(
      `/consumes/reports: output plugins (reports) run in the worker engine only, not wasm`,
    );
  return errors;
}

function entryCheck(dir: string, m: ResolvedManifest): { path: string } | { error: string } {
  let real: string;
  try {
    real = realpathSync(join(dir, m.entry));
  } catch {
    return { error: `/entry: file ${m.entry} does not exist in the plugin folder` };
  }
  // A symlink must not lead the engine out of the plugin's own folder.
  const root = realpathSync(dir);
  if (!real.startsWith(root + sep))
    return { error: `/entry: ${m.entry} resolves outside the plugin folder` };
  if (!statSync(real).isFile()) return { error: `/entry: ${m.entry} is not a file` };
  return { path: real };
}

/** Checks a plugin's own config against its configSchema (defaults applied in place). */
export function validatePluginConfig(
  m: ResolvedManifest,
  config: Record<string, unknown>,
): string[] {
  if (m.configSchema === undefined) return [];
  const validate = newAjv().compile(m.configSchema);
  return validate(config)
    ? []
    : formatAjvErrors(validate.errors).map((e) => `plugins.config.${m.name}${e}`);
}
