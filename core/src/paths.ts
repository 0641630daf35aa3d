// Where the files shipped with the package are, from this module's location
// (core/dist/paths.js or core/src/paths.ts: both one level under core/).
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import type { ResolvedConfig } from './generated/config-resolved.js';
import { fileURLToPath } from 'node:url';

const coreDir = join(dirname(fileURLToPath(import.meta.url)), '..');

export const paths = {
  core: coreDir,
  schemas: join(coreDir, '..', 'schemas'),
  builtinTemplates: join(coreDir, 'templates'),
  defaultConfig: join(coreDir, 'config', 'default.yaml'),
  packageJson: join(coreDir, 'package.json'),
};

/** The store folder when the config leaves it empty. */
export function defaultDataDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.HONEYTRAP_DATA_DIR) return env.HONEYTRAP_DATA_DIR;
  if (process.getuid?.() === 0) return '/var/lib/honeytrap';
  const state = env.XDG_STATE_HOME || join(homedir(), '.local', 'state');
  return join(state, 'honeytrap');
}

/** The store folder a config names (store.path, else the default). */
export function storePath(config: ResolvedConfig): string {
  return config.store.path || defaultDataDir();
}

/** The control socket a config names (control.socket, else control.sock in the store). */
export function controlSocketPath(config: ResolvedConfig): string {
  return config.control.socket || join(storePath(config), 'control.sock');
}
