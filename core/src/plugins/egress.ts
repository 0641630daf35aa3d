// What a plugin's manifest and the operator allow it to reach: the checks of
// the network broker before any lookup or connection (shared with the SDK's
// harness). Address checks (private ranges, DNS) come after, in broker/policy.ts.
import { posix } from 'node:path';
import type { Attack } from '../generated/attack.js';
import { PluginError, type LoadedPlugin } from './engine.js';

export type Scheme = 'http' | 'https' | 'ftp' | 'tftp' | 'tcp' | 'unix';

/** Which call a URL is for: ctx.fetch downloads, ctx.exchange talks over a stream. */
export type EgressUse = 'fetch' | 'exchange';

const USE: Record<Scheme, EgressUse> = {
  http: 'fetch',
  https: 'fetch',
  ftp: 'fetch',
  tftp: 'fetch',
  tcp: 'exchange',
  unix: 'exchange',
};

const DEFAULT_PORT: Partial<Record<Scheme, number>> = { http: 80, https: 443, ftp: 21, tftp: 69 };

/** Where a request goes, as the manifest and the operator allowed it. */
export interface EgressTarget {
  url: URL;
  scheme: Scheme;
  /** Host name or address (IPv6 without brackets), lowercased; "" for unix. */
  host: string;
  /** 0 for unix. */
  port: number;
  /** The socket path (unix only). */
  socketPath?: string;
  /**
   * The operator listed this destination in plugins.network.hosts.<plugin>:
   * it may be in a private range and is not rate limited.
   */
  operatorGranted: boolean;
}

export interface EgressOptions {
  /** plugins.network.hosts.<plugin>: host, host:port, [v6]:port or unix:/path. */
  operatorHosts?: readonly string[];
  /** Default fetch (the harness's stub fetch). */
  use?: EgressUse;
}

interface HostEntry {
  host?: string;
  port?: number;
  socketPath?: string;
}

/** An address as compared: lowercased, an IPv4-mapped IPv6 address as its IPv4 address. */
function unmapped(address: string): string {
  return address.toLowerCase().replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/, '');
}

/** One entry of plugins.network.hosts.<plugin>. */
export function parseHostEntry(entry: string): HostEntry {
  if (entry.startsWith('unix:')) return { socketPath: posix.normalize(entry.slice(5)) };
  const m = /^\[([^\]]+)\]:(\d+)$/.exec(entry) ?? /^([^:]+):(\d+)$/.exec(entry);
  if (m) return { host: m[1]!.toLowerCase(), port: Number(m[2]) };
  return { host: entry.replace(/^\[(.*)\]$/, '$1').toLowerCase() };
}

function granted(entries: readonly string[], t: Omit<EgressTarget, 'operatorGranted'>): boolean {
  return entries
    .map(parseHostEntry)
    .some((e) =>
      t.scheme === 'unix'
        ? e.socketPath === t.socketPath
        : e.host === t.host && (e.port === undefined || e.port === t.port),
    );
}

function parseTarget(
  rawUrl: string,
  deny: (why: string) => PluginError,
): Omit<EgressTarget, 'operatorGranted'> {
  let url: URL;
  try {
    url = new URL(rawUrl);
  } catch {
    throw deny(`"${rawUrl}" is not a URL`);
  }
  const scheme = url.protocol.slice(0, -1) as Scheme;
  if (!(scheme in USE))
    throw deny(`${url.protocol} is not supported (http, https, ftp, tftp, tcp, unix)`);
  if (scheme === 'unix') {
    const socketPath = posix.normalize(decodeURIComponent(url.pathname));
    if (url.host || !posix.isAbsolute(socketPath))
      throw deny(`"${rawUrl}" is not unix:/absolute/path`);
    return { url, scheme, host: '', port: 0, socketPath };
  }
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1').toLowerCase();
  if (!host) throw deny(`"${rawUrl}" has no host`);
  const port = url.port ? Number(url.port) : DEFAULT_PORT[scheme];
  if (!port) throw deny(`"${rawUrl}" needs a port (${scheme}://host:port)`);
  return { url, scheme, host, port };
}

/**
 * Checks a URL against the manifest (network capability, schemes, egress:
 * the attacking host only or its allow-list) and the operator's grants for
 * this plugin, which add destinations. Throws HT_PLUGIN_DENIED naming why.
 */
export function checkEgress(
  plugin: LoadedPlugin,
  attack: Attack,
  rawUrl: string,
  opts: EgressOptions = {},
): EgressTarget {
  const deny = (why: string) =>
    new PluginError('HT_PLUGIN_DENIED', plugin.manifest.name, `network: ${why}`);
  const net = plugin.manifest.capabilities.network;
  if (!net) throw deny('the manifest grants no network capability');
  const t = parseTarget(rawUrl, deny);
  const use = opts.use ?? 'fetch';
  if (USE[t.scheme] !== use)
    throw deny(
      `${t.scheme}: URLs are for ctx.${USE[t.scheme]}, not ctx.${use} (${use === 'fetch' ? 'http, https, ftp, tftp' : 'tcp, unix'})`,
    );
  if (!(net.schemes as string[]).includes(t.scheme))
    throw deny(
      `scheme ${t.scheme} is not in the manifest's network.schemes (${net.schemes.join(', ')})`,
    );
  const operatorGranted = granted(opts.operatorHosts ?? [], t);
  if (operatorGranted) return { ...t, operatorGranted };
  const name = plugin.manifest.name;
  if (t.scheme === 'unix')
    throw deny(
      `unix:${t.socketPath} is not in the operator's plugins.network.hosts.${name} (local sockets need the operator's grant)`,
    );
  if (net.egress === 'attacker' && unmapped(t.host) !== unmapped(attack.remote.address))
    throw deny(
      `${t.host} is not the attacking host ${attack.remote.address} (egress: attacker) nor in plugins.network.hosts.${name}`,
    );
  if (net.egress === 'allow-list' && !net.hosts.some((h) => h.toLowerCase() === t.host))
    throw deny(
      `${t.host} is not in the manifest's allowed hosts nor in plugins.network.hosts.${name}`,
    );
  return { ...t, operatorGranted };
}
