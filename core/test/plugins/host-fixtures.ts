// The plugin host inside one test process: a temp folder with plugin folders
// written by the test, a real LevelDB store, the real engines and a config
// with test-sized values. Shared by the pipeline and reports tests.
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { newAttackId } from '../../src/attack/id.js';
import type { Attack } from '../../src/generated/attack.js';
import type { ResolvedConfig } from '../../src/generated/config-resolved.js';
import type { PluginRecord } from '../../src/generated/plugin-record.js';
import { createEngines } from '../../src/plugins/engines/index.js';
import { PluginHost } from '../../src/plugins/host.js';
import { AttackStore } from '../../src/store/attack-store.js';

export const silentLog = pino({ level: 'silent' });

/** A worker plugin that finds `word` in what the attacker sent. */
export const findWord = (word: string) => `export default { analyze(input) {
  const text = Buffer.from(input.attack.received.data, 'base64').toString('latin1');
  const at = text.indexOf(${JSON.stringify(word)});
  return { findings: at < 0 ? [] : [{ type: 'signature', value: ${JSON.stringify(word)}, offset: at }] };
} };`;

/** Polls `fn` until it returns something other than undefined or false. */
export async function until<T>(
  what: string,
  fn: () => Promise<T | undefined> | T | undefined,
  ms = 10_000,
): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/**
 * Writes a worker plugin folder `dir`: plugin.json (`manifest` over test
 * defaults: host API ^1.0.0, consumes attacks, small limits) and index.mjs.
 */
export function writeWorkerPlugin(
  dir: string,
  name: string,
  code: string,
  manifest: Record<string, unknown> = {},
): string {
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    join(dir, 'plugin.json'),
    JSON.stringify({
      manifestVersion: 1,
      name,
      version: '1.0.0',
      hostApi: '^1.0.0',
      engine: 'worker',
      entry: 'index.mjs',
      consumes: { attacks: {} },
      limits: { timeoutMs: 1500, memoryMb: 64, concurrency: 2 },
      ...manifest,
    }),
  );
  writeFileSync(join(dir, 'index.mjs'), code);
  return dir;
}

export class HostFixture {
  host: PluginHost | undefined;

  private constructor(
    readonly root: string,
    public store: AttackStore,
  ) {}

  static async create(prefix: string): Promise<HostFixture> {
    const root = mkdtempSync(join(tmpdir(), prefix));
    mkdirSync(join(root, 'plugins'));
    return new HostFixture(root, await HostFixture.openStore(root));
  }

  private static openStore(root: string): Promise<AttackStore> {
    return AttackStore.open(join(root, 'store'), { batchSize: 16, flushIntervalMs: 5 });
  }

  /** Writes a worker plugin folder in the watched plugins folder (see writeWorkerPlugin). */
  plugin(name: string, code: string, manifest: Record<string, unknown> = {}): string {
    return writeWorkerPlugin(join(this.root, 'plugins', name), name, code, manifest);
  }

  config(over: Partial<ResolvedConfig['plugins']> = {}): ResolvedConfig['plugins'] {
    return {
      dirs: [join(this.root, 'plugins')],
      builtin: false,
      disabled: [],
      config: {},
      maxBacklog: 1000,
      failureLimit: 3,
      maxArtifactBytes: 1 << 20,
      maxResultBytes: 1 << 20,
      network: {
        allowPrivate: false,
        hosts: {},
        maxBytes: 1 << 20,
        timeoutMs: 10_000,
        perDestination: { requests: 100, perSeconds: 1 },
        maxConcurrent: 16,
      },
      files: {
        root: join(this.root, 'files'),
        dirs: {},
        maxWriteBytes: 64 << 20,
        quotaBytes: 1 << 30,
      },
      databases: {},
      retry: { initialMs: 50, maxMs: 400, maxQueued: 1000 },
      ...over,
    };
  }

  async startHost(over: Partial<ResolvedConfig['plugins']> = {}): Promise<PluginHost> {
    this.host = new PluginHost(this.config(over), createEngines(silentLog), this.store, silentLog);
    await this.host.start();
    return this.host;
  }

  /** Stops the host and reopens the store, as a daemon restart does. */
  async restart(over: Partial<ResolvedConfig['plugins']> = {}): Promise<PluginHost> {
    await this.host?.stop();
    this.host = undefined;
    await this.store.close();
    this.store = await HostFixture.openStore(this.root);
    return this.startHost(over);
  }

  /** Stores an attack string that received `received`. */
  async attack(received: string, port = 2323, proto: 'tcp' | 'udp' = 'tcp'): Promise<Attack> {
    const now = Date.now();
    const a: Attack = {
      schemaVersion: 1,
      id: newAttackId(now),
      sensor: 'test',
      startedAt: new Date(now).toISOString(),
      endedAt: new Date(now).toISOString(),
      proto,
      local: { address: '10.99.0.2', port },
      remote: { address: '10.99.0.1', port: 40000 },
      mode: 'normal',
      endReason: 'closed',
      received: {
        length: Buffer.byteLength(received),
        data: Buffer.from(received).toString('base64'),
        truncated: false,
      },
      sent: { length: 0, data: '', truncated: false },
      chunks: [],
      plugins: {},
    };
    await this.store.save(a);
    return a;
  }

  /** Submits `a`, waits until the pipeline is idle and reads its records back. */
  async results(h: PluginHost, a: Attack): Promise<Record<string, PluginRecord>> {
    h.submit(a);
    await h.pipeline.drained();
    return (await this.store.get(a.id))!.plugins as Record<string, PluginRecord>;
  }

  async close(): Promise<void> {
    await this.host?.stop();
    this.host = undefined;
    await this.store.close();
    rmSync(this.root, { recursive: true, force: true });
  }
}
