// The types a plugin author works with, generated from schemas/ into core
// (one copy, never written twice by hand; types only, nothing at run time).
export type { Attack } from '@honeytrap/core/dist/generated/attack.js';
export type { PluginManifest } from '@honeytrap/core/dist/generated/plugin-manifest.js';
export type {
  PluginOutput,
  Finding,
  ArtifactOut,
} from '@honeytrap/core/dist/generated/plugin-result.js';
export type { PluginRecord, ArtifactRef } from '@honeytrap/core/dist/generated/plugin-record.js';
