/* Generated from schemas/plugin-result.schema.json by scripts/gen-types.mjs. Do not edit; run npm run gen:types. */

/**
 * What one plugin task returns: findings and artifacts.
 */
export interface PluginOutput {
  /**
   * @maxItems 1000
   */
  findings?: Finding[];
  /**
   * @maxItems 100
   */
  artifacts?: ArtifactOut[];
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
export interface ArtifactOut {
  name?: string;
  contentType?: string;
  /**
   * The bytes, base64.
   */
  data: string;
}
