/* Generated from schemas/plugin-record.schema.json by scripts/gen-types.mjs. Do not edit; run npm run gen:types. */

/**
 * What the host stores in attack.plugins for one plugin task.
 */
export interface PluginRecord {
  plugin: string;
  version: string;
  status: 'ok' | 'error';
  durationMs: number;
  /**
   * The artifact (sha256) this task analysed; absent for the attack itself.
   */
  input?: string;
  findings: Finding[];
  artifacts: ArtifactRef[];
  error?: {
    code: string;
    message: string;
  };
}
export interface Finding {
  /**
   * url, decoded-payload, hash, signature, command, download, file-type, note or a plugin's own x-<name>.
   */
  type: string;
  value: string;
  /**
   * Byte offset in the input where it was found.
   */
  offset?: number;
  /**
   * Small flat details (strings, numbers, booleans).
   */
  meta?: {
    [k: string]: string | number | boolean;
  };
}
export interface ArtifactRef {
  sha256: string;
  size: number;
  contentType: string;
  name?: string;
}
