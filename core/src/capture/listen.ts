// The listen capture: plain TCP servers and UDP sockets on the configured
// ports (no root needed). A port that cannot be bound is reported by name and
// the others still run.
import { HoneytrapError } from '../errors.js';
import type { SessionHost } from '../session/types.js';
import { bind, type Listener } from './binder.js';
import type { BindResult, Capture, PortPlan } from './types.js';

/** Binds in parallel, this many at a time, so large ranges start quickly. */
const BIND_CONCURRENCY = 256;

export class ListenCapture implements Capture {
  readonly name = 'listen';
  private readonly listeners: Listener[] = [];

  constructor(
    private readonly plan: PortPlan,
    private readonly addresses: string[],
    private readonly host: SessionHost,
  ) {}

  async start(): Promise<BindResult[]> {
    const jobs: (() => Promise<BindResult>)[] = [];
    for (const settings of this.plan.values())
      for (const address of this.addresses)
        jobs.push(async () => {
          const key = `${settings.port}/${settings.proto}`;
          const l = await bind(settings, address, this.host);
          if (l instanceof HoneytrapError) return { key, address, error: l };
          this.listeners.push(l);
          return { key, address };
        });
    const results: BindResult[] = [];
    for (let i = 0; i < jobs.length; i += BIND_CONCURRENCY)
      results.push(...(await Promise.all(jobs.slice(i, i + BIND_CONCURRENCY).map((j) => j()))));
    return results;
  }

  stop(): Promise<void> {
    // Closing stops new connections; the daemon ends the open sessions itself.
    for (const l of this.listeners.splice(0)) l.close();
    return Promise.resolve();
  }
}
