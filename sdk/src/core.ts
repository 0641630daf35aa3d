// Everything the SDK takes from @honeytrap/core, in one place: the manifest
// checks, the engines and the schemas the daemon itself uses, so a plugin that
// passes the harness behaves the same in a running daemon. Core has no
// "exports" map yet, so these are deep imports of its build (core/dist); when
// it gets one, only this file changes.
import type { Engine } from '@honeytrap/core/dist/plugins/engine.js';

export { HOST_API_VERSION, PluginError } from '@honeytrap/core/dist/plugins/engine.js';
export type {
  ArtifactInput,
  DbResult,
  DbStatement,
  Engine,
  ExchangeRequest,
  ExchangeResponse,
  FetchRequest,
  FetchResponse,
  FileStat,
  HostServices,
  LoadedPlugin,
  NetworkBroker,
  PluginRunner,
  PluginTaskInput,
  RotateOptions,
} from '@honeytrap/core/dist/plugins/engine.js';
export { PluginServices } from '@honeytrap/core/dist/plugins/services/index.js';
export {
  MANIFEST_FILE,
  MANIFEST_VERSION,
  readManifest,
  validatePluginConfig,
} from '@honeytrap/core/dist/plugins/manifest.js';
export type { ManifestResult } from '@honeytrap/core/dist/plugins/manifest.js';
export { wantsArtifact, wantsAttack, wantsReports } from '@honeytrap/core/dist/plugins/filters.js';
export { HostBroker, networkPolicy } from '@honeytrap/core/dist/plugins/broker/index.js';
export { checkEgress } from '@honeytrap/core/dist/plugins/egress.js';
export { checkPluginOutput } from '@honeytrap/core/dist/plugins/output.js';
export {
  formatAjvErrors,
  newAjv,
  schemaFileValidator,
} from '@honeytrap/core/dist/schema/validator.js';
export { paths as corePaths } from '@honeytrap/core/dist/paths.js';
export { HoneytrapError } from '@honeytrap/core/dist/errors.js';
export type { ErrorCode } from '@honeytrap/core/dist/errors.js';
export type { ResolvedManifest } from '@honeytrap/core/dist/generated/plugin-manifest-resolved.js';
export type { PluginRecord } from '@honeytrap/core/dist/generated/plugin-record.js';

/** The daemon's worker engine, with the plugins' log lines sent to `log`. */
export async function workerEngine(log: (message: string) => void): Promise<Engine> {
  const { WorkerEngine } = await import('@honeytrap/core/dist/plugins/engines/worker/engine.js');
  return new WorkerEngine({ log: (_plugin, message) => log(message) });
}

/** The daemon's wasm engine, with the plugins' log lines sent to `log`. */
export async function wasmEngine(log: (message: string) => void): Promise<Engine> {
  const { WasmEngine } = await import('@honeytrap/core/dist/plugins/engines/wasm/engine.js');
  return new WasmEngine({ onLog: (entry) => log(entry.message) });
}
