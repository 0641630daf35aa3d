// @honeytrap/sdk: what plugin authors import. Types are generated from the
// project's schemas (never written twice); definePlugin and the helpers are in
// ./plugin.js (safe to bundle into a plugin), the test harness in ./harness.
export type { Attack } from './types.js';
export type { PluginManifest } from './types.js';
export type { PluginOutput, Finding, ArtifactOut } from './types.js';
export type { PluginRecord, ArtifactRef } from './types.js';
export type {
  ArtifactInput,
  DbResult,
  DbStatement,
  ExchangeRequest,
  ExchangeResponse,
  FetchRequest,
  FetchResponse,
  FileStat,
  PluginTaskInput,
  ResolvedManifest,
  RotateOptions,
} from './core.js';
export { HOST_API_VERSION, MANIFEST_VERSION } from './core.js';
export * from './plugin.js';
export * from './harness/index.js';
