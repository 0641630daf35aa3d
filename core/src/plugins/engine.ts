// The contract between the plugin host and its engines (worker, wasm).
// The host owns discovery, filters, ordering, the concurrency gate, result
// validation, failure counting and storage; an engine only loads one plugin
// and runs tasks for it, enforcing the plugin's time and memory limits.
import { HoneytrapError, type ErrorCode } from '../errors.js';
import type { Attack } from '../generated/attack.js';
import type { ResolvedManifest } from '../generated/plugin-manifest-resolved.js';
import type { PluginRecord } from '../generated/plugin-record.js';
import type { PluginOutput } from '../generated/plugin-result.js';

/**
 * CPU priority (nice) of plugin processes and threads: the lowest, so capture
 * wins the CPU when the two compete (bench:plugins measured it).
 */
export const PLUGIN_NICE = 19;

/** The host plugin API version; manifests give a semver range for it. */
export const HOST_API_VERSION = '1.1.0';

export interface ArtifactInput {
  sha256: string;
  contentType: string;
  size: number;
  name?: string;
  /** The artifact's bytes, base64. */
  data: string;
  /** The plugin that wrote it. */
  producer: string;
}

/** What one task gets. Plain JSON: it crosses a thread boundary. */
export interface PluginTaskInput {
  kind: 'attack' | 'artifact' | 'report';
  /** The attack string (for an artifact task: the attack that led to the artifact). */
  attack: Attack;
  artifact?: ArtifactInput;
  /**
   * Report tasks: every plugin's record for this attack as `honeytrap attacks
   * show` merges them (artifact-task records under `name@sha12`).
   */
  records?: Record<string, PluginRecord>;
  /** Report tasks with consumes.reports.artifactData: the attack's artifacts with their bytes. */
  artifacts?: ArtifactInput[];
  /** The plugin's own config (plugins.config.<name>), validated against its configSchema. */
  config: Record<string, unknown>;
  /** Outputs of the plugins named in the manifest's `after`, by name. */
  results: Record<string, PluginOutput>;
}

/** A plugin folder whose manifest is valid. */
export interface LoadedPlugin {
  manifest: ResolvedManifest;
  /** Absolute path of the plugin folder. */
  dir: string;
  /** Absolute path of the entry file (inside dir). */
  entryPath: string;
}

export interface FetchRequest {
  /** http(s)://, ftp://[user[:password]@]host[:port]/path or tftp://host[:port]/path (manifest network.schemes). */
  url: string;
  /** HTTP only. */
  method?: 'GET' | 'HEAD' | 'POST';
  /** HTTP only. */
  headers?: Record<string, string>;
  /** Request body, base64 (HTTP only). */
  body?: string;
  maxBytes?: number;
  timeoutMs?: number;
}

export interface FetchResponse {
  /**
   * http(s): the HTTP status (redirects are not followed: 3xx with a location
   * header). ftp: the last FTP reply code (226 = transfer complete). tftp: 0
   * when the transfer completed, else the TFTP error code (1 = file not found...).
   */
  status: number;
  /** The server's reason text (HTTP reason, FTP reply text, TFTP error message). */
  statusText?: string;
  headers: Record<string, string>;
  /** Response body, base64 (cut at maxBytes). */
  body: string;
  truncated: boolean;
  /** The address the host connected to (after its checks). */
  address?: string;
  durationMs?: number;
}

/** One request/response over a stream: connect, send data, half-close, read until the peer closes. */
export interface ExchangeRequest {
  /** tcp://host:port or unix:/path (manifest network.schemes tcp / unix). */
  url: string;
  /** Bytes to send, base64. */
  data: string;
  maxBytes?: number;
  timeoutMs?: number;
}

export interface ExchangeResponse {
  /** What the peer sent back, base64 (cut at maxBytes). */
  data: string;
  truncated: boolean;
  durationMs: number;
}

/** Network egress for plugins, done by the host after checking the manifest and the operator's policy. */
export interface NetworkBroker {
  fetch(plugin: LoadedPlugin, attack: Attack, req: FetchRequest): Promise<FetchResponse>;
  exchange(plugin: LoadedPlugin, attack: Attack, req: ExchangeRequest): Promise<ExchangeResponse>;
}

/** ctx.files append: rotate when the file would grow past maxBytes, keeping `keep` files (name, name.1 … name.(keep-1)). */
export interface RotateOptions {
  maxBytes: number;
  keep: number;
}

/** One ctx.files operation (capability files); names are relative paths inside the plugin's folder. */
export type FilesCall =
  | { op: 'append'; name: string; data: string | Uint8Array; rotate?: RotateOptions }
  | { op: 'write'; name: string; data: string | Uint8Array; exclusive?: boolean }
  | { op: 'stat'; name: string }
  | { op: 'list'; dir?: string }
  | { op: 'remove'; name: string };

export interface FileStat {
  size: number;
  mtimeMs: number;
}

export interface DbStatement {
  sql: string;
  params?: unknown[];
}

export interface DbResult {
  rows: Record<string, unknown>[];
  rowCount: number;
}

/** One ctx.db operation (capability database). */
export type DbCall =
  ({ op: 'query' } & DbStatement) | { op: 'transaction'; statements: DbStatement[] };

/** What a task asks of the host; the engine checks the manifest grants it before the host serves it. */
export type HostCall =
  | { kind: 'fetch'; req: FetchRequest }
  | { kind: 'exchange'; req: ExchangeRequest }
  | { kind: 'files'; call: FilesCall }
  | { kind: 'db'; call: DbCall };

/**
 * Everything a task may ask of the host: the network broker plus the file and
 * database services. `files` and `db` are absent where no such service exists
 * (a call then fails as unavailable). Every call names the attack of the task
 * that made it (the child process of isolation "process" maps it to its run).
 */
export interface HostServices extends NetworkBroker {
  files?(plugin: LoadedPlugin, attack: Attack, call: FilesCall): Promise<unknown>;
  db?(plugin: LoadedPlugin, attack: Attack, call: DbCall): Promise<unknown>;
}

export interface PluginRunner {
  /**
   * Runs one task. At most manifest.limits.concurrency tasks run at once (the
   * runner queues the rest itself) and a task's timeout starts when it starts
   * running, not when it was queued. Resolves with the plugin's raw result
   * (the host validates its shape) or rejects with a PluginError:
   * HT_PLUGIN_TIMEOUT, _MEMORY, _EXIT, _THREW, _DENIED, or _UNAVAILABLE (the
   * plugin let a host call's "service down" end the task). Never leaves a task
   * unsettled.
   */
  run(input: PluginTaskInput): Promise<unknown>;
  /** Stops the plugin's threads; in-flight tasks reject. */
  close(): Promise<void>;
}

export interface Engine {
  readonly name: 'worker' | 'wasm';
  /** Loads the plugin and probes it once; rejects with HT_PLUGIN_LOAD when it cannot run. */
  start(plugin: LoadedPlugin, host: HostServices): Promise<PluginRunner>;
}

export class PluginError extends HoneytrapError {
  constructor(code: ErrorCode, plugin: string, message: string, cause?: unknown) {
    super(code, `plugin ${plugin}: ${message}`, { plugin, cause });
    this.name = 'PluginError';
  }
}
