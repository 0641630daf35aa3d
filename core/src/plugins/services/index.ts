// The host services a plugin may use besides computing, as one HostServices
// the engines call: the network broker, its files folder and its database.
// prepare() runs when a plugin loads (folder made, pool created; a clear
// HT_PLUGIN_LOAD when the operator's config lacks what the manifest asks
// for); release() when it unloads (pool closed).
import type { Attack } from '../../generated/attack.js';
import type { ResolvedConfig } from '../../generated/config-resolved.js';
import {
  PluginError,
  type DbCall,
  type ExchangeRequest,
  type ExchangeResponse,
  type FetchRequest,
  type FetchResponse,
  type FilesCall,
  type HostServices,
  type LoadedPlugin,
  type NetworkBroker,
} from '../engine.js';
import { PluginDatabase } from './database.js';
import { PluginFiles, pluginFilesDir } from './files.js';

export { PluginDatabase } from './database.js';
export {
  DEFAULT_MAX_WRITE_BYTES,
  DEFAULT_QUOTA_BYTES,
  PluginFiles,
  folderBytes,
  pluginFilesDir,
  type FilesLimits,
} from './files.js';

type FilesConfig = ResolvedConfig['plugins']['files'];

export interface ServicesConfig {
  /** plugins.files; maxWriteBytes and quotaBytes default to the schema's defaults. */
  files: Omit<FilesConfig, 'maxWriteBytes' | 'quotaBytes'> &
    Partial<Pick<FilesConfig, 'maxWriteBytes' | 'quotaBytes'>>;
  databases: ResolvedConfig['plugins']['databases'];
  /** The store folder: the default files root is <dataDir>/files. */
  dataDir: string;
}

export class PluginServices implements Required<HostServices> {
  private readonly filesByPlugin = new Map<string, PluginFiles>();
  private readonly dbByPlugin = new Map<string, PluginDatabase>();

  constructor(
    private readonly broker: NetworkBroker,
    private readonly cfg: ServicesConfig,
  ) {}

  /** Readies what the manifest asks for; rejects with HT_PLUGIN_LOAD. */
  async prepare(plugin: LoadedPlugin): Promise<void> {
    const { name, capabilities } = plugin.manifest;
    await this.release(name);
    if (capabilities.files) {
      const { maxWriteBytes, quotaBytes } = this.cfg.files;
      const files = new PluginFiles(name, pluginFilesDir(this.cfg.files, this.cfg.dataDir, name), {
        maxWriteBytes,
        quotaBytes,
      });
      await files.prepare();
      this.filesByPlugin.set(name, files);
    }
    if (capabilities.database) {
      const db = this.cfg.databases[name];
      if (!db?.url)
        throw new PluginError(
          'HT_PLUGIN_LOAD',
          name,
          `the manifest asks for a database (capabilities.database) and the config has none: set plugins.databases.${name}.url`,
        );
      this.dbByPlugin.set(name, new PluginDatabase(name, db));
    }
  }

  /** Closes what prepare() opened for `name`. */
  async release(name: string): Promise<void> {
    this.filesByPlugin.get(name)?.close();
    this.filesByPlugin.delete(name);
    const db = this.dbByPlugin.get(name);
    this.dbByPlugin.delete(name);
    await db?.close();
  }

  /** The folder of a plugin with the files capability (while it is loaded). */
  filesDir(name: string): string | undefined {
    return this.filesByPlugin.get(name)?.dir;
  }

  fetch(plugin: LoadedPlugin, attack: Attack, req: FetchRequest): Promise<FetchResponse> {
    return this.broker.fetch(plugin, attack, req);
  }

  exchange(plugin: LoadedPlugin, attack: Attack, req: ExchangeRequest): Promise<ExchangeResponse> {
    return this.broker.exchange(plugin, attack, req);
  }

  files(plugin: LoadedPlugin, _attack: Attack, call: FilesCall): Promise<unknown> {
    const f = this.filesByPlugin.get(plugin.manifest.name);
    if (!f)
      return Promise.reject(
        new PluginError('HT_PLUGIN_UNAVAILABLE', plugin.manifest.name, 'ctx.files: not prepared'),
      );
    return f.call(call);
  }

  db(plugin: LoadedPlugin, _attack: Attack, call: DbCall): Promise<unknown> {
    const d = this.dbByPlugin.get(plugin.manifest.name);
    if (!d)
      return Promise.reject(
        new PluginError('HT_PLUGIN_UNAVAILABLE', plugin.manifest.name, 'ctx.db: not prepared'),
      );
    return d.call(call);
  }

  async close(): Promise<void> {
    const names = new Set([...this.filesByPlugin.keys(), ...this.dbByPlugin.keys()]);
    await Promise.all([...names].map((n) => this.release(n)));
  }
}
