// The test harness: a plugin folder run the way the daemon runs it. The
// manifest is read with core's readManifest, the plugin is started in core's
// own engine (worker or wasm) with the limits it declares, and each result is
// checked the way the daemon's pipeline checks it (schemas/plugin-result.schema.json,
// result size, capabilities) before it is returned.
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Attack } from '../types.js';
import type { ArtifactOut, Finding, PluginOutput } from '../types.js';
import {
  HostBroker,
  PluginServices,
  networkPolicy,
  wantsReports,
  corePaths,
  checkEgress,
  checkPluginOutput,
  readManifest,
  validatePluginConfig,
  wantsArtifact,
  wantsAttack,
  wasmEngine,
  workerEngine,
  type ArtifactInput,
  type ExchangeRequest,
  type ExchangeResponse,
  type FetchRequest,
  type FetchResponse,
  type LoadedPlugin,
  type NetworkBroker,
  type PluginRecord,
  type PluginRunner,
  type PluginTaskInput,
  type ResolvedManifest,
} from '../core.js';
import { HarnessError } from './errors.js';
import { checkAttack } from './fixture.js';

export interface HarnessOptions {
  /** The plugin's config (plugins.config.<name>); checked against its configSchema, defaults applied. */
  config?: Record<string, unknown>;
  /** Receives each log line of the plugin (ctx.log, console.*, honeytrap.log). They are also kept in `logs`. */
  log?: (message: string) => void;
  /**
   * Answers ctx.fetch instead of the network, after the same egress checks
   * the daemon makes (attacker only, or the allow-list). Without it ctx.fetch
   * goes out through the daemon's own broker.
   */
  fetch?: (req: FetchRequest, attack: Attack) => FetchResponse | Promise<FetchResponse>;
  /** Let the real broker reach loopback and private addresses (a local test server). */
  allowPrivateNetwork?: boolean;
  /** The daemon's plugins.network for the real broker (hosts, limits); defaults as in the daemon. */
  network?: Parameters<typeof networkPolicy>[0];
  /**
   * Answers ctx.exchange instead of the network (with fetch: a stub broker;
   * the egress checks run first). Without either, the real broker serves both.
   */
  exchange?: (req: ExchangeRequest, attack: Attack) => ExchangeResponse | Promise<ExchangeResponse>;
  /**
   * The folder ctx.files writes in (capabilities.files), as plugins.files.dirs.<name>
   * would give it. Default: a fresh temp folder the harness makes (see
   * PluginUnderTest.filesDir); it is left in place for the test to read.
   */
  filesDir?: string;
  /** The database ctx.db uses (capabilities.database), as plugins.databases.<name>. */
  database?: { url: string; poolSize?: number };
  /** The daemon's plugins.maxResultBytes (default: the daemon's default). */
  maxResultBytes?: number;
  /** The daemon's plugins.maxArtifactBytes (default: the daemon's default). */
  maxArtifactBytes?: number;
}

export interface RunOptions {
  /** Outputs of the plugins named in the manifest's `after`, by name (input.results). */
  results?: Record<string, PluginOutput>;
  /** Run even when the manifest's consumes filters would keep the daemon from running it. */
  ignoreFilters?: boolean;
}

/** A checked result: both lists present (empty when the plugin returned nothing). */
export interface CheckedOutput {
  findings: Finding[];
  artifacts: ArtifactOut[];
}

export interface ArtifactFixture {
  data: Uint8Array | string;
  contentType?: string;
  name?: string;
  /** The plugin that wrote it (default "test"). */
  producer?: string;
}

let configSchema: { properties: { plugins: { properties: Record<string, { default: number }> } } };

/** The daemon's default for plugins.<key>, from schemas/config.schema.json. */
function configDefault(key: 'maxResultBytes' | 'maxArtifactBytes'): number {
  configSchema ??= JSON.parse(
    readFileSync(join(corePaths.schemas, 'config.schema.json'), 'utf8'),
  ) as typeof configSchema;
  const d = configSchema.properties.plugins.properties[key]?.default;
  if (typeof d !== 'number')
    throw new Error(`config.schema.json has no default for plugins.${key}`);
  return d;
}

/** Why the daemon would not hand this attack to the plugin, or undefined when it would. */
export function attackFilterMiss(m: ResolvedManifest, a: Attack): string | undefined {
  if (wantsAttack(m, a)) return undefined;
  const f = m.consumes.attacks;
  if (!f) return 'the manifest does not consume attacks (consumes.attacks is absent)';
  if (f.protocols && !f.protocols.includes(a.proto))
    return `consumes.attacks.protocols is ${f.protocols.join(', ')}; the attack is ${a.proto}`;
  const min = f.minBytes ?? 1;
  if (a.received.length < min)
    return `consumes.attacks.minBytes is ${min}; the attack received ${a.received.length} bytes`;
  return `consumes.attacks.ports is ${(f.ports ?? []).join(', ')}; the attack is on port ${a.local.port}`;
}

/** The egress checks of the daemon's broker, for calls answered by a test's stubs. */
class StubBroker implements NetworkBroker {
  constructor(private readonly opts: Pick<HarnessOptions, 'fetch' | 'exchange' | 'network'>) {}

  private check(plugin: LoadedPlugin, attack: Attack, url: string, use: 'fetch' | 'exchange') {
    checkEgress(plugin, attack, url, {
      operatorHosts: this.opts.network?.hosts?.[plugin.manifest.name] ?? [],
      use,
    });
  }

  async fetch(plugin: LoadedPlugin, attack: Attack, req: FetchRequest): Promise<FetchResponse> {
    this.check(plugin, attack, req.url, 'fetch');
    if (!this.opts.fetch)
      throw new HarnessError('ctx.fetch called, but the harness was given only an exchange stub');
    return this.opts.fetch(req, attack);
  }

  async exchange(
    plugin: LoadedPlugin,
    attack: Attack,
    req: ExchangeRequest,
  ): Promise<ExchangeResponse> {
    this.check(plugin, attack, req.url, 'exchange');
    if (!this.opts.exchange)
      throw new HarnessError('ctx.exchange called, but the harness was given only a fetch stub');
    return this.opts.exchange(req, attack);
  }
}

/** A plugin folder loaded in its engine, for several runs. close() it when done. */
export class PluginUnderTest {
  /** Every log line the plugin wrote, in order. */
  readonly logs: string[] = [];
  /** The folder ctx.files writes in (capabilities.files), else undefined. */
  filesDir: string | undefined;
  private runner: PluginRunner | undefined;
  private services: PluginServices | undefined;

  private constructor(
    readonly plugin: LoadedPlugin,
    readonly config: Record<string, unknown>,
    private readonly opts: HarnessOptions,
  ) {}

  get manifest(): ResolvedManifest {
    return this.plugin.manifest;
  }

  /** Reads and checks the folder (manifest, entry, config) and starts the plugin in its engine. */
  static async load(dir: string, opts: HarnessOptions = {}): Promise<PluginUnderTest> {
    const abs = resolve(dir);
    const r = readManifest(abs);
    if (!r.ok) throw new HarnessError(`plugin ${r.name} (${abs}) is not valid:`, r.errors);
    const config = structuredClone(opts.config ?? {});
    const configErrors = validatePluginConfig(r.plugin.manifest, config);
    if (configErrors.length)
      throw new HarnessError(
        `plugin ${r.plugin.manifest.name}: the config does not match its configSchema:`,
        configErrors,
      );
    const p = new PluginUnderTest(r.plugin, config, opts);
    const log = (line: string) => {
      p.logs.push(line);
      opts.log?.(line);
    };
    // The engines the daemon uses, with the plugin's log lines routed to the test.
    const engine =
      r.plugin.manifest.engine === 'worker' ? await workerEngine(log) : await wasmEngine(log);
    const broker: NetworkBroker =
      opts.fetch || opts.exchange
        ? new StubBroker(opts)
        : new HostBroker(
            networkPolicy({ allowPrivate: opts.allowPrivateNetwork ?? false, ...opts.network }),
          );
    const name = r.plugin.manifest.name;
    if (r.plugin.manifest.capabilities.files)
      p.filesDir = resolve(opts.filesDir ?? mkdtempSync(join(tmpdir(), `${name}-files-`)));
    // The daemon's own services: the same folder confinement and database handling.
    const services = new PluginServices(broker, {
      files: { dirs: p.filesDir ? { [name]: p.filesDir } : {} },
      databases: opts.database
        ? { [name]: { url: opts.database.url, poolSize: opts.database.poolSize ?? 2 } }
        : {},
      dataDir: tmpdir(),
    });
    if (r.plugin.manifest.capabilities.database && !opts.database)
      throw new HarnessError(
        `plugin ${name} asks for a database (capabilities.database): give the harness database: { url } (the daemon's plugins.databases.${name}.url)`,
      );
    await services.prepare(r.plugin);
    p.services = services;
    try {
      p.runner = await engine.start(r.plugin, services);
    } catch (err) {
      await services.close();
      throw err;
    }
    return p;
  }

  /** Runs one attack task; resolves with the checked result, rejects with the plugin's PluginError. */
  async run(attack: Attack, opts: RunOptions = {}): Promise<CheckedOutput> {
    checkAttack(attack);
    if (!opts.ignoreFilters) {
      const miss = attackFilterMiss(this.manifest, attack);
      if (miss)
        throw new HarnessError(
          `plugin ${this.manifest.name} would not be given this attack by the daemon: ${miss} (pass ignoreFilters to run it anyway)`,
        );
    }
    return this.task({
      kind: 'attack',
      attack,
      config: this.config,
      results: opts.results ?? {},
    });
  }

  /** Runs one artifact task: `art` as if another plugin had written it while analysing `attack`. */
  async runArtifact(
    art: ArtifactFixture,
    attack: Attack,
    opts: Pick<RunOptions, 'ignoreFilters'> = {},
  ): Promise<CheckedOutput> {
    checkAttack(attack);
    const input = artifactInput(art);
    if (!opts.ignoreFilters && !wantsArtifact(this.manifest, input.contentType, input.size))
      throw new HarnessError(
        `plugin ${this.manifest.name} would not be given this artifact by the daemon (consumes.artifacts: ${JSON.stringify(this.manifest.consumes.artifacts ?? null)}; artifact ${input.contentType}, ${input.size} bytes)`,
      );
    return this.task({
      kind: 'artifact',
      attack,
      artifact: input,
      config: this.config,
      results: {},
    });
  }

  /**
   * Runs one report task, as the daemon does for an output plugin
   * (consumes.reports) once the analysis of `attack` is done: `records` are
   * the other plugins' records (as `honeytrap attacks show` lists them);
   * `artifacts` are handed over with their bytes when the manifest asks for
   * artifactData.
   */
  async runReport(
    attack: Attack,
    records: Record<string, PluginRecord> = {},
    artifacts: ArtifactFixture[] = [],
    opts: Pick<RunOptions, 'ignoreFilters'> = {},
  ): Promise<CheckedOutput> {
    checkAttack(attack);
    if (!opts.ignoreFilters && !wantsReports(this.manifest))
      throw new HarnessError(
        `plugin ${this.manifest.name} would not be given reports by the daemon: consumes.reports is absent (or the engine is not worker)`,
      );
    const input: PluginTaskInput = {
      kind: 'report',
      attack: { ...attack, plugins: {} },
      records,
      config: this.config,
      results: {},
    };
    if (this.manifest.consumes.reports?.artifactData)
      input.artifacts = artifacts.map(artifactInput);
    return this.task(input);
  }

  async close(): Promise<void> {
    const r = this.runner;
    this.runner = undefined;
    await r?.close();
    await this.services?.close();
    this.services = undefined;
  }

  private async task(input: PluginTaskInput): Promise<CheckedOutput> {
    if (!this.runner) throw new HarnessError(`plugin ${this.manifest.name} is closed`);
    const raw = await this.runner.run(input);
    return this.check(raw);
  }

  /** The pipeline's own checks (core's checkPluginOutput), so the harness refuses what the daemon refuses. */
  private check(raw: unknown): CheckedOutput {
    return checkPluginOutput(this.manifest, raw, {
      maxResultBytes: this.opts.maxResultBytes ?? configDefault('maxResultBytes'),
      maxArtifactBytes: this.opts.maxArtifactBytes ?? configDefault('maxArtifactBytes'),
    });
  }
}

/** An artifact as the host hands it to a plugin. */
function artifactInput(art: ArtifactFixture): ArtifactInput {
  const data = typeof art.data === 'string' ? Buffer.from(art.data) : Buffer.from(art.data);
  return {
    sha256: createHash('sha256').update(data).digest('hex'),
    contentType: art.contentType ?? 'application/octet-stream',
    size: data.length,
    data: data.toString('base64'),
    producer: art.producer ?? 'test',
    ...(art.name === undefined ? {} : { name: art.name }),
  };
}

/** Loads a plugin folder in its engine; close() the result when done. */
export function loadPlugin(dir: string, opts: HarnessOptions = {}): Promise<PluginUnderTest> {
  return PluginUnderTest.load(dir, opts);
}

/**
 * Runs the plugin in `dir` on one attack, as the daemon would, and returns
 * its checked result. Rejects with a HarnessError when the folder, config or
 * attack is wrong, and with core's PluginError (code HT_PLUGIN_TIMEOUT,
 * _MEMORY, _EXIT, _THREW, _DENIED, _RESULT) when the plugin fails.
 *
 * ```ts
 * const out = await runPlugin('.', attackFixture({ received: 'hello ACME' }));
 * assert.deepEqual(out.findings, [{ type: 'x-acme', value: 'ACME', offset: 6 }]);
 * ```
 */
export async function runPlugin(
  dir: string,
  attack: Attack,
  opts: HarnessOptions & RunOptions = {},
): Promise<CheckedOutput> {
  const p = await loadPlugin(dir, opts);
  try {
    return await p.run(attack, opts);
  } finally {
    await p.close();
  }
}
