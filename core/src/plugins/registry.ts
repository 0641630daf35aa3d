// Finds plugins in the plugin folders and keeps them in step with the disk:
// a folder dropped in is loaded without a restart, a folder taken out is
// unloaded once its in-flight tasks are done, a changed one is reloaded. A
// bad manifest is refused with the plugin's name, the field and the reason,
// and never stops the daemon.
import { existsSync, readdirSync, statSync, watch, type FSWatcher } from 'node:fs';
import { join } from 'node:path';
import type { ResolvedConfig } from '../generated/config-resolved.js';
import type { ResolvedManifest } from '../generated/plugin-manifest-resolved.js';
import type { Logger } from '../log.js';
import type { AttackStore } from '../store/attack-store.js';
import type { Engine, PluginRunner } from './engine.js';
import { MANIFEST_FILE, readManifest, validatePluginConfig } from './manifest.js';
import type { PluginServices } from './services/index.js';

export type PluginState = 'loading' | 'ready' | 'disabled' | 'failed' | 'invalid';

export interface PluginCounters {
  runs: number;
  ok: number;
  failed: number;
  timeouts: number;
  consecutiveFailures: number;
}

export interface PluginEntry {
  name: string;
  dir: string;
  state: PluginState;
  manifest?: ResolvedManifest;
  runner?: PluginRunner;
  config: Record<string, unknown>;
  /** Why it is invalid, failed or disabled. */
  reason?: string;
  lastError?: string;
  counters: PluginCounters;
  inFlight: number;
  /** mtimes of plugin.json and the entry file: a change reloads the plugin. */
  signature: string;
}

export interface PluginView {
  name: string;
  dir: string;
  state: PluginState;
  version?: string;
  engine?: string;
  capabilities?: ResolvedManifest['capabilities'];
  consumes?: ResolvedManifest['consumes'];
  reason?: string;
  lastError?: string;
  counters: PluginCounters;
  inFlight: number;
}

const RESCAN_MS = 1000;

export class PluginRegistry {
  private readonly entries = new Map<string, PluginEntry>();
  private readonly watchers: FSWatcher[] = [];
  private timer: NodeJS.Timeout | undefined;
  private scanning: Promise<void> | undefined;
  private rescanWanted = false;
  private stopped = false;

  constructor(
    private readonly dirs: string[],
    private readonly cfg: ResolvedConfig['plugins'],
    private readonly engines: Record<'worker' | 'wasm', Engine>,
    private readonly services: PluginServices,
    private readonly store: AttackStore,
    private readonly log: Logger,
  ) {}

  async start(): Promise<void> {
    await this.scan();
    for (const dir of this.dirs) {
      try {
        // fs.watch is fast but may miss events; the periodic rescan is the safety net.
        this.watchers.push(watch(dir, () => void this.scan()));
      } catch (err) {
        this.log.warn(
          { dir, err: String(err) },
          'plugin folder cannot be watched; rescanning periodically',
        );
      }
    }
    this.timer = setInterval(() => void this.scan(), RESCAN_MS);
    this.timer.unref();
  }

  /** Reconciles the loaded plugins with the folders on disk. */
  scan(): Promise<void> {
    if (this.scanning) {
      this.rescanWanted = true;
      return this.scanning;
    }
    this.scanning = this.reconcile().finally(() => {
      this.scanning = undefined;
      if (this.rescanWanted && !this.stopped) {
        this.rescanWanted = false;
        void this.scan();
      }
    });
    return this.scanning;
  }

  private async reconcile(): Promise<void> {
    const seen = new Set<string>();
    for (const root of this.dirs) {
      if (!existsSync(root)) continue;
      for (const d of readdirSync(root, { withFileTypes: true })) {
        if (!d.isDirectory() || d.name.startsWith('.')) continue;
        const dir = join(root, d.name);
        seen.add(dir);
        const signature = signatureOf(dir);
        const old = this.entries.get(dir);
        if (old && old.signature === signature) continue;
        if (old) await this.unload(old, 'changed on disk');
        if (this.stopped) return;
        await this.load(dir, signature);
      }
    }
    for (const [dir, e] of this.entries)
      if (!seen.has(dir)) await this.unload(e, 'removed from the plugins folder');
  }

  private async load(dir: string, signature: string): Promise<void> {
    const counters = { runs: 0, ok: 0, failed: 0, timeouts: 0, consecutiveFailures: 0 };
    const result = readManifest(dir);
    if (!result.ok) {
      const reason = result.errors.join('; ');
      this.entries.set(dir, {
        name: result.name,
        dir,
        state: 'invalid',
        reason,
        config: {},
        counters,
        inFlight: 0,
        signature,
      });
      this.log.error(
        { plugin: result.name, dir, errors: result.errors },
        `plugin ${result.name} refused: ${reason}`,
      );
      return;
    }
    const { manifest } = result.plugin;
    const entry: PluginEntry = {
      name: manifest.name,
      dir,
      state: 'loading',
      manifest,
      config: {},
      counters,
      inFlight: 0,
      signature,
    };
    this.entries.set(dir, entry);
    const clash = [...this.entries.values()].find(
      (e) => e !== entry && e.name === manifest.name && e.state !== 'invalid',
    );
    if (clash)
      return this.refuse(entry, `/name: "${manifest.name}" is already used by ${clash.dir}`);
    const config = structuredClone(this.cfg.config[manifest.name] ?? {});
    const configErrors = validatePluginConfig(manifest, config);
    if (configErrors.length) return this.refuse(entry, configErrors.join('; '));
    entry.config = config;
    const stored = await this.store.getPluginState(manifest.name);
    if (stored?.disabled || this.cfg.disabled.includes(manifest.name)) {
      entry.state = 'disabled';
      entry.reason = stored?.disabled ? 'disabled by the operator' : 'listed in plugins.disabled';
      this.log.info({ plugin: manifest.name }, `plugin ${manifest.name} is disabled`);
      return;
    }
    await this.startRunner(entry);
  }

  private refuse(entry: PluginEntry, reason: string): void {
    entry.state = 'invalid';
    entry.reason = reason;
    this.log.error(
      { plugin: entry.name, dir: entry.dir },
      `plugin ${entry.name} refused: ${reason}`,
    );
  }

  private async startRunner(entry: PluginEntry): Promise<void> {
    const result = readManifest(entry.dir);
    if (!result.ok) return this.refuse(entry, result.errors.join('; '));
    const m = result.plugin.manifest;
    try {
      // Its folder and database first: a plugin whose services cannot be had does not load.
      await this.services.prepare(result.plugin);
      entry.runner = await this.engines[m.engine].start(result.plugin, this.services);
      entry.state = 'ready';
      entry.reason = undefined;
      this.log.info(
        { plugin: m.name, version: m.version, engine: m.engine, dir: entry.dir },
        `plugin ${m.name} ${m.version} loaded (${m.engine})`,
      );
    } catch (err) {
      await this.services.release(m.name);
      entry.state = 'failed';
      entry.reason = entry.lastError = (err as Error).message;
      this.log.error(
        { plugin: m.name, err: (err as Error).message },
        `plugin ${m.name} failed to load`,
      );
    }
  }

  private async unload(entry: PluginEntry, why: string): Promise<void> {
    this.entries.delete(entry.dir);
    // In-flight tasks finish first; new attacks no longer see this entry.
    for (let i = 0; i < 600 && entry.inFlight > 0; i++) await new Promise((r) => setTimeout(r, 50));
    await entry.runner?.close().catch(() => undefined);
    entry.runner = undefined;
    if (entry.manifest && entry.state !== 'invalid') await this.services.release(entry.name);
    this.log.info({ plugin: entry.name, dir: entry.dir }, `plugin ${entry.name} unloaded: ${why}`);
  }

  /** Every plugin folder seen, whatever its state. */
  all(): PluginEntry[] {
    return [...this.entries.values()];
  }

  /** Plugins that take tasks now. */
  ready(): PluginEntry[] {
    return [...this.entries.values()].filter((e) => e.state === 'ready');
  }

  find(name: string): PluginEntry | undefined {
    return [...this.entries.values()].find((e) => e.name === name && e.state !== 'invalid');
  }

  list(): PluginView[] {
    return [...this.entries.values()]
      .map((e) => ({
        name: e.name,
        dir: e.dir,
        state: e.state,
        ...(e.manifest
          ? {
              version: e.manifest.version,
              engine: e.manifest.engine,
              capabilities: e.manifest.capabilities,
              consumes: e.manifest.consumes,
            }
          : {}),
        ...(e.reason ? { reason: e.reason } : {}),
        ...(e.lastError ? { lastError: e.lastError } : {}),
        counters: { ...e.counters },
        inFlight: e.inFlight,
      }))
      .sort((a, b) => a.name.localeCompare(b.name));
  }

  /** Operator's enable: kept in the store across restarts. */
  async enable(name: string): Promise<PluginView | undefined> {
    const e = this.find(name);
    if (!e) return undefined;
    await this.store.setPluginState(name, { disabled: false });
    if (e.state !== 'ready') {
      e.counters.consecutiveFailures = 0;
      await this.startRunner(e);
    }
    return this.list().find((v) => v.name === name);
  }

  /** Operator's disable, or the host's after repeated failures (not kept). */
  async disable(
    name: string,
    reason: string,
    byOperator: boolean,
  ): Promise<PluginView | undefined> {
    const e = this.find(name);
    if (!e) return undefined;
    if (byOperator) await this.store.setPluginState(name, { disabled: true });
    e.state = byOperator ? 'disabled' : 'failed';
    e.reason = reason;
    const runner = e.runner;
    e.runner = undefined;
    for (let i = 0; i < 600 && e.inFlight > 0; i++) await new Promise((r) => setTimeout(r, 50));
    await runner?.close().catch(() => undefined);
    await this.services.release(name);
    this.log.warn({ plugin: name, reason }, `plugin ${name} disabled: ${reason}`);
    return this.list().find((v) => v.name === name);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    for (const w of this.watchers) w.close();
    await this.scanning;
    for (const e of [...this.entries.values()]) await this.unload(e, 'daemon stopping');
  }
}

function signatureOf(dir: string): string {
  const mtime = (p: string) => {
    try {
      return String(statSync(p).mtimeMs);
    } catch {
      return '-';
    }
  };
  const manifest = readManifestEntry(dir);
  return `${mtime(join(dir, MANIFEST_FILE))}:${manifest ? mtime(join(dir, manifest)) : '-'}`;
}

function readManifestEntry(dir: string): string | undefined {
  const r = readManifest(dir);
  return r.ok ? r.plugin.manifest.entry : undefined;
}
