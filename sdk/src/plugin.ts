// The part of the SDK a plugin's own code may use at run time: definePlugin
// and small helpers. It imports types only, plus the download helpers below
// (node:crypto and core's import-free magic table), so `honeytrap-plugin
// build` can bundle it into a worker plugin, whose worker may only load files
// from the plugin's own folder.
import type { Attack } from './types.js';
import type { ArtifactOut, Finding, PluginOutput } from './types.js';
import type {
  ArtifactInput,
  DbResult,
  DbStatement,
  ExchangeRequest,
  ExchangeResponse,
  FetchRequest,
  FetchResponse,
  FileStat,
  PluginTaskInput,
  RotateOptions,
} from './core.js';

/** The finding types the host accepts: the common ones, or a plugin's own `x-<name>`. */
export type FindingType =
  | 'url'
  | 'decoded-payload'
  | 'hash'
  | 'signature'
  | 'command'
  | 'download'
  | 'file-type'
  | 'note'
  | `x-${string}`;

/** A plugin's own config (the daemon config's plugins.config.<name>). */
export type PluginConfig = Record<string, unknown>;

/**
 * What analyze() is given: one attack string (kind "attack"), one artifact
 * and the attack it came from ("artifact"), or, for an output plugin
 * (consumes.reports), a report ("report"): the attack once every analysis
 * plugin is done with it, every plugin's record in `records` and, with
 * consumes.reports.artifactData, the artifacts' bytes in `artifacts`.
 */
export interface PluginInput<C extends object = PluginConfig> extends Omit<
  PluginTaskInput,
  'config' | 'attack'
> {
  /** The attack string (for an artifact task: the attack that led to the artifact). */
  attack: Attack;
  /** plugins.config.<name>, checked against the manifest's configSchema, defaults applied. */
  config: C;
}

/** The second argument of analyze(): what a worker plugin may ask of the host. */
export interface PluginContext<C extends object = PluginConfig> {
  /** Same as input.config. */
  readonly config: C;
  /** One line in the daemon's log, attributed to the plugin (bounded per task). */
  readonly log: (message: string) => void;
  /**
   * A download through the host (http, https, ftp, tftp: capabilities.network.schemes),
   * checked against capabilities.network: egress "attacker" (the attacking address
   * only) or "allow-list" (capabilities.network.hosts), plus what the operator grants.
   * Bodies are base64. Rejects with code HT_PLUGIN_DENIED when not allowed, and
   * HT_PLUGIN_NETWORK when the request fails (docs/plugin-network.md).
   */
  readonly fetch: (req: FetchRequest) => Promise<FetchResponse>;
  /**
   * One request/response over a stream (capabilities.network.schemes tcp or
   * unix): connect to tcp://host:port or unix:/path, send `data` (base64),
   * half-close, read until the peer closes. Rejects with HT_PLUGIN_DENIED
   * (not allowed) or HT_PLUGIN_NETWORK (refused, reset, timeout).
   */
  readonly exchange: (req: ExchangeRequest) => Promise<ExchangeResponse>;
  /** The plugin's own folder (capabilities.files); see PluginFiles. */
  readonly files: PluginFiles;
  /** The plugin's database (capabilities.database); see PluginDb. */
  readonly db: PluginDb;
}

/**
 * Files in the one folder the operator gives the plugin (plugins.files).
 * Names are relative paths with "/" (no "..", no absolute path, no NUL);
 * folders are made as needed; symbolic links are never followed. The host
 * runs operations on one file one after another.
 */
export interface PluginFiles {
  /**
   * Appends (the file is made if needed). With `rotate`, when the append
   * would make the file exceed maxBytes: name.(keep-1) is dropped, name.N
   * becomes name.N+1, name becomes name.1, and the append starts a new file.
   */
  append(name: string, data: string | Uint8Array, opts?: { rotate?: RotateOptions }): Promise<void>;
  /** Replaces the file atomically (temp file and rename); `exclusive` fails with code EEXIST if it exists. */
  write(name: string, data: string | Uint8Array, opts?: { exclusive?: boolean }): Promise<void>;
  /** Size and modification time, or null when there is no such file. */
  stat(name: string): Promise<FileStat | null>;
  /** Names in a folder (the plugin's folder by default), sorted; folders end with "/". */
  list(dir?: string): Promise<string[]>;
  /** Removes a file; false when there was none. */
  remove(name: string): Promise<boolean>;
}

/**
 * The database the operator configures for the plugin (plugins.databases.<name>,
 * PostgreSQL). Rejects with HT_PLUGIN_UNAVAILABLE while the database cannot be
 * reached (an at-least-once report is then kept and retried) and with
 * HT_PLUGIN_THREW (message with the SQLSTATE) when a statement fails.
 */
export interface PluginDb {
  /** One statement; `params` fill $1, $2… */
  query(sql: string, params?: unknown[]): Promise<DbResult>;
  /** BEGIN, the statements in order, COMMIT on one connection; ROLLBACK and reject on the first failure. */
  transaction(statements: DbStatement[]): Promise<DbResult[]>;
}

/** What analyze() returns; nothing (undefined or null) means no findings and no artifacts. */
export type AnalyzeResult = PluginOutput | null | undefined | void;

/** A worker plugin: the default export of its entry module. */
export interface WorkerPlugin<C extends object = PluginConfig> {
  analyze(input: PluginInput<C>, ctx: PluginContext<C>): AnalyzeResult | Promise<AnalyzeResult>;
}

/**
 * Types a worker plugin; returns it unchanged.
 *
 * ```ts
 * export default definePlugin<{ marker: string }>({
 *   analyze(input, ctx) {
 *     const at = receivedBytes(input.attack).indexOf(ctx.config.marker);
 *     return { findings: at < 0 ? [] : [finding('x-marker', ctx.config.marker, at)] };
 *   },
 * });
 * ```
 */
export function definePlugin<C extends object = PluginConfig>(
  plugin: WorkerPlugin<C>,
): WorkerPlugin<C> {
  return plugin;
}

/** The bytes the attacker sent (attack.received.data, base64-decoded; at most the read limit). */
export function receivedBytes(attack: Pick<Attack, 'received'>): Buffer {
  return Buffer.from(attack.received.data, 'base64');
}

/** The bytes sent back to the attacker (templates, mirror or proxy replies). */
export function sentBytes(attack: Pick<Attack, 'sent'>): Buffer {
  return Buffer.from(attack.sent.data, 'base64');
}

/**
 * The received bytes as text. latin1 (the default) maps each byte to one
 * character, so string offsets are byte offsets and binary data survives.
 */
export function receivedText(
  attack: Pick<Attack, 'received'>,
  encoding: BufferEncoding = 'latin1',
): string {
  return receivedBytes(attack).toString(encoding);
}

/** The artifact's bytes in an artifact task (input.kind === 'artifact'), else undefined. */
export function artifactBytes(input: { artifact?: ArtifactInput }): Buffer | undefined {
  return input.artifact ? Buffer.from(input.artifact.data, 'base64') : undefined;
}

/** A finding; `offset` is the byte offset in the input where it was found. */
export function finding(
  type: FindingType,
  value: string,
  offset?: number,
  meta?: Finding['meta'],
): Finding {
  return {
    type,
    value,
    ...(offset === undefined ? {} : { offset }),
    ...(meta === undefined ? {} : { meta }),
  };
}

/**
 * An artifact to store (needs capabilities.artifacts). The host stores it by
 * SHA-256 and hands it to the plugins that consume its content type; without
 * a contentType the host sniffs one from the bytes.
 */
export function artifact(
  data: Uint8Array | string,
  opts: { name?: string; contentType?: string } = {},
): ArtifactOut {
  const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : Buffer.from(data);
  return {
    data: bytes.toString('base64'),
    ...(opts.name === undefined ? {} : { name: opts.name }),
    ...(opts.contentType === undefined ? {} : { contentType: opts.contentType }),
  };
}

// Run-time helpers for download plugins (bundled with the rest of this file).
export * from './describe-file.js';
export * from './download.js';
