// Where the store and control socket are, from --config / --data-dir or the defaults.
import { loadConfig } from '../config/load.js';
import { controlSocketPath, storePath } from '../paths.js';

export interface StoreOptions {
  config?: string;
  dataDir?: string;
}

export async function resolveStore(opts: StoreOptions): Promise<{ store: string; socket: string }> {
  const { config } = await loadConfig(opts.config);
  if (opts.dataDir) config.store.path = opts.dataDir;
  return { store: storePath(config), socket: controlSocketPath(config) };
}
