// The plugin pipeline: every stored attack goes to the plugins whose filters
// match, in parallel (a plugin that declares `after` waits for those). Each
// result is checked (shape, size, capabilities) before anything is kept;
// artifacts are stored content-addressed and handed to the plugins that
// consume them. Once every analysis plugin and artifact round is done, each
// output plugin (consumes.reports) gets a report: the attack with every
// record read back from the store (at-least-once ones through the outbox,
// outbox.ts). A plugin's failure is recorded with the attack, counted, and
// never stops the core or other plugins; one that keeps failing is disabled.
import type { Attack } from '../generated/attack.js';
import type { ResolvedConfig } from '../generated/config-resolved.js';
import type { ResolvedManifest } from '../generated/plugin-manifest-resolved.js';
import type { PluginOutput } from '../generated/plugin-result.js';
import type { ArtifactRef, PluginRecord } from '../generated/plugin-record.js';
import type { Logger } from '../log.js';
import type { AttackStore } from '../store/attack-store.js';
import { PluginError, type ArtifactInput, type PluginTaskInput } from './engine.js';
import { sniffContentType } from './file-type.js';
import { wantsArtifact, wantsAttack, wantsReports } from './filters.js';
import { ReportOutbox, type Delivery, type OutboxStats } from './outbox.js';
import { checkPluginOutput } from './output.js';
import type { PluginEntry, PluginRegistry } from './registry.js';

/** Artifacts handed on to artifact consumers at most this many generations deep. */
const MAX_ARTIFACT_DEPTH = 3;

export interface PipelineStats {
  submitted: number;
  processed: number;
  shed: number;
  backlog: number;
  artifacts: number;
  /** Time from an attack being stored to its plugin results being stored, over the last attacks. */
  latencyMs: { p50: number; p99: number; samples: number };
  /** Reports handed to output plugins (at-most-once and at-least-once deliveries that ran). */
  reports: number;
  /** At-least-once reports per output plugin: queued now, delivered, failures, dropped. */
  outbox: Record<string, OutboxStats>;
}

/** Latency samples kept for the percentiles. */
const LATENCY_WINDOW = 4096;

interface Produced {
  ref: ArtifactRef;
  data: Buffer;
  producer: string;
}

export class PluginPipeline {
  private backlog = 0;
  private readonly idle: (() => void)[] = [];
  private lastShedLog = 0;
  private readonly latencies: number[] = [];
  private latencyNext = 0;
  readonly stats: PipelineStats = {
    submitted: 0,
    processed: 0,
    shed: 0,
    backlog: 0,
    artifacts: 0,
    latencyMs: { p50: 0, p99: 0, samples: 0 },
    reports: 0,
    outbox: {},
  };
  readonly outbox: ReportOutbox;

  private recordLatency(ms: number): void {
    if (this.latencies.length < LATENCY_WINDOW) this.latencies.push(ms);
    else this.latencies[this.latencyNext] = ms;
    this.latencyNext = (this.latencyNext + 1) % LATENCY_WINDOW;
  }

  /** Stats with the latency percentiles computed now. */
  snapshot(): PipelineStats {
    const sorted = [...this.latencies].sort((a, b) => a - b);
    const at = (q: number) =>
      sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
    return {
      ...this.stats,
      latencyMs: { p50: round(at(0.5)), p99: round(at(0.99)), samples: sorted.length },
      outbox: this.outbox.stats(),
    };
  }

  constructor(
    private readonly registry: PluginRegistry,
    private readonly store: AttackStore,
    private readonly cfg: ResolvedConfig['plugins'],
    private readonly log: Logger,
  ) {
    this.outbox = new ReportOutbox(store, registry, cfg.retry, log, (p, id) =>
      this.deliverReport(p, id),
    );
  }

  /** Replays the reports earlier runs left in the outbox. */
  start(): Promise<void> {
    return this.outbox.start();
  }

  /** Stops outbox retries; waits for deliveries in flight. */
  stop(): Promise<void> {
    return this.outbox.stop();
  }

  /** Hands a stored attack to the plugins; never blocks the caller. */
  submit(attack: Attack): void {
    if (this.registry.ready().length === 0 && this.outputs().length === 0) return;
    this.stats.submitted++;
    if (this.backlog >= this.cfg.maxBacklog) {
      // Bounded backlog: the core keeps accepting at full rate; what is shed is counted.
      this.stats.shed++;
      const now = Date.now();
      if (now - this.lastShedLog > 10_000) {
        this.lastShedLog = now;
        this.log.warn(
          { shed: this.stats.shed, backlog: this.backlog },
          'plugins saturated: attacks skip the plugins',
        );
      }
      return;
    }
    this.backlog++;
    this.stats.backlog = this.backlog;
    const started = performance.now();
    this.process(attack)
      .then((ran) => {
        if (ran) this.recordLatency(performance.now() - started);
      })
      .catch((err: unknown) =>
        this.log.error({ err: String(err), attack: attack.id }, 'plugin pipeline failed'),
      )
      .finally(() => {
        this.backlog--;
        this.stats.backlog = this.backlog;
        this.stats.processed++;
        if (this.backlog === 0) for (const f of this.idle.splice(0)) f();
      });
  }

  /** Resolves when no attack is being processed. */
  drained(): Promise<void> {
    return this.backlog === 0 ? Promise.resolve() : new Promise((r) => this.idle.push(r));
  }

  /** Runs the matching plugins, then hands the reports out; false when no analysis plugin matched. */
  private async process(attack: Attack): Promise<boolean> {
    const ran = await this.analyse(attack);
    await this.reports(attack);
    return ran;
  }

  /** Runs the matching analysis plugins and the artifact rounds; false when none matched. */
  private async analyse(attack: Attack): Promise<boolean> {
    const plugins = this.registry
      .ready()
      .filter((e) => e.manifest && wantsAttack(e.manifest, attack));
    if (plugins.length === 0) return false;
    const records: Record<string, PluginRecord> = {};
    const produced: Produced[] = [];
    const outputs = new Map<string, Promise<PluginOutput | undefined>>();
    const names = new Set(plugins.map((p) => p.name));
    for (const p of orderByAfter(plugins)) {
      const deps = (p.manifest?.after ?? []).filter((n) => names.has(n));
      outputs.set(
        p.name,
        (async () => {
          const results: Record<string, PluginOutput> = {};
          for (const d of deps) {
            const out = await outputs.get(d);
            if (out) results[d] = out;
          }
          const { record, output } = await this.runOne(
            p,
            { kind: 'attack', attack, config: p.config, results },
            produced,
          );
          records[p.name] = record;
          return output;
        })(),
      );
    }
    await Promise.all(outputs.values());
    await this.store.setPluginResults(attack.id, records);
    await this.artifactRounds(attack, produced);
    return true;
  }

  /** Hands new artifacts to the plugins that consume them, a few generations deep. */
  private async artifactRounds(attack: Attack, produced: Produced[]): Promise<void> {
    const done = new Set<string>();
    let wave = produced;
    for (let depth = 0; depth < MAX_ARTIFACT_DEPTH && wave.length; depth++) {
      const next: Produced[] = [];
      const records: Record<string, PluginRecord> = {};
      const tasks: Promise<void>[] = [];
      for (const art of wave) {
        if (done.has(art.ref.sha256)) continue;
        done.add(art.ref.sha256);
        const input: ArtifactInput = {
          sha256: art.ref.sha256,
          contentType: art.ref.contentType,
          size: art.ref.size,
          data: art.data.toString('base64'),
          producer: art.producer,
          ...(art.ref.name ? { name: art.ref.name } : {}),
        };
        for (const p of this.registry.ready()) {
          // A plugin never analyses its own artifact (no self-feeding loops).
          if (
            !p.manifest ||
            p.name === art.producer ||
            !wantsArtifact(p.manifest, art.ref.contentType, art.ref.size)
          )
            continue;
          tasks.push(
            this.runOne(
              p,
              { kind: 'artifact', attack, artifact: input, config: p.config, results: {} },
              next,
            ).then(({ record }) => {
              records[`${p.name}@${art.ref.sha256.slice(0, 12)}`] = {
                ...record,
                input: art.ref.sha256,
              };
            }),
          );
        }
      }
      await Promise.all(tasks);
      if (Object.keys(records).length) await this.store.setPluginResults(attack.id, records);
      wave = next;
    }
  }

  /** Hands the attack's report to every ready output plugin (at-least-once ones via the outbox). */
  /**
   * The output plugins a report goes to: the ready ones, and at-least-once
   * ones the host disabled after failures (their reports wait in the outbox
   * until an operator enables them; one the operator disabled gets none).
   */
  private outputs(): PluginEntry[] {
    return this.registry
      .all()
      .filter(
        (e) =>
          e.manifest &&
          wantsReports(e.manifest) &&
          (e.state === 'ready' ||
            (e.state === 'failed' && e.manifest.consumes.reports!.delivery === 'at-least-once')),
      );
  }

  private async reports(attack: Attack): Promise<void> {
    await Promise.all(
      this.outputs().map((p) =>
        p.manifest!.consumes.reports!.delivery === 'at-least-once'
          ? this.outbox.enqueue(p.name, attack.id)
          : this.deliverReport(p, attack.id),
      ),
    );
  }

  /** Runs one report task for `attackId` on `p` and stores its record. */
  private async deliverReport(p: PluginEntry, attackId: string): Promise<Delivery> {
    const stored = await this.store.get(attackId);
    if (!stored) return 'gone';
    const input = await this.reportInput(p, stored);
    this.stats.reports++;
    const { record } = await this.runOne(p, input, []);
    // Cut short by shutdown: nothing to record, the outbox keeps the report.
    if (record.status === 'error' && !p.runner && record.error?.code === 'HT_PLUGIN_EXIT')
      return 'failed';
    await this.store.setPluginResults(attackId, {
      [reportKey(p.name, p.manifest!.consumes)]: record,
    });
    return record.status === 'ok' ? 'ok' : 'failed';
  }

  /** A report task: the attack, every analysis record, and the artifacts' bytes if asked. */
  private async reportInput(p: PluginEntry, stored: Attack): Promise<PluginTaskInput> {
    const records = { ...(stored.plugins as Record<string, PluginRecord>) };
    // Output plugins' own records are left out: they run side by side, so
    // whether one is there yet would be chance.
    for (const e of this.registry.list())
      if (e.consumes?.reports) delete records[reportKey(e.name, e.consumes)];
    delete records[reportKey(p.name, p.manifest!.consumes)];
    const input: PluginTaskInput = {
      kind: 'report',
      attack: { ...stored, plugins: {} },
      records,
      config: p.config,
      results: {},
    };
    if (p.manifest!.consumes.reports!.artifactData) {
      const artifacts: ArtifactInput[] = [];
      const seen = new Set<string>();
      for (const r of Object.values(records))
        for (const ref of r.artifacts ?? []) {
          if (seen.has(ref.sha256)) continue;
          seen.add(ref.sha256);
          const art = await this.store.getArtifact(ref.sha256);
          if (!art) continue;
          artifacts.push({
            sha256: ref.sha256,
            contentType: art.meta.contentType,
            size: art.meta.size,
            data: art.data.toString('base64'),
            producer: art.meta.producer,
            ...(ref.name ? { name: ref.name } : {}),
          });
        }
      input.artifacts = artifacts;
    }
    return input;
  }

  private async runOne(
    p: PluginEntry,
    input: PluginTaskInput,
    produced: Produced[],
  ): Promise<{ record: PluginRecord; output?: PluginOutput }> {
    const m = p.manifest!;
    const started = performance.now();
    const base = { plugin: p.name, version: m.version };
    p.inFlight++;
    p.counters.runs++;
    try {
      const runner = p.runner;
      if (!runner) throw new PluginError('HT_PLUGIN_LOAD', p.name, 'is not running');
      const raw = await runner.run(input);
      const output = checkPluginOutput(m, raw, this.cfg);
      const artifacts: ArtifactRef[] = [];
      for (const a of output.artifacts ?? []) {
        const data = Buffer.from(a.data, 'base64');
        const contentType =
          a.contentType && a.contentType !== 'application/octet-stream'
            ? a.contentType
            : sniffContentType(data);
        const meta = await this.store.putArtifact(data, {
          contentType,
          attack: input.attack.id,
          producer: p.name,
          ...(a.name ? { name: a.name } : {}),
        });
        if (meta.created) this.stats.artifacts++;
        const ref: ArtifactRef = {
          sha256: meta.sha256,
          size: meta.size,
          contentType: meta.contentType,
          ...(a.name ? { name: a.name } : {}),
        };
        artifacts.push(ref);
        produced.push({ ref, data, producer: p.name });
      }
      p.counters.ok++;
      p.counters.consecutiveFailures = 0;
      return {
        record: {
          ...base,
          status: 'ok',
          durationMs: Math.round(performance.now() - started),
          findings: output.findings ?? [],
          artifacts,
        },
        output,
      };
    } catch (err) {
      const e =
        err instanceof PluginError
          ? err
          : new PluginError('HT_PLUGIN_THREW', p.name, String(err), err);
      this.failed(p, e, input.kind);
      return {
        record: {
          ...base,
          status: 'error',
          durationMs: Math.round(performance.now() - started),
          findings: [],
          artifacts: [],
          error: { code: e.code, message: e.message },
        },
      };
    } finally {
      p.inFlight--;
    }
  }

  private failed(p: PluginEntry, e: PluginError, kind: PluginTaskInput['kind']): void {
    // A task cut short because the plugin is being stopped is not its failure.
    if (!p.runner) return;
    p.counters.failed++;
    // A report failing because its service (the database) is down is not the
    // plugin's fault: the outbox retries it, the plugin stays enabled.
    if (kind !== 'report' || e.code !== 'HT_PLUGIN_UNAVAILABLE') p.counters.consecutiveFailures++;
    if (e.code === 'HT_PLUGIN_TIMEOUT') p.counters.timeouts++;
    p.lastError = e.message;
    this.log.warn({ plugin: p.name, code: e.code }, e.message);
    if (p.counters.consecutiveFailures >= this.cfg.failureLimit && p.state === 'ready')
      void this.registry.disable(
        p.name,
        `failed ${p.counters.consecutiveFailures} times in a row; last: ${e.message}`,
        false,
      );
  }
}

/** Where a plugin's report record is kept: its name, or name@report when it also analyses attacks. */
function reportKey(name: string, consumes: ResolvedManifest['consumes']): string {
  return consumes.attacks ? `${name}@report` : name;
}

function round(ms: number): number {
  return Math.round(ms * 100) / 100;
}

/** Plugins sorted so that each comes after those it names in `after` (cycles: manifest order). */
export function orderByAfter(plugins: PluginEntry[]): PluginEntry[] {
  const byName = new Map(plugins.map((p) => [p.name, p]));
  const out: PluginEntry[] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (p: PluginEntry) => {
    if (state.get(p.name)) return; // done, or a cycle: break it here
    state.set(p.name, 'visiting');
    for (const d of p.manifest?.after ?? []) {
      const dep = byName.get(d);
      if (dep) visit(dep);
    }
    state.set(p.name, 'done');
    out.push(p);
  };
  for (const p of plugins) visit(p);
  return out;
}
