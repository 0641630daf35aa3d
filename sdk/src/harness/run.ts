// The test harness: a plugin folder run the way the daemon runs it. The
// manifest is read with core's readManifest, the plugin is started in core's
// own engine (worker or wasm) with the limits it declares, and each result is
// checked the way the daemon's pipeline checks it (schemas/plugin-result.schema.json,
// result size, capabilities) before it is returned.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Attack } from '../types.js';
import type { ArtifactOut, Finding, PluginOutput } from '../types.js';
import {
  HostBroker,
  networkPolicy,
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
  type FetchRequest,
  type FetchResponse,
  type LoadedPlugin,
  type NetworkBroker,
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

/** The egress checks of the daemon's broker, for a fetch answered by a test's stub. */
class StubBroker implements NetworkBroker {
  constructor(private readonly answer: NonNullable<HarnessOptions['fetch']>) {}

  async fetch(plugin: LoadedPlugin, attack: Attack, req: FetchRequest): Promise<FetchResponse> {
    checkEgress(plugin, attack, req.url);
    return this.answer(req, attack);
  }

  exchange(): Promise<never> {
    return Promise.reject(new Error('ctx.exchange is not built yet'));
  }
}

/** A plugin folder loaded in its engine, for several runs. close() it when done. */
export class PluginUnderTest {
  /** Every log line the plugin wrote, in order. */
  readonly logs: string[] = [];
  private runner: PluginRunner | undefined;

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
    const broker: NetworkBroker = opts.fetch
      ? new StubBroker(opts.fetch)
      : new HostBroker(
          networkPolicy({ allowPrivate: opts.allowPrivateNetwork ?? false, ...opts.network }),
        );
    p.runner = await engine.start(r.plugin, broker);
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
    const data = typeof art.data === 'string' ? Buffer.from(art.data) : Buffer.from(art.data);
    const input: ArtifactInput = {
      sha256: createHash('sha256').update(data).digest('hex'),
      contentType: art.contentType ?? 'application/octet-stream',
      size: data.length,
      data: data.toString('base64'),
      producer: art.producer ?? 'test',
      ...(art.name === undefined ? {} : { name: art.name }),
    };
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

  async close(): Promise<void> {
    const r = this.runner;
    this.runner = undefined;
    await r?.close();
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
