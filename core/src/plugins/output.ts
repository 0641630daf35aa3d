// The checks every plugin result passes before anything of it is kept: JSON,
// size, shape (plugin-result schema) and the capabilities it needs. Shared
// by the pipeline and the SDK's harness so both refuse the same way.
import type { ResolvedManifest } from '../generated/plugin-manifest-resolved.js';
import type { PluginOutput } from '../generated/plugin-result.js';
import { formatAjvErrors, schemaFileValidator } from '../schema/validator.js';
import { PluginError } from './engine.js';

const resultValidator = schemaFileValidator('plugin-result.schema.json');

export interface OutputLimits {
  maxResultBytes: number;
  maxArtifactBytes: number;
}

export function checkPluginOutput(
  m: ResolvedManifest,
  raw: unknown,
  limits: OutputLimits,
): Required<PluginOutput> {
  const fail = (code: 'HT_PLUGIN_RESULT' | 'HT_PLUGIN_DENIED', msg: string) =>
    new PluginError(code, m.name, msg);
  if (raw === undefined || raw === null) return { findings: [], artifacts: [] };
  let size: number;
  try {
    size = Buffer.byteLength(JSON.stringify(raw));
  } catch (err) {
    throw fail('HT_PLUGIN_RESULT', `result is not JSON: ${String(err)}`);
  }
  if (size > limits.maxResultBytes)
    throw fail(
      'HT_PLUGIN_RESULT',
      `result of ${size} bytes exceeds plugins.maxResultBytes (${limits.maxResultBytes})`,
    );
  const validate = resultValidator();
  // `raw` came across a thread or process boundary: it is ours to validate in place.
  const copy = raw;
  if (!validate(copy))
    throw fail(
      'HT_PLUGIN_RESULT',
      `result has a bad shape: ${formatAjvErrors(validate.errors).slice(0, 5).join('; ')}`,
    );
  const out = copy as PluginOutput;
  const findings = out.findings ?? [];
  const artifacts = out.artifacts ?? [];
  if (findings.length && !m.capabilities.findings)
    throw fail('HT_PLUGIN_DENIED', 'emitted findings without the findings capability');
  if (artifacts.length && !m.capabilities.artifacts)
    throw fail('HT_PLUGIN_DENIED', 'wrote artifacts without the artifacts capability');
  for (const a of artifacts) {
    const bytes = Buffer.byteLength(a.data, 'base64');
    if (bytes > limits.maxArtifactBytes)
      throw fail(
        'HT_PLUGIN_RESULT',
        `artifact of ${bytes} bytes exceeds plugins.maxArtifactBytes (${limits.maxArtifactBytes})`,
      );
  }
  return { findings, artifacts };
}
