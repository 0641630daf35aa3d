// Host calls of a worker task (ctx.fetch, ctx.exchange, ctx.files, ctx.db):
// the checks every call passes before the host serves it, shared by the
// thread runner and, in isolation "process", by the daemon side of the child
// (which checks again: the child holds plugin code). A call must be granted
// by the manifest, well formed, within the task's budget, and made while its
// task runs.
import type { Attack } from '../../../generated/attack.js';
import { PluginError, type HostCall, type HostServices, type LoadedPlugin } from '../../engine.js';

/** Calls of one kind one task may make (fetch and exchange share "network"). */
const MAX_CALLS: Record<CallGroup, number> = { network: 100, files: 1000, db: 1000 };
/** Calls of one task in flight at once; more wait. */
const MAX_IN_FLIGHT = 8;

type CallGroup = 'network' | 'files' | 'db';

const GROUP: Record<HostCall['kind'], CallGroup> = {
  fetch: 'network',
  exchange: 'network',
  files: 'files',
  db: 'db',
};

/** A refusal the task fails on even if the plugin catches it: the manifest does not grant the call. */
export class CapabilityDenied extends PluginError {}

/** What the plugin is refused for lack of a capability, or undefined when the manifest grants the call. */
function missingCapability(plugin: LoadedPlugin, kind: HostCall['kind']): string | undefined {
  const caps = plugin.manifest.capabilities;
  switch (kind) {
    case 'fetch':
    case 'exchange':
      return caps.network
        ? undefined
        : `ctx.${kind} needs the network capability in plugin.json (capabilities.network)`;
    case 'files':
      return caps.files
        ? undefined
        : 'ctx.files needs the files capability in plugin.json (capabilities.files: true)';
    case 'db':
      return caps.database
        ? undefined
        : 'ctx.db needs the database capability in plugin.json (capabilities.database)';
  }
}

/** Shape check of a call that crossed from plugin code: check, don't trust. */
function malformed(call: unknown): string | undefined {
  if (typeof call !== 'object' || call === null) return 'a host call must be an object';
  const c = call as { kind?: unknown; req?: unknown; call?: unknown };
  switch (c.kind) {
    case 'fetch':
    case 'exchange': {
      const req = c.req as { url?: unknown } | null;
      return typeof req === 'object' && req !== null && typeof req.url === 'string'
        ? undefined
        : `ctx.${c.kind} needs { url: string, … }`;
    }
    case 'files':
    case 'db': {
      const op = (c.call as { op?: unknown } | null)?.op;
      return typeof op === 'string' ? undefined : `ctx.${c.kind} call has no operation`;
    }
    default:
      return `unknown host call ${JSON.stringify(c.kind)}`;
  }
}

/**
 * The host calls of one task: counts, the in-flight gate and the end of the
 * task. `end()` when the task settles: calls after that are not served.
 */
export class TaskCalls {
  private readonly counts: Record<CallGroup, number> = { network: 0, files: 0, db: 0 };
  private inFlight = 0;
  private readonly waiting: (() => void)[] = [];
  private ended = false;
  /** The first capability refusal; the task fails as denied with it. */
  denied: string | undefined;

  constructor(
    private readonly host: HostServices,
    private readonly plugin: LoadedPlugin,
    private readonly attack: Attack | undefined,
  ) {}

  end(): void {
    this.ended = true;
    for (const w of this.waiting.splice(0)) w();
  }

  private error(code: ConstructorParameters<typeof PluginError>[0], message: string): PluginError {
    return new PluginError(code, this.plugin.manifest.name, message);
  }

  /** Serves one call; rejects with a PluginError (or the service's own error with a code). */
  async serve(raw: unknown): Promise<unknown> {
    const name = this.plugin.manifest.name;
    if (this.ended || !this.attack)
      throw this.error('HT_PLUGIN_DENIED', 'host call after the task ended');
    const bad = malformed(raw);
    if (bad) throw Object.assign(new Error(bad), { code: 'ERR_INVALID_ARG_TYPE' });
    const call = raw as HostCall;
    const missing = missingCapability(this.plugin, call.kind);
    if (missing) {
      this.denied ??= missing;
      throw new CapabilityDenied('HT_PLUGIN_DENIED', name, missing);
    }
    const group = GROUP[call.kind];
    if (++this.counts[group] > MAX_CALLS[group])
      throw this.error(
        'HT_PLUGIN_DENIED',
        `more than ${MAX_CALLS[group]} ${group} calls (ctx.${call.kind}) in one task`,
      );
    while (this.inFlight >= MAX_IN_FLIGHT && !this.ended)
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    if (this.ended) throw this.error('HT_PLUGIN_DENIED', 'host call after the task ended');
    this.inFlight++;
    try {
      return await this.dispatch(call, this.attack);
    } finally {
      this.inFlight--;
      this.waiting.shift()?.();
    }
  }

  private dispatch(call: HostCall, attack: Attack): Promise<unknown> {
    switch (call.kind) {
      case 'fetch':
        return this.host.fetch(this.plugin, attack, call.req);
      case 'exchange':
        return this.host.exchange(this.plugin, attack, call.req);
      case 'files':
        if (!this.host.files)
          throw this.error('HT_PLUGIN_UNAVAILABLE', 'ctx.files: no file service in this host');
        return this.host.files(this.plugin, attack, call.call);
      case 'db':
        if (!this.host.db)
          throw this.error('HT_PLUGIN_UNAVAILABLE', 'ctx.db: no database service in this host');
        return this.host.db(this.plugin, attack, call.call);
    }
  }
}

/** An error as it crosses to the worker: its code (HT_CALL when it has none) and message. */
export function callFailure(err: unknown): { code: string; message: string } {
  const code = (err as { code?: unknown } | null)?.code;
  return {
    code: typeof code === 'string' ? code : 'HT_CALL',
    message: err instanceof Error ? err.message : String(err),
  };
}
