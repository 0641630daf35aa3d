/* Generated from schemas/plugin-manifest.v1.schema.json by scripts/gen-types.mjs. Do not edit; run npm run gen:types. */

/**
 * plugin.json, manifest version 1: what a plugin is, what it consumes, what it may do and within which limits.
 */
export interface PluginManifest {
  $schema?: string;
  /**
   * Always 1 for this schema.
   */
  manifestVersion: 1;
  /**
   * Unique plugin name: lower case letters, digits and dashes.
   */
  name: string;
  /**
   * The plugin's own semver version.
   */
  version: string;
  description?: string;
  /**
   * semver range of the host plugin API this plugin works with, e.g. ^1.0.0.
   */
  hostApi: string;
  /**
   * worker: JavaScript in a worker thread. wasm: a WebAssembly module built with AssemblyScript.
   */
  engine: 'worker' | 'wasm';
  /**
   * File inside the plugin folder: an ES module (worker) or a .wasm file (wasm).
   */
  entry: string;
  /**
   * What the plugin is given. At least one of attacks, artifacts and reports.
   */
  consumes: {
    /**
     * Finished attack strings, when they match every filter given.
     */
    attacks?: {
      /**
       * @minItems 1
       */
      protocols?: ['tcp' | 'udp', ...('tcp' | 'udp')[]];
      /**
       * Local ports or ranges ("8000-8100").
       *
       * @minItems 1
       */
      ports?: [number | string, ...(number | string)[]];
      /**
       * Only attacks that received at least this many bytes.
       */
      minBytes?: number;
    };
    /**
     * Artifacts (decoded payloads, downloaded files) other plugins produced.
     */
    artifacts?: {
      /**
       * Only these content types ("application/x-elf", "text/*").
       *
       * @minItems 1
       */
      contentTypes?: [string, ...string[]];
      minBytes?: number;
    };
    /**
     * Output plugins: each attack once every analysis plugin (and every artifact round) is done with it, with all their records (host API 1.1).
     */
    reports?: {
      /**
       * at-most-once: a failed report is recorded and dropped. at-least-once: it is kept in the store and retried with backoff, oldest first, until the plugin takes it (survives restarts).
       */
      delivery?: 'at-most-once' | 'at-least-once';
      /**
       * Include the bytes (base64) of the attack's artifacts in the report.
       */
      artifactData?: boolean;
    };
  };
  /**
   * Plugins whose results this one needs first, by name (for the same attack).
   */
  after?: string[];
  /**
   * What the plugin may do beyond computing. Nothing is granted that is not listed.
   */
  capabilities?: {
    /**
     * Emit findings.
     */
    findings?: boolean;
    /**
     * Write artifacts (stored content-addressed).
     */
    artifacts?: boolean;
    /**
     * Egress through the host broker: to the attacking host only, or to listed hosts.
     */
    network?: {
      egress: 'attacker' | 'allow-list';
      /**
       * Host names or addresses allowed with egress allow-list (the operator can add more per plugin with plugins.network.hosts).
       */
      hosts?: string[];
      /**
       * URL schemes the plugin may use (host API 1.1): http, https, ftp, tftp with ctx.fetch; tcp and unix with ctx.exchange.
       *
       * @minItems 1
       */
      schemes?: [
        'http' | 'https' | 'ftp' | 'tftp' | 'tcp' | 'unix',
        ...('http' | 'https' | 'ftp' | 'tftp' | 'tcp' | 'unix')[],
      ];
    };
    /**
     * Write files (ctx.files) in the one folder the operator gives this plugin (plugins.files); nothing outside it (host API 1.1).
     */
    files?: boolean;
    /**
     * Query the database the operator configures for this plugin (plugins.databases.<name>) through ctx.db (host API 1.1).
     */
    database?: {
      engine: 'postgres';
    };
  };
  limits?: {
    /**
     * Longest one task may run, counted from when it starts.
     */
    timeoutMs?: number;
    /**
     * Heap (worker) or linear memory (wasm) maximum. 8 MB at least: a worker thread needs about 5 MB to boot.
     */
    memoryMb?: number;
    /**
     * Tasks of this plugin running at once.
     */
    concurrency?: number;
  };
  /**
   * JSON Schema of the plugin's own config (the daemon config's plugins.config.<name>).
   */
  configSchema?: {};
}
