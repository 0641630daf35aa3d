// The test harness: run a plugin folder the way the daemon does.
export { HarnessError } from './errors.js';
export { attackFixture, checkAttack, ulid, type AttackFixtureOptions } from './fixture.js';
export {
  PluginUnderTest,
  attackFilterMiss,
  loadPlugin,
  runPlugin,
  type ArtifactFixture,
  type CheckedOutput,
  type HarnessOptions,
  type RunOptions,
} from './run.js';
export { PluginError } from '../core.js';
