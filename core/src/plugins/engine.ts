// The contract between the plugin host and its engines (worker, wasm).
// The host owns discovery, filters, ordering, the concurrency gate, result
// validation, failure counting and storage; an engine only loads one plugin
// and runs tasks for it, enforcing the plugin's time and memory limits.
import { HoneytrapError, type ErrorCode } from '../errors.js';
import type { Attack } from '../generated/attack.js';
import type { ResolvedManifest } from '../generated/plugin-manifest-resolved.js';
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
  kind: 'attack' | 'artifact';
  /** The attack string (for an artifact task: the attack that led to the artifact). */
  attack: Attack;
  artifact?: ArtifactInput;
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

export interface PluginRunner {
  /**
   * Runs one task. At most manifest.limits.concurrency tasks run at once (the
   * runner queues the rest itself) and a task's timeout starts when it starts
   * running, not when it was queued. Resolves with the plugin's raw result
   * (the host validates its shape) or rejects with a PluginError:
   * HT_PLUGIN_TIMEOUT, _MEMORY, _EXIT, _THREW or _DENIED. Never leaves a task
   * unsettled.
   */
  run(input: PluginTaskInput): Promise<unknown>;
  /** Stops the plugin's threads; in-flight tasks reject. */
  close(): Promise<void>;
}

export interface Engine {
  readonly name: 'worker' | 'wasm';
  /** Loads the plugin and probes it once; rejects with HT_PLUGIN_LOAD when it cannot run. */
  start(plugin: LoadedPlugin, broker: NetworkBroker): Promise<PluginRunner>;
}

export class PluginError extends HoneytrapError {
  constructor(code: ErrorCode, plugin: string, message: string, cause?: unknown) {
    super(code, `plugin ${plugin}: ${message}`, { plugin, cause });
    this.name = 'PluginError';
  }
}
