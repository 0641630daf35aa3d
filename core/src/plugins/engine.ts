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
  url: string;
  method?: 'GET' | 'HEAD' | 'POST';
  headers?: Record<string, string>;
  /** Request body, base64. */
  body?: string;
  maxBytes?: number;
  timeoutMs?: number;
}

export interface FetchResponse {
  status: number;
  headers: Record<string, string>;
  /** Response body, base64 (cut at maxBytes). */
  body: string;
  truncated: boolean;
}

/** Network egress for plugins, done by the host after checking the manifest. */
export interface NetworkBroker {
  fetch(plugin: LoadedPlugin, attack: Attack, req: FetchRequest): Promise<FetchResponse>;
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
