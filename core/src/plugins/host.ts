// The plugin host as the daemon sees it: the registry (what is loaded), the
// pipeline (what runs), the engines and the host services (network broker,
// files, databases), started and stopped together.
import { join } from 'node:path';
import type { Attack } from '../generated/attack.js';
import type { ResolvedConfig } from '../generated/config-resolved.js';
import type { Logger } from '../log.js';
import { paths } from '../paths.js';
import type { AttackStore } from '../store/attack-store.js';
import { HostBroker } from './broker/index.js';
import type { Engine } from './engine.js';
import type { OutboxStats } from './outbox.js';
import { PluginPipeline, type PipelineStats } from './pipeline.js';
import { PluginRegistry, type PluginView } from './registry.js';
import { PluginServices } from './services/index.js';

/** How long shutdown waits for plugins to finish the attacks they have. */
const DRAIN_MS = 10_000;

export class PluginHost {
  readonly registry: PluginRegistry;
  readonly pipeline: PluginPipeline;
  readonly services: PluginServices;

  constructor(
    cfg: ResolvedConfig['plugins'],
    engines: Record<'worker' | 'wasm', Engine>,
    store: AttackStore,
    log: Logger,
  ) {
    const dirs = [...cfg.dirs, ...(cfg.builtin ? [join(paths.core, '..', 'plugins')] : [])];
    const broker = new HostBroker(cfg.network);
    this.services = new PluginServices(broker, {
      files: cfg.files,
      databases: cfg.databases,
      dataDir: store.path,
    });
    this.registry = new PluginRegistry(dirs, cfg, engines, this.services, store, log);
    this.pipeline = new PluginPipeline(this.registry, store, cfg, log);
  }

  async start(): Promise<void> {
    await this.registry.start();
    // Plugins are loaded: reports left in the outbox by an earlier run go out now.
    await this.pipeline.start();
  }

  submit(attack: Attack): void {
    this.pipeline.submit(attack);
  }

  /** Every plugin, with its outbox (at-least-once reports waiting) when it has one. */
  list(): (PluginView & { outbox?: OutboxStats })[] {
    const outbox = this.pipeline.outbox.stats();
    return this.registry.list().map((v) => (outbox[v.name] ? { ...v, outbox: outbox[v.name] } : v));
  }

  stats(): PipelineStats & { plugins: number; ready: number } {
    return {
      ...this.pipeline.snapshot(),
      plugins: this.registry.list().length,
      ready: this.registry.ready().length,
    };
  }

  async stop(): Promise<void> {
    await Promise.race([
      this.pipeline.drained(),
      new Promise((r) => setTimeout(r, DRAIN_MS).unref()),
    ]);
    await this.pipeline.stop();
    await this.registry.stop();
    await this.services.close();
  }
}
