// Network egress for plugins: the only way a plugin reaches the network.
// For each request the broker checks the manifest and the operator's grants
// (egress.ts), resolves the destination once and checks every address
// (policy.ts), applies the abuse limits (limits.ts), then hands the pinned
// address to one protocol module: http/https, ftp, tftp, or a one-shot
// stream exchange over tcp or a unix socket. Refusals reject with
// HT_PLUGIN_DENIED, failed connections and protocol errors with
// HT_PLUGIN_NETWORK; both name the plugin, the destination and the reason.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Attack } from '../../generated/attack.js';
import type { ResolvedConfig } from '../../generated/config-resolved.js';
import { paths } from '../../paths.js';
import { newAjv } from '../../schema/validator.js';
import { checkEgress, type EgressTarget, type EgressUse } from '../egress.js';
import {
  PluginError,
  type ExchangeRequest,
  type ExchangeResponse,
  type FetchRequest,
  type FetchResponse,
  type LoadedPlugin,
  type NetworkBroker,
} from '../engine.js';
import { NetworkFailure, timedOut, type Limits } from './common.js';
import { streamExchange } from './exchange.js';
import { ftpFetch } from './ftp.js';
import { httpFetch } from './http.js';
import { RateLimiter } from './limits.js';
import { AddressRefused, resolveAddress, type Lookup } from './policy.js';
import { tftpFetch } from './tftp.js';

export { isSpecialAddress } from './policy.js';

/** plugins.network of the config: the operator's policy. */
export type NetworkPolicy = ResolvedConfig['plugins']['network'];

/** plugins.network with the config schema's defaults, then `overrides` (the SDK harness, tests). */
export function networkPolicy(overrides: Partial<NetworkPolicy> = {}): NetworkPolicy {
  const schema = JSON.parse(readFileSync(join(paths.schemas, 'config.schema.json'), 'utf8')) as {
    properties: { plugins: { properties: { network: object } } };
  };
  // Wrapped: ajv applies defaults to properties, not to the root.
  const value: { network?: NetworkPolicy } = {};
  newAjv().compile({
    type: 'object',
    properties: { network: schema.properties.plugins.properties.network },
  })(value);
  return { ...value.network!, ...overrides };
}

/** For tests: the resolver and the clock. */
export interface BrokerDeps {
  lookup?: Lookup;
  now?: () => number;
}

const METHODS = new Set(['GET', 'HEAD', 'POST']);

function bound(asked: unknown, cap: number): number {
  return typeof asked === 'number' && asked > 0 ? Math.min(Math.floor(asked) || 1, cap) : cap;
}

function describe(t: EgressTarget): string {
  if (t.scheme === 'unix') return `unix:${t.socketPath}`;
  return `${t.scheme}://${t.host.includes(':') ? `[${t.host}]` : t.host}:${t.port}`;
}

export class HostBroker implements NetworkBroker {
  private readonly limiter: RateLimiter;

  constructor(
    private readonly policy: NetworkPolicy,
    private readonly deps: BrokerDeps = {},
  ) {
    this.limiter = new RateLimiter(policy, deps.now);
  }

  /** Requests in flight now. */
  get active(): number {
    return this.limiter.active;
  }

  async fetch(plugin: LoadedPlugin, attack: Attack, req: FetchRequest): Promise<FetchResponse> {
    if (req.method !== undefined && !METHODS.has(req.method))
      throw this.deny(plugin, `method ${String(req.method)} is not GET, HEAD or POST`);
    const r = await this.run(plugin, attack, req, 'fetch', (t, address, limits) => {
      if (t.scheme === 'ftp') return ftpFetch(t, address, limits);
      if (t.scheme === 'tftp') return tftpFetch(t, address, limits);
      return httpFetch(t, address, req, limits);
    });
    return { ...r.value, address: r.address, durationMs: r.durationMs };
  }

  async exchange(
    plugin: LoadedPlugin,
    attack: Attack,
    req: ExchangeRequest,
  ): Promise<ExchangeResponse> {
    if (typeof req.data !== 'string') throw this.deny(plugin, 'exchange data is not base64 text');
    const r = await this.run(plugin, attack, req, 'exchange', (t, address, limits) =>
      streamExchange(t, address, req, limits),
    );
    return { ...r.value, durationMs: r.durationMs };
  }

  private deny(plugin: LoadedPlugin, why: string): PluginError {
    return new PluginError('HT_PLUGIN_DENIED', plugin.manifest.name, `network: ${why}`);
  }

  /** The checks, the limits and the deadline around one protocol call. */
  private async run<T>(
    plugin: LoadedPlugin,
    attack: Attack,
    req: { url: string; maxBytes?: number; timeoutMs?: number },
    use: EgressUse,
    call: (t: EgressTarget, address: string, limits: Limits) => Promise<T>,
  ): Promise<{ value: T; address: string; durationMs: number }> {
    const name = plugin.manifest.name;
    if (typeof req.url !== 'string') throw this.deny(plugin, 'the url is not a string');
    const t = checkEgress(plugin, attack, req.url, {
      operatorHosts: this.policy.hosts[name] ?? [],
      use,
    });
    const dest = describe(t);
    const timeoutMs = bound(req.timeoutMs, this.policy.timeoutMs);
    const deadline = new AbortController();
    const timer = setTimeout(() => deadline.abort(), timeoutMs);
    const limits: Limits = {
      maxBytes: bound(req.maxBytes, this.policy.maxBytes),
      timeoutMs,
      signal: deadline.signal,
    };
    try {
      return await this.attempt(plugin, t, dest, limits, call);
    } finally {
      clearTimeout(timer);
    }
  }

  private async attempt<T>(
    plugin: LoadedPlugin,
    t: EgressTarget,
    dest: string,
    limits: Limits,
    call: (t: EgressTarget, address: string, limits: Limits) => Promise<T>,
  ): Promise<{ value: T; address: string; durationMs: number }> {
    const fail = (address: string, err: unknown) =>
      new PluginError(
        'HT_PLUGIN_NETWORK',
        plugin.manifest.name,
        `network: ${dest}${t.scheme !== 'unix' && address && address !== t.host ? ` (${address})` : ''}: ${(err as Error).message}`,
        err,
      );
    const t0 = performance.now();
    let address: string;
    try {
      address =
        t.scheme === 'unix'
          ? t.socketPath!
          : await resolveAddress(t, {
              allowPrivate: this.policy.allowPrivate,
              lookup: this.deps.lookup,
              signal: limits.signal,
            });
    } catch (err) {
      if (err instanceof AddressRefused) throw this.deny(plugin, `${dest}: ${err.message}`);
      if (limits.signal.aborted) throw fail('', timedOut(limits, 'resolving the name'));
      throw fail('', err instanceof NetworkFailure ? err : new NetworkFailure(String(err), err));
    }
    const admission = this.limiter.admit(address, !t.operatorGranted);
    if (!admission.ok) throw this.deny(plugin, `${dest}: refused, ${admission.reason}`);
    try {
      const value = await call(t, address, limits);
      return { value, address, durationMs: Math.round(performance.now() - t0) };
    } catch (err) {
      throw fail(address, err);
    } finally {
      admission.release();
    }
  }
}
