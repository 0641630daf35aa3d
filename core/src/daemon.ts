// The daemon: config -> store -> capture -> sessions -> attack strings -> store.
// Owns start-up order and a clean shutdown (end sessions, flush, close).
import { hostname } from 'node:os';
import { ListenCapture } from './capture/listen.js';
import type { BindResult, Capture } from './capture/types.js';
import {
  defaultSettings,
  describePorts,
  expandPorts,
  portKey,
  type PortSettings,
} from './config/ports.js';
import { NfqueueCapture } from './capture/nfqueue.js';
import { UdpReplyLimit } from './session/udp-reply-limit.js';
import { SpliceGuard } from './session/splice-guard.js';
import { raiseFdLimit, type FdLimit } from './system/fd-limit.js';
import { DROPPED_ENV } from './system/privileges.js';
import { enableTimeWaitReuse } from './system/tcp-reuse.js';
import { HoneytrapError } from './errors.js';
import type { Attack } from './generated/attack.js';
import type { ResolvedConfig } from './generated/config-resolved.js';
import type { Logger } from './log.js';
import { controlSocketPath, storePath } from './paths.js';

export { controlSocketPath, storePath };
import { ControlServer } from './control/server.js';
import { AttackStore } from './store/attack-store.js';
import type { Session, SessionHost } from './session/types.js';
import { TemplateLibrary } from './templates.js';
import { PluginHost } from './plugins/host.js';
import { createEngines } from './plugins/engines/index.js';

/** How long shutdown keeps retrying a failing store before giving up. */
const STOP_FLUSH_MS = 15_000;

export interface DaemonStats {
  startedAt: string;
  sensor: string;
  capture: string;
  ports: { key: string; address: string; error?: string }[];
  activeSessions: number;
  fdLimit?: FdLimit;
  nfqueue?: ReturnType<NfqueueCapture['status']>;
  udpRepliesSuppressed: number;
  splices: { mirrors: number; proxies: number };
  plugins: ReturnType<PluginHost['stats']>;
  attacksStored: number;
  attacksFailed: number;
  pendingWrites: number;
}

export class Daemon implements SessionHost {
  readonly sensor: string;
  private readonly templates: TemplateLibrary;
  private readonly active = new Set<Session>();
  private readonly inFlight = new Set<Promise<void>>();
  private capture: Capture | undefined;
  private control: ControlServer | undefined;
  private binds: BindResult[] = [];
  private failed = 0;
  private readonly startedAt = new Date().toISOString();
  private stopping: Promise<void> | undefined;
  private readonly udpLimit: UdpReplyLimit;
  readonly splices: SpliceGuard;
  private fdLimit: FdLimit | undefined;
  readonly plugins: PluginHost;

  private constructor(
    readonly config: ResolvedConfig,
    readonly store: AttackStore,
    private readonly log: Logger,
  ) {
    this.sensor = config.sensor || hostname();
    this.templates = new TemplateLibrary(config.templates.dirs, config.templates.builtin);
    this.udpLimit = new UdpReplyLimit(config.udp);
    this.splices = new SpliceGuard(config.splice);
    this.plugins = new PluginHost(config.plugins, createEngines(log), store, log);
  }

  static async start(config: ResolvedConfig, log: Logger): Promise<Daemon> {
    const path = storePath(config);
    const store = await openStoreWaiting(path, config.store);
    const daemon = new Daemon(config, store, log);
    store.onWriteError = (err, attempt) =>
      log.error(
        { code: err.code, attempt, pending: store.pendingCount },
        `${err.message}; retrying`,
      );
    try {
      await daemon.listen();
    } catch (err) {
      // Undo what started, or the process would stay up holding the ports.
      await daemon.capture?.stop().catch(() => undefined);
      await daemon.plugins.stop().catch(() => undefined);
      await daemon.control?.stop().catch(() => undefined);
      await store.close().catch(() => undefined);
      throw err;
    }
    return daemon;
  }

  private async listen(): Promise<void> {
    const plan = expandPorts(this.config);
    this.fdLimit = raiseFdLimit();
    const mirrors =
      this.config.defaults.mode === 'mirror' || [...plan.values()].some((p) => p.mode === 'mirror');
    if (mirrors) {
      const reuse = enableTimeWaitReuse();
      if (reuse.value === 1)
        this.log.info({ changed: reuse.changed }, 'mirror: net.ipv4.tcp_tw_reuse=1');
      else
        this.log.warn(
          { error: reuse.error },
          'mirror: cannot set net.ipv4.tcp_tw_reuse=1; mirror rate per attacker port is limited by TIME_WAIT',
        );
    }
    if (this.config.capture.type === 'nfqueue') {
      const settingsFor = (port: number, proto: 'tcp' | 'udp') =>
        plan.get(portKey(port, proto)) ?? defaultSettings(this.config, port, proto);
      this.capture = new NfqueueCapture(this.config.capture, settingsFor, this, this.log);
    } else {
      this.capture = new ListenCapture(plan, this.config.capture.addresses, this);
    }
    this.binds = await this.capture.start();
    const bound = this.binds.filter((b) => !b.error);
    for (const b of this.binds)
      if (b.error)
        this.log.error(
          { code: b.error.code, port: b.error.port, address: b.address },
          b.error.message,
        );
    if (this.capture.name === 'listen' && bound.length === 0 && plan.size > 0) {
      await this.capture.stop();
      throw new HoneytrapError('HT_NO_PORTS', 'no port could be bound; nothing to trap', {
        details: this.binds.map((b) => b.error?.message ?? b.key),
      });
    }
    await this.plugins.start();
    const socket = controlSocketPath(this.config);
    this.control = await ControlServer.start(socket, this);
    this.log.info(
      {
        capture: this.capture.name,
        store: storePath(this.config),
        control: socket,
        ports: bound.length,
        failed: this.binds.length - bound.length,
        sensor: this.sensor,
        fdLimit: this.fdLimit.soft,
        uid: process.getuid?.(),
        ...(process.env[DROPPED_ENV] ? { user: process.env[DROPPED_ENV] } : {}),
      },
      this.capture.name === 'listen'
        ? `honeytrap ready: trapping ${describePorts(bound.map((b) => b.key))}`
        : `honeytrap ready: trapping every port via NFQUEUE ${this.config.capture.nfqueue.queue}`,
    );
  }

  template(settings: PortSettings): { name: string; data: Buffer } | undefined {
    const name = settings.template ?? `${settings.port}_${settings.proto}`;
    const data = this.templates.get(name);
    return data && { name, data };
  }

  udpReplyAllowance(source: string, received: number, sentSoFar: number, wanted: number): number {
    return this.udpLimit.allow(source, received, sentSoFar, wanted);
  }

  track(session: Session): void {
    this.active.add(session);
  }

  untrack(session: Session): void {
    this.active.delete(session);
  }

  finished(attack: Attack): void {
    const saving = this.store
      .save(attack)
      .then(() => {
        this.plugins.submit(attack);
        this.log.info(
          {
            attack: attack.id,
            proto: attack.proto,
            remote: `${attack.remote.address}:${attack.remote.port}`,
            port: attack.local.port,
            mode: attack.mode,
            in: attack.received.length,
            out: attack.sent.length,
            end: attack.endReason,
          },
          'attack',
        );
      })
      .catch((err: unknown) => {
        this.failed++;
        this.log.error({ err, attack }, 'attack could not be stored');
      })
      .finally(() => this.inFlight.delete(saving));
    this.inFlight.add(saving);
  }

  stats(): DaemonStats {
    return {
      startedAt: this.startedAt,
      sensor: this.sensor,
      capture: this.capture?.name ?? 'none',
      ports: this.binds.map((b) => ({
        key: b.key,
        address: b.address,
        ...(b.error ? { error: b.error.message } : {}),
      })),
      activeSessions: this.active.size,
      ...(this.fdLimit ? { fdLimit: this.fdLimit } : {}),
      ...(this.capture instanceof NfqueueCapture ? { nfqueue: this.capture.status() } : {}),
      udpRepliesSuppressed: this.udpLimit.suppressed,
      splices: this.splices.stats(),
      plugins: this.plugins.stats(),
      attacksStored: this.store.stored,
      attacksFailed: this.failed,
      pendingWrites: this.store.pendingCount,
    };
  }

  /** Stops catching, ends every session (each is recorded), flushes the store, closes. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      await this.capture?.stop();
      const sessions = this.active.size;
      for (const s of [...this.active]) {
        // One session failing to end must not cost the others their record.
        try {
          s.end('shutdown');
        } catch (err) {
          this.log.error({ err: String(err), session: s.id }, 'session did not end cleanly');
        }
      }
      // TCP sessions finish on their 'close' event, a tick after destroy().
      for (let i = 0; i < 100 && this.active.size; i++) await new Promise((r) => setTimeout(r, 10));
      const flushed = await this.store.flushWithin(STOP_FLUSH_MS);
      if (!flushed) {
        // The store refuses writes (disk full?): say exactly what is lost.
        this.log.fatal(
          { lost: this.store.pendingCount },
          'store still failing at shutdown; attacks not stored',
        );
        await this.control?.stop();
        throw new HoneytrapError(
          'HT_STORE_WRITE',
          `${this.store.pendingCount} attacks could not be stored`,
        );
      }
      await Promise.all([...this.inFlight]);
      await this.plugins.stop();
      await this.control?.stop();
      await this.store.close();
      this.log.info({ sessions, stored: this.store.stored }, 'honeytrap stopped');
    })();
    return this.stopping;
  }
}

/** A honeytrap command may hold the store for a moment: wait for it rather than fail. */
async function openStoreWaiting(path: string, opts: ResolvedConfig['store']): Promise<AttackStore> {
  const deadline = Date.now() + 5000;
  for (;;) {
    try {
      return await AttackStore.open(path, opts);
    } catch (err) {
      if (
        !(err instanceof HoneytrapError && err.code === 'HT_STORE_LOCKED') ||
        Date.now() > deadline
      )
        throw err;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}
